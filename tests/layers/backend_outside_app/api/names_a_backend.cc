// An API file that names a store backend: check-layers must refuse it.
#include "store/sqlite/sqlite_store.h"

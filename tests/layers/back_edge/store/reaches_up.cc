// A store file that reaches up into the API: check-layers must refuse it.
#include "api/api.h"

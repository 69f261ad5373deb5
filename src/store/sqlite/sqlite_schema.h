// Versioned schema migrations for the SQLite store.
#pragma once

#include "common/status.h"

namespace relay::store {

class SqliteDb;

// The schema version this binary writes.
int SqliteSchemaVersion();

// Applies every migration the database lacks, one transaction each, recording the version in
// PRAGMA user_version. kFailedPrecondition when the database is newer than this binary.
Status MigrateSqlite(SqliteDb& db);

}  // namespace relay::store

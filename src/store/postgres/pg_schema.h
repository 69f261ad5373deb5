#pragma once

#include "common/status.h"
#include "store/postgres/pg_db.h"

namespace relay::store {

// The schema version this binary writes.
int PgSchemaVersion();

// Brings the database to PgSchemaVersion() in one transaction, under an advisory lock (nodes
// starting together wait for each other). kFailedPrecondition when the database is newer.
Status MigratePg(PgConn& db);

}  // namespace relay::store

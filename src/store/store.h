// Store: every role a backend implements, in one object (SQLite or PostgreSQL). Nothing outside
// src/store knows SQL. Services take only the role they use: AccountStore (auth, admin),
// IntegrationStore (integrations), ConsentStore (consent), OutboxStore (delivery).
#pragma once

#include "store/account_store.h"
#include "store/consent_store.h"
#include "store/integration_store.h"
#include "store/outbox_store.h"

namespace relay::store {

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class Store : public AccountStore,
              public IntegrationStore,
              public ConsentStore,
              public OutboxStore {
 public:
  ~Store() override = default;

  // --- health ---
  // Whether writes go through now: ok, or kUnavailable saying why (the disk is full, the database
  // is down, the writer has been stuck for seconds). The last write's outcome answers; when it is
  // older than a second, a small write probes the store. For /healthz; thread-safe.
  virtual Status CheckWritable() = 0;
  // What `consent-relay doctor` reports: the schema's version against this build's, and the
  // database server's clock where there is one.
  virtual Result<StoreFacts> Facts() = 0;
};

}  // namespace relay::store

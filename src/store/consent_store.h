// ConsentStore: the write transaction of a consent change with its outbox rows, and the consent
// reads (the consent service).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/rows.h"

namespace relay::store {

// The operations available inside one write transaction (Store::Write). Reads see the
// transaction's own writes. Not thread-safe: used by the one closure it was handed to.
class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;

  virtual Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) = 0;
  // The organization's integrations that take new messages (the fan-out targets): the enabled
  // ones, and those the relay disabled (410, failing too long), whose deliveries wait for them to
  // be enabled again. One disabled through the API takes none. Never a deleted one.
  virtual Result<std::vector<IntegrationRow>> ListFanOutIntegrations(
      const std::string& organization_id) = 0;

  virtual Result<std::optional<ConsentUserRow>> GetUser(const std::string& organization_id,
                                                        const std::string& id) = 0;
  virtual Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& organization_id, const std::string& organization_user_id) = 0;
  // Inserts, or replaces the row with the same id. kConflict when another user of the
  // organization already has the organization_user_id.
  virtual Status PutUser(const ConsentUserRow& user) = 0;
  // Erasure: deletes the user, all its events and its stored idempotent answers, and records the
  // erasure, so that its deliveries' payloads and response bodies are erased as each finishes
  // (Store::EraseFinished). kNotFound if absent.
  virtual Status DeleteUser(const std::string& organization_id, const std::string& id) = 0;

  virtual Result<std::optional<ConsentEventRow>> GetEvent(const std::string& organization_id,
                                                          const std::string& id) = 0;
  // Every event of the user, in any order (its history, to merge again).
  virtual Result<std::vector<ConsentEventRow>> ListUserEvents(const std::string& organization_id,
                                                              const std::string& user_id) = 0;
  // kConflict when the organization already has an event with this id.
  virtual Status InsertEvent(const ConsentEventRow& event) = 0;
  virtual Status UpdateEvent(const ConsentEventRow& event) = 0;
  virtual Status DeleteEvent(const std::string& organization_id, const std::string& id) = 0;

  // Inserts the message and its deliveries (sequence assigned here).
  virtual Status InsertMessage(const MessageRow& message,
                               const std::vector<DeliveryRow>& deliveries) = 0;

  // The key's row if it was created at or after `not_before`; older rows count as absent.
  virtual Result<std::optional<IdempotencyRow>> GetIdempotencyKey(
      const std::string& organization_id, const std::string& key, int64_t not_before) = 0;
  virtual Status PutIdempotencyKey(const IdempotencyRow& row) = 0;
};

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class ConsentStore {
 public:
  virtual ~ConsentStore() = default;

  // --- writes that must be atomic with their outbox rows ---
  // Runs `body` inside one transaction and commits when it returns ok; any error (from the body
  // or the commit) rolls everything back and is returned. The body may run again after a
  // transient failure, so it must have no side effects outside the transaction.
  virtual Status Write(const std::function<Status(WriteTransaction&)>& body) = 0;

  // --- consent reads (always scoped to an organization) ---
  virtual Result<std::optional<ConsentEventRow>> GetEvent(const std::string& organization_id,
                                                          const std::string& id) = 0;
  // Newest first; `user_id` and `regulation` filter when not empty.
  virtual Result<Page<ConsentEventRow>> ListEvents(const std::string& organization_id,
                                                   const std::string& user_id,
                                                   const std::string& regulation,
                                                   const PageRequest& page) = 0;
  virtual Result<std::optional<ConsentUserRow>> GetUser(const std::string& organization_id,
                                                        const std::string& id) = 0;
  virtual Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& organization_id, const std::string& organization_user_id) = 0;
  // Oldest first; `organization_user_id` filters when not empty.
  virtual Result<Page<ConsentUserRow>> ListUsers(const std::string& organization_id,
                                                 const std::string& organization_user_id,
                                                 const PageRequest& page) = 0;
};

}  // namespace relay::store

// Handoff: on a store that one process owns (the embedded SQLite store), a write that starts a
// lane of a delivery due now claims it itself, under a lease the dispatcher gave, and hands it to
// the dispatcher in memory once the write has committed: no claim query, and no wait for the next
// claim round trip. The database stays the truth: what is handed over is in flight there under its
// lease, and a restart releases it (ReleaseAllClaims).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/rows.h"

namespace relay::store {

struct HandoffLease {
  int64_t token = 0;
  int64_t until = 0;
};

// Thread-safe: the writer reserves, the writing thread delivers or cancels after its commit.
class Handoff {
 public:
  virtual ~Handoff() = default;
  // Room for one delivery of `integration_id`: the lease to claim it under, or nullopt (a later
  // claim takes it). Never blocks.
  virtual std::optional<HandoffLease> Reserve(const std::string& integration_id, int64_t now) = 0;
  // The write that reserved them committed: they are claimed, in lane order.
  virtual void Deliver(std::vector<ClaimedDelivery> claimed) = 0;
  // The write that made these reservations (one integration each) failed: none of them exists.
  virtual void Cancel(const std::vector<std::string>& integrations) = 0;
};

}  // namespace relay::store

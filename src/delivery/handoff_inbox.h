// HandoffInbox: the dispatcher's side of store::Handoff. The store's writer reserves room here
// for the fresh deliveries it claims as it writes them, and delivers them after its commit; the
// dispatcher's loop takes them as if it had claimed them. Room is the dispatcher's prefetch less
// what it holds and what is reserved, and a few per integration at a time; beyond that the writer
// leaves them to a claim. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "store/handoff.h"

namespace relay::delivery {

class HandoffInbox final : public store::Handoff {
 public:
  struct Options {
    int capacity = 0;         // deliveries the dispatcher may hold
    int per_integration = 0;  // reserved and not yet taken, per integration
    int64_t lease_token = 0;
    int64_t lease_millis = 0;
  };
  // `wake` makes the dispatcher's loop look at once; it is not called after Close.
  HandoffInbox(Options options, std::function<void()> wake)
      : options_(options), wake_(std::move(wake)) {}

  std::optional<store::HandoffLease> Reserve(const std::string& integration_id,
                                             int64_t now) override;
  void Deliver(std::vector<store::ClaimedDelivery> claimed) override;
  void Cancel(const std::vector<std::string>& integrations) override;

  // The dispatcher's loop: what was delivered since, and then how many deliveries it holds.
  std::vector<store::ClaimedDelivery> Take();
  void SetHeld(int held);
  // No more reservations or wake-ups (the dispatcher stops). What is delivered later stays in
  // flight in the store under its lease, which the next start releases.
  void Close();

 private:
  void Unreserve(const std::string& integration) REQUIRES(mu_);

  const Options options_;
  const std::function<void()> wake_;
  Mutex mu_;
  bool closed_ GUARDED_BY(mu_) = false;
  int held_ GUARDED_BY(mu_) = 0;
  int reserved_ GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, int> reserved_by_integration_ GUARDED_BY(mu_);
  std::vector<store::ClaimedDelivery> delivered_ GUARDED_BY(mu_);
};

}  // namespace relay::delivery

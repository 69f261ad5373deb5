// StoreRoundTrips implementation.
#include "delivery/store_round_trips.h"

#include <chrono>

namespace relay::delivery {

StoreRoundTrips::StoreRoundTrips(store::OutboxStore& store, store::HealthPolicy policy,
                                 std::function<void()> on_reply)
    : store_(store), policy_(policy), on_reply_(std::move(on_reply)), thread_([this] { Loop(); }) {}

StoreRoundTrips::~StoreRoundTrips() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void StoreRoundTrips::Submit(std::vector<store::DeliveryOutcome> outcomes, int64_t now,
                             std::optional<store::ClaimRequest> claim,
                             std::vector<store::HeldLease> renew, int64_t renew_until) {
  {
    MutexLock lock(mu_);
    busy_ = true;
    Reply r;
    r.outcomes = std::move(outcomes);
    r.now = now;
    r.claim = std::move(claim);
    r.renew = std::move(renew);
    r.renew_until = renew_until;
    request_ = std::move(r);
  }
  work_.notify_all();
}

bool StoreRoundTrips::busy() const {
  MutexLock lock(mu_);
  return busy_;
}

bool StoreRoundTrips::has_reply() const {
  MutexLock lock(mu_);
  return reply_.has_value();
}

std::optional<StoreRoundTrips::Reply> StoreRoundTrips::TakeReply() {
  MutexLock lock(mu_);
  if (!reply_) return std::nullopt;
  std::optional<Reply> reply = std::move(reply_);
  reply_.reset();
  busy_ = false;
  return reply;
}

void StoreRoundTrips::Loop() {
  while (true) {
    Reply r;
    {
      MutexLock lock(mu_);
      while (!stopping_ && !request_) lock.Wait(work_);
      if (!request_) return;  // stopping with nothing left to do
      r = std::move(*request_);
      request_.reset();
    }
    const auto started = std::chrono::steady_clock::now();
    if (!r.renew.empty()) {
      // A failed renewal means the store is failing: the outcomes wait for the next round trip.
      auto renewed = store_.RenewLeases(r.renew, r.renew_until);
      if (!renewed.ok()) r.status = renewed.status();
    }
    if (!r.status.ok()) {
      // The store is failing: leave the outcomes for the next round trip.
    } else if (r.claim) {
      auto result = store_.RecordAndClaim(r.outcomes, r.now, policy_, *r.claim);
      if (result.ok()) {
        r.claimed = std::move(result->claimed);
        r.health = std::move(result->health);
      } else {
        r.status = result.status();
      }
    } else if (!r.outcomes.empty()) {
      auto health = store_.RecordOutcomes(r.outcomes, r.now, policy_);
      if (health.ok()) {
        r.health = std::move(*health);
      } else {
        r.status = health.status();
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (r.status.ok()) r.outcomes.clear();
    {
      MutexLock lock(mu_);
      reply_ = std::move(r);
    }
    on_reply_();
  }
}

}  // namespace relay::delivery

// SendScheduler: which of the deliveries this node has claimed start now. It keeps the queues
// and counts per integration and applies, in turn: the engine's cap on transfers, each
// integration's cap, the breaker (an integration whose failures here may have opened it starts
// only its probe until the store answers), and the integration's rate limit (a token bucket that
// holds one second of sends, refilled continuously). The clock is injected; single-threaded (the
// dispatcher's thread owns it).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/rows.h"

namespace relay::delivery {

class SendScheduler {
 public:
  struct Limits {
    int max_in_flight = 512;
    int per_integration = 32;
    int breaker_failures = 0;  // 0: no breaker
  };
  // What the scheduler asks of a queued delivery before it starts it.
  struct Candidate {
    bool probe = false;       // the one delivery a half-open breaker lets through
    int rate_per_second = 0;  // its integration's rate limit (0: none)
  };

  SendScheduler(Limits limits, const Clock& clock) : limits_(limits), clock_(clock) {}

  // A claimed delivery waits to start, counted as claimed here until Done. At the front: a probe,
  // or the next of a lane this node holds.
  void Queue(const std::string& integration, int64_t seq, bool front);
  // Deliveries of `integration` queued or sending here.
  int claimed(const std::string& integration) const;
  // The integrations with at least `count` deliveries queued or sending here.
  std::vector<std::string> ClaimedAtLeast(int count) const;
  int sending() const { return sending_total_; }
  bool has_queued() const { return !queued_.empty(); }

  // Takes the queued deliveries that may start now, in order; each counts as sending until Done.
  std::vector<int64_t> TakeStartable(const std::function<Candidate(int64_t)>& describe);
  // A delivery of `integration` has left this node, from sending or from its queue.
  void Done(const std::string& integration, bool was_sending);
  // Takes the queued deliveries of `integration` for which `keep` is false (each is Done).
  std::vector<int64_t> TakeQueuedOf(const std::string& integration,
                                    const std::function<bool(int64_t)>& keep);
  // Takes every queued delivery (each is Done), with its integration.
  std::vector<std::pair<std::string, int64_t>> TakeAllQueued();
  // Forgets everything but the breakers.
  void Clear();

  // The breaker as this node sees it between a failure and the store's answer.
  void NoteAttempt(const std::string& integration, bool succeeded);
  // The failures noted so far are in the store round trip that starts now...
  void Submitted();
  // ...which failed: they are sent again with the next one.
  void SubmitFailed();
  // ...which answered with the health of the integrations it recorded.
  void Reported(const std::vector<store::HealthReport>& reports);
  // True while a run of failures here may have opened the integration's breaker.
  bool Suspect(const std::string& integration) const;

 private:
  bool TakeRateToken(const std::string& integration, int rate);

  struct Breaker {
    int64_t known = 0;       // consecutive failures, as the store last reported them
    int64_t unreported = 0;  // failures here since, not yet sent to the store
    int64_t submitted = 0;   // failures in the round trip under way
  };
  struct RateBucket {
    double tokens;
    int64_t at;  // when tokens was last brought up to date
  };
  Limits limits_;
  const Clock& clock_;
  std::map<std::string, std::deque<int64_t>> queued_;  // claimed, not started
  std::unordered_map<std::string, int> sending_;       // started
  std::unordered_map<std::string, int> claimed_;       // queued + sending
  int sending_total_ = 0;
  std::unordered_map<std::string, RateBucket> buckets_;  // rate-limited integrations
  std::unordered_map<std::string, Breaker> breakers_;    // integrations with recent failures
};

}  // namespace relay::delivery

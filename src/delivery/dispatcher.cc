// The dispatcher's engine: all its state is owned by the dispatcher thread, so it needs no locks
// beyond the few atomics the API reads.
#include "delivery/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace_context.h"
#include "delivery/dispatcher_metrics.h"
#include "delivery/http_client.h"
#include "delivery/lease_heartbeat.h"
#include "delivery/oauth.h"
#include "delivery/retry_policy.h"
#include "delivery/signer.h"
#include "delivery/store_round_trips.h"
#include "delivery/target_cache.h"
#include "delivery/token_cache.h"
#include "integrations/state_changes.h"
#include "store/health.h"

namespace relay::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kTokenTimeoutMs = 10000;
// Deliveries claimed ahead of sending, as a multiple of the in-flight caps.
constexpr int kPrefetch = 2;
// After a failed store round trip, the next waits this long, doubling up to the maximum.
constexpr auto kMinStoreBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxStoreBackoff = std::chrono::milliseconds(5000);
// How long past the grace period a stop waits for the store to record the last outcomes.
constexpr auto kStopMargin = std::chrono::seconds(3);

}  // namespace

class Dispatcher::Engine {
 public:
  Engine(DispatcherOptions options, store::OutboxStore& store,
         integrations::IntegrationService& integrations, const DestinationGuard& guard,
         const Clock& clock, Random& random, MetricsRegistry& metrics,
         std::atomic<int64_t>& in_flight_gauge)
      : options_(std::move(options)),
        clock_(clock),
        retry_(options_.retry_schedule.empty() ? DefaultRetrySchedule() : options_.retry_schedule,
               random),
        own_http_(options_.sender
                      ? nullptr
                      : std::make_unique<HttpClient>(
                            guard, HttpClientOptions{options_.user_agent, options_.ca_file})),
        http_(options_.sender ? *options_.sender : *own_http_),
        in_flight_gauge_(in_flight_gauge),
        lease_token_seed_(static_cast<int64_t>(std::hash<std::string>{}(crypto::RandomBytes(8)) &
                                               0x3fffffffffffffffLL)),
        targets_(integrations, clock),
        tokens_(clock),
        round_trips_(store, options_.health, [this] { http_.Wakeup(); }),
        heartbeat_(store, clock, options_.lease_millis),
        m_(metrics),
        state_changes_(metrics) {}

  void Run(const std::atomic<bool>& stopping, const std::atomic<int>& grace_seconds,
           std::atomic<bool>& woken) {
    std::optional<SteadyClock::time_point> deadline;
    auto last_claim = SteadyClock::now() - std::chrono::hours(1);
    bool last_claim_full = false;
    while (true) {
      if (auto reply = round_trips_.TakeReply()) last_claim_full = OnReply(std::move(*reply));
      const auto now = SteadyClock::now();
      if (stopping.load()) {
        if (!deadline) {
          deadline = now + std::chrono::seconds(grace_seconds.load());
          log::Info("the dispatcher is stopping",
                    {{"in_flight", std::to_string(sending_total_)},
                     {"grace_seconds", std::to_string(grace_seconds.load())}});
        }
        ReleaseReady();  // claimed but not started (some may arrive late): back, untried
        if (now >= *deadline) ReleaseAll();
        if (jobs_.empty() && outcomes_.empty() && !round_trips_.busy()) break;
        if (now >= *deadline + kStopMargin) {
          // The store cannot record them: they stay claimed until their leases run out (or
          // the next start releases them) and are sent again then. At-least-once.
          log::Warn("stopped without recording every outcome; those deliveries will be sent again",
                    {{"unrecorded", std::to_string(outcomes_.size() + jobs_.size())}});
          break;
        }
        if (!round_trips_.busy() && !outcomes_.empty() && now >= backoff_until_) {
          Submit(std::nullopt);
        }
      } else if (!round_trips_.busy() && now >= backoff_until_) {
        // One store round trip at a time, carrying every outcome recorded since the last one.
        // Claim when told that work may be due, when the last claim was full, when finished
        // deliveries freed capacity, or every poll.
        auto since = now - last_claim;
        std::optional<store::ClaimRequest> claim;
        if (woken.exchange(false) || last_claim_full || !outcomes_.empty() ||
            since >= std::chrono::milliseconds(options_.idle_poll_millis)) {
          claim = NextClaim();
          last_claim = now;
        }
        if (claim || !outcomes_.empty()) Submit(std::move(claim));
      }
      PublishHeld(now);
      if (!stopping.load()) StartReady();  // after a stop, nothing new starts
      int timeout = jobs_.empty() && !round_trips_.busy() ? options_.idle_poll_millis : 5;
      if (round_trips_.has_reply()) timeout = 0;
      http_.Poll(timeout);
    }
  }

  // What this node holds, for the heartbeat (its own thread: a slow store round trip never delays
  // a renewal). Told every eighth of a lease, so what was claimed since is renewed in time.
  void PublishHeld(SteadyClock::time_point now) {
    if (now - last_renewal_ < std::chrono::milliseconds(options_.lease_millis / 8)) return;
    last_renewal_ = now;
    std::vector<store::HeldLease> held;
    held.reserve(jobs_.size());
    for (const auto& [seq, job] : jobs_) held.push_back({seq, job->d.lease_token, job->d.lane_id});
    heartbeat_.Hold(std::move(held));
  }

  void Wakeup() { http_.Wakeup(); }

 private:
  // Starts a store round trip with every outcome recorded since the last one.
  void Submit(std::optional<store::ClaimRequest> claim) {
    for (auto& [id, b] : breakers_) {
      b.submitted += b.unreported;
      b.unreported = 0;
    }
    round_trips_.Submit(std::move(outcomes_), clock_.NowMillis(), std::move(claim));
    outcomes_.clear();
  }

  // What this node knows of an integration's run of failures, to hold it back between a failure
  // and the store's answer (which opens the breaker, or not).
  struct Breaker {
    int64_t known = 0;       // consecutive failures, as the store last reported them
    int64_t unreported = 0;  // failures here since, not yet sent to the store
    int64_t submitted = 0;   // failures in the round trip under way
  };
  bool Suspect(const std::string& integration) const {
    auto it = breakers_.find(integration);
    if (it == breakers_.end() || options_.health.breaker_failures <= 0) return false;
    const Breaker& b = it->second;
    const int64_t local = b.unreported + b.submitted;
    return local > 0 && b.known + local >= options_.health.breaker_failures;
  }
  void NoteAttempt(const std::string& integration, bool succeeded) {
    if (succeeded) {
      breakers_.erase(integration);
    } else {
      ++breakers_[integration].unreported;
    }
  }

  // The store's word on the integrations whose outcomes it recorded: their changes of state are
  // logged and counted here (once: only the node whose outcomes caused one hears of it), and what
  // this node holds of an integration that may not send now goes back untried.
  void OnHealth(const std::vector<store::HealthReport>& reports) {
    for (auto& [id, b] : breakers_) b.submitted = 0;
    for (const auto& r : reports) {
      m_.dead.Add(r.dead);
      for (const auto& [state, reason] : r.changes) {
        state_changes_.Report(r.organization_id, r.integration_id, store::HealthStateName(state),
                              reason);
      }
      if (r.held()) {
        breakers_.erase(r.integration_id);  // nothing of it is claimed until it may send again
        ReleaseReadyOf(r.integration_id);
      } else {
        breakers_[r.integration_id].known = r.health.consecutive_failures;
      }
    }
    for (auto it = breakers_.begin(); it != breakers_.end();) {
      const Breaker& b = it->second;
      it = b.known == 0 && b.unreported == 0 && b.submitted == 0 ? breakers_.erase(it)
                                                                 : std::next(it);
    }
  }
  struct Job {
    store::ClaimedDelivery d;
    int64_t started_at = 0;  // wall clock, for the attempt record
    bool retried_after_401 = false;
  };

  // The claim for the capacity free now, or nullopt when there is none. Deliveries are claimed
  // ahead of sending (up to kPrefetch times the caps), so the next batch is here when a transfer
  // ends and sending never waits for a store round trip.
  std::optional<store::ClaimRequest> NextClaim() {
    int free = options_.max_in_flight * kPrefetch - static_cast<int>(jobs_.size());
    if (free <= 0) return std::nullopt;
    store::ClaimRequest req;
    req.now = clock_.NowMillis();
    req.lease_until = req.now + options_.lease_millis;
    req.lease_token = lease_token_seed_ + ++claims_;
    const int per_integration = options_.max_in_flight_per_integration * kPrefetch;
    // Claim about what the integrations seen last time can take: claiming a full batch of one
    // integration that may hold fewer would only hand most of it straight back.
    int expected = per_integration * std::max(1, last_claim_integrations_);
    req.limit = std::min({free, options_.claim_batch, std::max(expected, 1)});
    req.integration_cap = options_.max_in_flight_per_integration;
    req.lane_depth = options_.lane_depth;
    for (const auto& [integration, count] : claimed_) {
      if (count >= per_integration) req.excluded_integrations.push_back(integration);
    }
    return req;
  }

  // A store round trip came back; true when its claim was full (more may be due).
  bool OnReply(StoreRoundTrips::Reply reply) {
    m_.round_trip.Observe(reply.seconds);
    m_.claimed.Add(reply.claimed.size());
    if (!reply.status.ok()) {
      for (auto& [id, b] : breakers_) {
        b.unreported += b.submitted;
        b.submitted = 0;
      }
      // Kept for the next round trip; if this process dies first, the leases bring them back.
      // The next try waits, longer each time (up to kMaxStoreBackoff), and the log says so once.
      if (store_failures_++ == 0) {
        log::Warn("the store is failing; outcomes wait and claims pause until it answers",
                  {{"error", reply.status.message()},
                   {"outcomes", std::to_string(reply.outcomes.size())}});
      }
      backoff_ =
          std::min(backoff_ == std::chrono::milliseconds(0) ? kMinStoreBackoff : backoff_ * 2,
                   kMaxStoreBackoff);
      backoff_until_ = SteadyClock::now() + backoff_;
      outcomes_.insert(outcomes_.begin(), std::make_move_iterator(reply.outcomes.begin()),
                       std::make_move_iterator(reply.outcomes.end()));
      return false;
    }
    if (store_failures_ > 0) {
      log::Info("the store answers again",
                {{"failed_round_trips", std::to_string(store_failures_)}});
      store_failures_ = 0;
      backoff_ = std::chrono::milliseconds(0);
    }
    OnHealth(reply.health);
    if (!reply.claim) return false;
    const int per_integration = options_.max_in_flight_per_integration * kPrefetch;
    std::unordered_set<std::string> seen;
    std::unordered_set<int64_t> handed_back;  // lanes whose head this batch handed back
    for (auto& d : reply.claimed) {
      seen.insert(d.integration_id);
      if (auto held = jobs_.find(d.seq); held != jobs_.end()) {
        // Ours already (its lease ran out while the store was unreachable, and this claim took
        // it again): keep the one job, under the new lease. It is never sent twice at once.
        held->second->d.lease_token = d.lease_token;
        continue;
      }
      if (auto lane = lanes_.find(d.lane_id); lane != lanes_.end()) {
        // Behind a delivery of its lane held here: it starts when the one before it succeeds.
        lane->second.push_back(d.seq);
        jobs_[d.seq] = std::make_unique<Job>(Job{std::move(d)});
        continue;
      }
      int& count = claimed_[d.integration_id];
      if (count >= per_integration || handed_back.count(d.lane_id)) {
        // Over the cap within one batch: hand it back untried (and what follows it in its lane),
        // it is claimed again later.
        handed_back.insert(d.lane_id);
        Record(d, std::nullopt, store::DeliveryStatus::kPending, reply.claim->now);
        continue;
      }
      ++count;
      lanes_[d.lane_id];  // the lane's head: its followers queue behind it
      auto job = std::make_unique<Job>();
      job->d = std::move(d);
      int64_t seq = job->d.seq;
      auto& queue = ready_[job->d.integration_id];
      if (job->d.probe) {
        queue.push_front(seq);  // the one delivery its open breaker lets through: first
      } else {
        queue.push_back(seq);
      }
      jobs_[seq] = std::move(job);
    }
    // Growing by one each round lets a newly due integration be discovered.
    last_claim_integrations_ = static_cast<int>(seen.size()) + 1;
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
    return static_cast<int>(reply.claimed.size()) == reply.claim->limit;
  }

  // Starts claimed deliveries while their integration and the whole engine have room.
  void StartReady() {
    if (ready_.empty() || sending_total_ >= options_.max_in_flight) return;
    std::vector<int64_t> start;
    for (auto it = ready_.begin(); it != ready_.end();) {
      int& sending = sending_[it->first];
      auto& queue = it->second;
      // An integration whose breaker may just have opened starts nothing until the store says,
      // but its probe.
      const bool suspect = Suspect(it->first);
      while (!queue.empty() && sending < options_.max_in_flight_per_integration &&
             sending_total_ < options_.max_in_flight && (!suspect || IsProbe(queue.front())) &&
             TakeRateToken(queue.front())) {
        start.push_back(queue.front());
        queue.pop_front();
        ++sending;
        ++sending_total_;
      }
      if (sending == 0) sending_.erase(it->first);
      it = queue.empty() ? ready_.erase(it) : std::next(it);
    }
    // Begin may finish a delivery at once (integration deleted); that only updates counters.
    for (int64_t seq : start) Begin(seq);
  }

  bool IsProbe(int64_t seq) const {
    auto job = jobs_.find(seq);
    return job != jobs_.end() && job->second->d.probe;
  }

  // properties.rate_limit_per_second: a token bucket per integration holding at most one second
  // of sends, refilled continuously. It counts this node's sends: N nodes on one database send up
  // to N times the rate (README). A delivery held back waits in its ready queue; the loop looks
  // again within 5 ms.
  bool TakeRateToken(int64_t seq) {
    auto job = jobs_.find(seq);
    if (job == jobs_.end()) return true;
    auto target = targets_.Get(job->second->d);
    if (!target.ok()) return true;  // Begin reports it
    const int rate = (*target)->target.integration.spec.properties.rate_limit_per_second;
    if (rate <= 0) return true;
    const int64_t now = clock_.NowMillis();
    RateBucket& b =
        buckets_
            .try_emplace(job->second->d.integration_id, RateBucket{static_cast<double>(rate), now})
            .first->second;
    b.tokens = std::min<double>(rate, b.tokens + static_cast<double>(now - b.at) * rate / 1000.0);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  // Loads (or reuses) the integration's configuration, then sends or waits for a token.
  void Begin(int64_t seq) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    job.started_at = clock_.NowMillis();
    auto target = targets_.Get(job.d);
    if (!target.ok()) {
      if (target.status().code() == StatusCode::kNotFound) {
        Finish(seq, std::nullopt, store::DeliveryStatus::kCancelled, 0);
      } else {
        Fail(seq, std::nullopt, "cannot load the integration: " + target.status().message(),
             std::nullopt);
      }
      return;
    }
    const auto& oauth = (*target)->target.integration.spec.oauth;
    if (!oauth) {
      Send(seq, **target, "");
      return;
    }
    if (auto token = tokens_.Find(job.d.integration_id, (*target)->oauth_fingerprint)) {
      Send(seq, **target, *token);
      return;
    }
    if (tokens_.AddWaiter(job.d.integration_id, (*target)->oauth_fingerprint, seq)) {
      FetchToken(job.d.integration_id, **target);
    }
  }

  // The caller has registered a waiter (TokenCache::AddWaiter said to fetch).
  void FetchToken(const std::string& integration_id, const SendTarget& target) {
    m_.token_fetches.Add();
    const auto& oauth = *target.target.integration.spec.oauth;
    TokenRequest request = BuildTokenRequest(oauth);
    HttpCall call;
    call.url = oauth.url;
    call.headers = std::move(request.headers);
    call.body = std::move(request.body);
    call.timeout_ms = kTokenTimeoutMs;
    std::string fingerprint = target.oauth_fingerprint;
    http_.Start(std::move(call), [this, integration_id, fingerprint](HttpCallResult result) {
      OnToken(integration_id, fingerprint, std::move(result));
    });
  }

  void OnToken(const std::string& integration_id, const std::string& fingerprint,
               HttpCallResult result) {
    Result<AccessToken> token =
        result.status
            ? ParseTokenResponse(*result.status, result.body)
            : Result<AccessToken>(Unavailable("the OAuth token request failed: " + result.error));
    std::vector<int64_t> waiting = tokens_.Fetched(integration_id, fingerprint, token);
    if (!token.ok()) {
      m_.token_failures.Add();
      for (int64_t seq : waiting) {
        if (jobs_.count(seq)) Fail(seq, std::nullopt, token.status().message(), std::nullopt, true);
      }
      return;
    }
    for (int64_t seq : waiting) {
      auto it = jobs_.find(seq);
      if (it == jobs_.end()) continue;
      auto target = targets_.Get(it->second->d);
      if (!target.ok()) {
        Fail(seq, std::nullopt, "cannot load the integration: " + target.status().message(),
             std::nullopt);
        continue;
      }
      Send(seq, **target, token->token);
    }
  }

  void Send(int64_t seq, const SendTarget& target, const std::string& token) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    const auto& spec = target.target.integration.spec;
    int64_t timestamp = clock_.NowSeconds();
    HttpCall call;
    call.url = spec.properties.url;
    call.timeout_ms = spec.properties.timeout_ms;
    call.headers = {"Content-Type: application/json", "webhook-id: " + job.d.message_id,
                    "webhook-timestamp: " + std::to_string(timestamp),
                    "webhook-signature: " +
                        SignatureHeader(target.keys, job.d.message_id, timestamp, job.d.payload),
                    // This hop's span in the change's trace (W3C Trace Context).
                    "traceparent: " + ChildTraceparent(job.d.traceparent)};
    for (const auto& [name, value] : spec.properties.headers)
      call.headers.push_back(name + ": " + value);
    if (!token.empty()) call.headers.push_back("Authorization: Bearer " + token);
    call.body = job.d.payload;
    bool oauth = spec.oauth.has_value();
    http_.Start(std::move(call), [this, seq, oauth, token](HttpCallResult result) {
      OnSent(seq, oauth, token, std::move(result));
    });
  }

  void OnSent(int64_t seq, bool oauth, const std::string& token, HttpCallResult result) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    m_.duration.Observe(static_cast<double>(result.duration_ms) / 1000.0);
    if (result.status && *result.status == 401 && oauth && !job.retried_after_401) {
      // The endpoint refused the token: drop it, get a new one, and try once more at once.
      job.retried_after_401 = true;
      tokens_.Refused(job.d.integration_id, token);
      auto target = targets_.Get(job.d);
      if (target.ok()) {
        if (tokens_.AddWaiter(job.d.integration_id, (*target)->oauth_fingerprint, seq)) {
          FetchToken(job.d.integration_id, **target);
        }
        return;
      }
    }
    if (result.status && *result.status >= 200 && *result.status <= 299) {
      m_.attempt_ok.Add();
      m_.latency.Observe(static_cast<double>(clock_.NowMillis() - job.d.message_created_at) /
                         1000.0);
      Finish(seq, Attempt(job, result), store::DeliveryStatus::kSucceeded, 0);
      return;
    }
    std::optional<int64_t> retry_after;
    if (result.status && (*result.status == 429 || *result.status == 503)) {
      auto header = result.headers.find("retry-after");
      if (header != result.headers.end()) {
        retry_after = ParseRetryAfter(header->second, clock_.NowMillis());
      }
    }
    (result.status ? m_.attempt_http_error : m_.attempt_network_error).Add();
    Fail(seq, result, result.error, retry_after);
  }

  store::AttemptRow Attempt(const Job& job, const HttpCallResult& result) {
    store::AttemptRow a;
    a.attempt = job.d.attempt_count + 1;
    a.started_at = job.started_at;
    a.duration_ms = std::max<int64_t>(0, clock_.NowMillis() - job.started_at);
    a.http_status = result.status;
    // Whatever bytes the endpoint sent, the record holds valid text (the API shows it as JSON).
    a.error = result.status ? "" : SanitizeText(result.error);
    a.response_body = SanitizeText(result.body);
    return a;
  }

  // A failed attempt: retry per the schedule, or dead after the last.
  void Fail(int64_t seq, const std::optional<HttpCallResult>& result, const std::string& error,
            std::optional<int64_t> retry_after, bool oauth_error = false) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    HttpCallResult no_response;
    if (!result) {
      no_response.error = error;
      (oauth_error ? m_.attempt_oauth_error : m_.attempt_network_error).Add();
    }
    store::AttemptRow a = Attempt(job, result ? *result : no_response);
    auto delay = retry_.NextDelay(job.d.cycle_attempts + 1, retry_after);
    if (delay) {
      Finish(seq, a, store::DeliveryStatus::kPending, clock_.NowMillis() + *delay);
    } else {
      Finish(seq, a, store::DeliveryStatus::kDead, 0);
    }
  }

  void Finish(int64_t seq, std::optional<store::AttemptRow> attempt, store::DeliveryStatus status,
              int64_t next_attempt_at) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    if (log::Enabled(log::Level::kDebug)) {
      // What was tried and what became of it; never a header, a body, a token or a secret.
      const store::ClaimedDelivery& d = it->second->d;
      log::Debug(
          status == store::DeliveryStatus::kSucceeded ? "delivery succeeded"
          : status == store::DeliveryStatus::kDead    ? "delivery dead: retries exhausted"
          : status == store::DeliveryStatus::kPending ? "delivery attempt failed, retry due"
                                                      : "delivery ended",
          {{"delivery", d.id},
           {"integration", d.integration_id},
           {"trace_id", TraceIdOf(d.traceparent)},
           {"attempt", attempt ? std::to_string(attempt->attempt) : "none"},
           {"http_status",
            attempt && attempt->http_status ? std::to_string(*attempt->http_status) : "none"},
           {"error", attempt ? attempt->error : ""},
           {"next_attempt_at", std::to_string(next_attempt_at)}});
    }
    if (attempt) {
      NoteAttempt(it->second->d.integration_id, status == store::DeliveryStatus::kSucceeded);
    }
    Record(it->second->d, std::move(attempt), status, next_attempt_at);
    if (status == store::DeliveryStatus::kSucceeded) m_.succeeded.Add();
    // Dead is counted when the store says so: it holds the failures of an integration whose
    // breaker is open, or which is disabled, instead (OnHealth).
    if (status == store::DeliveryStatus::kCancelled) m_.cancelled.Add();
    const int64_t lane = it->second->d.lane_id;
    const std::string integration = it->second->d.integration_id;
    Forget(integration, /*was_sending=*/true);
    jobs_.erase(it);
    // After a success (or a cancellation) the lane goes on here. After a failure what follows goes
    // back untried: a retry holds the lane, and a delivery out of retries may yet be held by the
    // store (a 410 disables its integration); the store moves the lane on from a dead head.
    if (status == store::DeliveryStatus::kSucceeded ||
        status == store::DeliveryStatus::kCancelled) {
      AdvanceLane(lane, integration);
    } else {
      ReleaseLane(lane);
    }
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
  }

  // The next delivery of a lane held here starts now, without a claim: the lane's lease covers it.
  void AdvanceLane(int64_t lane, const std::string& integration) {
    auto it = lanes_.find(lane);
    if (it == lanes_.end()) return;
    while (!it->second.empty()) {
      const int64_t next = it->second.front();
      it->second.pop_front();
      if (!jobs_.count(next)) continue;
      ++claimed_[integration];
      ready_[integration].push_front(next);
      m_.lane_chained.Add();
      return;
    }
    lanes_.erase(it);
  }

  // What follows in a lane goes back untried (pending, due now: the lane is due at its head's
  // time), and the lane is no longer held here.
  void ReleaseLane(int64_t lane) {
    auto it = lanes_.find(lane);
    if (it == lanes_.end()) return;
    const int64_t now = clock_.NowMillis();
    for (int64_t seq : it->second) {
      auto job = jobs_.find(seq);
      if (job == jobs_.end()) continue;
      Record(job->second->d, std::nullopt, store::DeliveryStatus::kPending, now);
      jobs_.erase(job);
    }
    lanes_.erase(it);
  }

  void Record(const store::ClaimedDelivery& d, std::optional<store::AttemptRow> attempt,
              store::DeliveryStatus status, int64_t next_attempt_at) {
    store::DeliveryOutcome o;
    o.seq = d.seq;
    o.lease_token = d.lease_token;
    o.integration_id = d.integration_id;
    o.probe = d.probe;
    o.attempt = std::move(attempt);
    o.status = status;
    o.next_attempt_at = next_attempt_at;
    outcomes_.push_back(std::move(o));
  }

  void Forget(const std::string& integration_id, bool was_sending) {
    if (was_sending) {
      --sending_total_;
      auto si = sending_.find(integration_id);
      if (si != sending_.end() && --si->second <= 0) sending_.erase(si);
    }
    auto ci = claimed_.find(integration_id);
    if (ci != claimed_.end() && --ci->second <= 0) claimed_.erase(ci);
  }

  // The claimed deliveries of one integration not started yet go back untried, but a probe.
  void ReleaseReadyOf(const std::string& integration) {
    auto it = ready_.find(integration);
    if (it == ready_.end()) return;
    const int64_t now = clock_.NowMillis();
    std::deque<int64_t> keep;
    for (int64_t seq : it->second) {
      auto job = jobs_.find(seq);
      if (job == jobs_.end()) continue;
      if (job->second->d.probe) {
        keep.push_back(seq);
        continue;
      }
      Record(job->second->d, std::nullopt, store::DeliveryStatus::kPending, now);
      Forget(integration, /*was_sending=*/false);
      const int64_t lane = job->second->d.lane_id;
      jobs_.erase(job);
      ReleaseLane(lane);
    }
    if (keep.empty()) {
      ready_.erase(it);
    } else {
      it->second = std::move(keep);
    }
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
  }

  // Claimed deliveries not started yet go back untried (shutdown).
  void ReleaseReady() {
    int64_t now = clock_.NowMillis();
    for (auto& [integration, queue] : ready_) {
      for (int64_t seq : queue) {
        auto it = jobs_.find(seq);
        if (it == jobs_.end()) continue;
        Record(it->second->d, std::nullopt, store::DeliveryStatus::kPending, now);
        Forget(integration, /*was_sending=*/false);
        const int64_t lane = it->second->d.lane_id;
        jobs_.erase(it);
        ReleaseLane(lane);
      }
    }
    ready_.clear();
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
  }

  // Shutdown past the grace period: every delivery still here goes back untried.
  void ReleaseAll() {
    ReleaseReady();
    int64_t now = clock_.NowMillis();
    for (auto& [seq, job] : jobs_)
      Record(job->d, std::nullopt, store::DeliveryStatus::kPending, now);
    jobs_.clear();
    lanes_.clear();
    sending_.clear();
    claimed_.clear();
    sending_total_ = 0;
    in_flight_gauge_.store(0);
  }

  DispatcherOptions options_;
  const Clock& clock_;
  RetryPolicy retry_;
  std::unique_ptr<HttpClient> own_http_;  // unless the options name a sender
  Sender& http_;
  std::atomic<int64_t>& in_flight_gauge_;
  int64_t lease_token_seed_;
  int64_t claims_ = 0;
  SteadyClock::time_point last_renewal_ = SteadyClock::now();
  int64_t store_failures_ = 0;  // failed round trips in a row
  std::chrono::milliseconds backoff_{0};
  SteadyClock::time_point backoff_until_;
  int last_claim_integrations_ = 8;
  std::unordered_map<int64_t, std::unique_ptr<Job>> jobs_;  // claimed: ready, sending or behind
  // The lanes held here: the deliveries claimed behind the one ready or sending, in lane order.
  std::unordered_map<int64_t, std::deque<int64_t>> lanes_;
  std::map<std::string, std::deque<int64_t>> ready_;  // claimed, not started, per integration
  std::unordered_map<std::string, int> sending_;      // started, per integration
  struct RateBucket {
    double tokens;
    int64_t at;  // when tokens was last brought up to date
  };
  std::unordered_map<std::string, RateBucket> buckets_;  // rate-limited integrations
  std::unordered_map<std::string, int> claimed_;         // ready + sending, per integration
  int sending_total_ = 0;
  TargetCache targets_;
  TokenCache tokens_;
  std::vector<store::DeliveryOutcome> outcomes_;  // recorded by the next store round trip
  StoreRoundTrips round_trips_;
  LeaseHeartbeat heartbeat_;
  std::unordered_map<std::string, Breaker> breakers_;  // integrations with recent failures here
  DispatcherMetrics m_;
  integrations::StateChanges state_changes_;
};

Dispatcher::Dispatcher(DispatcherOptions options, store::OutboxStore& store,
                       integrations::IntegrationService& integrations,
                       const DestinationGuard& guard, const Clock& clock, Random& random,
                       MetricsRegistry& metrics)
    : engine_(std::make_unique<Engine>(std::move(options), store, integrations, guard, clock,
                                       random, metrics, in_flight_)) {}

Dispatcher::~Dispatcher() { Stop(0); }

void Dispatcher::Start() {
  running_ = true;
  thread_ = std::thread([this] {
    engine_->Run(stopping_, grace_seconds_, woken_);
    running_ = false;
  });
}

void Dispatcher::Stop(int grace_seconds) {
  grace_seconds_ = grace_seconds;
  stopping_ = true;
  engine_->Wakeup();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Wake() {
  woken_ = true;
  engine_->Wakeup();
}

}  // namespace relay::delivery

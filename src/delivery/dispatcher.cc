// The dispatcher's engine: all its state is owned by the dispatcher thread, so it needs no locks
// beyond the few atomics the API reads. What an attempt sends and what its answer means live in
// attempt.cc; which claimed delivery starts when, in send_scheduler.cc; the leases' heartbeat in
// lease_heartbeat.cc; the store round trips in store_round_trips.cc. Here: the loop, claims, lanes
// held in memory, and outcomes.
#include "delivery/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "common/crypto.h"
#include "common/log.h"
#include "common/trace_context.h"
#include "delivery/attempt.h"
#include "delivery/dispatcher_metrics.h"
#include "delivery/handoff_inbox.h"
#include "delivery/http_client.h"
#include "delivery/lease_heartbeat.h"
#include "delivery/retry_policy.h"
#include "delivery/send_scheduler.h"
#include "delivery/store_round_trips.h"
#include "delivery/target_cache.h"
#include "delivery/token_cache.h"
#include "integrations/state_changes.h"
#include "store/health.h"

namespace relay::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;
using store::DeliveryStatus;

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
      : store_(store),
        options_(std::move(options)),
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
        scheduler_({options_.max_in_flight, options_.max_in_flight_per_integration,
                    options_.health.breaker_failures},
                   clock),
        targets_(integrations, clock),
        tokens_(clock),
        round_trips_(store, options_.health, [this] { http_.Wakeup(); }),
        heartbeat_(store, clock, options_.lease_millis),
        m_(metrics),
        state_changes_(metrics) {}

  // Fresh deliveries come straight from the store's writer (as it starts: a dispatcher that does
  // not run must not take them).
  void OpenHandoff() {
    if (!options_.handoff || inbox_) return;
    // Claims use the seed plus a count from 1: the seed itself is the handoff's lease token.
    inbox_ = std::make_shared<HandoffInbox>(
        HandoffInbox::Options{options_.max_in_flight * kPrefetch, PerIntegration(),
                              lease_token_seed_, options_.lease_millis},
        [this] { http_.Wakeup(); });
    store_.SetHandoff(inbox_);
  }

  // No more handoffs (before the engine goes): the store forgets the inbox.
  void CloseHandoff() {
    if (!inbox_) return;
    store_.SetHandoff(nullptr);
    inbox_->Close();
  }

  void Run(const std::atomic<bool>& stopping, const std::atomic<int>& grace_seconds,
           std::atomic<bool>& woken) {
    std::optional<SteadyClock::time_point> deadline;
    auto last_claim = SteadyClock::now() - std::chrono::hours(1);
    bool last_claim_full = false;
    while (true) {
      if (auto reply = round_trips_.TakeReply()) last_claim_full = OnReply(std::move(*reply));
      TakeHandoffs();
      const auto now = SteadyClock::now();
      if (stopping.load()) {
        if (!deadline) deadline = BeginStop(now, grace_seconds.load());
        if (StopStep(now, *deadline)) break;
      } else if (!round_trips_.busy() && now >= backoff_until_) {
        // One store round trip at a time, carrying every outcome recorded since the last one.
        // Claim when told that work may be due, when the last claim was full, when finished
        // deliveries freed capacity, or every poll.
        std::optional<store::ClaimRequest> claim;
        if (woken.exchange(false) || last_claim_full || !outcomes_.empty() ||
            now - last_claim >= std::chrono::milliseconds(options_.idle_poll_millis)) {
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

  void Wakeup() { http_.Wakeup(); }

 private:
  struct Job {
    store::ClaimedDelivery d;
    int64_t started_at = 0;  // wall clock, for the attempt record
    bool refreshed = false;  // sent again with a new token after a 401
  };

  SteadyClock::time_point BeginStop(SteadyClock::time_point now, int grace_seconds) {
    log::Info("the dispatcher is stopping", {{"in_flight", std::to_string(scheduler_.sending())},
                                             {"grace_seconds", std::to_string(grace_seconds)}});
    return now + std::chrono::seconds(grace_seconds);
  }

  // One turn of a stop; true when the loop ends.
  bool StopStep(SteadyClock::time_point now, SteadyClock::time_point deadline) {
    ReleaseQueued();  // claimed but not started (some may arrive late): back, untried
    if (now >= deadline) ReleaseAll();
    if (jobs_.empty() && outcomes_.empty() && !round_trips_.busy()) return true;
    if (now >= deadline + kStopMargin) {
      // The store cannot record them: they stay claimed until their leases run out (or the next
      // start releases them) and are sent again then. At-least-once.
      log::Warn("stopped without recording every outcome; those deliveries will be sent again",
                {{"unrecorded", std::to_string(outcomes_.size() + jobs_.size())}});
      return true;
    }
    if (!round_trips_.busy() && !outcomes_.empty() && now >= backoff_until_) Submit(std::nullopt);
    return false;
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

  // Starts a store round trip with every outcome recorded since the last one.
  void Submit(std::optional<store::ClaimRequest> claim) {
    scheduler_.Submitted();
    round_trips_.Submit(std::move(outcomes_), clock_.NowMillis(), std::move(claim));
    outcomes_.clear();
  }

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
    // Claim about what the integrations seen last time can take: claiming a full batch of one
    // integration that may hold fewer would only hand most of it straight back.
    int expected = PerIntegration() * std::max(1, last_claim_integrations_);
    req.limit = std::min({free, options_.claim_batch, std::max(expected, 1)});
    req.integration_cap = options_.max_in_flight_per_integration;
    req.lane_depth = options_.lane_depth;
    req.excluded_integrations = scheduler_.ClaimedAtLeast(PerIntegration());
    return req;
  }
  int PerIntegration() const { return options_.max_in_flight_per_integration * kPrefetch; }

  // A store round trip came back; true when its claim was full (more may be due).
  bool OnReply(StoreRoundTrips::Reply reply) {
    m_.round_trip.Observe(reply.seconds);
    m_.claimed.Add(reply.claimed.size());
    if (!reply.status.ok()) {
      scheduler_.SubmitFailed();
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
    // Growing by one each round lets a newly due integration be discovered.
    last_claim_integrations_ = Intake(reply.claimed, reply.claim->now) + 1;
    return static_cast<int>(reply.claimed.size()) == reply.claim->limit;
  }

  // What the store's writer claimed for this node as it wrote it (HandoffInbox), taken as if
  // claimed here.
  void TakeHandoffs() {
    if (!inbox_) return;
    auto handed = inbox_->Take();
    if (!handed.empty()) {
      m_.handed_over.Add(handed.size());
      Intake(handed, clock_.NowMillis());
    }
    inbox_->SetHeld(static_cast<int>(jobs_.size()));
  }

  // Claimed deliveries become jobs: queued to start, behind their lane's delivery held here, or
  // handed back over the cap. Returns how many integrations they were of.
  int Intake(std::vector<store::ClaimedDelivery>& claimed, int64_t now) {
    std::unordered_set<std::string> seen;
    std::unordered_set<int64_t> handed_back;  // lanes whose head this batch handed back
    for (auto& d : claimed) {
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
      if (scheduler_.claimed(d.integration_id) >= PerIntegration() ||
          handed_back.count(d.lane_id)) {
        // Over the cap within one batch: hand it back untried (and what follows it in its lane),
        // it is claimed again later.
        handed_back.insert(d.lane_id);
        Record(d, std::nullopt, DeliveryStatus::kPending, now);
        continue;
      }
      lanes_[d.lane_id];  // the lane's head: its followers queue behind it
      // The one delivery an open breaker lets through goes first.
      scheduler_.Queue(d.integration_id, d.seq, /*front=*/d.probe);
      const int64_t seq = d.seq;
      jobs_[seq] = std::make_unique<Job>(Job{std::move(d)});
    }
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
    return static_cast<int>(seen.size());
  }

  // The store's word on the integrations whose outcomes it recorded: their changes of state are
  // logged and counted here (once: only the node whose outcomes caused one hears of it), and what
  // this node holds of an integration that may not send now goes back untried.
  void OnHealth(const std::vector<store::HealthReport>& reports) {
    scheduler_.Reported(reports);
    for (const auto& r : reports) {
      m_.dead.Add(r.dead);
      for (const auto& [state, reason] : r.changes) {
        state_changes_.Report(r.organization_id, r.integration_id, store::HealthStateName(state),
                              reason);
      }
      if (!r.held()) continue;
      // Back untried, but a probe.
      auto taken = scheduler_.TakeQueuedOf(r.integration_id, [this](int64_t seq) {
        auto job = jobs_.find(seq);
        return job != jobs_.end() && job->second->d.probe;
      });
      for (int64_t seq : taken) Release(seq);
    }
  }

  // Starts what the scheduler lets start now.
  void StartReady() {
    if (!scheduler_.has_queued()) return;
    auto start = scheduler_.TakeStartable([this](int64_t seq) {
      SendScheduler::Candidate c;
      auto job = jobs_.find(seq);
      if (job == jobs_.end()) return c;
      c.probe = job->second->d.probe;
      auto target = targets_.Get(job->second->d);
      if (target.ok())
        c.rate_per_second = (*target)->target.integration.spec.properties.rate_limit_per_second;
      return c;  // a target that cannot load: StartAttempt reports it
    });
    const int64_t now = clock_.NowMillis();
    for (int64_t seq : start) {
      if (auto job = jobs_.find(seq); job != jobs_.end()) job->second->started_at = now;
      StartAttempt(seq);  // may finish at once (integration deleted): that only updates counts
    }
  }

  // The one way an attempt starts: the integration's target, then its token (given, cached, or
  // waited for while one fetch runs), then the send.
  void StartAttempt(int64_t seq, std::optional<std::string> token = std::nullopt) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    const store::ClaimedDelivery& d = it->second->d;
    auto target = targets_.Get(d);
    if (!target.ok()) {
      if (target.status().code() == StatusCode::kNotFound) {
        Finish(seq, std::nullopt, DeliveryStatus::kCancelled, 0);
      } else {
        Fail(seq, std::nullopt, "cannot load the integration: " + target.status().message(),
             std::nullopt);
      }
      return;
    }
    const SendTarget& t = **target;
    const bool oauth = t.target.integration.spec.oauth.has_value();
    if (oauth && !token && !(token = tokens_.Find(d.integration_id, t.oauth_fingerprint))) {
      if (tokens_.AddWaiter(d.integration_id, t.oauth_fingerprint, seq)) FetchToken(d, t);
      return;
    }
    std::string bearer = oauth ? *token : "";
    http_.Start(BuildWebhookCall(d, t, bearer, clock_.NowSeconds()),
                [this, seq, oauth, bearer](HttpCallResult result) {
                  OnSent(seq, oauth, bearer, std::move(result));
                });
  }

  // The caller has registered a waiter (TokenCache::AddWaiter said to fetch).
  void FetchToken(const store::ClaimedDelivery& d, const SendTarget& target) {
    m_.token_fetches.Add();
    http_.Start(BuildTokenCall(target), [this, integration = d.integration_id,
                                         fingerprint =
                                             target.oauth_fingerprint](HttpCallResult result) {
      Result<AccessToken> token =
          result.status
              ? ParseTokenResponse(*result.status, result.body)
              : Result<AccessToken>(Unavailable("the OAuth token request failed: " + result.error));
      std::vector<int64_t> waiting = tokens_.Fetched(integration, fingerprint, token);
      if (!token.ok()) m_.token_failures.Add();
      for (int64_t seq : waiting) {
        if (token.ok()) {
          StartAttempt(seq, token->token);
        } else {
          Fail(seq, std::nullopt, token.status().message(), std::nullopt, /*oauth_error=*/true);
        }
      }
    });
  }

  void OnSent(int64_t seq, bool oauth, const std::string& token, HttpCallResult result) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Job& job = *it->second;
    m_.duration.Observe(static_cast<double>(result.duration_ms) / 1000.0);
    const Judgement j = Judge(result, oauth, job.refreshed, clock_.NowMillis());
    switch (j.verdict) {
      case Verdict::kRefreshToken:
        job.refreshed = true;
        tokens_.Refused(job.d.integration_id, token);
        StartAttempt(seq);
        return;
      case Verdict::kSucceeded:
        m_.attempt_ok.Add();
        m_.latency.Observe(static_cast<double>(clock_.NowMillis() - job.d.message_created_at) /
                           1000.0);
        Finish(seq, AttemptRecord(job.d, job.started_at, clock_.NowMillis(), result),
               DeliveryStatus::kSucceeded, 0);
        return;
      case Verdict::kFailed:
        (result.status ? m_.attempt_http_error : m_.attempt_network_error).Add();
        Fail(seq, result, result.error, j.retry_after);
        return;
    }
  }

  // A failed attempt: retry per the schedule, or dead after the last.
  void Fail(int64_t seq, const std::optional<HttpCallResult>& result, const std::string& error,
            std::optional<int64_t> retry_after, bool oauth_error = false) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    const Job& job = *it->second;
    HttpCallResult no_response;
    if (!result) {
      no_response.error = error;
      (oauth_error ? m_.attempt_oauth_error : m_.attempt_network_error).Add();
    }
    store::AttemptRow a =
        AttemptRecord(job.d, job.started_at, clock_.NowMillis(), result ? *result : no_response);
    if (auto delay = retry_.NextDelay(job.d.cycle_attempts + 1, retry_after)) {
      Finish(seq, a, DeliveryStatus::kPending, clock_.NowMillis() + *delay);
    } else {
      Finish(seq, a, DeliveryStatus::kDead, 0);
    }
  }

  void Finish(int64_t seq, std::optional<store::AttemptRow> attempt, DeliveryStatus status,
              int64_t next_attempt_at) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    const store::ClaimedDelivery& d = it->second->d;
    if (log::Enabled(log::Level::kDebug)) LogOutcome(d, attempt, status, next_attempt_at);
    if (attempt) scheduler_.NoteAttempt(d.integration_id, status == DeliveryStatus::kSucceeded);
    Record(d, std::move(attempt), status, next_attempt_at);
    if (status == DeliveryStatus::kSucceeded) m_.succeeded.Add();
    // Dead is counted when the store says so: it holds the failures of an integration whose
    // breaker is open, or which is disabled, instead (OnHealth).
    if (status == DeliveryStatus::kCancelled) m_.cancelled.Add();
    const int64_t lane = d.lane_id;
    const std::string integration = d.integration_id;
    scheduler_.Done(integration, /*was_sending=*/true);
    jobs_.erase(it);
    // After a success (or a cancellation) the lane goes on here. After a failure what follows goes
    // back untried: a retry holds the lane, and a delivery out of retries may yet be held by the
    // store (a 410 disables its integration); the store moves the lane on from a dead head.
    if (status == DeliveryStatus::kSucceeded || status == DeliveryStatus::kCancelled) {
      AdvanceLane(lane, integration);
    } else {
      ReleaseLane(lane);
    }
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
  }

  // What was tried and what became of it; never a header, a body, a token or a secret.
  static void LogOutcome(const store::ClaimedDelivery& d,
                         const std::optional<store::AttemptRow>& attempt, DeliveryStatus status,
                         int64_t next_attempt_at) {
    log::Debug(status == DeliveryStatus::kSucceeded ? "delivery succeeded"
               : status == DeliveryStatus::kDead    ? "delivery dead: retries exhausted"
               : status == DeliveryStatus::kPending ? "delivery attempt failed, retry due"
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

  // The next delivery of a lane held here starts now, without a claim: the lane's lease covers it.
  void AdvanceLane(int64_t lane, const std::string& integration) {
    auto it = lanes_.find(lane);
    if (it == lanes_.end()) return;
    while (!it->second.empty()) {
      const int64_t next = it->second.front();
      it->second.pop_front();
      if (!jobs_.count(next)) continue;
      scheduler_.Queue(integration, next, /*front=*/true);
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
      Record(job->second->d, std::nullopt, DeliveryStatus::kPending, now);
      jobs_.erase(job);
    }
    lanes_.erase(it);
  }

  // A queued delivery (already Done in the scheduler) goes back untried, with its lane.
  void Release(int64_t seq) {
    auto job = jobs_.find(seq);
    if (job == jobs_.end()) return;
    Record(job->second->d, std::nullopt, DeliveryStatus::kPending, clock_.NowMillis());
    const int64_t lane = job->second->d.lane_id;
    jobs_.erase(job);
    ReleaseLane(lane);
    in_flight_gauge_.store(static_cast<int64_t>(jobs_.size()));
  }

  // Claimed deliveries not started yet go back untried (shutdown).
  void ReleaseQueued() {
    for (const auto& [integration, seq] : scheduler_.TakeAllQueued()) Release(seq);
  }

  // Shutdown past the grace period: every delivery still here goes back untried.
  void ReleaseAll() {
    ReleaseQueued();
    const int64_t now = clock_.NowMillis();
    for (auto& [seq, job] : jobs_) Record(job->d, std::nullopt, DeliveryStatus::kPending, now);
    jobs_.clear();
    lanes_.clear();
    scheduler_.Clear();
    in_flight_gauge_.store(0);
  }

  void Record(const store::ClaimedDelivery& d, std::optional<store::AttemptRow> attempt,
              DeliveryStatus status, int64_t next_attempt_at) {
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

  store::OutboxStore& store_;
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
  std::unordered_map<int64_t, std::unique_ptr<Job>> jobs_;  // claimed: queued, sending or behind
  // The lanes held here: the deliveries claimed behind the one queued or sending, in lane order.
  std::unordered_map<int64_t, std::deque<int64_t>> lanes_;
  SendScheduler scheduler_;
  TargetCache targets_;
  TokenCache tokens_;
  std::vector<store::DeliveryOutcome> outcomes_;  // recorded by the next store round trip
  StoreRoundTrips round_trips_;
  LeaseHeartbeat heartbeat_;
  DispatcherMetrics m_;
  integrations::StateChanges state_changes_;
  std::shared_ptr<HandoffInbox> inbox_;  // with options_.handoff
};

Dispatcher::Dispatcher(DispatcherOptions options, store::OutboxStore& store,
                       integrations::IntegrationService& integrations,
                       const DestinationGuard& guard, const Clock& clock, Random& random,
                       MetricsRegistry& metrics)
    : engine_(std::make_unique<Engine>(std::move(options), store, integrations, guard, clock,
                                       random, metrics, in_flight_)) {}

Dispatcher::~Dispatcher() { Stop(0); }

void Dispatcher::Start() {
  engine_->OpenHandoff();
  running_ = true;
  thread_ = std::thread([this] {
    engine_->Run(stopping_, grace_seconds_, woken_);
    running_ = false;
  });
}

void Dispatcher::Stop(int grace_seconds) {
  engine_->CloseHandoff();  // from now on the store's writes leave fresh deliveries to claims
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

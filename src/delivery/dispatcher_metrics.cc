// The dispatcher's metrics.
#include "delivery/dispatcher_metrics.h"

namespace relay::delivery {
namespace {
constexpr char kFinal[] = "relay_deliveries_total";
constexpr char kFinalHelp[] = "Deliveries that reached a final status";
constexpr char kAttempts[] = "relay_delivery_attempts_total";
constexpr char kAttemptsHelp[] = "Delivery attempts by outcome";
}  // namespace

DispatcherMetrics::DispatcherMetrics(MetricsRegistry& m)
    : succeeded(m.GetCounter(kFinal, kFinalHelp, "status=\"succeeded\"")),
      dead(m.GetCounter(kFinal, kFinalHelp, "status=\"dead\"")),
      cancelled(m.GetCounter(kFinal, kFinalHelp, "status=\"cancelled\"")),
      attempt_ok(m.GetCounter(kAttempts, kAttemptsHelp, "outcome=\"success\"")),
      attempt_http_error(m.GetCounter(kAttempts, kAttemptsHelp, "outcome=\"http_error\"")),
      attempt_network_error(m.GetCounter(kAttempts, kAttemptsHelp, "outcome=\"network_error\"")),
      attempt_oauth_error(m.GetCounter(kAttempts, kAttemptsHelp, "outcome=\"oauth_error\"")),
      latency(m.GetHistogram("relay_delivery_latency_seconds",
                             "From message created to the endpoint's 2xx", LatencyBuckets())),
      duration(m.GetHistogram("relay_attempt_duration_seconds", "Duration of one delivery attempt",
                              LatencyBuckets())),
      round_trip(m.GetHistogram(
          "relay_dispatch_round_trip_seconds",
          "One store round trip of the dispatcher: outcomes recorded and the next claim",
          LatencyBuckets())),
      claimed(m.GetCounter("relay_deliveries_claimed_total",
                           "Deliveries claimed by this node's dispatcher")),
      lane_chained(m.GetCounter("relay_lane_chained_total",
                                "Deliveries started right after the one before them in their lane "
                                "succeeded, without a claim")),
      handed_over(m.GetCounter("relay_deliveries_handed_over_total",
                               "Fresh deliveries claimed by the store as it wrote them and handed "
                               "to this node's dispatcher, without a claim")),
      token_fetches(m.GetCounter("relay_oauth_token_fetches_total", "OAuth token requests made")),
      token_failures(
          m.GetCounter("relay_oauth_token_failures_total", "OAuth token requests that failed")) {}

}  // namespace relay::delivery

// The dispatcher's metrics, registered once: final statuses, attempts by outcome, latencies,
// claims and token fetches.
#pragma once

#include "common/metrics.h"

namespace relay::delivery {

struct DispatcherMetrics {
  explicit DispatcherMetrics(MetricsRegistry& metrics);

  Counter& succeeded;
  Counter& dead;
  Counter& cancelled;
  Counter& attempt_ok;
  Counter& attempt_http_error;
  Counter& attempt_network_error;
  Counter& attempt_oauth_error;
  Histogram& latency;     // message created -> the endpoint's 2xx
  Histogram& duration;    // one attempt
  Histogram& round_trip;  // one store round trip
  Counter& claimed;
  Counter& lane_chained;
  Counter& handed_over;  // claimed by the store's writer as it wrote them (store/handoff.h)  // started right after the one before it in its lane, unclaimed
  Counter& token_fetches;
  Counter& token_failures;
};

}  // namespace relay::delivery

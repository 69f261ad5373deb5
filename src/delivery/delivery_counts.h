// The outbox's counts for /metrics, read at most once per interval however often it is scraped:
// counting walks an index, which on a large backlog is real work, and an observer must not load
// the system it observes.
#pragma once

#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/rows.h"

namespace relay::delivery {

class DeliveryCounts {
 public:
  using Source = std::function<Result<store::DeliveryCounts>()>;
  DeliveryCounts(Source source, const Clock& clock, int64_t interval_millis)
      : source_(std::move(source)), clock_(clock), interval_millis_(interval_millis) {}

  // The counts as of at most `interval_millis` ago; an error when the last read failed.
  Result<store::DeliveryCounts> Get();

 private:
  Source source_;
  const Clock& clock_;
  const int64_t interval_millis_;
  Mutex mu_;
  bool read_ GUARDED_BY(mu_) = false;
  int64_t read_at_ GUARDED_BY(mu_) = 0;
  Result<store::DeliveryCounts> last_ GUARDED_BY(mu_) = store::DeliveryCounts{};
};

}  // namespace relay::delivery

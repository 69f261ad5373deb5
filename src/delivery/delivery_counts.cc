#include "delivery/delivery_counts.h"

namespace relay::delivery {

Result<store::DeliveryCounts> DeliveryCounts::Get() {
  MutexLock lock(mu_);
  const int64_t now = clock_.NowMillis();
  if (!read_ || now - read_at_ >= interval_millis_ || now < read_at_) {
    last_ = source_();
    read_ = true;
    read_at_ = now;
  }
  return last_;
}

}  // namespace relay::delivery

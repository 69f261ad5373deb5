#include "e2e/flaky_event_receiver.h"

#include <boost/json.hpp>
#include <thread>

#include "support/test_receiver.h"

namespace relay::testing {
namespace json = boost::json;

std::pair<std::string, std::string> EventAndUser(const ReceivedRequest& r) {
  const json::value body = json::parse(r.body);
  const json::object& entity = body.at("parameters").at("entity").as_object();
  return {std::string(entity.at("id").as_string()),
          std::string(entity.at("user").at("organization_user_id").as_string())};
}

FlakyEventReceiver::FlakyEventReceiver(unsigned seed, int fail_percent)
    : random_(seed), fail_percent_(fail_percent) {
  receiver_.SetHandler([this](const ReceivedRequest& r) { return Handle(r); });
}

Reply FlakyEventReceiver::Handle(const ReceivedRequest& r) {
  const auto [event, user] = EventAndUser(r);
  int delay_ms = 0;
  bool fail = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (++at_endpoint_[user] > 1) ++overlaps_;
    delay_ms = static_cast<int>(random_() % 15);
    fail = static_cast<int>(random_() % 100) < fail_percent_;
  }
  // Answered while counted at the endpoint: the relay sends the user's next only after this.
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  std::lock_guard<std::mutex> lock(mu_);
  --at_endpoint_[user];
  if (fail) return ReplyWith(500, "flaky");
  accepted_[user].push_back(event);
  ++accepted_count_;
  return ReplyWith(200);
}

bool FlakyEventReceiver::WaitForAccepted(size_t n, std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return AcceptedCount() >= n; }, timeout);
}

std::map<std::string, std::vector<std::string>> FlakyEventReceiver::Accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

size_t FlakyEventReceiver::AcceptedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_count_;
}

int FlakyEventReceiver::Overlaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overlaps_;
}

}  // namespace relay::testing

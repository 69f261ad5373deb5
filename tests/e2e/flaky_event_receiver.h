// A receiver for ordering tests: it fails a share of requests at random (30% unless told), after a
// random delay of up to 15 ms, and records per user the event.created webhooks it accepted, in
// order, and whether one user ever had two requests at the endpoint at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "support/test_receiver.h"

namespace relay::testing {

// The event id and the user's organization_user_id of an event.created webhook.
std::pair<std::string, std::string> EventAndUser(const ReceivedRequest& r);

class FlakyEventReceiver {
 public:
  explicit FlakyEventReceiver(unsigned seed, int fail_percent = 30);
  std::string Url() const { return receiver_.Url(); }
  // Waits until `n` webhooks were accepted (answered 2xx).
  bool WaitForAccepted(size_t n, std::chrono::milliseconds timeout) const;
  // user -> event ids, in the order they were accepted
  std::map<std::string, std::vector<std::string>> Accepted() const;
  size_t AcceptedCount() const;
  // How many times a request came while another of the same user was being answered.
  int Overlaps() const;

 private:
  Reply Handle(const ReceivedRequest& r);

  mutable std::mutex mu_;
  std::mt19937 random_;
  const int fail_percent_;
  std::map<std::string, int> at_endpoint_;
  int overlaps_ = 0;
  std::map<std::string, std::vector<std::string>> accepted_;
  size_t accepted_count_ = 0;
  TestReceiver receiver_;  // last: it stops before the state its handler uses goes
};

}  // namespace relay::testing

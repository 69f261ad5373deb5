// A failing write fails alone, on both backends: a closure that throws or errs inside a batch of
// concurrent writes rolls back its own writes only, the others commit, and the store keeps
// serving. On PostgreSQL, a COMMIT whose answer was lost is checked, not run again.
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include "store/postgres/pg_store.h"
#include "store/store_fixture.h"

namespace relay::testing {
namespace {

store::ConsentEventRow Event(const std::string& id) {
  return store::ConsentEventRow{id, "org", "usr_1", "gdpr", "{}", 1, 1};
}

bool EventExists(store::Store& s, const std::string& id) {
  auto e = s.GetEvent("org", id);
  return e.ok() && e->has_value();
}

// Runs `fn` on a thread and waits up to 20 s: a wedged store fails the test instead of hanging.
template <typename Fn>
bool FinishesInTime(Fn fn) {
  auto done = std::async(std::launch::async, fn);
  return done.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
}

TEST_P(StoreTest, AThrowingWriteRollsBackAloneAndTheOthersInItsBatchCommit) {
  constexpr int kWriters = 16;
  constexpr int kThrower = 5;
  std::vector<Status> results(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      results[i] = store_->Write([&](store::WriteTransaction& txn) -> Status {
        RELAY_RETURN_IF_ERROR(txn.InsertEvent(Event("evt_" + std::to_string(i))));
        if (i == kThrower) throw std::runtime_error("stored state is not what it should be");
        return Status::Ok();
      });
    });
  }
  for (auto& t : writers) t.join();
  for (int i = 0; i < kWriters; ++i) {
    if (i == kThrower) {
      EXPECT_EQ(results[i].code(), StatusCode::kInternal);
      EXPECT_NE(results[i].message().find("stored state"), std::string::npos);
      EXPECT_FALSE(EventExists(*store_, "evt_" + std::to_string(i))) << "rolled back";
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].message();
      EXPECT_TRUE(EventExists(*store_, "evt_" + std::to_string(i))) << i;
    }
  }
  // The store keeps serving: writes, claims and outcomes go through.
  Status after;
  ASSERT_TRUE(FinishesInTime([&] {
    after =
        store_->Write([](store::WriteTransaction& txn) { return txn.InsertEvent(Event("later")); });
  })) << "the store is wedged after a throwing write";
  EXPECT_TRUE(after.ok()) << after.message();
  EXPECT_TRUE(EventExists(*store_, "later"));
  store::ClaimRequest claim{2, 100, 7, 10, {}, 0};
  Result<std::vector<store::ClaimedDelivery>> claimed = std::vector<store::ClaimedDelivery>{};
  ASSERT_TRUE(FinishesInTime([&] { claimed = store_->ClaimDeliveries(claim); }));
  EXPECT_TRUE(claimed.ok()) << claimed.status().message();
  EXPECT_TRUE(store_->CheckWritable().ok());
}

TEST_P(StoreTest, AWriteThatErrsLeavesNothingForTheNextWriteOnItsConnectionToCommit) {
  // Every write of a failed closure is undone, even on a connection reused at once (the pool
  // has few): a later COMMIT must not commit them.
  for (int i = 0; i < 8; ++i) {
    Status failed = store_->Write([&](store::WriteTransaction& txn) -> Status {
      RELAY_RETURN_IF_ERROR(txn.InsertEvent(Event("failed_" + std::to_string(i))));
      if (i % 2 == 0) throw std::logic_error("boom");
      return Internal("refused after writing");
    });
    EXPECT_FALSE(failed.ok());
    Status ok = store_->Write([&](store::WriteTransaction& txn) {
      return txn.InsertEvent(Event("ok_" + std::to_string(i)));
    });
    EXPECT_TRUE(ok.ok()) << ok.message();
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(EventExists(*store_, "failed_" + std::to_string(i))) << i;
    EXPECT_TRUE(EventExists(*store_, "ok_" + std::to_string(i))) << i;
  }
}

TEST_P(StoreTest, ACommitWhoseAnswerIsLostIsCheckedNotRunAgain) {
  if (!postgres()) GTEST_SKIP() << "the embedded store's COMMIT has no connection to lose";
  std::atomic<int> faults{1};
  pg_->SetFaultHookForTesting(
      [&](std::string_view point) { return point == "after_commit" && faults.fetch_sub(1) == 1; });
  int runs = 0;
  Status s = store_->Write([&](store::WriteTransaction& txn) {
    ++runs;
    return txn.InsertEvent(Event("evt_once"));
  });
  EXPECT_EQ(faults.load(), 0) << "the fault fired";
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(runs, 1) << "the write committed the first time; running it again would duplicate it";
  EXPECT_TRUE(EventExists(*store_, "evt_once"));
}

}  // namespace
}  // namespace relay::testing

// Group commit for SQLite: concurrent writes share one transaction and one fsync; each runs in
// a savepoint of its own, so one that fails rolls back alone.
#include <chrono>
#include <map>
#include <mutex>

#include "common/clock.h"
#include "store/catching.h"
#include "store/shared_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store.h"

namespace relay::store {

Status SqliteStore::RunInBatch(const std::function<Status()>& body, bool durable) {
  PendingWrite self;
  self.body = &body;
  self.durable = durable;
  std::vector<PendingWrite*> batch;
  {
    MutexLock queue_lock(queue_mu_);
    queue_.push_back(&self);
    while (!self.done && batch_running_) queue_lock.Wait(batch_done_);
    if (self.done) return self.status;
    batch_running_ = true;
    batch_started_ = std::chrono::steady_clock::now();
    batch.swap(queue_);
  }
  // Whatever happens inside (RunBatch does not throw, but an allocation can), the batch ends:
  // its writers are released and the next leader may start.
  struct EndBatch {
    SqliteStore* store;
    std::vector<PendingWrite*>& batch;
    ~EndBatch() {
      {
        MutexLock queue_lock(store->queue_mu_);
        for (PendingWrite* w : batch) w->done = true;
        store->batch_running_ = false;
      }
      store->batch_done_.notify_all();
    }
  } end{this, batch};
  std::lock_guard<std::mutex> lock(mu_);
  RunBatch(batch);
  return self.status;
}

// Each closure runs inside its own savepoint, so a failing one rolls back alone. SQLite itself
// rolls back the whole transaction on some errors (SQLITE_FULL, IOERR, NOMEM); it is then in
// autocommit mode, where every later statement would be committed on its own. So after each
// closure the transaction is checked: once it is gone, or a savepoint cannot be rolled back or
// released, no further closure runs, and every closure of the batch fails with that error (none
// of their writes is on disk).
void SqliteStore::RunBatch(const std::vector<PendingWrite*>& batch) {
  bool durable = false;
  for (const PendingWrite* w : batch) durable = durable || w->durable;
  Status begun = db_->SetDurableCommits(durable);
  if (!durable) begun = Status::Ok();  // staying durable is merely slower
  if (begun.ok()) begun = db_->Exec("BEGIN IMMEDIATE");
  if (!begun.ok()) {
    for (PendingWrite* w : batch) w->status = begun;
    write_health_.Note(begun);
    return;
  }
  bool any_ok = false;
  Status lost;  // set once the transaction cannot be trusted
  for (PendingWrite* w : batch) {
    w->status = db_->Exec("SAVEPOINT write");
    if (w->status.ok()) w->status = RunCatching(*w->body);  // a throw is its own failure
    if (!w->status.ok() && !db_->InsideTransaction()) {
      lost = Status(StatusCode::kUnavailable,
                    "the database rolled the write batch back: " + w->status.message());
      break;
    }
    if (!w->status.ok()) {
      if (Status s = db_->Exec("ROLLBACK TO write"); !s.ok()) {
        lost = s;
        break;
      }
    }
    if (Status s = db_->Exec("RELEASE write"); !s.ok()) {
      lost = s;
      break;
    }
    any_ok = any_ok || w->status.ok();
  }
  if (!lost.ok()) {
    if (db_->InsideTransaction()) (void)db_->Exec("ROLLBACK");
    for (PendingWrite* w : batch) w->status = lost;
    write_health_.Note(lost);
    return;
  }
  Status committed = any_ok ? db_->Exec("COMMIT") : db_->Exec("ROLLBACK");
  if (!committed.ok()) {
    if (db_->InsideTransaction()) (void)db_->Exec("ROLLBACK");
    for (PendingWrite* w : batch) {
      if (w->status.ok()) w->status = committed;
    }
  }
  // Back to durable at once for the writer's other users (InTransaction asks again anyway).
  if (!durable) (void)db_->SetDurableCommits(true);
  write_health_.Note(committed);
}

}  // namespace relay::store

// Mutex and MutexLock: std::mutex and a scoped lock that clang's thread-safety analysis
// understands (common/thread_annotations.h), so GUARDED_BY members are checked at compile time.
#pragma once

#include <condition_variable>
#include <mutex>

#include "common/thread_annotations.h"

namespace relay {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds the mutex for its scope. Wait() is for a std::condition_variable: the mutex is released
// while waiting and held again on return, so to the analysis it is held throughout.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <typename Predicate>
  void Wait(std::condition_variable& cv, Predicate ready) {
    cv.wait(lock_, ready);
  }
  template <typename Duration, typename Predicate>
  bool WaitFor(std::condition_variable& cv, Duration timeout, Predicate ready) {
    return cv.wait_for(lock_, timeout, ready);
  }
  template <typename Duration>
  std::cv_status WaitFor(std::condition_variable& cv, Duration timeout) {
    return cv.wait_for(lock_, timeout);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace relay

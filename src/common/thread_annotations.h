// Clang's thread-safety analysis (-Wthread-safety): which mutex guards which member, which
// functions must hold it. Other compilers see nothing. Use them with relay::Mutex (common/mutex.h):
// libstdc++'s std::mutex carries no annotations.
#pragma once

#if defined(__clang__)
#define RELAY_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RELAY_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) RELAY_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY RELAY_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) RELAY_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) RELAY_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) RELAY_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) RELAY_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) RELAY_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define EXCLUDES(...) RELAY_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) RELAY_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS RELAY_THREAD_ANNOTATION(no_thread_safety_analysis)

// An LD_PRELOAD shim for durability tests of the real binary, without privileges.
//
// - It counts writes to, and syncs of, the SQLite write-ahead log (files under RELAY_SHIM_DIR
//   whose name ends in "-wal"). Each HTTP response the process sends is logged to RELAY_SHIM_LOG
//   as "response <status> syncs=<n> unsynced=<0|1>": unsynced is 1 when a WAL write was not yet
//   covered by a completed fsync/fdatasync as the response left. A store that acknowledges before
//   its commit is durable (synchronous=OFF or NORMAL) shows it.
// - While the file RELAY_SHIM_FULL_FLAG exists, every write to a file under RELAY_SHIM_DIR fails
//   with ENOSPC, as on a full disk.
//
// Plain C with no allocation after start-up, so it is safe inside any libc call path.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { kMaxFd = 65536, kOther = 0, kWal = 1, kDataFile = 2 };

static _Atomic unsigned char fd_kind[kMaxFd];
static atomic_long wal_writes;   // WAL writes so far
static atomic_long wal_covered;  // WAL writes that a completed sync covers
static atomic_long wal_syncs;    // completed WAL syncs

static const char* Env(const char* name) {
  const char* v = getenv(name);
  return v && *v ? v : NULL;
}

static void* Next(const char* name) { return dlsym(RTLD_NEXT, name); }

static void Classify(int fd, const char* path) {
  if (fd < 0 || fd >= kMaxFd) return;
  const char* dir = Env("RELAY_SHIM_DIR");
  unsigned char kind = kOther;
  if (dir && path && strncmp(path, dir, strlen(dir)) == 0) {
    size_t n = strlen(path);
    kind = n > 4 && strcmp(path + n - 4, "-wal") == 0 ? kWal : kDataFile;
  }
  atomic_store(&fd_kind[fd], kind);
}

static unsigned char Kind(int fd) {
  return fd >= 0 && fd < kMaxFd ? atomic_load(&fd_kind[fd]) : kOther;
}

// Whether a write to `fd` must fail as on a full disk (errno set).
static int DiskFull(int fd) {
  if (Kind(fd) == kOther) return 0;
  const char* flag = Env("RELAY_SHIM_FULL_FLAG");
  if (!flag || access(flag, F_OK) != 0) return 0;
  errno = ENOSPC;
  return 1;
}

static void CountWrite(int fd, ssize_t written) {
  if (written > 0 && Kind(fd) == kWal) atomic_fetch_add(&wal_writes, 1);
}

static void LogResponse(const void* data, size_t size) {
  static const char kPrefix[] = "HTTP/1.1 ";
  if (size < sizeof(kPrefix) + 2 || memcmp(data, kPrefix, sizeof(kPrefix) - 1) != 0) return;
  const char* log_path = Env("RELAY_SHIM_LOG");
  if (!log_path) return;
  const char* status = (const char*)data + sizeof(kPrefix) - 1;
  long covered = atomic_load(&wal_covered);
  long writes = atomic_load(&wal_writes);
  char line[96];
  int n = snprintf(line, sizeof(line), "response %.3s syncs=%ld unsynced=%d\n", status,
                   atomic_load(&wal_syncs), writes > covered ? 1 : 0);
  int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                        0600);
  if (fd < 0) return;
  syscall(SYS_write, fd, line, (size_t)n);
  syscall(SYS_close, fd);
}

static int Sync(int fd, int (*real)(int)) {
  long before = atomic_load(&wal_writes);
  int rc = real(fd);
  if (rc == 0 && Kind(fd) == kWal) {
    long covered = atomic_load(&wal_covered);
    while (covered < before && !atomic_compare_exchange_weak(&wal_covered, &covered, before)) {
    }
    atomic_fetch_add(&wal_syncs, 1);
  }
  return rc;
}

// The next definition of `name` (libc's), looked up once.
#define REAL(name)                        \
  static __typeof__(&name) real_##name;   \
  if (!real_##name) real_##name = (__typeof__(&name))Next(#name)

static int OpenWith(const char* name, int dirfd, const char* path, int flags, mode_t mode) {
  typedef int (*OpenFn)(const char*, int, ...);
  typedef int (*OpenAtFn)(int, const char*, int, ...);
  int fd;
  if (dirfd == -1000) {
    OpenFn real = (OpenFn)Next(name);
    fd = real(path, flags, mode);
  } else {
    OpenAtFn real = (OpenAtFn)Next(name);
    fd = real(dirfd, path, flags, mode);
  }
  if (fd >= 0) Classify(fd, path);
  return fd;
}

static mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenWith("open", -1000, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenWith("open64", -1000, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenWith("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenWith("openat64", dirfd, path, flags, mode);
}

int close(int fd) {
  REAL(close);
  if (fd >= 0 && fd < kMaxFd) atomic_store(&fd_kind[fd], kOther);
  return real_close(fd);
}

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write);
  if (DiskFull(fd)) return -1;
  if (Kind(fd) == kOther) LogResponse(buf, n);
  ssize_t rc = real_write(fd, buf, n);
  CountWrite(fd, rc);
  return rc;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  REAL(pwrite);
  if (DiskFull(fd)) return -1;
  ssize_t rc = real_pwrite(fd, buf, n, offset);
  CountWrite(fd, rc);
  return rc;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  REAL(pwrite64);
  if (DiskFull(fd)) return -1;
  ssize_t rc = real_pwrite64(fd, buf, n, offset);
  CountWrite(fd, rc);
  return rc;
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  REAL(writev);
  if (DiskFull(fd)) return -1;
  if (Kind(fd) == kOther && count > 0) LogResponse(iov[0].iov_base, iov[0].iov_len);
  ssize_t rc = real_writev(fd, iov, count);
  CountWrite(fd, rc);
  return rc;
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  REAL(send);
  LogResponse(buf, n);
  return real_send(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* to,
               socklen_t len) {
  REAL(sendto);
  LogResponse(buf, n);
  return real_sendto(fd, buf, n, flags, to, len);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  REAL(sendmsg);
  if (msg && msg->msg_iovlen > 0) LogResponse(msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len);
  return real_sendmsg(fd, msg, flags);
}

int fsync(int fd) {
  REAL(fsync);
  return Sync(fd, real_fsync);
}

int fdatasync(int fd) {
  REAL(fdatasync);
  return Sync(fd, real_fdatasync);
}

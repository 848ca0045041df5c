#include "io/output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>

#include "common/error.h"
#include "io/fd.h"

namespace wino {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

void write_full(int fd, std::string_view bytes, const std::string& path) {
  const char* src = bytes.data();
  size_t n = bytes.size();
  while (n > 0) {
    ssize_t put = ::write(fd, src, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) throw Error(path + ": write failed: " + errno_text(errno));
    src += put;
    n -= static_cast<size_t>(put);
  }
}

// ---- Removing the temporary on SIGINT, SIGTERM and SIGHUP. A handler may only make
// ---- async-signal-safe calls and read plain memory: the path lives in a fixed buffer.

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int kSignalCount = sizeof kSignals / sizeof kSignals[0];
char g_temp_path[PATH_MAX];
volatile sig_atomic_t g_temp_armed = 0;
struct sigaction g_previous[kSignalCount];
bool g_installed[kSignalCount];

extern "C" void remove_temp_and_reraise(int sig) {
  if (g_temp_armed) ::unlink(g_temp_path);
  for (int i = 0; i < kSignalCount; ++i)
    if (kSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  ::raise(sig);  // delivered when this handler returns, to the previous disposition
}

// While alive, the temporary at `path` is removed if one of kSignals arrives; then the signal
// does what it did before (signals ignored before stay ignored). One at a time per process.
class RemoveOnSignal {
 public:
  explicit RemoveOnSignal(const std::string& path) : lock_(mutex()) {
    if (path.size() >= sizeof g_temp_path) return;  // cannot happen for a path open() took
    std::memcpy(g_temp_path, path.c_str(), path.size() + 1);
    g_temp_armed = 1;
    struct sigaction action {};
    action.sa_handler = remove_temp_and_reraise;
    sigemptyset(&action.sa_mask);
    for (int s : kSignals) sigaddset(&action.sa_mask, s);  // one handler run at a time
    for (int i = 0; i < kSignalCount; ++i) {
      g_installed[i] = false;
      if (::sigaction(kSignals[i], nullptr, &g_previous[i]) != 0) continue;
      if (g_previous[i].sa_handler == SIG_IGN) continue;  // e.g. SIGINT of a background job
      g_installed[i] = ::sigaction(kSignals[i], &action, nullptr) == 0;
    }
  }
  ~RemoveOnSignal() {
    for (int i = 0; i < kSignalCount; ++i)
      if (g_installed[i]) ::sigaction(kSignals[i], &g_previous[i], nullptr);
    g_temp_armed = 0;
  }
  RemoveOnSignal(const RemoveOnSignal&) = delete;
  RemoveOnSignal& operator=(const RemoveOnSignal&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> lock_;
};

// Holds kSignals back (on this thread) until unblock(): a signal that arrives between creating
// the temporary and arming its removal waits for the handler instead of leaving the file behind.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kSignals) sigaddset(&set, s);
    held_ = ::pthread_sigmask(SIG_BLOCK, &set, &previous_) == 0;
  }
  ~SignalsHeld() { unblock(); }
  void unblock() {
    if (held_) ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    held_ = false;
  }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
  bool held_ = false;
};

// ---- Where the bytes go.

// A device or FIFO reached through `path` (symlinks, /dev/stdout included) is written in place.
bool written_in_place(const struct stat& st) { return S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode); }

std::string file_kind(mode_t mode) {
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The file a chain of symlinks ends at (which need not exist yet): replacing that file, not the
// link, keeps the link a link.
std::string resolve_symlinks(const std::string& path) {
  std::string current = path;
  for (int depth = 0; depth < 40; ++depth) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current;
    std::error_code ec;
    const fs::path target = fs::read_symlink(current, ec);
    if (ec) throw Error(path + ": cannot read the symbolic link " + current + ": " + ec.message());
    current = target.is_absolute() ? target.string() : (fs::path(parent_dir(current)) / target).string();
  }
  throw Error(path + ": cannot write: too many levels of symbolic links");
}

void check_new_or_regular(const std::string& path, const std::string& target) {
  const std::string dir = parent_dir(target);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      throw Error(path + ": cannot write: directory '" + dir + "' does not exist (create it first)");
    throw Error(path + ": cannot write: directory '" + dir + "': " + errno_text(err));
  }
  if (!S_ISDIR(st.st_mode)) throw Error(path + ": cannot write: '" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(path + ": cannot write: directory '" + dir + "' is not writable (" +
                errno_text(errno) + ")");
  if (fs::path(target).filename().empty() || (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
    throw Error(path + ": cannot write: is a directory; give a file name such as out.npy");
}

// O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of blocking; cleared after
// so that the writes wait for a slow reader.
void write_in_place(const std::string& path, const struct stat& st,
                    std::initializer_list<std::string_view> parts) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENXIO && S_ISFIFO(st.st_mode))
      throw Error(path + ": is a FIFO with no reader: start the reader first, or give a regular file");
    throw Error(path + ": cannot open for writing: " + errno_text(err));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw Error(path + ": cannot write: " + errno_text(errno));
  for (std::string_view part : parts) write_full(fd.get(), part, path);
  if (::close(fd.release()) != 0) throw Error(path + ": write failed (close): " + errno_text(errno));
}

// A unique hidden temporary beside `target`, so that rename() is atomic. Returns its open
// descriptor; `tmp` receives its path.
int create_temporary(const std::string& path, const std::string& target, std::string& tmp) {
  static std::atomic<unsigned> counter{0};
  const fs::path t(target);
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Built by appends: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string.
    std::string name(1, '.');
    name += t.filename().string();
    name += '.';
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    name += ".npy.tmp";
    tmp = (t.parent_path() / name).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST)
      throw Error(path + ": cannot create a file in directory '" + parent_dir(target) +
                  "': " + errno_text(errno));
  }
  throw Error(path + ": cannot create a unique temporary file next to it");
}

void replace_atomically(const std::string& path, const std::string& target,
                        std::initializer_list<std::string_view> parts) {
  struct stat old {};
  const bool existed = ::stat(target.c_str(), &old) == 0;
  std::string tmp;
  SignalsHeld held;
  Fd fd(create_temporary(path, target, tmp));
  RemoveOnSignal on_signal(tmp);
  held.unblock();  // a signal held meanwhile is delivered now, to the handler that removes tmp
  bool committed = false;
  struct Cleanup {
    const std::string& tmp;
    const bool& committed;
    ~Cleanup() {
      if (!committed) ::unlink(tmp.c_str());
    }
  } cleanup{tmp, committed};

  // The new file takes the old one's permissions (not the umask's default).
  if (existed && ::fchmod(fd.get(), old.st_mode & 07777) != 0)
    throw Error(path + ": cannot set the file's mode: " + errno_text(errno));
  for (std::string_view part : parts) write_full(fd.get(), part, path);
  if (::fsync(fd.get()) != 0) throw Error(path + ": write failed (fsync): " + errno_text(errno));
  if (::close(fd.release()) != 0) throw Error(path + ": write failed (close): " + errno_text(errno));
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    throw Error(path + ": cannot replace the file: " + errno_text(errno));
  committed = true;
}

}  // namespace

void check_output_path(const std::string& path) {
  if (path.empty()) throw Error("output path is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    if (!written_in_place(st))
      throw Error(path + ": cannot write: it is " + file_kind(st.st_mode) +
                  "; give a regular file such as out.npy");
    if (::access(path.c_str(), W_OK) != 0)
      throw Error(path + ": cannot write: " + errno_text(errno));
    return;
  }
  check_new_or_regular(path, resolve_symlinks(path));
}

void write_output_file(const std::string& path, std::initializer_list<std::string_view> parts) {
  check_output_path(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && written_in_place(st)) return write_in_place(path, st, parts);
  replace_atomically(path, resolve_symlinks(path), parts);
}

}  // namespace wino

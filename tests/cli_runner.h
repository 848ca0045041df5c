// Runs the real `wino` binary for end-to-end tests: no shell, arguments passed as a vector,
// stdout and stderr captured separately.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace wino::testing {

struct CliResult {
  int status = -1;  // exit status, or -1 if the process did not exit normally
  std::string out, err;
};

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The CLI under test: the one built beside this test binary, at its build path, or else at
/// ../wino from the test binary (a build carried to another machine, e.g. the GPU's, keeps that
/// layout: build/tests/wino_tests and build/wino).
inline const std::string& wino_cli() {
  static const std::string path = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(WINO_CLI_PATH, ec)) return std::string(WINO_CLI_PATH);
    const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "wino";
    return !ec && fs::exists(beside, ec) ? beside.string() : std::string(WINO_CLI_PATH);
  }();
  return path;
}

/// Runs `wino args...` and waits for it.
inline CliResult run_wino(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("wino_cli_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  std::string out_path = (dir / "out").string(), err_path = (dir / "err").string();

  std::vector<std::string> full = {wino_cli()};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  CliResult result;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  if (spawned == 0) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    result.out = slurp(out_path);
    result.err = slurp(err_path);
  } else {  // e.g. a test binary carried to another machine without the CLI it was built beside
    result.err = "could not start " + wino_cli() + ": " + std::strerror(spawned);
  }
  posix_spawn_file_actions_destroy(&actions);
  fs::remove_all(dir);
  return result;
}

/// A fresh temporary directory removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("wino_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes the header of a float32 .npy file of `shape` and extends the file to its full size
/// without writing the data: a sparse file, so a "huge" input costs no disk space.
inline void write_sparse_f32_npy(const std::string& path, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  uint64_t bytes = 4;
  for (int64_t d : shape) {
    dict += std::to_string(d) + ", ";
    bytes *= static_cast<uint64_t>(d);
  }
  dict += "), }";
  const size_t header_len = (10 + dict.size() + 1 + 63) / 64 * 64 - 10;  // data 64-byte aligned
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::string head = "\x93NUMPY\x01";
  head += '\0';
  head += static_cast<char>(header_len & 0xff);
  head += static_cast<char>(header_len >> 8);
  std::ofstream(path, std::ios::binary) << head << dict;
  std::filesystem::resize_file(path, 10 + header_len + bytes);
}

/// A character device like /dev/null (minor 3) or /dev/full (minor 7): a node made in `dir`
/// when this process may (root), so that a bug that replaces the node cannot harm the real one;
/// else the real device, which a user who may not write /dev cannot replace anyway; "" when
/// neither is safe (root without CAP_MKNOD).
inline std::string char_device(const TempDir& dir, const std::string& name, unsigned minor) {
  const std::string node = dir.file(name);
  if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0) return node;
  return geteuid() == 0 ? "" : "/dev/" + name;
}

inline bool is_char_device(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

/// Reads everything written to the FIFO at `path`. The FIFO is open for reading from the
/// constructor on (so a writer that opens it with O_NONBLOCK finds a reader), and a thread
/// collects the bytes until the writer closes it, or 10 s pass without data (no hang when the
/// FIFO is never written). `take()` waits for the thread and returns the bytes.
class FifoReader {
 public:
  explicit FifoReader(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)), thread_([this] { collect(); }) {}
  ~FifoReader() {
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;
  std::string take() {
    thread_.join();
    return bytes_;
  }

 private:
  void collect() {
    if (fd_ < 0) return;
    pollfd p{fd_, POLLIN, 0};
    // No POLLHUP before a writer has come: this waits for the first data (or the timeout).
    if (::poll(&p, 1, 10000) <= 0 || !(p.revents & POLLIN)) return;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);  // the writer is there: block
    char buf[65536];
    for (ssize_t got; (got = ::read(fd_, buf, sizeof buf)) > 0;) bytes_.append(buf, static_cast<size_t>(got));
  }
  int fd_;
  std::string bytes_;
  std::thread thread_;
};

/// While alive, keeps opening the FIFO at `path` for writing and closing it at once: a reader
/// blocked on it gets end of file. A command that wrongly waits for a writer then fails its
/// test instead of hanging it. `unblocked()` says whether a reader ever was blocked there.
class FifoUnblocker {
 public:
  explicit FifoUnblocker(std::string path)
      : path_(std::move(path)), thread_([this] {
          while (!done_) {
            // O_NONBLOCK: succeeds only while some process has the FIFO open for reading.
            int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) {
              ::close(fd);
              unblocked_ = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  ~FifoUnblocker() {
    done_ = true;
    thread_.join();
  }
  FifoUnblocker(const FifoUnblocker&) = delete;
  FifoUnblocker& operator=(const FifoUnblocker&) = delete;
  bool unblocked() const { return unblocked_; }

 private:
  std::string path_;
  std::atomic<bool> done_{false}, unblocked_{false};
  std::thread thread_;
};

}  // namespace wino::testing

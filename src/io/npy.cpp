#include "io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "io/npy_format.h"

namespace wino {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Reads exactly `n` bytes; returns how many were read before end of file.
size_t read_full(int fd, char* dst, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::read(fd, dst + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path + ": read failed: " + errno_text(errno));
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

void write_full(int fd, const char* src, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t put = ::write(fd, src, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) throw Error(path + ": write failed: " + errno_text(errno));
    src += put;
    n -= static_cast<size_t>(put);
  }
}

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT) throw Error(path + ": file not found (No such file or directory)");
    throw Error(path + ": cannot open for reading: " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not a .npy file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // Magic, version and header length first, then the whole header, then the data.
  std::string head(kNpyMaxPrefix, '\0');
  head.resize(read_full(fd.get(), head.data(), std::min<uint64_t>(file_size, kNpyMaxPrefix), path));
  const uint64_t header_end = npy_header_end(path, head, file_size);
  if (header_end > head.size()) {
    const size_t got = head.size();
    head.resize(header_end);
    if (read_full(fd.get(), head.data() + got, header_end - got, path) != header_end - got)
      throw Error(path + ": truncated .npy header");
  } else {  // a (malformed) header shorter than the prefix read: the data starts before it ends
    head.resize(header_end);
    if (::lseek(fd.get(), static_cast<off_t>(header_end), SEEK_SET) < 0)
      throw Error(path + ": cannot seek: " + errno_text(errno));
  }
  const NpyLayout layout = parse_npy_layout(path, head, file_size);

  // Sizes are consistent with the file, so this allocation is bounded by the file size.
  Tensor t(layout.dtype, layout.shape);
  char* dst = layout.dtype == DType::f32 ? reinterpret_cast<char*>(t.f32())
                                         : reinterpret_cast<char*>(t.f64());
  if (read_full(fd.get(), dst, layout.data_bytes, path) != layout.data_bytes)
    throw Error(path + ": truncated data (the file shrank while being read)");
  npy_to_from_little_endian(dst, layout.data_bytes, npy_item_size(layout.dtype));
  return t;
}

void check_npy_output_path(const std::string& path) {
  if (path.empty()) throw Error("output path is empty");
  const std::string dir = parent_dir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      throw Error(path + ": cannot write: directory '" + dir + "' does not exist (create it first)");
    throw Error(path + ": cannot write: directory '" + dir + "': " + errno_text(err));
  }
  if (!S_ISDIR(st.st_mode))
    throw Error(path + ": cannot write: '" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(path + ": cannot write: directory '" + dir + "' is not writable (" +
                errno_text(errno) + ")");
  if (std::filesystem::path(path).filename().empty() ||
      (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
    throw Error(path + ": cannot write: is a directory; give a file name such as out.npy");
}

void write_npy(const std::string& path, const Tensor& t) {
  check_npy_output_path(path);

  const std::string head = npy_header(t);
  const size_t item = npy_item_size(t.dtype());
  const size_t bytes = static_cast<size_t>(t.numel()) * item;
  const char* data = t.dtype() == DType::f32 ? reinterpret_cast<const char*>(t.f32())
                                             : reinterpret_cast<const char*>(t.f64());
  std::vector<char> swapped;
  if constexpr (std::endian::native == std::endian::big) {
    swapped.assign(data, data + bytes);
    npy_to_from_little_endian(swapped.data(), bytes, item);
    data = swapped.data();
  }

  // A unique hidden temporary in the target's directory, so that rename() is atomic.
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  std::string tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 100 && raw < 0; ++attempt) {
    // Built by appends: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string.
    std::string name(1, '.');
    name += target.filename().string();
    name += '.';
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    name += ".npy.tmp";
    tmp = (target.parent_path() / name).string();
    raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw < 0 && errno != EEXIST)
      throw Error(path + ": cannot create a file in directory '" + parent_dir(path) +
                  "': " + errno_text(errno));
  }
  if (raw < 0) throw Error(path + ": cannot create a unique temporary file next to it");
  Fd fd(raw);
  bool committed = false;
  struct Cleanup {
    const std::string& tmp;
    const bool& committed;
    ~Cleanup() {
      if (!committed) ::unlink(tmp.c_str());
    }
  } cleanup{tmp, committed};

  write_full(fd.get(), head.data(), head.size(), path);
  write_full(fd.get(), data, bytes, path);
  if (::fsync(fd.get()) != 0) throw Error(path + ": write failed (fsync): " + errno_text(errno));
  if (::close(fd.release()) != 0) throw Error(path + ": write failed (close): " + errno_text(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot replace the file: " + errno_text(errno));
  committed = true;
}

}  // namespace wino

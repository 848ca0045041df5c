#include "io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "io/fd.h"
#include "io/npy_format.h"
#include "io/output_file.h"
#include "runtime/cpu/host_memory.h"

namespace wino {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

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

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// What a file that is not a regular file is, for the message.
std::string file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

void require_regular_file(const std::string& path, mode_t mode) {
  if (S_ISDIR(mode)) throw Error(path + ": is a directory, not a .npy file");
  if (!S_ISREG(mode)) throw Error(path + ": is " + file_kind(mode) + ", not a regular .npy file");
}

[[noreturn]] void throw_open_error(const std::string& path, int err) {
  if (err == ENOENT) throw Error(path + ": file not found (No such file or directory)");
  throw Error(path + ": cannot open for reading: " + errno_text(err));
}

// Opens a regular file for reading and returns its size. A FIFO without a writer would block
// open() forever: stat() first so that one is never opened, and O_NONBLOCK plus fstat() in case
// the path is replaced in between (O_NONBLOCK changes nothing for regular files).
int open_regular_file(const std::string& path, uint64_t& size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_open_error(path, errno);
  require_regular_file(path, st.st_mode);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) throw_open_error(path, errno);
  if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat: " + errno_text(errno));
  require_regular_file(path, st.st_mode);
  size = static_cast<uint64_t>(st.st_size);
  return fd.release();
}

// A file larger than the free memory would get the process killed while being read.
void check_memory_for(const std::string& path, uint64_t bytes) {
  const int64_t available = cpu::available_host_bytes();
  if (available < 0 || bytes <= static_cast<uint64_t>(available)) return;
  throw Error(path + ": reading its data needs " + mib(bytes) + " of memory but only " +
              mib(static_cast<uint64_t>(available)) + " are available; use a smaller input");
}

}  // namespace

NpyFile::NpyFile(std::string path) : path_(std::move(path)) {
  uint64_t file_size = 0;
  Fd fd(open_regular_file(path_, file_size));

  // Magic, version and header length first, then the whole header; the data stays unread.
  std::string head(kNpyMaxPrefix, '\0');
  head.resize(read_full(fd.get(), head.data(), std::min<uint64_t>(file_size, kNpyMaxPrefix), path_));
  const uint64_t header_end = npy_header_end(path_, head, file_size);
  if (header_end > head.size()) {
    const size_t got = head.size();
    head.resize(header_end);
    if (read_full(fd.get(), head.data() + got, header_end - got, path_) != header_end - got)
      throw Error(path_ + ": truncated .npy header");
  } else {  // a (malformed) header shorter than the prefix read: the data starts before it ends
    head.resize(header_end);
    if (::lseek(fd.get(), static_cast<off_t>(header_end), SEEK_SET) < 0)
      throw Error(path_ + ": cannot seek: " + errno_text(errno));
  }
  layout_ = parse_npy_layout(path_, head, file_size);
  fd_ = fd.release();
}

NpyFile::~NpyFile() {
  if (fd_ >= 0) ::close(fd_);
}

Tensor NpyFile::read() {
  // The header's sizes match the file's, so this allocation is bounded by the file size.
  check_memory_for(path_, layout_.data_bytes);
  Tensor t(layout_.dtype, layout_.shape);
  char* dst = static_cast<char*>(t.data());
  if (read_full(fd_, dst, layout_.data_bytes, path_) != layout_.data_bytes)
    throw Error(path_ + ": truncated data (the file shrank while being read)");
  npy_to_from_little_endian(dst, layout_.data_bytes, npy_item_size(layout_.dtype));
  return t;
}

Tensor read_npy(const std::string& path) { return NpyFile(path).read(); }

void check_npy_output_path(const std::string& path) { check_output_path(path); }

void write_npy(const std::string& path, const Tensor& t) {
  check_npy_output_path(path);
  const std::string head = npy_header(t);
  const size_t item = npy_item_size(t.dtype());
  const size_t bytes = static_cast<size_t>(t.numel()) * item;
  const char* data = static_cast<const char*>(t.data());
  std::vector<char> swapped;
  if constexpr (std::endian::native == std::endian::big) {
    swapped.assign(data, data + bytes);
    npy_to_from_little_endian(swapped.data(), bytes, item);
    data = swapped.data();
  }
  write_output_file(path, {head, std::string_view(data, bytes)});
}

}  // namespace wino

// Fuzz target: the .npy parser, from bytes in memory, and read_npy on the same bytes as a file
// (an in-memory memfd): both must agree, and what they accept must survive a write and a read.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"
#include "fuzz_targets.h"
#include "io/npy.h"
#include "io/npy_format.h"

namespace wino::fuzz {

namespace {

bool same(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t bytes = npy_item_size(a.dtype()) * static_cast<size_t>(a.numel());
  const void* pa = a.dtype() == DType::f32 ? static_cast<const void*>(a.f32()) : a.f64();
  const void* pb = b.dtype() == DType::f32 ? static_cast<const void*>(b.f32()) : b.f64();
  return bytes == 0 || std::memcmp(pa, pb, bytes) == 0;
}

// read_npy on the same bytes, through an in-memory file: it must agree with parse_npy.
void check_file_reader(std::string_view bytes, const Tensor* parsed, const std::string& parse_error) {
  const int fd = memfd_create("wino-fuzz-npy", MFD_CLOEXEC);
  if (fd < 0) return;  // no memfd here: the in-memory check alone
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    Tensor t = read_npy(path);
    if (!parsed) throw FuzzFailure("read_npy accepts a file parse_npy rejects: " + parse_error);
    if (!same(t, *parsed)) throw FuzzFailure("read_npy and parse_npy read different tensors");
  } catch (const Error& e) {
    if (parsed) throw FuzzFailure(std::string("read_npy rejects a file parse_npy accepts: ") + e.what());
  }
}

}  // namespace

void npy_one_input(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Tensor t;
  try {
    t = parse_npy("fuzz.npy", bytes);
  } catch (const Error& e) {
    check_file_reader(bytes, nullptr, e.what());
    return;  // rejected with a message: fine
  }
  check_file_reader(bytes, &t, "");
  // Accepted: what it parsed must survive a write and a read bit for bit.
  const std::string again = encode_npy(t);
  Tensor back;
  try {
    back = parse_npy("encoded.npy", again);
  } catch (const Error& e) {
    throw FuzzFailure(std::string("encode_npy wrote a file parse_npy rejects: ") + e.what());
  }
  if (!same(back, t)) throw FuzzFailure("the write-read round trip changed the tensor");
}

}  // namespace wino::fuzz

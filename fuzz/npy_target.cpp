// Fuzz target: the .npy parser, from bytes in memory (the same code read_npy uses on files).
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"
#include "fuzz_targets.h"
#include "io/npy_format.h"

namespace wino::fuzz {

void npy_one_input(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Tensor t;
  try {
    t = parse_npy("fuzz.npy", bytes);
  } catch (const Error&) {
    return;  // rejected with a message: fine
  }
  // Accepted: what it parsed must survive a write and a read bit for bit.
  const std::string again = encode_npy(t);
  Tensor back;
  try {
    back = parse_npy("encoded.npy", again);
  } catch (const Error& e) {
    throw FuzzFailure(std::string("encode_npy wrote a file parse_npy rejects: ") + e.what());
  }
  if (back.dtype() != t.dtype() || back.shape() != t.shape())
    throw FuzzFailure("round trip changed the dtype or shape");
  const size_t bytes_per = npy_item_size(t.dtype()) * static_cast<size_t>(t.numel());
  const void* a = t.dtype() == DType::f32 ? static_cast<const void*>(t.f32()) : t.f64();
  const void* b = back.dtype() == DType::f32 ? static_cast<const void*>(back.f32()) : back.f64();
  if (bytes_per && std::memcmp(a, b, bytes_per) != 0) throw FuzzFailure("round trip changed the data");
}

}  // namespace wino::fuzz

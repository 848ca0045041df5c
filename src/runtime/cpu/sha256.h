// SHA-256 (FIPS 180-4), used to key the CPU kernel cache and to checksum cached libraries.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wino::cpu {

/// Incremental SHA-256: update() any number of times, then digest() once.
class Sha256 {
 public:
  Sha256();
  /// Appends `size` bytes to the message.
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Finishes the message and returns its 32-byte digest; the object must not be updated after.
  std::array<uint8_t, 32> digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

/// Lower-case hex of the first `bytes` bytes of a digest.
std::string to_hex(const std::array<uint8_t, 32>& digest, size_t bytes = 32);

}  // namespace wino::cpu

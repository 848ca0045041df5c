// Signed integers of any size up to a cap, for verify(): the 2D identity's exact terms carry the
// denominators of both axes (e.g. D_j * D_k of the Lagrange weights) and need ~300 bits at
// alpha = 16 although every matrix entry fits int64. Only +, -, * and == are needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wino::detail {

class BigInt {
 public:
  /// Results wider than this throw RationalOverflow, bounding the work for absurd points.
  static constexpr size_t kMaxBits = 4096;

  BigInt() = default;
  explicit BigInt(int64_t v);
  static BigInt from_unsigned(uint64_t high, uint64_t low);  // high * 2^64 + low

  bool is_zero() const { return mag_.empty(); }
  bool negative() const { return neg_; }
  size_t bits() const;

  friend BigInt operator+(const BigInt& a, const BigInt& b);
  friend BigInt operator-(const BigInt& a, const BigInt& b);
  friend BigInt operator*(const BigInt& a, const BigInt& b);
  BigInt operator-() const;
  BigInt& operator+=(const BigInt& b) { return *this = *this + b; }
  friend bool operator==(const BigInt& a, const BigInt& b) = default;

 private:
  bool neg_ = false;
  std::vector<uint32_t> mag_;  // little-endian limbs, no leading zero limb; empty for 0
};

}  // namespace wino::detail

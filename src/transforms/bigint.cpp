#include "transforms/bigint.h"

#include <cstddef>
#include <string>

#include "transforms/rational.h"

namespace wino::detail {
namespace {

using Limbs = std::vector<uint32_t>;

void trim(Limbs& x) {
  while (!x.empty() && x.back() == 0) x.pop_back();
}

int compare(const Limbs& a, const Limbs& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = a.size(); i-- > 0;)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

Limbs add(const Limbs& a, const Limbs& b) {
  const Limbs& big = a.size() >= b.size() ? a : b;
  const Limbs& small = a.size() >= b.size() ? b : a;
  Limbs out(big.size() + 1);
  uint64_t carry = 0;
  for (size_t i = 0; i < big.size(); ++i) {
    carry += uint64_t{big[i]} + (i < small.size() ? small[i] : 0);
    out[i] = static_cast<uint32_t>(carry);
    carry >>= 32;
  }
  out[big.size()] = static_cast<uint32_t>(carry);
  trim(out);
  return out;
}

Limbs subtract(const Limbs& a, const Limbs& b) {  // |a| >= |b|
  Limbs out(a.size());
  int64_t borrow = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t v = int64_t{a[i]} - (i < b.size() ? b[i] : 0) - borrow;
    borrow = v < 0;
    out[i] = static_cast<uint32_t>(v + (borrow << 32));
  }
  trim(out);
  return out;
}

}  // namespace

BigInt::BigInt(int64_t v) : neg_(v < 0) {
  uint64_t m = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  for (; m != 0; m >>= 32) mag_.push_back(static_cast<uint32_t>(m));
}

BigInt BigInt::from_unsigned(uint64_t high, uint64_t low) {
  BigInt x;
  x.mag_ = {static_cast<uint32_t>(low), static_cast<uint32_t>(low >> 32),
            static_cast<uint32_t>(high), static_cast<uint32_t>(high >> 32)};
  trim(x.mag_);
  return x;
}

size_t BigInt::bits() const {
  if (mag_.empty()) return 0;
  return 32 * mag_.size() - static_cast<size_t>(__builtin_clz(mag_.back()));
}

BigInt BigInt::operator-() const {
  BigInt x = *this;
  if (!x.mag_.empty()) x.neg_ = !x.neg_;
  return x;
}

BigInt operator+(const BigInt& a, const BigInt& b) {
  BigInt out;
  if (a.neg_ == b.neg_) {
    out.mag_ = add(a.mag_, b.mag_);
    out.neg_ = a.neg_;
  } else if (compare(a.mag_, b.mag_) >= 0) {
    out.mag_ = subtract(a.mag_, b.mag_);
    out.neg_ = a.neg_;
  } else {
    out.mag_ = subtract(b.mag_, a.mag_);
    out.neg_ = b.neg_;
  }
  if (out.mag_.empty()) out.neg_ = false;
  if (out.bits() > BigInt::kMaxBits)
    throw RationalOverflow("exact arithmetic exceeded " + std::to_string(BigInt::kMaxBits) + " bits");
  return out;
}

BigInt operator-(const BigInt& a, const BigInt& b) { return a + (-b); }

BigInt operator*(const BigInt& a, const BigInt& b) {
  BigInt out;
  if (a.is_zero() || b.is_zero()) return out;
  if (a.bits() + b.bits() > BigInt::kMaxBits + 1)
    throw RationalOverflow("exact arithmetic exceeded " + std::to_string(BigInt::kMaxBits) + " bits");
  out.mag_.assign(a.mag_.size() + b.mag_.size(), 0);
  for (size_t i = 0; i < a.mag_.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.mag_.size(); ++j) {
      carry += uint64_t{a.mag_[i]} * b.mag_[j] + out.mag_[i + j];
      out.mag_[i + j] = static_cast<uint32_t>(carry);
      carry >>= 32;
    }
    out.mag_[i + b.mag_.size()] = static_cast<uint32_t>(carry);
  }
  trim(out.mag_);
  out.neg_ = a.neg_ != b.neg_;
  return out;
}

}  // namespace wino::detail

#include "transforms/rational.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>

namespace wino {
namespace {

// Products and sums of two int64 fractions fit 128 bits, so each operation is done exactly
// there and only the reduced result has to fit back into int64.
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

u128 abs128(i128 v) { return v < 0 ? u128(0) - u128(v) : u128(v); }

u128 gcd128(u128 a, u128 b) {
  while (b != 0) {
    u128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool fits64(i128 v) {
  return v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max();
}

// Reduces num/den (den != 0) to lowest terms with a positive denominator and checks that both
// fit int64; `what` describes the operation for the error message.
void reduce(i128 num, i128 den, int64_t& out_num, int64_t& out_den, const char* what) {
  if (den < 0) {
    num = -num;  // cannot overflow: |num|, |den| < 2^127 for every caller
    den = -den;
  }
  u128 g = gcd128(abs128(num), u128(den));
  if (g > 1) {
    num /= i128(g);
    den /= i128(g);
  }
  if (!fits64(num) || !fits64(den))
    throw RationalOverflow(std::string("exact rational arithmetic overflowed int64 (") + what +
                           ")");
  out_num = static_cast<int64_t>(num);
  out_den = static_cast<int64_t>(den);
}

Rational make(i128 num, i128 den, const char* what) {
  int64_t n = 0, d = 1;
  reduce(num, den, n, d, what);
  return Rational(n, d);
}

}  // namespace

Rational::Rational(int64_t value) : num_(value), den_(1) {}

Rational::Rational(int64_t num, int64_t den) {
  if (den == 0) throw Error("rational number with a zero denominator (" + std::to_string(num) + "/0)");
  reduce(num, den, num_, den_, "normalizing a fraction");
}

Rational Rational::parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error("cannot parse '" + text + "' as a rational number: " + why +
                 " (expected an integer or a fraction like -1/2)");
  };
  auto parse_int = [&](const char* first, const char* last, int64_t& out) {
    if (first == last) throw bad("missing digits");
    auto [ptr, ec] = std::from_chars(first, last, out);
    if (ec == std::errc::result_out_of_range) throw bad("value does not fit int64");
    if (ec != std::errc() || ptr != last) throw bad("unexpected characters");
  };
  const char* begin = text.data();
  const char* end = begin + text.size();
  size_t slash = text.find('/');
  int64_t num = 0, den = 1;
  if (slash == std::string::npos) {
    parse_int(begin, end, num);
  } else {
    parse_int(begin, begin + slash, num);
    const char* d = begin + slash + 1;
    if (d != end && *d == '-') throw bad("the denominator must be positive");
    parse_int(d, end, den);
    if (den == 0) throw bad("zero denominator");
  }
  return Rational(num, den);
}

std::string Rational::str() const {
  return den_ == 1 ? std::to_string(num_) : std::to_string(num_) + "/" + std::to_string(den_);
}

Rational operator+(const Rational& a, const Rational& b) {
  if (a.den_ == b.den_) return make(i128(a.num_) + b.num_, a.den_, "addition");
  return make(i128(a.num_) * b.den_ + i128(b.num_) * a.den_, i128(a.den_) * b.den_, "addition");
}

Rational operator-(const Rational& a, const Rational& b) {
  if (a.den_ == b.den_) return make(i128(a.num_) - b.num_, a.den_, "subtraction");
  return make(i128(a.num_) * b.den_ - i128(b.num_) * a.den_, i128(a.den_) * b.den_,
              "subtraction");
}

Rational operator*(const Rational& a, const Rational& b) {
  return make(i128(a.num_) * b.num_, i128(a.den_) * b.den_, "multiplication");
}

Rational operator/(const Rational& a, const Rational& b) {
  if (b.num_ == 0) throw Error("division by zero in exact rational arithmetic (" + a.str() + " / 0)");
  return make(i128(a.num_) * b.den_, i128(a.den_) * b.num_, "division");
}

Rational Rational::operator-() const { return make(-i128(num_), den_, "negation"); }

bool operator<(const Rational& a, const Rational& b) {
  return i128(a.num_) * b.den_ < i128(b.num_) * a.den_;
}

}  // namespace wino

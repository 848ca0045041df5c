// Exact proof of a transform on random rational data: AT[(G g) .* (BT d)] = correlate(d, g),
// in 1D and (with the transforms applied on both axes) in 2D. Each matrix is held as integers
// over one common denominator, so products and sums are plain big-integer arithmetic.
#include <string>
#include <vector>

#include "common/random.h"
#include "transforms/bigint.h"
#include "transforms/winograd.h"

namespace wino {
namespace {

using detail::BigInt;
__extension__ typedef unsigned __int128 u128;

// value = num / den, den > 0.
struct Scaled {
  int rows = 0, cols = 0;
  std::vector<BigInt> num;
  BigInt den{1};
  Scaled(int r, int c) : rows(r), cols(c), num(static_cast<size_t>(r) * c) {}
  BigInt& at(int i, int j) { return num[static_cast<size_t>(i) * cols + j]; }
  const BigInt& at(int i, int j) const { return num[static_cast<size_t>(i) * cols + j]; }
};

u128 gcd(u128 a, u128 b) {
  while (b != 0) {
    u128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

Scaled scaled(const RationalMatrix& m) {
  u128 lcm = 1;
  for (const Rational& v : m.data) {
    u128 d = static_cast<u128>(v.den());
    if (__builtin_mul_overflow(lcm / gcd(lcm, d), d, &lcm))
      throw RationalOverflow("the common denominator of a matrix exceeded 128 bits");
  }
  Scaled s(m.rows, m.cols);
  s.den = BigInt::from_unsigned(static_cast<uint64_t>(lcm >> 64), static_cast<uint64_t>(lcm));
  for (size_t i = 0; i < m.data.size(); ++i) {
    u128 factor = lcm / static_cast<u128>(m.data[i].den());  // < 2^128, exact
    s.num[i] = BigInt(m.data[i].num()) *
               BigInt::from_unsigned(static_cast<uint64_t>(factor >> 64), static_cast<uint64_t>(factor));
  }
  return s;
}

Scaled multiply(const Scaled& a, const Scaled& b) {
  Scaled c(a.rows, b.cols);
  c.den = a.den * b.den;
  for (int i = 0; i < a.rows; ++i)
    for (int k = 0; k < a.cols; ++k) {
      const BigInt& aik = a.at(i, k);
      if (aik.is_zero()) continue;
      for (int j = 0; j < b.cols; ++j) c.at(i, j) += aik * b.at(k, j);
    }
  return c;
}

Scaled transpose(const Scaled& a) {
  Scaled t(a.cols, a.rows);
  t.den = a.den;
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < a.cols; ++j) t.at(j, i) = a.at(i, j);
  return t;
}

Scaled hadamard(const Scaled& a, const Scaled& b) {
  Scaled c(a.rows, a.cols);
  c.den = a.den * b.den;
  for (size_t i = 0; i < a.num.size(); ++i) c.num[i] = a.num[i] * b.num[i];
  return c;
}

bool equal(const Scaled& a, const Scaled& b) {
  if (a.rows != b.rows || a.cols != b.cols) return false;
  for (size_t i = 0; i < a.num.size(); ++i)
    if (!(a.num[i] * b.den == b.num[i] * a.den)) return false;
  return true;
}

// Numerators in [-9, 9], denominators in [1, 6]: genuinely fractional data.
Scaled random_matrix(int rows, int cols, Rng& rng) {
  RationalMatrix x(rows, cols);
  for (Rational& v : x.data) {
    auto num = static_cast<int64_t>(rng.next_u64() % 19) - 9;
    auto den = static_cast<int64_t>(rng.next_u64() % 6) + 1;
    v = Rational(num, den);
  }
  return scaled(x);
}

// y[i][j] = sum_{k,l} d[i+k][j+l] g[k][l] over the m x out_cols outputs (out_cols = 1 in 1D).
Scaled correlate(const Scaled& d, const Scaled& g, int m, int out_cols) {
  Scaled y(m, out_cols);
  y.den = d.den * g.den;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < out_cols; ++j)
      for (int k = 0; k < g.rows; ++k)
        for (int l = 0; l < g.cols; ++l) y.at(i, j) += d.at(i + k, j + l) * g.at(k, l);
  return y;
}

struct Transforms {
  Scaled at, a, g, gt, bt, b;
  explicit Transforms(const WinogradTransforms& t)
      : at(scaled(t.AT)), a(transpose(at)), g(scaled(t.G)), gt(transpose(g)), bt(scaled(t.BT)),
        b(transpose(bt)) {}
};

bool check_1d(const WinogradTransforms& t, const Transforms& x, Rng& rng) {
  Scaled d = random_matrix(t.alpha, 1, rng), g = random_matrix(t.r, 1, rng);
  Scaled y = multiply(x.at, hadamard(multiply(x.g, g), multiply(x.bt, d)));
  return equal(y, correlate(d, g, t.m, 1));
}

bool check_2d(const WinogradTransforms& t, const Transforms& x, Rng& rng) {
  Scaled d = random_matrix(t.alpha, t.alpha, rng), g = random_matrix(t.r, t.r, rng);
  Scaled u = multiply(multiply(x.g, g), x.gt);
  Scaled v = multiply(multiply(x.bt, d), x.b);
  Scaled y = multiply(multiply(x.at, hadamard(u, v)), x.a);
  return equal(y, correlate(d, g, t.m, t.m));
}

}  // namespace

Verification verify(const WinogradTransforms& t, int trials, uint64_t seed) {
  if (trials < 1) throw Error("verification needs at least one trial");
  if (t.AT.rows != t.m || t.AT.cols != t.alpha || t.G.rows != t.alpha || t.G.cols != t.r ||
      t.BT.rows != t.alpha || t.BT.cols != t.alpha || t.alpha != t.m + t.r - 1)
    throw Error("verify: the matrices' shapes do not match F(m, r)");
  Verification v;
  v.trials = trials;
  v.ok_1d = v.ok_2d = true;
  Rng rng(seed);
  try {
    Transforms x(t);
    for (int i = 0; i < trials; ++i) {
      v.ok_1d = check_1d(t, x, rng) && v.ok_1d;
      v.ok_2d = check_2d(t, x, rng) && v.ok_2d;
    }
  } catch (const RationalOverflow& e) {
    throw Error("exact arithmetic overflowed while verifying F(" + std::to_string(t.m) + ", " +
                std::to_string(t.r) + ") with points " + points_string(t.points) +
                ": choose smaller points or a smaller alpha (" + e.what() + ")");
  }
  return v;
}

}  // namespace wino

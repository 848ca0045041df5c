// Cook-Toom construction of F(m, r) with alpha - 1 finite points and the point at infinity.
//
// Linear convolution s = h * g of h (length m) and g (length r) has degree alpha - 1, so
//   s(x) = sum_j s(p_j) N_j(x) / D_j + s_inf M(x),
// with N_j(x) = prod_{l != j} (x - p_l), D_j = N_j(p_j), M(x) = prod_l (x - p_l) and s_inf the
// leading coefficient h_{m-1} g_{r-1}: both sides agree at the alpha - 1 points and in the
// x^{alpha-1} coefficient. As matrices, s = C [(E h) .* (G g)] where E evaluates h at each point
// (row alpha-1: its leading coefficient), G evaluates g scaled by 1/D_j, and column j of C holds
// the coefficients of N_j (last column: M). Correlation is the transpose of convolution in h,
// so y = E^T [(G g) .* (C^T d)]: AT = E^T, BT = C^T.
#include <algorithm>
#include <numeric>
#include <sstream>
#include <string>

#include "transforms/winograd.h"

namespace wino {
namespace {

// The literature's order (Barabasz et al., "Error analysis and improving the accuracy of
// Winograd convolution"): small magnitudes and their reciprocals first; the first alpha - 1 are
// the defaults for alpha <= 8 (matching the published F(2,3), F(4,3), F(6,3)) and alpha >= 15.
const char* const kLiteraturePoints[kMaxAlpha - 1] = {
    "0", "-1", "1", "1/2", "-2", "-1/2", "2", "-1/4", "4", "1/4", "-4", "3/4", "-3/4", "4/3", "-4/3",
};

// Defaults for alpha = 9..14, from measurement: a local search (one point swapped at a time over
// +-{1, 2, 3, 4, 8, 1/2, 1/3, 1/4, 1/8, 2/3, 3/2, 3/4, 4/3, 4/5, 5/4, 2/5, 5/2, 3/5, 5/3}, scored
// by the measured float32 mean error over r = 1, 3, 5, alpha) found these sets, whose mean error
// is 1.5-7x lower than the literature prefix for every r at their alpha (F(8,3): 2.2x). They
// trade some of +-4, +-1/4, whose powers up to p^(alpha-2) make the matrices badly conditioned,
// for points nearer magnitude 1 (5/4, 4/5, 4/3, 3/4, 2/3). At alpha 15 and 16 the gain was below
// 1.35x, so the literature order stays.
const char* const kMeasuredPoints[] = {
    "0,-5/4,1,2/3,-5/2,-4/5,2,-1/3",                  // alpha 9
    "0,-5/4,4/5,1/2,-2,-3/4,4/3,-1/3,3",              // alpha 10
    "0,-4/3,3/2,2/3,-2,-3/4,1,-1/2,4,1/3",            // alpha 11
    "0,-1,1,3/4,-4/3,-3/4,4/3,-1/3,3,1/3,-3",         // alpha 12
    "0,-1,5/4,-4/5,-3/2,1/2,3/2,-1/2,4,1/4,-3,3/4",   // alpha 13
    "0,-5/4,5/4,1,-3/2,-1/2,2,-1/4,4,1/4,-3,3/4,-3/4",  // alpha 14
};
constexpr int kFirstMeasuredAlpha = 9, kLastMeasuredAlpha = 14;

std::string request_name(int m, int r) {
  return "F(" + std::to_string(m) + ", " + std::to_string(r) + ")";
}

// Coefficients (lowest degree first) of prod (x - p) over `roots`.
std::vector<Rational> poly_from_roots(const std::vector<Rational>& roots) {
  std::vector<Rational> c = {Rational(1)};
  for (const Rational& p : roots) {
    std::vector<Rational> next(c.size() + 1);
    for (size_t k = 0; k < c.size(); ++k) {
      next[k + 1] += c[k];
      next[k] -= p * c[k];
    }
    c = std::move(next);
  }
  return c;
}

void build(WinogradTransforms& t) {
  const int m = t.m, r = t.r, alpha = t.alpha, n = alpha - 1;
  const std::vector<Rational>& p = t.points;
  t.AT = RationalMatrix(m, alpha);
  t.G = RationalMatrix(alpha, r);
  t.BT = RationalMatrix(alpha, alpha);
  for (int j = 0; j < n; ++j) {
    Rational power = 1;
    for (int i = 0; i < std::max(m, r); ++i) {
      if (i < m) t.AT.at(i, j) = power;
      if (i < r) t.G.at(j, i) = power;
      if (i + 1 < std::max(m, r)) power *= p[j];
    }
    std::vector<Rational> others;
    Rational denom = 1;
    for (int l = 0; l < n; ++l) {
      if (l == j) continue;
      others.push_back(p[l]);
      denom *= p[j] - p[l];
    }
    for (int k = 0; k < r; ++k) t.G.at(j, k) = t.G.at(j, k) / denom;
    std::vector<Rational> nj = poly_from_roots(others);  // degree n - 1: BT[j][alpha-1] stays 0
    for (int c = 0; c < n; ++c) t.BT.at(j, c) = nj[c];
  }
  // The point at infinity picks the leading coefficients.
  t.AT.at(m - 1, n) = 1;
  t.G.at(n, r - 1) = 1;
  std::vector<Rational> full = poly_from_roots(p);
  for (int c = 0; c < alpha; ++c) t.BT.at(n, c) = full[c];
}

}  // namespace

std::vector<Rational> default_points(int alpha) {
  if (alpha < 1 || alpha > kMaxAlpha)
    throw Error("alpha = " + std::to_string(alpha) + " is outside [1, " +
                std::to_string(kMaxAlpha) + "]");
  std::vector<Rational> points;
  if (alpha >= kFirstMeasuredAlpha && alpha <= kLastMeasuredAlpha) {
    std::istringstream list(kMeasuredPoints[alpha - kFirstMeasuredAlpha]);
    for (std::string item; std::getline(list, item, ',');) points.push_back(Rational::parse(item));
  } else {
    for (int i = 0; i < alpha - 1; ++i) points.push_back(Rational::parse(kLiteraturePoints[i]));
  }
  return points;
}

std::string points_string(const std::vector<Rational>& points) {
  std::string s;
  for (const Rational& p : points) s += p.str() + ", ";
  return s + "inf";
}

WinogradTransforms cook_toom(int m, int r, const std::optional<std::vector<Rational>>& points) {
  if (m < 1 || r < 1)
    throw Error(request_name(m, r) + " is invalid: m and r must both be at least 1");
  if (m > kMaxAlpha || r > kMaxAlpha || m + r - 1 > kMaxAlpha)
    throw Error(request_name(m, r) + " needs alpha = m + r - 1 = " + std::to_string(m + r - 1) +
                ", above the limit of " + std::to_string(kMaxAlpha));
  WinogradTransforms t;
  t.m = m;
  t.r = r;
  t.alpha = m + r - 1;
  t.points = points ? *points : default_points(t.alpha);
  if (static_cast<int>(t.points.size()) != t.alpha - 1)
    throw Error(request_name(m, r) + " needs alpha - 1 = " + std::to_string(t.alpha - 1) +
                " finite points (infinity is implied), got " + std::to_string(t.points.size()));
  for (size_t i = 0; i < t.points.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (t.points[i] == t.points[j])
        throw Error("interpolation points must be distinct, but " + t.points[i].str() +
                    " appears twice");
  try {
    build(t);
  } catch (const RationalOverflow& e) {
    throw Error("exact arithmetic overflowed int64 while building " + request_name(m, r) +
                " with points " + points_string(t.points) +
                ": choose smaller points or a smaller alpha (" + e.what() + ")");
  }
  return t;
}

WinogradTransforms with_integer_filter_rows(const WinogradTransforms& t) {
  WinogradTransforms s = t;
  for (int i = 0; i < t.alpha; ++i) {
    int64_t den_lcm = 1, num_gcd = 0;
    for (int j = 0; j < t.r; ++j) {
      const Rational& e = t.G.at(i, j);
      if (e.is_zero()) continue;
      den_lcm = std::lcm(den_lcm, e.den());
      num_gcd = std::gcd(num_gcd, e.num() < 0 ? -e.num() : e.num());
    }
    if (num_gcd == 0) continue;  // an all-zero row (none in Cook-Toom's G) keeps its scale
    const Rational scale(den_lcm, num_gcd);
    for (int j = 0; j < t.r; ++j) s.G.at(i, j) = t.G.at(i, j) * scale;
    for (int k = 0; k < t.m; ++k) s.AT.at(k, i) = t.AT.at(k, i) / scale;
  }
  return s;
}

std::vector<double> to_doubles(const RationalMatrix& m) {
  std::vector<double> out;
  out.reserve(m.data.size());
  for (const Rational& v : m.data) out.push_back(v.to_double());
  return out;
}

std::vector<float> to_floats(const RationalMatrix& m) {
  std::vector<float> out;
  out.reserve(m.data.size());
  for (const Rational& v : m.data) out.push_back(static_cast<float>(v.to_double()));
  return out;
}

}  // namespace wino

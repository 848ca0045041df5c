#include "ir/transform_code.h"

#include <cstdlib>
#include <string>

#include "common/error.h"

namespace wino::ir {

Expr linear_combination(Context& ctx, const RationalMatrix& m, int row,
                        const std::vector<Expr>& values) {
  if (static_cast<int>(values.size()) != m.cols)
    throw Error("transform: " + std::to_string(values.size()) + " values for a row of " +
                std::to_string(m.cols) + " coefficients");
  // Coefficients take the lanes of the values (the CPU plans transform vectors of channels).
  const int lanes = values.empty() ? 1 : values[0].type().lanes;
  auto constant = [&](double c) { return lanes > 1 ? ctx.broadcast(ctx.f32(c), lanes) : ctx.f32(c); };
  Expr sum;
  for (int k = 0; k < m.cols; ++k) {
    const Rational& c = m.at(row, k);
    if (c.is_zero()) continue;
    Expr v = values[k];
    if (!sum) {
      sum = c.is_one() ? v : c.is_minus_one() ? -v : constant(c.to_double()) * v;
    } else if (c.is_one()) {
      sum = sum + v;
    } else if (c.is_minus_one()) {
      sum = sum - v;
    } else {
      sum = sum + constant(c.to_double()) * v;
    }
  }
  return sum ? sum : constant(0.0);
}

Expr integer_combination(const RationalMatrix& m, int row, const std::vector<Expr>& values) {
  if (static_cast<int>(values.size()) != m.cols)
    throw Error("transform: " + std::to_string(values.size()) + " values for a row of " +
                std::to_string(m.cols) + " coefficients");
  int bits = 0;
  for (int k = 0; k < m.cols; ++k) {
    const Rational& c = m.at(row, k);
    if (c.den() != 1) throw Error("transform: integer_combination needs integer coefficients, got " + c.str());
    while ((std::abs(c.num()) >> bits) > 1) ++bits;
  }
  Expr sum;
  for (int bit = bits; bit >= 0; --bit) {
    if (sum) sum = sum + sum;
    for (int k = 0; k < m.cols; ++k) {
      const int64_t c = m.at(row, k).num();
      if (!((std::abs(c) >> bit) & 1)) continue;
      sum = !sum ? (c > 0 ? values[k] : -values[k]) : c > 0 ? sum + values[k] : sum - values[k];
    }
  }
  if (!sum) throw Error("transform: integer_combination of a row of zeros");
  return sum;
}

namespace {

// Column pairs of L whose coefficients agree or are opposite in every row (points +a and -a of
// A^T): each row needs only x_a + x_b or x_a - x_b.
std::vector<std::pair<int, int>> column_pairs(const RationalMatrix& L) {
  std::vector<std::pair<int, int>> pairs;
  std::vector<bool> taken(L.cols, false);
  for (int a = 0; a < L.cols; ++a)
    for (int b = a + 1; b < L.cols && !taken[a]; ++b) {
      if (taken[b]) continue;
      int terms = 0;
      bool ok = true;
      for (int i = 0; i < L.rows && ok; ++i) {
        const Rational &u = L.at(i, a), &v = L.at(i, b);
        ok = u == v || u == -v;
        terms += !u.is_zero();
      }
      if (ok && terms >= 2) {
        pairs.push_back({a, b});
        taken[a] = taken[b] = true;
      }
    }
  return pairs;
}

// Whether rows i and j of L agree on some columns and are opposite on the others (the rows of
// points +a and -a of B^T and G): E + O and E - O.
bool rows_pair(const RationalMatrix& L, int i, int j) {
  bool even = false, odd = false;
  for (int k = 0; k < L.cols; ++k) {
    const Rational &u = L.at(i, k), &v = L.at(j, k);
    if (u.is_zero() && v.is_zero()) continue;
    if (u == v) even = true;
    else if (u == -v) odd = true;
    else return false;
  }
  return even && odd;
}

// Row i of L against `values`, only the columns `use` admits.
template <class Use>
Expr partial_sum(Context& ctx, const RationalMatrix& L, int i, const std::vector<Expr>& values, Use use) {
  RationalMatrix row(1, L.cols);
  for (int k = 0; k < L.cols; ++k)
    if (use(k)) row.at(0, k) = L.at(i, k);
  return linear_combination(ctx, row, 0, values);
}

}  // namespace

std::vector<Expr> apply_transform(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& x) {
  if (static_cast<int>(x.size()) != L.cols)
    throw Error("transform: " + std::to_string(x.size()) + " values for " + std::to_string(L.cols) + " columns");
  // Column pairs become a sum and a difference, each with the coefficients of the rows that use it:
  // where the points are symmetric (several pairs). A lone pair (F(4,3)'s +-1) gave ptxas no fewer
  // instructions (fp16 NHWC output transform 368 -> 376, tensor-core fused-output 2336 -> 2376).
  std::vector<Expr> v;  // the values M's columns multiply: L's unpaired columns', then sums and differences
  std::vector<std::vector<Rational>> coeffs;  // M's columns
  std::vector<bool> paired(L.cols, false);
  std::vector<std::pair<int, int>> pairs = column_pairs(L);
  if (pairs.size() < 2) pairs.clear();
  for (const auto& [a, b] : pairs) paired[a] = paired[b] = true;
  for (int k = 0; k < L.cols; ++k)
    if (!paired[k]) {
      std::vector<Rational> c(L.rows);
      for (int i = 0; i < L.rows; ++i) c[i] = L.at(i, k);
      coeffs.push_back(c);
      v.push_back(x[k]);
    }
  for (const auto& [a, b] : pairs) {
    std::vector<Rational> cs(L.rows), cd(L.rows);
    bool use_s = false, use_d = false;
    for (int i = 0; i < L.rows; ++i) {
      const Rational &u = L.at(i, a), &w = L.at(i, b);
      if (u.is_zero()) continue;
      if (u == w) cs[i] = u, use_s = true;
      else cd[i] = u, use_d = true;
    }
    if (use_s) coeffs.push_back(cs), v.push_back(x[a] + x[b]);
    if (use_d) coeffs.push_back(cd), v.push_back(x[a] - x[b]);
  }
  RationalMatrix M(L.rows, static_cast<int>(v.size()));
  for (int k = 0; k < M.cols; ++k)
    for (int i = 0; i < L.rows; ++i) M.at(i, k) = coeffs[k][i];
  // Row pairs share their even and odd partial sums.
  std::vector<Expr> y(L.rows);
  for (int i = 0; i < M.rows; ++i) {
    if (y[i]) continue;
    int j = i + 1;
    while (j < M.rows && (y[j] || !rows_pair(M, i, j))) ++j;
    if (j == M.rows) {
      y[i] = linear_combination(ctx, M, i, v);
      continue;
    }
    Expr even = partial_sum(ctx, M, i, v, [&](int k) { return M.at(i, k) == M.at(j, k); });
    Expr odd = partial_sum(ctx, M, i, v, [&](int k) { return !(M.at(i, k) == M.at(j, k)); });
    y[i] = even + odd;
    y[j] = even - odd;
  }
  return y;
}

std::vector<Expr> transform_2d(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile) {
  const int p = L.rows, q = L.cols;
  if (static_cast<int>(tile.size()) != q * q)
    throw Error("transform: tile of " + std::to_string(tile.size()) + " values, expected " +
                std::to_string(q * q));
  // Rows first: T = L X (p x q), column by column.
  std::vector<Expr> t(static_cast<size_t>(p) * q);
  std::vector<Expr> column(q);
  for (int j = 0; j < q; ++j) {
    for (int k = 0; k < q; ++k) column[k] = tile[k * q + j];
    const std::vector<Expr> c = apply_transform(ctx, L, column);
    for (int i = 0; i < p; ++i) t[i * q + j] = c[i];
  }
  // Then columns: Y = T L^T (p x p), row by row.
  std::vector<Expr> y(static_cast<size_t>(p) * p);
  std::vector<Expr> row(q);
  for (int i = 0; i < p; ++i) {
    for (int k = 0; k < q; ++k) row[k] = t[i * q + k];
    const std::vector<Expr> r = apply_transform(ctx, L, row);
    for (int j = 0; j < p; ++j) y[i * p + j] = r[j];
  }
  return y;
}

std::vector<Expr> transform_2d_row(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile, int i) {
  const int q = L.cols;
  if (static_cast<int>(tile.size()) != q * q)
    throw Error("transform: tile of " + std::to_string(tile.size()) + " values, expected " + std::to_string(q * q));
  std::vector<Expr> w(q), column(q);  // w = (L X)[i][:]
  for (int j = 0; j < q; ++j) {
    for (int k = 0; k < q; ++k) column[k] = tile[k * q + j];
    w[j] = linear_combination(ctx, L, i, column);
  }
  return apply_transform(ctx, L, w);
}

TransformOpCount count_transform_ops(const RationalMatrix& L) {
  Context ctx;
  std::vector<Expr> tile;
  for (int i = 0; i < L.cols * L.cols; ++i) tile.push_back(ctx.var("x", Type::f32));
  std::vector<Expr> y = transform_2d(ctx, L, tile);
  TransformOpCount c;
  c.dag_ops = static_cast<int64_t>(count_distinct_ops(y));
  const int64_t p = L.rows, q = L.cols;
  c.dense_ops = p * q * (2 * q - 1) + p * p * (2 * q - 1);
  return c;
}

}  // namespace wino::ir

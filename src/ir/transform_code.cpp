#include "ir/transform_code.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace wino::ir {

namespace {

// A term of a row of L x: a coefficient times one of the values (x's, then shared sums').
struct Term {
  int value;
  Rational coef;
};

// sum of coef * value over the terms in their order, +-1 folded. Coefficients take the lanes of
// the values (the CPU plans transform vectors of channels).
Expr sum_of_terms(Context& ctx, const std::vector<Term>& terms, const std::vector<Expr>& values) {
  const int lanes = values.empty() ? 1 : values[0].type().lanes;
  auto constant = [&](double c) { return lanes > 1 ? ctx.broadcast(ctx.f32(c), lanes) : ctx.f32(c); };
  Expr sum;
  for (const Term& t : terms) {
    const Expr& v = values[t.value];
    if (!sum) sum = t.coef.is_one() ? v : t.coef.is_minus_one() ? -v : constant(t.coef.to_double()) * v;
    else if (t.coef.is_one()) sum = sum + v;
    else if (t.coef.is_minus_one()) sum = sum - v;
    else sum = sum + constant(t.coef.to_double()) * v;
  }
  return sum ? sum : constant(0.0);
}

}  // namespace

Expr linear_combination(Context& ctx, const RationalMatrix& m, int row,
                        const std::vector<Expr>& values) {
  if (static_cast<int>(values.size()) != m.cols)
    throw Error("transform: " + std::to_string(values.size()) + " values for a row of " +
                std::to_string(m.cols) + " coefficients");
  std::vector<Term> terms;
  for (int k = 0; k < m.cols; ++k)
    if (!m.at(row, k).is_zero()) terms.push_back({k, m.at(row, k)});
  return sum_of_terms(ctx, terms, values);
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

// L x as shared two-term sums and what each row has left: shared[s] is the value L.cols + s,
// values[a] + ratio * values[b]; a row holding both with that ratio of coefficients uses it in
// their place. Greedy: the sum most rows share first (ties: a plain sum or difference, then the
// first found). This finds the symmetric points' sums and differences and their even and odd
// partial sums, and shares sums other points' rows have in common: F(4,3)'s B^T takes 16
// operations where its rows alone take 20 (an FMA counted as one).
struct SharedSums {
  struct Sum {
    int a, b;
    Rational ratio;
  };
  std::vector<Sum> shared;
  std::vector<std::vector<Term>> rows;
};

SharedSums share_sums(const RationalMatrix& L) {
  SharedSums s;
  s.rows.resize(L.rows);
  for (int i = 0; i < L.rows; ++i)
    for (int k = 0; k < L.cols; ++k)
      if (!L.at(i, k).is_zero()) s.rows[i].push_back({k, L.at(i, k)});
  for (int values = L.cols;; ++values) {
    std::vector<std::pair<SharedSums::Sum, int>> uses;  // in the order first found
    for (const std::vector<Term>& row : s.rows)
      for (size_t x = 0; x < row.size(); ++x)
        for (size_t y = x + 1; y < row.size(); ++y) {
          const Term &p = row[x].value < row[y].value ? row[x] : row[y], &q = &p == &row[x] ? row[y] : row[x];
          const SharedSums::Sum sum{p.value, q.value, q.coef / p.coef};
          auto it = std::find_if(uses.begin(), uses.end(), [&](const auto& u) {
            return u.first.a == sum.a && u.first.b == sum.b && u.first.ratio == sum.ratio;
          });
          if (it == uses.end()) uses.push_back({sum, 1});
          else ++it->second;
        }
    auto plain = [](const Rational& r) { return r.is_one() || r.is_minus_one(); };
    auto best = uses.end();
    for (auto it = uses.begin(); it != uses.end(); ++it)
      if (best == uses.end() || it->second > best->second ||
          (it->second == best->second && plain(it->first.ratio) && !plain(best->first.ratio)))
        best = it;
    if (best == uses.end() || best->second < 2) return s;
    const SharedSums::Sum sum = best->first;
    s.shared.push_back(sum);
    for (std::vector<Term>& row : s.rows) {
      auto a = std::find_if(row.begin(), row.end(), [&](const Term& t) { return t.value == sum.a; });
      auto b = std::find_if(row.begin(), row.end(), [&](const Term& t) { return t.value == sum.b; });
      if (a == row.end() || b == row.end() || !(b->coef / a->coef == sum.ratio)) continue;
      const Term merged{values, a->coef};
      row.erase(std::max(a, b));
      row.erase(std::min(a, b));
      row.push_back(merged);
    }
  }
}

// sum_of_terms starting from a term of coefficient +-1 where there is one (no multiplication).
Expr sum_ones_first(Context& ctx, std::vector<Term> terms, const std::vector<Expr>& values) {
  std::stable_partition(terms.begin(), terms.end(), [](const Term& t) { return t.coef.is_one() || t.coef.is_minus_one(); });
  return sum_of_terms(ctx, terms, values);
}

// L x through the shared sums `s` of L (share_sums, worked out once per matrix).
std::vector<Expr> apply_shared(Context& ctx, const SharedSums& s, const std::vector<Expr>& x) {
  std::vector<Expr> values = x;
  for (const SharedSums::Sum& sum : s.shared)
    values.push_back(sum_of_terms(ctx, {{sum.a, Rational(1)}, {sum.b, sum.ratio}}, values));
  std::vector<Expr> y;
  for (const std::vector<Term>& row : s.rows) y.push_back(sum_ones_first(ctx, row, values));
  return y;
}

}  // namespace

std::vector<Expr> apply_transform(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& x) {
  if (static_cast<int>(x.size()) != L.cols)
    throw Error("transform: " + std::to_string(x.size()) + " values for " + std::to_string(L.cols) + " columns");
  return apply_shared(ctx, share_sums(L), x);
}

std::vector<Expr> transform_2d(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile) {
  const int p = L.rows, q = L.cols;
  if (static_cast<int>(tile.size()) != q * q)
    throw Error("transform: tile of " + std::to_string(tile.size()) + " values, expected " +
                std::to_string(q * q));
  const SharedSums s = share_sums(L);
  // Rows first: T = L X (p x q), column by column.
  std::vector<Expr> t(static_cast<size_t>(p) * q);
  std::vector<Expr> column(q);
  for (int j = 0; j < q; ++j) {
    for (int k = 0; k < q; ++k) column[k] = tile[k * q + j];
    const std::vector<Expr> c = apply_shared(ctx, s, column);
    for (int i = 0; i < p; ++i) t[i * q + j] = c[i];
  }
  // Then columns: Y = T L^T (p x p), row by row.
  std::vector<Expr> y(static_cast<size_t>(p) * p);
  std::vector<Expr> row(q);
  for (int i = 0; i < p; ++i) {
    for (int k = 0; k < q; ++k) row[k] = t[i * q + k];
    const std::vector<Expr> r = apply_shared(ctx, s, row);
    for (int j = 0; j < p; ++j) y[i * p + j] = r[j];
  }
  return y;
}

std::vector<Expr> transform_columns(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& rows_done) {
  const int p = L.rows, q = L.cols;
  if (static_cast<int>(rows_done.size()) != q * p)
    throw Error("transform: " + std::to_string(rows_done.size()) + " values of transformed rows, expected " +
                std::to_string(q * p));
  const SharedSums s = share_sums(L);
  std::vector<Expr> y(static_cast<size_t>(p) * p), column(q);
  for (int j = 0; j < p; ++j) {
    for (int k = 0; k < q; ++k) column[k] = rows_done[k * p + j];
    const std::vector<Expr> c = apply_shared(ctx, s, column);
    for (int i = 0; i < p; ++i) y[i * p + j] = c[i];
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

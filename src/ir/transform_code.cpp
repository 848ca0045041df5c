#include "ir/transform_code.h"

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
    for (int i = 0; i < p; ++i) t[i * q + j] = linear_combination(ctx, L, i, column);
  }
  // Then columns: Y = T L^T (p x p), row by row.
  std::vector<Expr> y(static_cast<size_t>(p) * p);
  std::vector<Expr> row(q);
  for (int i = 0; i < p; ++i) {
    for (int k = 0; k < q; ++k) row[k] = t[i * q + k];
    for (int j = 0; j < p; ++j) y[i * p + j] = linear_combination(ctx, L, j, row);
  }
  return y;
}

std::vector<Expr> transform_2d_row(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile, int i) {
  const int p = L.rows, q = L.cols;
  if (static_cast<int>(tile.size()) != q * q)
    throw Error("transform: tile of " + std::to_string(tile.size()) + " values, expected " + std::to_string(q * q));
  std::vector<Expr> w(q), column(q);  // w = (L X)[i][:]
  for (int j = 0; j < q; ++j) {
    for (int k = 0; k < q; ++k) column[k] = tile[k * q + j];
    w[j] = linear_combination(ctx, L, i, column);
  }
  std::vector<Expr> y(p);
  for (int j = 0; j < p; ++j) y[j] = linear_combination(ctx, L, j, w);
  return y;
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

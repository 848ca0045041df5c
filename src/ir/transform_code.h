// Winograd transforms as IR expressions: Y = L X L^T applied rows then columns, skipping zero
// coefficients and folding +-1, with every partial sum shared through the hash-consed DAG.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/expr.h"
#include "transforms/matrix.h"

namespace wino::ir {

/// sum_k coeffs[k] * values[k] for one row of a rational matrix; zero terms skipped, +-1 folded.
Expr linear_combination(Context& ctx, const RationalMatrix& m, int row, const std::vector<Expr>& values);

/// The same for a row of integers, by additions alone: Horner's rule over the bits of the
/// coefficients (each step doubles the sum, x + x, exact, then adds the values whose coefficient
/// has that bit). For cores that add on pipes beside the FMAs (Zen 4): multiplications by 2 and 4
/// would take FMA slots. values[k] is never read where the coefficient is zero (it may be null).
Expr integer_combination(const RationalMatrix& m, int row, const std::vector<Expr>& values);

/// L x for one vector of L.cols values, sharing two-term sums (x_a + c x_b) that several rows hold,
/// most shared first: the symmetric points' sums and differences and their even and odd partial
/// sums among them.
std::vector<Expr> apply_transform(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& x);

/// L X L^T for a square q x q tile X (row-major, q = L.cols); returns p x p (p = L.rows), row-major.
std::vector<Expr> transform_2d(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile);

/// L Z for Z = X L^T already computed (q x p, row-major: each row of the tile transformed): the
/// second half of transform_2d, column by column; returns p x p, row-major.
std::vector<Expr> transform_columns(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& rows_done);

/// Row i of L X L^T (p values): L's row i against the tile's columns, then the row transform; only
/// the tile rows where L's row i is non-zero are read.
std::vector<Expr> transform_2d_row(Context& ctx, const RationalMatrix& L, const std::vector<Expr>& tile, int i);

struct TransformOpCount {
  int64_t dag_ops = 0;    // distinct operations in the generated DAG
  int64_t dense_ops = 0;  // multiplications + additions of the dense matrix products
};
/// Op counts of transform_2d(L) on a tile of fresh variables.
TransformOpCount count_transform_ops(const RationalMatrix& L);

}  // namespace wino::ir

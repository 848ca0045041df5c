// Operation counts of the transforms, with zeros skipped and +-1 folded into add/subtract.
#include "transforms/winograd.h"

namespace wino {

OpCount count_matrix_ops(const RationalMatrix& m) {
  OpCount c;
  for (int i = 0; i < m.rows; ++i) {
    int64_t nonzero = 0;
    for (int j = 0; j < m.cols; ++j) {
      const Rational& v = m.at(i, j);
      if (v.is_zero()) continue;
      ++nonzero;
      if (!v.is_one() && !v.is_minus_one()) ++c.mults;
    }
    if (nonzero > 1) c.adds += nonzero - 1;
  }
  return c;
}

namespace {

// A 2D transform X M X^T on a k x k tile: X applied to the k columns, then to the rows of the
// result (as many as X has rows).
OpCount two_d(const OpCount& one, int64_t first_pass, int64_t second_pass) {
  return {one.adds * (first_pass + second_pass), one.mults * (first_pass + second_pass)};
}

}  // namespace

TransformCounts count_ops(const WinogradTransforms& t) {
  TransformCounts c;
  const int64_t m = t.m, r = t.r, alpha = t.alpha;
  c.mults_per_tile = alpha * alpha;
  c.direct_mults_per_tile = m * m * r * r;
  c.input_1d = count_matrix_ops(t.BT);
  c.filter_1d = count_matrix_ops(t.G);
  c.output_1d = count_matrix_ops(t.AT);
  c.input_2d = two_d(c.input_1d, alpha, alpha);    // BT d: alpha columns; (.) B: alpha rows
  c.filter_2d = two_d(c.filter_1d, r, alpha);      // G g: r columns; (.) G^T: alpha rows
  c.output_2d = two_d(c.output_1d, alpha, m);      // AT M: alpha columns; (.) A: m rows
  return c;
}

}  // namespace wino

// The module's public entry: exact Winograd transforms F(m, r) by the Cook-Toom construction,
// their proof of correctness, their operation counts and their measured float32 error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "transforms/matrix.h"
#include "transforms/rational.h"

namespace wino {

/// The matrices of F(m, r), named after Lavin & Gray: Y = AT [(G g G^T) .* (BT d B)] A.
struct WinogradTransforms {
  int m = 0, r = 0, alpha = 0;  // alpha = m + r - 1
  std::vector<Rational> points;  // the alpha - 1 finite interpolation points (infinity is implied)
  RationalMatrix AT;             // m x alpha
  RationalMatrix G;              // alpha x r
  RationalMatrix BT;             // alpha x alpha
};

/// Largest alpha the construction accepts.
constexpr int kMaxAlpha = 16;

/// The default alpha - 1 points for float32 accuracy: the literature's 0, -1, 1, 1/2, -2, -1/2,
/// 2, -1/4, 4, ... for alpha <= 8 and >= 15, measured lower-error sets for alpha 9..14
/// (cook_toom.cpp says why). Throws wino::Error outside [1, kMaxAlpha].
std::vector<Rational> default_points(int alpha);

/// Builds AT, G, BT for F(m, r) with m >= 1, r >= 1, m + r - 1 <= kMaxAlpha.
/// `points` (alpha - 1 distinct finite values) overrides the defaults.
/// Throws wino::Error for invalid requests and when exact arithmetic would overflow.
WinogradTransforms cook_toom(int m, int r, const std::optional<std::vector<Rational>>& points = {});

/// The same F(m, r) with each row of G scaled to integers without a common factor (D G, D
/// diagonal) and AT's columns divided by the same factors (AT D^-1): the products
/// (D G g G^T D) .* V carry D, which AT takes out again. A GEMM that makes U's values from the
/// weights as it goes (plan unfused on a CPU, a row of points per work-group) then multiplies by G's
/// rows with additions and small integers only. Exact like `t` (verify() holds); its float32
/// error is within a few tens of percent of t's either way.
WinogradTransforms with_integer_filter_rows(const WinogradTransforms& t);

/// "0, -1, 1/2, inf": the points as the CLI and error messages print them.
std::string points_string(const std::vector<Rational>& points);

/// The matrix's entries rounded to float64 / float32, row-major (for the runtimes and kernels).
std::vector<double> to_doubles(const RationalMatrix& m);
std::vector<float> to_floats(const RationalMatrix& m);

/// Checks AT[(G g) .* (BT d)] = correlate(d, g) exactly, in 1D and in 2D, on `trials` random
/// rational inputs. Returns true when every trial matches exactly. The arithmetic is exact
/// (big integers over common denominators); throws wino::Error only for absurd sizes.
struct Verification {
  bool ok_1d = false, ok_2d = false;
  int trials = 0;
  bool ok() const { return ok_1d && ok_2d; }
};
Verification verify(const WinogradTransforms& t, int trials = 8, uint64_t seed = 1);

/// Arithmetic of one transform applied to a vector, after skipping zero coefficients and
/// folding multiplications by +-1 into additions/subtractions.
struct OpCount {
  int64_t adds = 0, mults = 0;
};
/// The cost of applying `m` to one vector: a row with k nonzero entries costs k - 1 additions
/// and one multiplication per entry other than +-1.
OpCount count_matrix_ops(const RationalMatrix& m);
struct TransformCounts {
  int64_t mults_per_tile = 0;         // alpha^2 elementwise products per 2D output tile
  int64_t direct_mults_per_tile = 0;  // m^2 r^2 for direct convolution of the same tile
  OpCount input_1d, filter_1d, output_1d;  // BT d, G g, AT M for one vector
  OpCount input_2d, filter_2d, output_2d;  // the 2D transforms (rows then columns)
};
TransformCounts count_ops(const WinogradTransforms& t);

/// Relative error of a one-tile Winograd convolution computed in float32 (float32 matrices,
/// float32 arithmetic) against float64 direct correlation, on random normal data.
struct Fp32Error {
  double max_rel = 0.0, mean_rel = 0.0;
  int trials = 0;
};
Fp32Error measure_fp32_error(const WinogradTransforms& t, int trials = 1000, uint64_t seed = 1);

/// Relative L2 errors over random normal tiles (inputs and weights representable in a half type)
/// of a Winograd tile whose U and V are rounded to that type (`round`: float -> nearest in it),
/// as the tensor-core modes fp16 and bf16 store and stage them, M too with `round_m` (the unfused
/// GEMM's half M), products summed exactly and, with `round_output` (half tensors), the output
/// rounded to the type; beside that of rounding the exact output alone, the type's own floor (what
/// a direct convolution accumulating in float32 and writing the type gets).
struct HalfError {
  double winograd = 0.0, output = 0.0;
  int trials = 0;
};
HalfError measure_half_error(const WinogradTransforms& t, float (*round)(float), bool round_m = false,
                             bool round_output = true, int trials = 2000, uint64_t seed = 1);

}  // namespace wino

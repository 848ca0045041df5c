// Checking a result against the float64 oracle at a cost that scales: the whole reference output
// for small problems, a fixed-seed sample of output points for large ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/tensor.h"
#include "wino/wino.h"

namespace wino {

/// The outcome of a check: within the plan's documented tolerance, over it, or not comparable
/// (the reference itself holds NaN or Inf, so no error can be measured).
struct CheckVerdict {
  enum class Kind { pass, fail, not_comparable };
  Kind kind = Kind::not_comparable;
  double rel_err = 0;    // NaN when not comparable
  double tolerance = 0;  // error_tolerance(m, r)
  int64_t nonfinite_reference = 0;  // NaN or Inf values of the reference at the checked points
  bool passed() const { return kind == Kind::pass; }
  /// One line for the user: "1.2e-07 (tolerance 2e-06 for F(4,3)): ok", "... FAILED",
  /// "not comparable: the reference holds 12 NaN or Inf values (...)".
  std::string describe(int m, int r) const;
};

class ReferenceCheck {
 public:
  /// Computes the float64 reference of conv(x, w) for `d`, with d's epilogue (`bias` and
  /// `residual` where it has them): all of it when the direct convolution costs fewer than
  /// `full_flops`, otherwise `samples` output points chosen with `seed`.
  ReferenceCheck(const ConvDesc& d, const Tensor& x, const Tensor& w, const Tensor* bias = nullptr,
                 const Tensor* residual = nullptr, double full_flops = 2e9, int samples = 2000,
                 uint64_t seed = 3);

  bool sampled() const { return !index_.empty(); }
  /// Relative L2 error of `y` (N x K x out_h x out_w) over the checked points; NaN if y has a NaN
  /// there.
  double relative_error(const Tensor& y) const;
  /// relative_error() judged against error_tolerance(m, r, dtype, precision) (m = 0: direct).
  CheckVerdict judge(const Tensor& y, int m, int r, Precision precision = Precision::fp32) const;

 private:
  Tensor full_;
  std::vector<int64_t> index_;
  std::vector<double> value_;
  int64_t nonfinite_ = 0;  // NaN or Inf values of the reference at the checked points
  DType dtype_ = DType::f32;  // the tensors' type: f16/bf16 widen the tolerance
};

}  // namespace wino

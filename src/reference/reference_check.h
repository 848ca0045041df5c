// Checking a result against the float64 oracle at a cost that scales: the whole reference output
// for small problems, a fixed-seed sample of output points for large ones.
#pragma once

#include <cstdint>
#include <vector>

#include "common/tensor.h"
#include "wino/wino.h"

namespace wino {

class ReferenceCheck {
 public:
  /// Computes the float64 reference of conv(x, w) for `d`: all of it when the direct convolution
  /// costs fewer than `full_flops`, otherwise `samples` output points chosen with `seed`.
  ReferenceCheck(const ConvDesc& d, const Tensor& x, const Tensor& w, double full_flops = 2e9,
                 int samples = 2000, uint64_t seed = 3);

  bool sampled() const { return !index_.empty(); }
  /// Relative L2 error of `y` (N x K x out_h x out_w) over the checked points; NaN if y has a NaN
  /// there.
  double relative_error(const Tensor& y) const;

 private:
  Tensor full_;
  std::vector<int64_t> index_;
  std::vector<double> value_;
};

}  // namespace wino

#include "reference/reference_check.h"

#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/random.h"
#include "reference/reference.h"
#include "reference/tolerance.h"

namespace wino {

ReferenceCheck::ReferenceCheck(const ConvDesc& d, const Tensor& x, const Tensor& w,
                               const Tensor* bias, const Tensor* residual, double full_flops,
                               int samples, uint64_t seed) {
  dtype_ = d.dtype;
  if ((d.epilogue.bias && !bias) || (d.epilogue.residual && !residual))
    throw Error("reference check: the epilogue of " + d.str() + " needs its bias and residual tensors");
  if (d.direct_flops() < full_flops) {
    full_ = reference_conv2d(x, w, d.pad, d.groups, d.stride, d.dilation);
    apply_reference_epilogue(full_, d.epilogue, bias, residual);
    for (int64_t i = 0; i < full_.numel(); ++i) nonfinite_ += !std::isfinite(full_.get(i));
    return;
  }
  const int64_t oh = d.out_h(), ow = d.out_w(), total = d.n * d.k * oh * ow;
  Rng rng(seed);
  for (int i = 0; i < samples; ++i) {
    const int64_t idx = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(total));
    const int64_t k = (idx / (oh * ow)) % d.k;
    index_.push_back(idx);
    double v = reference_conv2d_at(x, w, d.pad, d.groups, idx / (d.k * oh * ow), k,
                                   (idx / ow) % oh, idx % ow, d.stride, d.dilation);
    if (d.epilogue.bias) v += bias->get(k);
    if (d.epilogue.residual) v += residual->get(idx);
    value_.push_back(reference_activation(d.epilogue.activation, v));
    nonfinite_ += !std::isfinite(value_.back());
  }
}

double ReferenceCheck::relative_error(const Tensor& y) const {
  if (!sampled()) return relative_l2_error(y, full_);
  double diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < index_.size(); ++i) {
    const double v = y.get(index_[i]);
    if (std::isnan(v)) return NAN;
    diff2 += (v - value_[i]) * (v - value_[i]);
    ref2 += value_[i] * value_[i];
  }
  return ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
}

CheckVerdict ReferenceCheck::judge(const Tensor& y, int m, int r, Precision precision) const {
  CheckVerdict v;
  v.tolerance = error_tolerance(m, r, dtype_, precision);
  v.nonfinite_reference = nonfinite_;
  if (nonfinite_ > 0) {
    v.rel_err = NAN;
    return v;
  }
  v.rel_err = relative_error(y);
  v.kind = v.rel_err <= v.tolerance ? CheckVerdict::Kind::pass : CheckVerdict::Kind::fail;  // NaN fails
  return v;
}

std::string CheckVerdict::describe(int m, int r) const {
  if (kind == Kind::not_comparable)
    return "not comparable: the float64 reference holds " + std::to_string(nonfinite_reference) +
           " NaN or Inf values (the input or weights hold NaN or Inf, or products overflow), so no "
           "error can be measured";
  char line[160];
  const std::string f = m == 0 ? "direct" : "F(" + std::to_string(m) + "," + std::to_string(r) + ")";
  std::snprintf(line, sizeof line, "%.3g (tolerance %.0e for %s): %s", rel_err, tolerance, f.c_str(),
                kind == Kind::pass ? "ok" : "FAILED");
  return line;
}

}  // namespace wino

// ConvTester: runs one convolution through wino::compile on a device and compares it with the
// float64 reference, printing the parameters and the worst element when it fails.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/random.h"
#include "reference/reference.h"
#include "wino/wino.h"

namespace wino::testing {

/// Relative L2 tolerance per F(m, r), from measured errors with margin (see docs/accuracy.md).
inline double tolerance(int m, int r) {
  if (m == 0) return 1e-6;  // direct: float32 accumulation over C*R*S terms
  const int alpha = m + r - 1;
  if (alpha <= 4) return 2e-6;
  if (alpha <= 6) return 1e-5;
  if (alpha <= 8) return 5e-5;
  return 5e-4;
}

struct ConvCase {
  int64_t n = 1, c = 1, h = 8, w = 8, k = 1, r = 3;
  Padding pad = Padding::all(1);
  std::string str() const {
    return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
           std::to_string(w) + " k" + std::to_string(k) + " r" + std::to_string(r) + " pad " +
           std::to_string(pad.top) + "," + std::to_string(pad.bottom) + "," +
           std::to_string(pad.left) + "," + std::to_string(pad.right);
  }
};

/// Runs the case; returns the relative L2 error (and fails the test when it is over tolerance).
inline double check_conv(const Device& device, const std::string& plan, int m, const ConvCase& cc,
                         uint64_t seed = 1) {
  ConvDesc d;
  d.n = cc.n, d.c = cc.c, d.h = cc.h, d.w = cc.w, d.k = cc.k, d.r = d.s = cc.r, d.pad = cc.pad;
  Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, seed);
  Tensor w = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, seed + 1000);
  Tensor y(DType::f32, {d.n, d.k, d.out_h(), d.out_w()});
  for (int64_t i = 0; i < y.numel(); ++i) y.f32()[i] = std::nanf("");  // poison: every element must be written
  Options o;
  o.plan = plan;
  o.m = m;
  Conv conv = compile(device, d, o);
  conv.set_weights(w.f32());
  conv.run(x.f32(), y.f32());
  Tensor ref = reference_conv2d(x, w, d.pad);
  double err = relative_l2_error(y, ref);
  double tol = tolerance(plan == "direct" ? 0 : m, static_cast<int>(cc.r));
  if (!(err <= tol)) {
    int64_t worst = 0;
    double worst_diff = -1;
    for (int64_t i = 0; i < y.numel(); ++i) {
      double diff = std::isnan(y.get(i)) ? INFINITY : std::abs(y.get(i) - ref.get(i));
      if (diff > worst_diff) worst_diff = diff, worst = i;
    }
    ADD_FAILURE() << plan << " F(" << m << "," << cc.r << ") on " << cc.str() << ": rel L2 error "
                  << err << " > " << tol << "; worst flat index " << worst << ": got "
                  << y.get(worst) << ", expected " << ref.get(worst);
  }
  return err;
}

}  // namespace wino::testing

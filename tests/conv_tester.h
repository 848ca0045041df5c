// ConvTester: runs one convolution through wino::compile on a device and compares it with the
// float64 reference, printing the parameters and the worst element when it fails.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "api/compile_program.h"
#include "common/random.h"
#include "planner/choose_plan.h"
#include "plans/program.h"
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

/// One (plan, F(m, r)) of the correctness sweep; m = 0 for direct.
struct PlanCase {
  std::string plan;
  int m, r;
};

inline void PrintTo(const PlanCase& p, std::ostream* os) { *os << p.plan << " F(" << p.m << "," << p.r << ")"; }

inline std::string plan_case_name(const ::testing::TestParamInfo<PlanCase>& info) {
  std::string p = info.param.plan;
  for (char& c : p)
    if (c == '-') c = '_';
  return p + "_f" + std::to_string(info.param.m) + "x" + std::to_string(info.param.r);
}

/// Every plan with every F(m, r) of the sweep (direct with r = 3 and 5), in plans::plan_names() order.
inline std::vector<PlanCase> all_plan_cases() {
  std::vector<PlanCase> out = {{"direct", 0, 3}, {"direct", 0, 5}};
  for (const std::string& plan : plans::plan_names()) {
    if (plan == "direct") continue;
    for (auto [m, r] : {std::pair{2, 3}, {4, 3}, {6, 3}, {2, 5}, {4, 5}}) out.push_back({plan, m, r});
  }
  return out;
}

/// Shapes that hit the edges: C=1, C=3, K=1, H and W not multiples of m, H or W smaller than
/// alpha, padding 0, 1, 2 and asymmetric, N=2, a prime-sized image.
inline std::vector<ConvCase> edge_sweep(int r) {
  const int64_t p = r / 2;
  return {
      {1, 1, 8, 8, 1, r, Padding::all(p)},
      {1, 3, 13, 11, 5, r, Padding::all(p)},
      {2, 4, 9, 10, 3, r, Padding::all(0)},
      {1, 2, 3, 4, 2, r, Padding::all(2)},  // smaller than alpha
      {2, 5, 17, 17, 7, r, {0, 2, 1, 0}},   // prime size, asymmetric padding
      {1, 8, 32, 32, 8, r, Padding::all(1)},
  };
}

/// False when the padded input is smaller than the filter (no output).
inline bool has_output(const ConvCase& cc) {
  return cc.h + cc.pad.top + cc.pad.bottom >= cc.r && cc.w + cc.pad.left + cc.pad.right >= cc.r;
}

/// A change made to a plan's program before it is compiled (tests only: a barrier removed).
using ProgramEdit = std::function<void(plans::Program&)>;

/// Runs the case; returns the relative L2 error (and fails the test when it is over tolerance).
/// With `edit`, the planned program is edited, then compiled as compile() would.
inline double check_conv(const Device& device, const std::string& plan, int m, const ConvCase& cc,
                         uint64_t seed = 1, const ProgramEdit& edit = {}) {
  ConvDesc d;
  d.n = cc.n, d.c = cc.c, d.h = cc.h, d.w = cc.w, d.k = cc.k, d.r = d.s = cc.r, d.pad = cc.pad;
  Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, seed);
  Tensor w = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, seed + 1000);
  Tensor y(DType::f32, {d.n, d.k, d.out_h(), d.out_w()});
  for (int64_t i = 0; i < y.numel(); ++i) y.f32()[i] = std::nanf("");  // poison: every element must be written
  Options o;
  o.plan = plan;
  o.m = m;
  Conv conv = edit ? [&] {
    plans::Program prog = plans::build_program(d, planner::choose_plan(d, o, device));
    edit(prog);
    return api::compile_program(device, d, std::move(prog), o);
  }()
                   : compile(device, d, o);
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

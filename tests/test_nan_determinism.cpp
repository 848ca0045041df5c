// NaN and Inf in the input propagate as IEEE arithmetic says (never a crash), and the same plan,
// device and input give bit-identical outputs on repeated runs (docs/errors.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/random.h"
#include "opencl_skip.h"
#include "plans/program.h"
#include "wino/wino.h"

namespace wino {
namespace {

struct PlanCase {
  std::string plan;
  int m;  // 0 for direct
};

std::vector<PlanCase> cases() {
  std::vector<PlanCase> out;
  for (const std::string& plan : plans::plan_names()) {
    if (plan == "direct") out.push_back({plan, 0});
    else for (int m : {2, 4}) out.push_back({plan, m});
  }
  return out;
}

ConvDesc problem() {
  ConvDesc d;
  d.n = 1, d.c = 3, d.h = 13, d.w = 11, d.k = 5, d.r = d.s = 3;
  d.pad = Padding::all(1);
  return d;
}

std::vector<float> run(const ConvDesc& d, const Options& o, const Tensor& x, const Tensor& w,
                       const Device& device = Device::cpu()) {
  Conv conv = compile(device, d, o);
  conv.set_weights(w.f32());
  std::vector<float> y(static_cast<size_t>(d.n * d.k * d.out_h() * d.out_w()));
  conv.run(x.f32(), y.data());
  return y;
}

// One non-finite input value at (channel 1, row 6, column 4) of image 0.
void check_propagation(float special, bool direct_gives_inf) {
  const ConvDesc d = problem();
  Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 11);
  const Tensor w = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, 12);
  const int64_t ih = 6, iw = 4;
  x.f32()[(1 * d.h + ih) * d.w + iw] = special;
  const int64_t OH = d.out_h(), OW = d.out_w();
  for (const PlanCase& pc : cases()) {
    SCOPED_TRACE(pc.plan + " m=" + std::to_string(pc.m));
    const std::vector<float> y = run(d, {.plan = pc.plan, .m = pc.m}, x, w);
    const int64_t m = pc.m ? pc.m : 1, alpha = pc.m ? pc.m + d.r - 1 : d.r;
    for (int64_t k = 0; k < d.k; ++k)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const float v = y[(k * OH + oh) * OW + ow];
          // The value is a term of this output's sum: IEEE gives NaN (or +-Inf: one Inf term).
          const bool in_field = oh - d.pad.top <= ih && ih < oh - d.pad.top + d.r &&
                                ow - d.pad.left <= iw && iw < ow - d.pad.left + d.s;
          // The value is in the input patch of this output's tile (the transforms mix a patch).
          const int64_t top = oh / m * m - d.pad.top, left = ow / m * m - d.pad.left;
          const bool in_patch = top <= ih && ih < top + alpha && left <= iw && iw < left + alpha;
          if (in_field && pc.m == 0 && direct_gives_inf) {
            ASSERT_TRUE(std::isinf(v)) << k << "," << oh << "," << ow << ": " << v;
          } else if (in_field) {
            ASSERT_FALSE(std::isfinite(v)) << k << "," << oh << "," << ow << ": " << v;
          }
          if (!in_patch) {
            ASSERT_TRUE(std::isfinite(v)) << k << "," << oh << "," << ow << ": " << v;
          }
        }
  }
}

TEST(NanInf, NanInTheInputMakesExactlyTheOutputsThatUseItNan) {
  check_propagation(std::numeric_limits<float>::quiet_NaN(), false);
}

TEST(NanInf, InfInTheInputGivesInfOrNanWhereUsedAndLeavesTheRestFinite) {
  check_propagation(std::numeric_limits<float>::infinity(), true);
  check_propagation(-std::numeric_limits<float>::infinity(), true);
}

// Every plan on `device`: the same Conv run again, a fresh compile (and on the CPU one worker
// thread instead of all cores) give the first output bit for bit; another input does not.
void expect_bit_identical_runs(const Device& device) {
  const ConvDesc d = problem();
  const Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 21);
  const Tensor w = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, 22);
  for (const PlanCase& pc : cases()) {
    SCOPED_TRACE(pc.plan + " m=" + std::to_string(pc.m));
    const Options o{.plan = pc.plan, .m = pc.m};
    Conv conv = compile(device, d, o);
    conv.set_weights(w.f32());
    const size_t n = static_cast<size_t>(d.n * d.k * d.out_h() * d.out_w());
    std::vector<float> first(n), again(n, -1.0f);
    conv.run(x.f32(), first.data());
    for (int rep = 0; rep < 3; ++rep) {
      conv.run(x.f32(), again.data());
      ASSERT_EQ(std::memcmp(first.data(), again.data(), n * sizeof(float)), 0) << "run " << rep;
    }
    ASSERT_EQ(std::memcmp(first.data(), run(d, o, x, w, device).data(), n * sizeof(float)), 0);
    if (device.kind == Device::Kind::cpu) {
      const Options one_thread{.plan = pc.plan, .m = pc.m, .threads = 1};
      ASSERT_EQ(std::memcmp(first.data(), run(d, one_thread, x, w).data(), n * sizeof(float)), 0);
    }
    Tensor x2 = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 23);
    ASSERT_NE(std::memcmp(first.data(), run(d, o, x2, w, device).data(), n * sizeof(float)), 0);
  }
}

TEST(Determinism, SamePlanDeviceAndInputGiveBitIdenticalOutputs) {
  expect_bit_identical_runs(Device::cpu());
}

// On OpenCL every output is also summed in a fixed order by one work-item (the work-group
// reductions go through local memory in program order), so runs and fresh builds agree bit for bit.
TEST(Determinism, OpenClRepeatedRunsAndFreshBuildsAreBitIdentical) {
  SKIP_WITHOUT_OPENCL();
  expect_bit_identical_runs(Device::opencl());
}

}  // namespace
}  // namespace wino

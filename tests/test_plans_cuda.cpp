// Every plan x F(m, r) x the edge sweep on the CUDA device, against the float64 reference.
// Skips cleanly where there is no GPU (CI); run on the H100 with scripts/device_check.sh.
#include <gtest/gtest.h>

#include <cstdio>

#include "conv_tester.h"
#include "plans/program.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::testing {
namespace {

TEST(PlansCuda, EveryPlanMatchesReferenceOnEdgeSweep) {
  std::string why;
  if (!cuda::cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "no NVRTC: " << why;
  const std::vector<ConvCase> sweep3 = {
      {1, 1, 8, 8, 1, 3, Padding::all(1)},  {1, 3, 13, 11, 5, 3, Padding::all(1)},
      {2, 4, 9, 10, 3, 3, Padding::all(0)}, {1, 2, 3, 4, 2, 3, Padding::all(2)},
      {2, 5, 17, 17, 7, 3, {0, 2, 1, 0}},   {1, 8, 32, 32, 8, 3, Padding::all(1)},
      {2, 64, 28, 28, 64, 3, Padding::all(1)}};
  for (const std::string& plan : plans::plan_names()) {
    std::vector<std::pair<int, int>> mrs = {{0, 3}};
    if (plan != "direct") mrs = {{2, 3}, {4, 3}, {6, 3}, {2, 5}, {4, 5}};
    for (auto [m, r] : mrs) {
      double worst = 0;
      for (ConvCase cc : sweep3) {
        cc.r = r;
        if (cc.h + cc.pad.top + cc.pad.bottom < r || cc.w + cc.pad.left + cc.pad.right < r) continue;
        worst = std::max(worst, check_conv(Device::cuda(), plan, m, cc));
      }
      std::printf("[ measured ] cuda %s F(%d,%d): worst rel L2 error %.3g\n", plan.c_str(), m, r, worst);
    }
  }
}

}  // namespace
}  // namespace wino::testing

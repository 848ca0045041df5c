// Every plan x F(m, r) x the edge sweep, on the CPU, against the float64 reference.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "conv_tester.h"
#include "plans/program.h"

namespace wino::testing {
namespace {

class PlansCpu : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansCpu, MatchesReferenceOnEdgeSweep) {
  const PlanCase& pm = GetParam();
  std::vector<ConvCase> sweep = edge_sweep(pm.r);
  // naive-fused at alpha = 8 is the seed's blow-up on purpose: the C compiler needs ~1 minute per
  // shape. The default run keeps the three hardest edges; WINO_SLOW_TESTS=1 runs them all.
  const bool slow = std::getenv("WINO_SLOW_TESTS") != nullptr;
  if (pm.plan == "naive-fused" && pm.m + pm.r - 1 >= 8 && !slow) sweep = {sweep[0], sweep[3], sweep[4]};
  double worst = 0;
  for (const ConvCase& cc : sweep) {
    if (!has_output(cc)) continue;
    worst = std::max(worst, check_conv(Device::cpu(), pm.plan, pm.m, cc));
  }
  std::printf("[ measured ] %s F(%d,%d): worst rel L2 error %.3g\n", pm.plan.c_str(), pm.m, pm.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCpu, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

TEST(PlansCpuErrors, ForcedWinogradPlanRejectsGroupsAndAutoFallsBack) {
  ConvDesc d;
  d.n = 1, d.c = 4, d.h = 8, d.w = 8, d.k = 4, d.r = d.s = 3, d.pad = Padding::all(1), d.groups = 2;
  Options forced;
  forced.plan = "unfused";
  EXPECT_THROW(compile(Device::cpu(), d, forced), std::runtime_error);
  Options automatic;
  Conv conv = compile(Device::cpu(), d, automatic);
  EXPECT_EQ(conv.report().plan, "direct");
}

}  // namespace
}  // namespace wino::testing

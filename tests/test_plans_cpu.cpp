// Every plan x F(m, r) on the CPU (kernels built by the system C compiler) against the float64
// reference.
#include <gtest/gtest.h>

#include <cstdio>

#include "conv_tester.h"
#include "plans/program.h"

namespace wino::testing {
namespace {

class PlansCpu : public ::testing::TestWithParam<PlanCase> {};

// The production build (-O3 -march=native) of the main F(m, r) on the seed's layer and on an
// N=2, prime-sized, asymmetrically padded edge: what `restrict` and the vectorizer could break.
TEST_P(PlansCpu, MatchesReferenceOptimized) {
  const PlanCase& pm = GetParam();
  const std::vector<ConvCase> e = edge_sweep(pm.r);
  std::vector<ConvCase> shapes = {e[4], e[5]};
  // naive-fused at alpha 8 (the seed's F(6,3)) takes gcc -O3 about 25 s per shape: one shape.
  if (pm.plan == "naive-fused" && pm.m + pm.r - 1 >= 8) shapes = {e[5]};
  double worst = 0;
  for (const ConvCase& cc : shapes) worst = std::max(worst, check_conv(Device::cpu(), pm.plan, pm.m, cc));
  std::printf("[ measured ] %s F(%d,%d) -O3: worst rel L2 error %.3g\n", pm.plan.c_str(), pm.m, pm.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCpu, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

class PlansCpuEvery : public ::testing::TestWithParam<PlanCase> {};

// Every plan x every F(m, r) with alpha <= 8 through the C compiler, built with quick_compile
// (gcc -O0: 10x faster to build, so the whole sweep fits the default run), on an edge of partial
// tiles and on a shape spanning several K, C and tile blocks. test_plans_interp.cpp runs the
// same cases on every edge shape and with other tiles. The edge carries an epilogue.
TEST_P(PlansCpuEvery, MatchesReference) {
  const PlanCase& pm = GetParam();
  Options o = plan_options(pm.plan, pm.m);
  o.quick_compile = true;
  double worst = 0;
  for (const ConvCase& cc : {with_epilogue(edge_sweep(pm.r)[4], pm), block_sweep(pm.r)[0]})
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::cpu(), o, cc));
  std::printf("[ measured ] %s F(%d,%d) -O0: worst rel L2 error %.3g\n", pm.plan.c_str(), pm.m, pm.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCpuEvery, ::testing::ValuesIn(every_plan_case()), plan_case_name);

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

// Every plan x F(m, r) on OpenCL (PoCL in CI) against the float64 reference, and the proof that
// this path exercises work-group synchronization: the fused kernels with a barrier removed fail
// the same sweep. Skips cleanly where no OpenCL device exists.
#include <gtest/gtest.h>
#include <gtest/gtest-spi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "conv_tester.h"
#include "opencl_skip.h"
#include "runtime/opencl/opencl_device.h"

namespace wino::testing {
namespace {

// The shapes of the barrier tests: an edge with N=2, a prime size and asymmetric padding, and
// more input channels than one staged chunk of the fused plans (C=20: chunks of 8 or 4, the
// last one partial), so that the barriers between chunks matter. Every shape is a new program
// for PoCL to build (about 0.5 s each, 25 s for the naive-fused alpha-8 kernels).
std::vector<ConvCase> opencl_sweep(const PlanCase& pc) {
  const std::vector<ConvCase> e = edge_sweep(pc.r);
  if (pc.plan == "naive-fused" && pc.m + pc.r - 1 >= 8 && !std::getenv("WINO_SLOW_TESTS")) return {e[4]};
  return {e[4], {1, 20, 10, 9, 9, pc.r, Padding::all(pc.r / 2)}};
}

class PlansOpenCl : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansOpenCl, MatchesReferenceOnSweep) {
  SKIP_WITHOUT_OPENCL();
  const PlanCase& pc = GetParam();
  auto t0 = std::chrono::steady_clock::now();
  double worst = 0;
  // One PoCL -O2 build per case; the interpreter sweeps the edges. naive-fused at alpha 8 takes
  // PoCL about 25 s to build (the seed's blow-up): the CPU -O3 sweep runs it.
  if (pc.plan == "naive-fused" && pc.m + pc.r - 1 >= 8 && !std::getenv("WINO_SLOW_TESTS"))
    GTEST_SKIP() << "naive-fused alpha 8 on PoCL: set WINO_SLOW_TESTS=1";
  for (const ConvCase& cc : {with_epilogue(compiled_edge(pc.r), pc)})
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::opencl(), pc.plan, pc.m, cc));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ measured ] opencl %s F(%d,%d): worst rel L2 error %.3g in %.1f s\n",
              pc.plan.c_str(), pc.m, pc.r, worst, s);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansOpenCl, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

class PlansOpenClEvery : public ::testing::TestWithParam<PlanCase> {};

// Every plan at every alpha <= 8 (odd alpha and m = 1 included; one F(m, r) per alpha) on one
// shape that spans several K, C and tile blocks with partial ones (N = 2, odd sizes): one PoCL
// build each, unoptimized, with one of the epilogues.
// test_plans_interp.cpp runs the same cases on every edge shape and with other tiles.
TEST_P(PlansOpenClEvery, MatchesReference) {
  SKIP_WITHOUT_OPENCL();
  const PlanCase& pc = GetParam();
  // naive-fused past alpha 6 is the seed's blow-up on purpose: PoCL takes 30-80 s to build one
  // such kernel even unoptimized. The CPU and interpreter sweeps run these cases in the default
  // run; WINO_SLOW_TESTS=1 runs them here too.
  if (pc.plan == "naive-fused" && pc.m + pc.r - 1 >= 7 && !std::getenv("WINO_SLOW_TESTS"))
    GTEST_SKIP() << "naive-fused alpha >= 7 on PoCL: set WINO_SLOW_TESTS=1";
  const ConvCase cc = with_variant(block_sweep(pc.r)[0], pc);
  Options o = plan_options(pc.plan, pc.m);
  o.quick_compile = true;  // -cl-opt-disable: 3x faster PoCL builds (the other sweep builds optimized)
  const double err = check_conv(Device::opencl(), o, cc);
  std::printf("[ measured ] opencl %s F(%d,%d) on %s: rel L2 error %.3g\n", pc.plan.c_str(), pc.m, pc.r,
              cc.str().c_str(), err);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansOpenClEvery, ::testing::ValuesIn(every_alpha_case()), plan_case_name);

int count_barriers(const plans::Program& prog) { return remove_barrier(prog.kernels.front()->body, -2); }

// Runs the OpenCL sweep of a plan with barrier `which` of its first kernel removed; returns the
// failures the checker reported (one per shape over tolerance), intercepted so they do not fail
// this test.
int sweep_failures_without_barrier(const std::string& plan, int m, int r, int which) {
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    for (const ConvCase& cc : opencl_sweep({plan, m, r}))
      check_conv(Device::opencl(), plan, m, cc, 1, [&](plans::Program& prog) {
        const int before = count_barriers(prog);
        remove_barrier(prog.kernels.front()->body, which);
        EXPECT_EQ(count_barriers(prog), before - 1) << "barrier " << which << " was not there";
      });
  }
  int n = 0;
  for (int i = 0; i < failures.size(); ++i) {
    const ::testing::TestPartResult& f = failures.GetTestPartResult(i);
    if (std::string(f.message()).find("rel L2 error") == std::string::npos)
      ADD_FAILURE() << "unexpected failure: " << f.message();  // not a wrong result
    else
      ++n;
  }
  return n;
}

// Barrier 2 of the fused kernel separates writing a slice of the accumulators to local memory
// from the output transform that reads other work-items' ones. PoCL runs the work-items of a
// barrier-free region one after another, so without it a work-item reads local memory its
// neighbours have not written yet: every shape fails. Whether PoCL exposes the other barriers'
// removal depends on its version and the machine's vector width (docs/opencl.md); the
// interpreter's InterpBarriers.RemovingAnyBarrierIsARace proves every barrier on any machine.
TEST(OpenClBarriers, FusedSweepFailsWithoutTheExchangeBarrier) {
  SKIP_WITHOUT_OPENCL();
  const int shapes = static_cast<int>(opencl_sweep({"fused", 6, 3}).size());
  EXPECT_EQ(sweep_failures_without_barrier("fused", 6, 3, 2), shapes);
}

TEST(OpenClBarriers, FusedKernelHasTheFourBarriersTheCommentsName) {
  ConvDesc d;
  d.c = 20, d.h = d.w = 10, d.k = 9;
  Options o;
  o.plan = "fused";
  o.m = 4;
  EXPECT_EQ(count_barriers(
                lower::lower(d, planner::choose_plan(d, o, Device::opencl()), render::Dialect::opencl).program),
            4);
}

}  // namespace
}  // namespace wino::testing

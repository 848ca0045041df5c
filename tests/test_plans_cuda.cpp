// Every plan x every F(m, r) with alpha <= 8 on the CUDA device against the float64 reference:
// the edges and shapes spanning several K, C and tile blocks; other GEMM tiles at every alpha. Skips cleanly
// where there is no GPU (CI). One NVRTC build per case and shape: scripts/device_check.sh runs
// the cases in parallel processes (gtest shards) on the GPU machine's cores.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/error.h"
#include "conv_tester.h"
#include "plans/program.h"
#include "cuda_skip.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::testing {
namespace {

/// Edges (smaller than alpha with padding 2; N=2, prime-sized, asymmetric padding) and a shape
/// spanning several K, C and tile blocks (naive-fused has no blocks to span). Each shape is an
/// NVRTC build; the interpreter sweep runs every edge shape.
std::vector<ConvCase> cuda_shapes(const PlanCase& pc) {
  const std::vector<ConvCase> e = edge_sweep(pc.r);
  std::vector<ConvCase> shapes = {e[3], with_variant(e[4], pc)};
  if (pc.plan != "naive-fused") shapes.push_back(block_sweep(pc.r)[0]);
  return shapes;
}

class PlansCuda : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansCuda, MatchesReferenceOnEdgeAndBlockSweeps) {
  SKIP_WITHOUT_CUDA();
  const PlanCase& pc = GetParam();
  double worst = 0;
  for (const ConvCase& cc : cuda_shapes(pc))
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::cuda(), pc.plan, pc.m, cc));
  std::printf("[ measured ] cuda %s F(%d,%d): worst rel L2 error %.3g\n", pc.plan.c_str(), pc.m, pc.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCuda, ::testing::ValuesIn(every_plan_case()), plan_case_name);

// Other GEMM tiles at every alpha (one F(m, r) each): how a plan uses its tiles depends on alpha,
// not on m and r apart, and at every F(m, r) this test was 45% of the GPU sweep's compile time;
// the interpreter runs it at every F(m, r).
class PlansCudaTiles : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansCudaTiles, MatchesReferenceWithOtherTiles) {
  SKIP_WITHOUT_CUDA();
  const PlanCase& pc = GetParam();
  int ran = 0, refused = 0;
  for (const auto& tiles : tile_variants(pc.plan)) {
    for (const ConvCase& cc : {block_sweep(pc.r)[0]}) {
      if (!has_output(cc)) continue;
      try {
        check_conv(Device::cuda(), plan_options(pc.plan, pc.m, tiles), cc);
        ++ran;
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("plan " + pc.plan + ": ", 0), 0u) << e.what();
        ++refused;
      }
    }
  }
  std::printf("[ measured ] cuda %s F(%d,%d): %d runs with other tiles, %d refused\n", pc.plan.c_str(), pc.m,
              pc.r, ran, refused);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCudaTiles, ::testing::ValuesIn(every_alpha_case()), plan_case_name);

// Channels-last (NHWC) tensors: a prime-sized N = 2 edge with an epilogue and a half type, and a
// shape spanning several blocks.
class PlansCudaNhwc : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansCudaNhwc, MatchesReference) {
  SKIP_WITHOUT_CUDA();
  const PlanCase& pc = GetParam();
  double worst = 0;
  for (ConvCase cc : {with_variant(edge_sweep(pc.r)[4], pc), block_sweep(pc.r)[0]}) {
    cc.layout = Layout::nhwc;
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::cuda(), pc.plan, pc.m, cc));
  }
  std::printf("[ measured ] cuda nhwc %s F(%d,%d): worst rel L2 error %.3g\n", pc.plan.c_str(), pc.m, pc.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCudaNhwc, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

// The main F(m, r) on a layer of real size (several blocks of every kind at once).
class PlansCudaLarge : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansCudaLarge, MatchesReferenceOnALargeLayer) {
  SKIP_WITHOUT_CUDA();
  const PlanCase& pc = GetParam();
  const double err = check_conv(Device::cuda(), pc.plan, pc.m, {2, 64, 28, 28, 64, pc.r, Padding::all(pc.r / 2)});
  std::printf("[ measured ] cuda %s F(%d,%d) on 2x64x28x28 k64: rel L2 error %.3g\n", pc.plan.c_str(), pc.m,
              pc.r, err);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCudaLarge, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

}  // namespace
}  // namespace wino::testing

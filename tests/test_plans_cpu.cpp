// Every plan x F(m, r) on the CPU (kernels built by the system C compiler) against the float64
// reference.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "common/error.h"
#include "conv_tester.h"
#include "lower/lower.h"
#include "planner/device_caps.h"
#include "planner/tile_choice.h"
#include "plans/program.h"

namespace wino::testing {
namespace {

class PlansCpu : public ::testing::TestWithParam<PlanCase> {};

// The production build (-O3 -march=native) of the main F(m, r) on one edge with partial tiles,
// channel chunks and blocks, and an epilogue: what `restrict` and the vectorizer could break.
// Each shape is a gcc -O3 run of several seconds, so one shape: the interpreter sweeps the rest.
TEST_P(PlansCpu, MatchesReferenceOptimized) {
  const PlanCase& pm = GetParam();
  // naive-fused at alpha 8 is the seed's blow-up: gcc -O3 takes 35 s on it (a third of this
  // sweep). The -O0 sweep below and the interpreter still run it on every change.
  if (pm.plan == "naive-fused" && pm.m + pm.r - 1 >= 8 && !std::getenv("WINO_SLOW_TESTS"))
    GTEST_SKIP() << "naive-fused alpha 8 at -O3: set WINO_SLOW_TESTS=1";
  const ConvCase cc = with_epilogue(compiled_edge(pm.r), pm);
  const double err = check_conv(Device::cpu(), pm.plan, pm.m, cc);
  std::printf("[ measured ] %s F(%d,%d) -O3 on %s: rel L2 error %.3g\n", pm.plan.c_str(), pm.m, pm.r,
              cc.str().c_str(), err);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCpu, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

class PlansCpuEvery : public ::testing::TestWithParam<PlanCase> {};

// Every plan x every F(m, r) with alpha <= 8 through the C compiler, built with quick_compile
// (gcc -O0: 10x faster to build, so the whole sweep fits the default run), on one shape with
// partial tiles, channel chunks and K blocks, and one of the epilogues; every other case in NHWC.
// test_plans_interp.cpp runs the same cases on every edge shape and with other tiles.
TEST_P(PlansCpuEvery, MatchesReference) {
  const PlanCase& pm = GetParam();
  Options o = plan_options(pm.plan, pm.m);
  o.quick_compile = true;
  double worst = 0;
  ConvCase edge = with_variant(compiled_edge(pm.r), pm);
  if ((pm.m + pm.r) % 2) edge.layout = Layout::nhwc;
  for (const ConvCase& cc : {edge})
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::cpu(), o, cc));
  std::printf("[ measured ] %s F(%d,%d) -O0 %s: worst rel L2 error %.3g\n", pm.plan.c_str(), pm.m, pm.r,
              layout_name(edge.layout), worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansCpuEvery, ::testing::ValuesIn(every_plan_case()), plan_case_name);

// The CPU-shaped GEMM of plan unfused with blocks other than its default (odd rows of tiles, one
// to three vectors of output channels, partial K blocks), and blocks it cannot hold refused by name.
TEST(PlansCpuGemm, OtherBlocksMatchReferenceOrAreRefused) {
  const int lanes = planner::caps_for_device(Device::cpu()).vector_lanes;
  ASSERT_GT(lanes, 0);
  for (const std::array<int, 5>& tiles : {std::array<int, 5>{lanes, 5, 0, 0, 0}, {3 * lanes, 3, 0, 0, 0},
                                          {2 * lanes, 1, 0, 0, 0}}) {
    Options o = plan_options("unfused", 4, tiles);
    o.quick_compile = true;
    const double err = check_conv(Device::cpu(), o, compiled_edge(3));
    std::printf("[ measured ] cpu gemm blocks %d x %d: rel L2 error %.3g\n", tiles[0], tiles[1], err);
  }
  // K a whole number of vectors but not of blocks: the last block's second vector is all padding.
  for (const char* plan : {"unfused", "fused"}) {
    ConvCase cc = compiled_edge(3);
    cc.k = 3 * lanes;
    const double err = check_conv(Device::cpu(), plan_options(plan, 4, {2 * lanes, 3, 0, 0, 0}), cc);
    std::printf("[ measured ] cpu %s K = %lld in blocks of %d: rel L2 error %.3g\n", plan,
                static_cast<long long>(cc.k), 2 * lanes, err);
  }
  for (const std::array<int, 5>& tiles : {std::array<int, 5>{lanes + 1, 8, 0, 0, 0}, {4 * lanes, 10, 0, 0, 0}}) {
    try {
      check_conv(Device::cpu(), plan_options("unfused", 4, tiles), compiled_edge(3));
      ADD_FAILURE() << "blocks " << tiles[0] << " x " << tiles[1] << " ran";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CPU GEMM tiles"), std::string::npos) << e.what();
    }
  }
}

// The GEMM by rows of points (--tiles' sixth value alpha on a CPU: U's values made from the weights as
// it goes, with_integer_filter_rows' transforms): odd and even alpha, r = 2, 3, 5, partial tiles and
// a partial last block of tiles, K past a whole number of vectors, C = 1, both layouts, an
// epilogue, f16 and bf16 tensors, against float64; then -O3 on the benchmark's F(4,3) block of 4
// tiles.
TEST(PlansCpuGemm, RowsOfPointsMatchReference) {
  for (auto [m, r] : {std::pair{2, 3}, {3, 3}, {4, 3}, {6, 3}, {2, 5}, {3, 2}})
    for (ConvCase cc : {compiled_edge(r), ConvCase{1, 1, 9, 7, 3, r, Padding::all(r / 2)}}) {
      Options o = plan_options("unfused", m);
      o.points_per_thread = m + r - 1;
      o.quick_compile = true;
      if (m % 2) cc.layout = Layout::nhwc, cc.epilogue = {true, true, Activation::relu};
      const double err = check_conv(Device::cpu(), o, cc);
      std::printf("[ measured ] cpu gemm rows F(%d,%d) -O0 on %s: rel L2 error %.3g\n", m, r, cc.str().c_str(), err);
    }
  // f16 and bf16 tensors (transforms and sums in float32), batch 2 and several blocks of tiles.
  for (DType dtype : {DType::f16, DType::bf16}) {
    Options o = plan_options("unfused", 4);
    o.points_per_thread = 6;
    o.quick_compile = true;
    ConvCase cc = compiled_edge(3);
    cc.dtype = dtype;
    const double err = check_conv(Device::cpu(), o, cc);
    std::printf("[ measured ] cpu gemm rows F(4,3) -O0 on %s: rel L2 error %.3g\n", cc.str().c_str(), err);
  }
  Options o = plan_options("unfused", 4, {0, 4, 0, 0, 0});
  o.points_per_thread = 6;
  const ConvCase cc{1, 64, 7, 7, 48, 3, Padding::all(1)};
  const double err = check_conv(Device::cpu(), o, cc);
  std::printf("[ measured ] cpu gemm rows F(4,3) -O3 on %s: rel L2 error %.3g\n", cc.str().c_str(), err);
}

// Rows of points are for the CPU unfused plan, alpha points at a time, one vector of output
// channels and the accumulators a core holds: anything else is refused by name.
TEST(PlansCpuGemm, RowsOfPointsOutsideTheirLimitsAreRefused) {
  const int lanes = planner::caps_for_device(Device::cpu()).vector_lanes;
  struct Refused {
    std::string plan;
    std::array<int, 5> tiles;
    int points;
    std::string says;
  };
  for (const Refused& c : {Refused{"unfused", {}, 3, "give alpha = 6"}, Refused{"fused", {}, 6, "leave out"},
                           Refused{"unfused", {2 * lanes, 0, 0, 0, 0}, 6, "one vector of"},
                           Refused{"unfused", {0, 6, 0, 0, 0}, 6, "at most 5 tiles"}}) {
    Options o = plan_options(c.plan, 4, c.tiles);
    o.points_per_thread = c.points;
    try {
      check_conv(Device::cpu(), o, compiled_edge(3));
      ADD_FAILURE() << c.plan << " with " << c.points << " points per thread ran";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

// The micro-kernel keeps U's vectors in registers (WINO_PIN) when they fit beside the accumulators
// and a broadcast in AVX2's 16 vector registers: 4 x 3 accumulators + 3 + 1 fit, 3 x 4 + 4 + 1 do not.
TEST(PlansCpuGemm, UVectorsStayInRegistersWhereTheyFit) {
  ConvDesc d;
  d.c = 16, d.h = d.w = 12, d.k = 32, d.pad = Padding::all(1);
  for (auto [bk, bp, pinned] : {std::tuple{24, 4, true}, {32, 3, false}}) {
    plans::PlanOptions p;
    p.plan = "unfused";
    p.vector_lanes = 8;
    p.block_k = bk, p.block_tiles = bp;
    const std::string src = lower::lower(d, planner::resolve_plan(d, p), render::Dialect::c).source;
    EXPECT_EQ(src.find("WINO_PIN32(u") != std::string::npos, pinned) << bk << " x " << bp;
  }
}

// Where a core issues two vector loads per FMA (Zen 4's AVX-512) the block choice counts padding
// first: resnet50.c3 at F(6,3) has 25 tiles, which 13 x 2 vectors pad to 26 and 5 x 2 do not.
TEST(PlansCpuGemm, TwoLoadsPerFmaChooseBlocksWithoutPadding) {
  ConvDesc d;
  d.c = 128, d.h = d.w = 28, d.k = 128, d.pad = Padding::all(1);
  for (auto [loads, bp] : {std::pair{1, 13}, {2, 5}}) {
    plans::PlanOptions p;
    p.plan = "unfused";
    p.m = 6;
    p.vector_lanes = 16;
    p.loads_per_fma = loads;
    const plans::GemmTiles g = *planner::resolve_plan(d, p).gemm;
    EXPECT_EQ(g.bp, bp) << loads << " loads per FMA: " << g.str();
    EXPECT_EQ(g.bk, 32) << g.str();
  }
}

// The CPU fused plan carries groups of tiles through all three stages: several groups with a
// partial last one, output channels past a whole number of vectors, an epilogue, both layouts
// (NHWC with whole vectors of channels read in place, without the pad kernel), at -O3, against
// float64.
TEST(PlansCpuFused, GroupsOfTilesWithATailMatchReference) {
  for (auto [layout, c] : {std::pair{Layout::nchw, 19}, {Layout::nhwc, 19}, {Layout::nhwc, 32}})
    for (int m : {2, 4}) {
      ConvCase cc{3, c, 17, 25, 37, 3, Padding::all(1), {true, true, Activation::relu}};
      cc.layout = layout;
      ConvDesc d;
      d.n = cc.n, d.c = cc.c, d.h = cc.h, d.w = cc.w, d.k = cc.k, d.pad = cc.pad, d.layout = layout;
      Options o = plan_options("fused", m);
      o.threads = 1;  // groups as large as L2 allows (more threads may resize them to share out evenly)
      const Report rep = explain(d, o, "cpu");
      const bool in_place = layout == Layout::nhwc && c % 16 == 0;
      const KernelReport& pipeline = rep.kernels.at(in_place ? 0 : 1);  // after the pad, if any
      ASSERT_NE(pipeline.name.find("_pipeline_"), std::string::npos) << pipeline.name;
      const int64_t group = std::stoll(pipeline.name.substr(pipeline.name.rfind("_g") + 2));
      const int64_t tiles = cc.n * ((cc.h + m - 1) / m) * ((cc.w + m - 1) / m);
      EXPECT_GT(pipeline.groups, 1);
      EXPECT_NE(tiles % group, 0) << "the last group should be partial: " << tiles << " tiles, groups of " << group;
      const double err = check_conv(Device::cpu(), o, cc);
      std::printf("[ measured ] cpu fused F(%d,3) %s C=%d, groups of %lld tiles: rel L2 error %.3g\n", m,
                  layout_name(layout), c, static_cast<long long>(group), err);
    }
}

// Plan `plan` at F(m, 3) (direct: m = 0) on the CPU, built quickly, against float64; prints the error.
void check_quick(const char* plan, int m, const ConvCase& cc) {
  Options o = plan_options(plan, m);
  o.quick_compile = true;
  const double err = check_conv(Device::cpu(), o, cc);
  const std::string what = m ? std::string(plan) + " F(" + std::to_string(m) + ",3)" : std::string(plan);
  std::printf("[ measured ] cpu %s %s: rel L2 error %.3g\n", what.c_str(), cc.str().c_str(), err);
}

// NHWC with whole vectors of output channels and no activation stores each pixel's channels as
// one vector (cpu_store_channels), with a vector of biases: one and two vectors of K, partial
// tiles at the right and bottom edges, bias and residual, each CPU plan, against float64.
TEST(PlansCpuNhwc, VectorStoresOfWholeChannelVectorsMatchReference) {
  const int lanes = planner::caps_for_device(Device::cpu()).vector_lanes;
  ASSERT_GT(lanes, 0);
  for (const int64_t k : {int64_t{lanes}, int64_t{2 * lanes}})
    for (const auto& [plan, m] : {std::pair{"unfused", 4}, {"unfused", 6}, {"fused", 4}, {"fused", 3}, {"direct", 0}}) {
      ConvCase cc{2, 24, 13, 11, k, 3, Padding::all(1), {true, true, Activation::none}};
      cc.layout = Layout::nhwc;
      check_quick(plan, m, cc);
    }
}

// The CPU plans at narrower vectors than the host's (narrower_lanes: channels that would leave
// lanes empty): the seed's C = K = 8 and C = 5, K = 3, with partial tiles, batch 2 and an
// epilogue, in both layouts, against float64; the kernels' names carry the width taken.
TEST(PlansCpuNarrow, NarrowerVectorsMatchReference) {
  const int lanes = planner::caps_for_device(Device::cpu()).vector_lanes;
  for (const auto& [c, k] : {std::pair<int64_t, int64_t>{8, 8}, {5, 3}})
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (const auto& [plan, m] : {std::pair{"fused", 4}, {"unfused", 6}, {"direct", 0}}) {
        ConvCase cc{2, c, 13, 11, k, 3, Padding::all(1), {true, true, Activation::relu}};
        cc.layout = layout;
        Options o = plan_options(plan, m);
        o.quick_compile = true;
        const std::string name = explain(desc_of(cc), o, "cpu").kernels.front().name;
        if (lanes == 16) {
          EXPECT_EQ(name.find("_v16"), std::string::npos) << name;
        }
        const double err = check_conv(Device::cpu(), o, cc);
        std::printf("[ measured ] cpu %s %s (%s, host lanes %d): rel L2 error %.3g\n", plan, cc.str().c_str(),
                    name.c_str(), lanes, err);
      }
}

// The fused plan's groups and blocks chosen for 2 and 3 threads (shared out evenly, or a block
// whose busiest thread has the least work: cpu_fused_tiles) compute the same convolution, at
// odd alpha too.
TEST(PlansCpuFused, BlocksSharedOutBetweenThreadsMatchReference) {
  for (int threads : {2, 3})
    for (int m : {3, 4, 6}) {
      ConvCase cc{1, 24, 28, 28, 20, 3, Padding::all(1), {true, false, Activation::none}};
      Options o = plan_options("fused", m);
      o.threads = threads;
      const double err = check_conv(Device::cpu(), o, cc);
      std::printf("[ measured ] cpu fused F(%d,3) on %d threads: rel L2 error %.3g\n", m, threads, err);
    }
}

// The transposed NCHW copy into xp and the row-by-row vector stores of the output, on the shapes
// where their blocks end: rows narrower than 4 pixels (element by element), of 4, 5, 8, 9 and 37
// pixels (vector blocks, the last overlapping), channels past whole blocks, C = 1, and C a whole
// number of narrow blocks but not of vectors (C = 4 on 5-pixel rows, 8 on 9: the padding channels
// load nothing past x), padding 0 to 2 (uneven), output rows ending inside the last tile (lane by
// lane there), K past a vector, batch 2, bias and residual (vector stores) and relu (lane by lane),
// F(2,3), F(4,3), F(6,3).
TEST(PlansCpuNchw, TransposedPadAndRowStoresMatchReference) {
  struct Shape {
    int64_t c, h, w, k;
    Padding pad;
    Epilogue epilogue;
  };
  const std::vector<Shape> shapes = {
      {19, 6, 3, 5, Padding::all(1), {}},                            // 3 pixels a row
      {1, 7, 4, 17, Padding::all(0), {true, false, Activation::none}},
      {16, 5, 5, 16, {2, 1, 0, 2}, {false, true, Activation::none}},  // 5 pixels: blocks of 4
      {33, 9, 8, 3, Padding::all(2), {}},
      {4, 6, 5, 7, Padding::all(1), {}},
      {8, 5, 9, 9, Padding::all(1), {true, false, Activation::none}},
      {19, 11, 37, 21, Padding::all(1), {true, true, Activation::relu}},
  };
  for (const Shape& sh : shapes)
    for (int m : {2, 4, 6})
      for (const char* plan : {"unfused", "fused"}) {
        ConvCase cc{2, sh.c, sh.h, sh.w, sh.k, 3, sh.pad, sh.epilogue};
        check_quick(plan, m, cc);
      }
}

// A layer so wide that one block of tiles' V and M would not fit the thread's stack: plan fused
// on a CPU says so and what to use; auto takes another plan.
TEST(PlansCpuFused, GroupsTooLargeForTheStackAreRefusedByName) {
  ConvDesc d;
  d.c = 1536, d.h = d.w = 56, d.k = 16, d.pad = Padding::all(1);
  try {
    explain(d, plan_options("fused", 6), "cpu");
    ADD_FAILURE() << "a group of several MiB was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("on the thread's stack, over 2048 KiB: use plan unfused"), std::string::npos)
        << e.what();
  }
  const Report rep = explain(d, plan_options("auto", 6), "cpu");
  EXPECT_NE(rep.plan, "fused");
}

// The CPU direct plan on the shapes Winograd does not serve: a first layer (C = 3, 7x7, stride 2),
// 1x1 with and without stride, dilation, odd padding, output rows and channels past whole blocks,
// batch > 1, an epilogue, both layouts; groups fall back to the scalar kernel.
TEST(PlansCpuDirect, StridesDilationsAndEdgesMatchReference) {
  std::vector<ConvCase> cases = {
      {1, 3, 23, 19, 37, 7, Padding::all(3)},                                    // a first layer
      {2, 20, 9, 11, 33, 1, Padding::all(0), {true, true, Activation::relu}},    // 1x1, epilogue
      {1, 24, 10, 13, 16, 1, Padding::all(0)},                                   // 1x1 downsample
      {2, 5, 12, 10, 19, 3, {0, 2, 1, 0}, {true, false, Activation::silu}},     // dilated
      {1, 8, 11, 11, 12, 3, Padding::all(1)},                                    // grouped
  };
  cases[0].stride = 2, cases[2].stride = 2, cases[3].dilation = 2, cases[4].stride = 2, cases[4].groups = 4;
  for (ConvCase cc : cases)
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      cc.layout = layout;
      ConvDesc d;
      d.n = cc.n, d.c = cc.c, d.h = cc.h, d.w = cc.w, d.k = cc.k, d.r = d.s = cc.r, d.pad = cc.pad, d.layout = layout;
      d.stride = cc.stride, d.dilation = cc.dilation, d.groups = cc.groups;
      const std::string name = explain(d, plan_options("direct", 0), "cpu").kernels.at(0).name;
      EXPECT_EQ(name.find("_v") != std::string::npos, cc.groups == 1) << name;  // groups: the scalar kernel
      const double err = check_conv(Device::cpu(), plan_options("direct", 0), cc);
      std::printf("[ measured ] cpu direct %s (%s): rel L2 error %.3g\n", cc.str().c_str(), name.c_str(), err);
    }
}

// y itself fits the 32-bit offsets (2^30 elements), but the lanes past K = 1 of even the
// narrowest vector (4 channels, narrower_lanes) would address 2^32: refused by name rather than
// computing a wrapped offset.
TEST(PlansCpuErrors, OffsetsOfMaskedLanesPastTheIndexRangeAreRefused) {
  ConvDesc d;
  d.h = d.w = 32768, d.c = 1, d.k = 1, d.r = d.s = 1;
  try {
    explain(d, plan_options("direct", 0), "cpu");
    ADD_FAILURE() << "planned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the 32-bit index range"), std::string::npos) << e.what();
  }
}

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

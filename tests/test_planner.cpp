// The planner of plan "auto": every candidate with the reason it was not taken, the accuracy and
// register budgets as constraints, the cost model's ranking, and tune mode's measurements.
#include <algorithm>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "api/compile_program.h"
#include "cli_runner.h"
#include "scoped_env.h"
#include "square_layer.h"
#include "planner/choose_plan.h"
#include "planner/device_caps.h"
#include "planner/tile_choice.h"
#include "runtime/cuda/nvrtc.h"
#include "plans/plan_common.h"
#include "plans/program.h"
#include "wino/wino.h"

namespace wino {
namespace {

// Exactly one candidate is chosen, it comes first and is the report's plan; every other one says
// why it was not.
void expect_one_choice(const Report& rep) {
  ASSERT_FALSE(rep.candidates.empty());
  EXPECT_TRUE(rep.candidates.front().chosen);
  EXPECT_EQ(rep.candidates.front().plan, rep.plan);
  EXPECT_EQ(rep.candidates.front().m, rep.m);
  for (size_t i = 1; i < rep.candidates.size(); ++i) {
    EXPECT_FALSE(rep.candidates[i].chosen);
    EXPECT_FALSE(rep.candidates[i].rejected.empty()) << rep.candidates[i].plan << " m=" << rep.candidates[i].m;
  }
}

// The peaks the GPU benchmark measures its GEMMs against: the H200's datasheet (67 TFLOP/s fp32;
// about 495 tf32 and 990 fp16 dense, at a lower tensor clock than the 1.98 GHz used here).
TEST(Planner, NvidiaPeaksMatchTheDatasheet) {
  EXPECT_NEAR(planner::nvidia_peak_gflops(9, 132, Precision::fp32), 66.9e3, 0.1e3);
  EXPECT_NEAR(planner::nvidia_peak_gflops(9, 132, Precision::tf32), 535e3, 1e3);
  EXPECT_NEAR(planner::nvidia_peak_gflops(9, 132, Precision::tf32x3) * 3, planner::nvidia_peak_gflops(9, 132, Precision::tf32), 1);
  EXPECT_EQ(planner::nvidia_peak_gflops(9, 132, Precision::fp16), 2 * planner::nvidia_peak_gflops(9, 132, Precision::tf32));
  EXPECT_EQ(planner::nvidia_peak_gflops(8, 108, Precision::tf32), 108 * 1.41 * 1024);  // A100: 156 TFLOP/s
  EXPECT_EQ(planner::nvidia_peak_gflops(7, 80, Precision::tf32), 0);                   // no tf32 before sm_80
}

TEST(Planner, AutoConsidersEveryPlanAndSaysWhyNot) {
  const Report rep = explain(layer(8, 256, 56, 256), {}, "sm_90");
  expect_one_choice(rep);
  EXPECT_GE(rep.candidates.size(), 20u);  // direct + 3 m x (4 plans + unfused tile shapes)
  for (const char* plan : {"direct", "unfused", "fused-input", "fused-output", "fused"})
    EXPECT_TRUE(std::any_of(rep.candidates.begin(), rep.candidates.end(),
                            [&](const PlanCandidate& c) { return c.plan == plan; }))
        << plan;
  EXPECT_NE(rep.plan, "direct");  // Winograd's FLOPs win on a large 3x3 layer
  EXPECT_GT(rep.candidates.front().predicted_us, 0);
  EXPECT_NE(rep.planned_for.find("255 regs/thread"), std::string::npos) << rep.planned_for;
}

TEST(Planner, MaxRelErrBoundsTheTileSize) {
  EXPECT_LT(planner::fp32_error_bound(6, 3), 1e-5);  // docs/accuracy.md: 4.64e-6
  EXPECT_GT(planner::fp32_error_bound(8, 3), 1e-5);  // 3.3e-5
  Options strict;
  strict.max_rel_err = 1e-6;  // only F(2,3) (8.1e-7) and direct remain
  const Report rep = explain(layer(8, 256, 56, 256), strict, "sm_90");
  expect_one_choice(rep);
  EXPECT_LE(rep.m, 2);
  int rejected_for_error = 0;
  for (const PlanCandidate& c : rep.candidates)
    if (c.rejected.find("float32 error bound") != std::string::npos) {
      EXPECT_GE(c.m, 4);
      ++rejected_for_error;
    }
  EXPECT_GT(rejected_for_error, 0);
}

TEST(Planner, AppleBudgetKeepsEveryChoiceWithin128Registers) {
  for (const ConvDesc& d : {layer(1, 8, 32, 8), layer(8, 256, 56, 256)}) {
    const Report rep = explain(d, {}, "metal");
    expect_one_choice(rep);
    EXPECT_LE(rep.candidates.front().pred_regs, 128);
    for (const PlanCandidate& c : rep.candidates)
      if (c.pred_regs > 128) {
        EXPECT_NE(c.rejected.find("registers > 128 per thread"), std::string::npos) << c.rejected;
      }
  }
}

TEST(Planner, OnlyDirectWhereWinogradDoesNotApply) {
  ConvDesc d = layer(1, 8, 32, 8);
  d.stride = 2;
  const Report rep = explain(d, {}, "cpu");
  ASSERT_EQ(rep.candidates.size(), 1u);
  EXPECT_EQ(rep.plan, "direct");
}

TEST(Planner, AGivenPlanIsKept) {
  Options o;
  o.plan = "fused";
  o.m = 2;
  const Report rep = explain(layer(1, 8, 32, 8), o, "cpu");
  EXPECT_EQ(rep.plan, "fused");
  EXPECT_TRUE(rep.candidates.empty());
}

TEST(Planner, TuneMeasuresTheBestFewAndKeepsTheFastest) {
  testing::TempDir dir;  // tune mode stores its pick: not in the user's cache
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  Options o;
  o.tune = true;
  o.tune_top = 3;
  Conv conv = compile(Device::interpreter(), layer(1, 3, 10, 4), o);
  const Report rep = conv.report();
  expect_one_choice(rep);
  const PlanCandidate& pick = rep.candidates.front();
  ASSERT_GE(pick.measured_us, 0);
  int measured = 0;
  for (const PlanCandidate& c : rep.candidates)
    if (c.measured_us >= 0) {
      ++measured;
      // A CPU's times within 3% are a tie, which goes to the candidate that moves fewer bytes
      // (choose_plan.cpp: kTuneTie): the pick may then be the slower by that much.
      const bool tie = c.rejected.find("a tie when measured") != std::string::npos;
      EXPECT_LE(pick.measured_us, (tie ? 1.03 : 1.0) * c.measured_us) << c.rejected;
      if (!c.chosen) {
        EXPECT_TRUE(tie || c.rejected.find("slower when measured") != std::string::npos) << c.rejected;
      }
    }
  EXPECT_GE(measured, 2);
  EXPECT_LE(measured, 3);
}

TEST(Planner, ExplainPrintsTheCandidateTable) {
  const auto r = testing::run_wino({"explain", "--shape", "1,8,32,32", "--k", "8", "--pad", "1", "--target", "metal"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(testing::contains(r.out, "planner: ")) << r.out;
  EXPECT_TRUE(testing::contains(r.out, "chosen")) << r.out;
  const auto j = testing::run_wino({"explain", "--shape", "1,8,32,32", "--k", "8", "--pad", "1", "--json"});
  EXPECT_TRUE(testing::contains(j.out, "\"candidates\"")) << j.out;
}

// Each candidate in explain's JSON names its GEMM's precision (scripts/planner_replay.py matches
// them to a sweep's measurements by it).
TEST(Planner, ExplainJsonNamesEachCandidatesPrecision) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available (explain builds the pick for sm_90): " << why;
  const auto tf32 = testing::run_wino({"explain", "--shape", "2,32,16,16", "--k", "32", "--pad", "1", "--target",
                                       "sm_90", "--precision", "tf32", "--json"});
  EXPECT_EQ(tf32.status, 0) << tf32.err;
  EXPECT_TRUE(testing::contains(tf32.out, "\"precision\": \"tf32\"")) << tf32.out.substr(0, 2000);
  EXPECT_TRUE(testing::contains(tf32.out, "\"precision\": \"fp32\"")) << tf32.out.substr(0, 2000);
}

TEST(Planner, RunTunePrintsTheMeasuredCandidates) {
  testing::TempDir dir;
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  const auto r = testing::run_wino({"run", "--shape", "1,3,10,10", "--k", "4", "--pad", "1", "--device", "interp",
                                    "--tune", "--check"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(testing::contains(r.out, "slower when measured")) << r.out;
  const auto bad = testing::run_wino({"run", "--shape", "1,3,10,10", "--k", "4", "--max-rel-err", "-1"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(testing::contains(bad.err, "--max-rel-err takes a number in (0, 1]")) << bad.err;
}

}  // namespace
}  // namespace wino

namespace wino {
namespace {

// Every candidate is told apart by plan, m, tiles and precision (the pick is found by them): the
// CPU-shaped GEMM and the GPU core with the same block overrides too.
TEST(Planner, CandidatesAreDistinctWithTileOverrides) {
  Options o;
  o.block_k = 8, o.block_tiles = 32;
  const Report rep = explain(layer(1, 16, 12, 16), o, "cpu");
  std::set<std::tuple<std::string, int, std::string, Precision>> seen;
  for (const PlanCandidate& c : rep.candidates)
    EXPECT_TRUE(seen.insert({c.plan, c.m, c.tiles, c.precision}).second) << c.plan << " m=" << c.m << " t" << c.tiles;
  EXPECT_TRUE(std::any_of(rep.candidates.begin(), rep.candidates.end(),
                          [](const PlanCandidate& c) { return c.tiles.rfind("8,32,0,0,0,v", 0) == 0; }));
}

}  // namespace
}  // namespace wino

namespace wino::planner {
namespace {

// The CPU-shaped plans block for the machine's caches: caps read L1d and L2 from the machine, and
// the fused plan's groups of tiles follow L2 (half of it for V and M).
TEST(PlannerCpu, BlockingFollowsTheMachinesCacheSizes) {
  const DeviceCaps caps = caps_for_target("cpu");
  EXPECT_GE(caps.l1_bytes, 8 << 10);
  EXPECT_LE(caps.l1_bytes, 4 << 20);
  EXPECT_GE(caps.l2_bytes, caps.l1_bytes);
  EXPECT_NE(caps.budget_text().find("L1d " + std::to_string(caps.l1_bytes / 1024) + " KiB"), std::string::npos)
      << caps.budget_text();
  ConvDesc d;
  d.c = d.k = 256, d.h = d.w = 56, d.pad = Padding::all(1);
  plans::PlanOptions p;
  p.plan = "fused", p.m = 4, p.vector_lanes = 16;
  int64_t previous = 0;
  for (int64_t l2 : {int64_t{256} << 10, int64_t{1} << 20, int64_t{8} << 20}) {
    p.l2_bytes = l2;
    const int64_t group = resolve_plan(d, p).gemm->group_tiles;
    const int64_t bp = resolve_plan(d, p).gemm->bp;
    EXPECT_GE(group, previous) << "L2 " << l2;
    // V and M of a group within half of L2, unless one block alone is more.
    const int64_t bytes = group * 36 * (256 + 256) * 4;
    if (group > bp) {
      EXPECT_LE(bytes, l2 / 2) << "L2 " << l2;
    }
    previous = group;
  }
  p.l2_bytes = int64_t{256} << 10;
  const int64_t small = resolve_plan(d, p).gemm->group_tiles;
  p.l2_bytes = int64_t{8} << 20;
  EXPECT_GT(resolve_plan(d, p).gemm->group_tiles, small);
}

// The CPU GEMM blocks the planner picks keep U's vectors in registers (AVX2: 16 vector registers,
// AVX-512: 32): ResNet-50's c2 and c3 at F(4,3) on AVX2 took bk 32 x bp 3 (12 accumulators, 4 U
// vectors and a broadcast: 17), whose GEMM ran 1.3-1.6x slower than 16 x 6's.
TEST(PlannerCpu, GemmBlocksKeepUInRegisters) {
  for (int lanes : {8, 16})
    for (const auto& [c, hw] : std::vector<std::pair<int64_t, int64_t>>{{64, 56}, {128, 28}, {256, 14}, {512, 7}, {3, 224}})
      for (int m : {2, 4, 6})
        for (const char* plan : {"unfused", "fused"}) {
          ConvDesc d;
          d.c = d.k = c, d.h = d.w = hw, d.pad = Padding::all(1);
          plans::PlanOptions p;
          p.plan = plan, p.m = m, p.vector_lanes = lanes;
          const plans::GemmTiles g = *resolve_plan(d, p).gemm;
          EXPECT_TRUE(g.cpu_u_in_registers()) << plan << " C " << c << " F(" << m << ",3) lanes " << lanes << ": "
                                              << g.str();
        }
}

// A 2-core CPU like the benchmark's (Zen 4), whatever the host: its vector width, rates and caches.
DeviceCaps two_core_caps(int lanes) {
  DeviceCaps caps = caps_for_target("cpu");
  caps.cores = 2;
  caps.vector_lanes = lanes;
  caps.vector_gflops = caps.cores * lanes * 7.0;
  caps.bandwidth_gbs = 40.0 * caps.cores;
  caps.vector_loads_per_fma = lanes >= 16 ? 2 : 1;
  caps.l1_bytes = 32 * 1024;
  caps.l2_bytes = int64_t{1} << 20;
  return caps;
}

// The CPU cost model charges a kernel's buffers once each at memory's rate: a GEMM's repeated
// reads of U hit the caches. Charged per load, unfused F(6,3) on resnet50.c3 looked byte-bound
// and ranked below F(4,3), so tune never measured it (Zen 4, 2 cores: 285-289 us against 300-334).
TEST(PlannerCpu, GemmRereadsAreNotChargedAtMemorysRate) {
  const ConvDesc d = layer(1, 128, 28, 128);
  for (int lanes : {8, 16}) {
    DeviceCaps caps = two_core_caps(lanes);
    const Choice c = plan_convolution(d, Options{}, caps);
    double m4 = -1, m6 = -1;
    for (const PlanCandidate& x : c.candidates) {
      if (x.plan != "unfused" || x.tiles != "v" + std::to_string(lanes)) continue;
      EXPECT_EQ(x.bound, "FLOPs") << "F(" << x.m << ",3) lanes " << lanes;
      if (x.m == 4) m4 = x.predicted_us;
      if (x.m == 6) m6 = x.predicted_us;
    }
    ASSERT_GT(m4, 0);
    ASSERT_GT(m6, 0);
    EXPECT_LT(m6, m4) << "lanes " << lanes;
  }
}

// The CPU GEMM by rows of points reads the weights (9.4 MB on resnet50.c5) where the stored-U GEMM
// reads U (37.7 MB at F(4,3)): the model charges each its buffers once, so on resnet50.c5 (4
// tiles) the rows come first, within tune's three candidates, and on resnet50.c3 (25 tiles at
// F(6,3)), where both are bound by FLOPs and the rows add G's additions, the stored U does.
TEST(PlannerCpu, RowsOfPointsWinWhereUWouldStreamFromMemory) {
  const DeviceCaps caps = two_core_caps(16);
  Options o;
  o.threads = 2;
  for (const auto& [d, m, rows_first] : {std::tuple{layer(1, 512, 7, 512), 4, true}, {layer(1, 128, 28, 128), 6, false}}) {
    const Choice c = plan_convolution(d, o, caps);
    const PlanCandidate *rows = nullptr, *stored = nullptr;
    size_t rows_rank = 0;
    for (size_t i = 0; i < c.candidates.size(); ++i) {
      const PlanCandidate& x = c.candidates[i];
      if (x.plan != "unfused" || x.m != m) continue;
      if (x.tiles == "v16") stored = &x;
      if (x.tiles == "0,0,0,0,0," + std::to_string(m + 2) + ",v16") rows = &x, rows_rank = i;
    }
    ASSERT_TRUE(rows && stored) << "m = " << m;
    EXPECT_EQ(rows->predicted_us < stored->predicted_us, rows_first)
        << "m = " << m << ": rows " << rows->predicted_us << " us, " << rows->predicted_mb << " MB; stored U "
        << stored->predicted_us << " us, " << stored->predicted_mb << " MB";
    if (rows_first) {
      EXPECT_LT(rows->predicted_mb, 0.5 * stored->predicted_mb);
      EXPECT_LT(rows_rank, 3u);
    }
  }
}

// The CPU fused plan's groups are a multiple of the threads where halving the groups' size at
// most allows it, so that every thread gets as many (resnet50.c2 on 2 threads: F(4,3) 7 groups of
// 28 tiles -> 10 of 20, pipeline 347-349 -> 313-333 us; F(6,3) 7 of 15 -> 10 of 10); on one
// thread they keep the largest size L2 allows.
TEST(PlannerCpu, FusedGroupsShareOutEvenlyBetweenThreads) {
  const ConvDesc d = layer(1, 64, 56, 64);
  auto group_tiles = [&](int m, int threads, int loads_per_fma) {
    plans::PlanOptions p;
    p.plan = "fused", p.m = m, p.vector_lanes = 16, p.l2_bytes = int64_t{1} << 20;
    p.loads_per_fma = loads_per_fma, p.cpu_threads = threads;
    return resolve_plan(d, p).gemm->group_tiles;
  };
  // Zen 4 (two loads per FMA): blocks of 4 tiles at F(4,3) (49 blocks), 5 at F(6,3) (20 blocks).
  EXPECT_EQ(group_tiles(4, 1, 2), 28);
  EXPECT_EQ(group_tiles(4, 2, 2), 20);  // 10 groups
  EXPECT_EQ(group_tiles(6, 1, 2), 15);
  EXPECT_EQ(group_tiles(6, 2, 2), 10);  // 10 groups
  // Blocks of 6 tiles at F(4,3) (33 blocks): 9, 11 and 17 groups of 4, 3 and 2 blocks; none
  // divides among 2 threads, so the groups keep their largest size.
  EXPECT_EQ(group_tiles(4, 2, 1), group_tiles(4, 1, 1));
}

// Where no group size splits the fused plan's blocks evenly, the block changes: resnet50.c3 at
// F(6,3) (25 tiles) took blocks of 5 (5 groups: 15 tiles for one thread, 10 for the other,
// pipeline 321-322 us) and takes blocks of 13 on 2 threads (one group each, 283-290 us); on one
// thread it keeps the unfused plan's block.
TEST(PlannerCpu, FusedBlocksGiveEveryThreadAnEvenShare) {
  for (const auto& [c, hw] : std::vector<std::pair<int64_t, int64_t>>{{128, 28}, {256, 14}, {512, 7}, {64, 56}})
    for (int m : {4, 6}) {
      const ConvDesc d = layer(1, c, hw, c);
      const plans::Tiling t = plans::make_tiling(d, m);
      plans::PlanOptions p;
      p.plan = "fused", p.m = m, p.vector_lanes = 16, p.l2_bytes = int64_t{1} << 20, p.loads_per_fma = 2;
      plans::PlanOptions unfused = p;
      unfused.plan = "unfused";
      const plans::GemmTiles u = *resolve_plan(d, unfused).gemm, one = *resolve_plan(d, p).gemm;
      EXPECT_EQ(one.bp, u.bp) << "C " << c << " F(" << m << ",3)";
      p.cpu_threads = 2;
      const plans::GemmTiles g = *resolve_plan(d, p).gemm;
      const int64_t blocks = (t.tiles + g.bp - 1) / g.bp, per_group = g.group_tiles / g.bp;
      const int64_t groups = (blocks + per_group - 1) / per_group;
      const int64_t first = groups / 2 * per_group;  // cpu_launch: the first thread's groups, then the rest's
      const int64_t busiest = std::max(first, blocks - first) * g.bp;
      EXPECT_LE(static_cast<double>(busiest), 1.1 * static_cast<double>(blocks * g.bp) / 2 + 1e-9)
          << "C " << c << " F(" << m << ",3): " << g.str();
    }
}

// The CPU cost model charges the fused pipeline U once per group where U outgrows L2 (each group
// walks all of it): resnet50.c5 at F(4,3), U 37.7 MB, 2 groups on 2 threads, measured 1485-1560
// us against unfused F(4,3)'s 521-527, which reads U once.
TEST(PlannerCpu, FusedGroupsReadALargeUEachTime) {
  const ConvDesc d = layer(1, 512, 7, 512);
  const DeviceCaps caps = two_core_caps(16);
  Options o;
  o.threads = 2;
  const Choice c = plan_convolution(d, o, caps);
  double fused = -1, unfused = -1;
  for (const PlanCandidate& x : c.candidates) {
    if (x.m != 4 || x.tiles != "v16") continue;
    if (x.plan == "fused") fused = x.predicted_mb;
    if (x.plan == "unfused") unfused = x.predicted_mb;
  }
  const double u_mb = 36.0 * 512 * 512 * 4 / 1e6;
  ASSERT_GT(unfused, u_mb);
  EXPECT_LT(unfused, 1.2 * u_mb);
  EXPECT_GT(fused, 1.9 * u_mb);
  EXPECT_NE(c.plan.plan, "fused");
}

// The cost model's CPU fused plan: a group of tiles whose V and M outgrow L2 runs its GEMM from
// L3 at 0.42 of the vector rate (vgg16.3_2 at batch 1: F(6,3)'s groups take 1.7 MiB and measured
// 12 ms against F(4,3)'s 5.2 ms on a 1 MiB L2), so auto takes F(4,3) there, and F(6,3) when L2
// holds it.
TEST(PlannerCpu, FusedGroupsPastL2AreChargedTheirSlowerGemm) {
  ConvDesc d;
  d.c = d.k = 256, d.h = d.w = 56, d.pad = Padding::all(1);
  DeviceCaps caps = caps_for_target("cpu");
  caps.vector_lanes = 16;
  auto fused6 = [&](const Choice& c) {
    for (const PlanCandidate& x : c.candidates)
      if (x.plan == "fused" && x.m == 6) return x.predicted_us;
    return -1.0;
  };
  caps.l2_bytes = int64_t{1} << 20;
  const Choice small = plan_convolution(d, Options{}, caps);
  caps.l2_bytes = int64_t{64} << 20;
  const Choice large = plan_convolution(d, Options{}, caps);
  ASSERT_GT(fused6(small), 0);
  EXPECT_GT(fused6(small), 2 * fused6(large));
  EXPECT_FALSE(small.plan.plan == "fused" && small.plan.m == 6);
}

// Where the channels leave lanes of the host's vectors empty, the CPU-shaped plans are candidates
// at each narrower width that wastes fewer (the seed's C = K = 8: 8 lanes of AVX-512's 16, not 4,
// which pads no less); a plan asked for by name takes the width the model predicts fastest, which
// on a core that issues 512-bit FMAs as two halves (Zen 4) is the narrower one at the same rate.
// Layers whose channels fill whole vectors keep the host's width.
TEST(PlannerCpu, NarrowerVectorsWhereChannelsWouldLeaveLanesEmpty) {
  const DeviceCaps caps = two_core_caps(16);
  auto widths = [&](const ConvDesc& d) {
    std::set<std::string> out;
    for (const PlanCandidate& x : plan_convolution(d, Options{}, caps).candidates)
      if (x.plan == "fused" && x.m == 4) out.insert(x.tiles);
    return out;
  };
  const ConvDesc seed = layer(1, 8, 32, 8);
  EXPECT_EQ(widths(seed), (std::set<std::string>{"v16", "v8"}));
  EXPECT_EQ(widths(layer(1, 64, 56, 64)), (std::set<std::string>{"v16"}));
  EXPECT_EQ(widths(layer(1, 5, 16, 3)), (std::set<std::string>{"v16", "v8", "v4"}));
  Options named;
  named.plan = "fused";
  named.m = 4;
  EXPECT_EQ(plan_convolution(seed, named, caps).plan.vector_lanes, 8);
  EXPECT_EQ(plan_convolution(layer(1, 64, 56, 64), named, caps).plan.vector_lanes, 16);
  // Where narrower vectors run at a proportionally lower rate (Intel's AVX-512), 8 lanes still do
  // a quarter of the padded work at half the rate.
  DeviceCaps intel = caps;
  intel.vector_loads_per_fma = 1;
  EXPECT_EQ(plan_convolution(seed, named, intel).plan.vector_lanes, 8);
}

// The candidates include an odd m where its tiles cut the output more evenly than every even m
// (fewer GEMM points): F(5,3) on 14 x 14 (3 x 3 tiles, 441 points against 576), not on 28 x 28
// (F(5,3) ties F(4,3)) nor 56 x 56 or 7 x 7; on a CPU and on a GPU alike.
TEST(Planner, OddMWhereItsTilesCutTheOutputMoreEvenly) {
  auto ms = [](int64_t hw, const DeviceCaps& caps) {
    ConvDesc d;
    d.c = d.k = 64, d.h = d.w = hw, d.pad = Padding::all(1);
    std::set<int> out;
    for (const PlanCandidate& x : plan_convolution(d, Options{}, caps).candidates)
      if (x.m) out.insert(x.m);
    return out;
  };
  DeviceCaps cpu = caps_for_target("cpu");
  cpu.vector_lanes = 16;
  EXPECT_EQ(ms(14, cpu), (std::set<int>{2, 4, 5, 6}));
  for (int64_t hw : {7, 28, 56}) EXPECT_EQ(ms(hw, cpu), (std::set<int>{2, 4, 6})) << hw;
  EXPECT_EQ(ms(14, caps_for_target("sm_90")), (std::set<int>{2, 4, 5, 6}));
  EXPECT_EQ(ms(28, caps_for_target("sm_90")), (std::set<int>{2, 4, 6}));
}

// Tune mode measuring the model's best `top` candidates.
Options tune_options(int top) {
  Options o;
  o.tune = true;
  o.tune_top = top;
  return o;
}

// A name for a candidate a fake Measure is given.
std::string candidate_key(const plans::PlanOptions& p) {
  return p.plan + std::to_string(p.m) + "," + std::to_string(p.block_k) + "," + std::to_string(p.vector_lanes);
}

// Tune mode on a shared machine: a candidate measured in a slow burst twice still wins when a
// later turn is fast (the close contenders get three more rounds, each keeping its fastest time).
TEST(PlannerTune, CloseContendersGetThreeMoreRounds) {
  const ConvDesc d = layer(1, 32, 16, 32);
  const Options o = tune_options(2);
  std::map<std::string, int> calls;
  std::vector<std::string> order;
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    const std::string key = candidate_key(p);
    if (!calls.count(key)) order.push_back(key);
    const int n = calls[key]++;
    if (key == order.front()) return n < 2 ? 200.0 - n * 10 : 100.0;  // slow twice, then its real speed
    return 150.0;
  };
  const Choice c = plan_convolution(d, o, caps_for_target("cpu"), measure);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(calls[order[0]], 4);
  EXPECT_EQ(calls[order[1]], 4);
  EXPECT_DOUBLE_EQ(c.candidates.front().measured_us, 100.0);
}

// A slow phase that begins during the first turns: the first candidate got a fast first turn, the
// second a slow one, and every later turn is slow. The rounds alone decide, in the same phase:
// the second wins. A candidate past twice the best first turn takes no rounds.
TEST(PlannerTune, ThePhaseOfTheFirstTurnsDoesNotDecide) {
  const ConvDesc d = layer(1, 32, 16, 32);
  const Options o = tune_options(3);
  std::map<std::string, int> calls;
  std::vector<std::string> order;
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    const std::string key = candidate_key(p);
    if (!calls.count(key)) order.push_back(key);
    const bool fast_phase = order.size() == 1 && calls[key] == 0;  // only the very first turn
    ++calls[key];
    if (key == order[0]) return fast_phase ? 100.0 : 190.0;  // fast 100, slow 190
    if (key == order[1]) return 170.0;                       // fast 90, slow 170
    return 900.0;                                            // far behind either way
  };
  const Choice c = plan_convolution(d, o, caps_for_target("cpu"), measure);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(calls[order[0]], 4);
  EXPECT_EQ(calls[order[1]], 4);
  EXPECT_EQ(calls[order[2]], 1);
  EXPECT_DOUBLE_EQ(c.candidates.front().measured_us, 170.0);
  EXPECT_DOUBLE_EQ(c.candidates[1].measured_us, 190.0);
}

// The rounds' times rank the contenders above the candidates outside them, whose first turns may
// come from a faster phase: here every turn after the first three is more than 2x slower.
TEST(PlannerTune, ContendersRankAboveTheOthersFirstTurns) {
  const ConvDesc d = layer(1, 32, 16, 32);
  const Options o = tune_options(3);
  std::vector<std::string> order;
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    const std::string key = candidate_key(p);
    const bool first = std::find(order.begin(), order.end(), key) == order.end();
    if (first) order.push_back(key);
    const size_t i = std::find(order.begin(), order.end(), key) - order.begin();
    if (first) return i == 0 ? 100.0 : i == 1 ? 110.0 : 201.0;  // the third is past 2x: no rounds
    return i == 0 ? 250.0 : 240.0;
  };
  const Choice c = plan_convolution(d, o, caps_for_target("cpu"), measure);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_DOUBLE_EQ(c.candidates[0].measured_us, 240.0);
  EXPECT_DOUBLE_EQ(c.candidates[1].measured_us, 250.0);
  EXPECT_DOUBLE_EQ(c.candidates[2].measured_us, 201.0);
  EXPECT_NE(c.candidates[2].rejected.find("measured once (201.0 us)"), std::string::npos) << c.candidates[2].rejected;
}

// Tune mode: measured times within 3% are a tie, which goes to the candidate the model charges
// the fewest bytes of memory traffic (it slows down least when other work shares the memory);
// beyond 3% the fastest wins.
TEST(PlannerTune, TiesGoToTheCandidateThatMovesFewerBytes) {
  const ConvDesc d = layer(1, 64, 56, 64);
  const Options o = tune_options(2);
  for (bool first_fast : {true, false})  // either of the two measured candidates the faster
    for (double second : {102.0, 110.0}) {
      std::vector<std::string> order;
      const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
        const std::string key = p.plan + std::to_string(p.m);
        if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
        return (key == order.front()) == first_fast ? 100.0 : second;
      };
      const Choice c = plan_convolution(d, o, caps_for_target("cpu"), measure);
      ASSERT_EQ(order.size(), 2u);
      const PlanCandidate *fast = nullptr, *slow = nullptr;
      for (const PlanCandidate& x : c.candidates)
        if (x.measured_us == 100.0) fast = &x;
        else if (x.measured_us == second) slow = &x;
      ASSERT_TRUE(fast && slow);
      ASSERT_NE(fast->predicted_mb, slow->predicted_mb);
      const bool tie = second <= 103.0;
      const PlanCandidate* want = tie && slow->predicted_mb < fast->predicted_mb ? slow : fast;
      EXPECT_TRUE(want->chosen) << "second at " << second << ": " << fast->plan << " m=" << fast->m << " "
                                << fast->predicted_mb << " MB, " << slow->plan << " m=" << slow->m << " "
                                << slow->predicted_mb << " MB";
    }
}

// A tie does not go to fewer bytes bought with much more arithmetic: on resnet50.c5 fused F(2,3)
// moves fewer bytes than unfused F(4,3) but does 1.8x its FLOPs, and measured level with it only
// in a slow phase of the machine. (Unfused F(4,3) by rows of points, measured slower here, is a
// third candidate the model ranks near them.)
TEST(PlannerTune, TiesDoNotGoToFewerBytesWithMuchMoreArithmetic) {
  const ConvDesc d = layer(1, 512, 7, 512);
  const Options o = tune_options(3);
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    const bool rows = p.points_per_thread > 1;
    return p.plan == "unfused" && p.m == 4 && !rows ? 100.0 : p.plan == "fused" && p.m == 2 ? 101.0 : 500.0;
  };
  const Choice c = plan_convolution(d, o, two_core_caps(16), measure);
  const PlanCandidate *f4 = nullptr, *f2 = nullptr;
  for (const PlanCandidate& x : c.candidates) {
    if (x.plan == "unfused" && x.m == 4 && x.measured_us == 100.0) f4 = &x;
    if (x.plan == "fused" && x.m == 2 && x.measured_us == 101.0) f2 = &x;
  }
  ASSERT_TRUE(f4 && f2) << "tune should have measured both";
  ASSERT_LT(f2->predicted_mb, f4->predicted_mb);  // else the tie rule would not apply anyway
  EXPECT_GT(f2->predicted_mflop, 1.25 * f4->predicted_mflop);
  EXPECT_TRUE(f4->chosen);
}

// Tune mode asked for tf32: the tensor-core GEMM gets its own first turns. The model ranks the fp32
// GEMM's tile shapes of unfused F(6,3) level with tf32's on resnet50.c2.b32 (both bound by bytes),
// and tune measured only the fp32 ones, 1.35x slower on the H200 (122.7 us against 90.6).
TEST(PlannerTune, TensorCoreCandidatesAreMeasuredBesidesFp32Ones) {
  ConvDesc d;
  d.n = 32, d.c = d.k = 64, d.h = d.w = 56, d.pad = Padding::all(1);
  Options o;
  o.tune = true;
  o.precision = Precision::tf32;
  std::vector<std::pair<Precision, int>> measured;
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    measured.emplace_back(p.precision, p.m);
    return 100.0;
  };
  plan_convolution(d, o, caps_for_target("sm_90"), measure);
  for (int m : {4, 6})
    EXPECT_NE(std::find(measured.begin(), measured.end(), std::pair{Precision::tf32, m}), measured.end())
        << measured.size() << " candidates measured, none of them unfused F(" << m << ",3) in tf32";
}

// Tune mode times each candidate as the planner built it. It used to compile the candidate again
// through Options, which carry no precision: asked for 3xtf32 on the H200, each fp32 candidate was
// timed as a 3xtf32 GEMM, and tune picked fp32 unfused F(6,3) on vgg16.1_2.b8 at 383.7 us where
// its 3xtf32 ran in 296.5.
TEST(PlannerTune, EachCandidateIsCompiledAsPlanned) {
  ConvDesc d;
  d.n = 1, d.c = 16, d.k = 24, d.h = d.w = 10, d.pad = Padding::all(1);
  Options o;
  o.tune = true;
  o.tune_top = 100;
  o.precision = Precision::tf32;
  std::set<Precision> seen;
  const Measure measure = [&](const plans::PlanOptions& p, std::string*) {
    const Report rep = api::compile_candidate(Device::interpreter(), d, o, p).report();
    EXPECT_EQ(rep.plan, p.plan);
    if (p.plan != "direct") {
      EXPECT_EQ(rep.m, p.m);
    }
    EXPECT_EQ(rep.precision, p.precision) << p.plan << " m=" << p.m << " compiled in " << precision_name(rep.precision)
                                          << ", planned in " << precision_name(p.precision);
    seen.insert(p.precision);
    return 100.0;
  };
  plan_convolution(d, o, caps_for_device(Device::interpreter()), measure);
  EXPECT_EQ(seen, (std::set<Precision>{Precision::fp32, Precision::tf32}));
}

}  // namespace
}  // namespace wino::planner

namespace wino::planner {
namespace {

// A candidate's tiles string, set in Options by apply_candidate_tiles, runs that candidate by name
// (what wino_cudnn_bench does with each): for every candidate plan auto weighs on an H100 in fp32 and
// fp16 (register tiles, points per thread, the fused ring's "runs" and "colsN"), the plan so named
// describes itself with the same string. Other text is refused by name.
TEST(Planner, CandidateTilesRunTheCandidateByName) {
  ConvDesc d = layer(8, 128, 112, 128);
  d.layout = Layout::nhwc, d.dtype = DType::f16;
  const DeviceCaps caps = caps_for_target("sm_90:h100");
  int checked = 0, blocks = 0;
  for (const Precision p : {Precision::fp32, Precision::fp16}) {
    Options o;
    o.precision = p;
    for (const PlanCandidate& pc : plan_convolution(d, o, caps).candidates) {
      Options named;
      named.plan = pc.plan, named.m = pc.m, named.precision = pc.precision;
      apply_candidate_tiles(pc.tiles, named);
      EXPECT_EQ(describe_plan(plan_convolution(d, named, caps).plan).tiles, pc.tiles) << pc.plan << " F(" << pc.m << ")";
      ++checked;
      blocks += pc.tiles.find("cols") != std::string::npos || pc.tiles.find("runs") != std::string::npos;
    }
  }
  EXPECT_GT(checked, 10);
  EXPECT_GT(blocks, 0) << "no candidate named the fused ring's tiles";
  for (const std::string bad : {"128,x,8,8,16", "1,2,3", "cols", "v16", "128,128,8,8,16,4,2"}) {
    Options o;
    try {
      apply_candidate_tiles(bad, o);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("candidate tiles '" + bad + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace wino::planner

namespace wino::planner {
namespace {

// The fp16 GEMM's warps of 128 x 32 on chunks of 32 channels ran 1.06-1.11x faster than those of
// 64 x 64 on chunks of 16 on vgg16.3_2.b8 and vgg16.4_2.b8 (H100, session 52): the model weighs each
// chunk's barrier (cost_model.cpp, kMmaBarrierUs), so plan auto takes them there. With V by bulk
// copies (session 53) they are the default where K has two blocks or more, three work-groups a
// multiprocessor (tile_choice.cpp: mma_point_tiles, use_three_groups): the model had ranked 64 x
// 128 blocks of 2 warps ahead on 512 channels, whose GEMM measured 1.12-1.17x slower there.
// (Plan auto takes the tensor-core fused ring on vgg16.3_2.b8 since session 59: the GEMM's tiles
// are asked of plan unfused there.)
TEST(Planner, HalfGemmTakesChunksOf32WhereBarriersCost) {
  for (int64_t c : {256, 512}) {
    ConvDesc d = layer(8, c, 56 * 256 / c, c);
    d.layout = Layout::nhwc, d.dtype = DType::f16;
    Options o;
    o.precision = Precision::fp16;
    o.plan = "unfused";
    const Choice choice = plan_convolution(d, o, caps_for_target("sm_90:h100"));
    ASSERT_TRUE(choice.plan.gemm) << c;
    const plans::GemmTiles& g = *choice.plan.gemm;
    EXPECT_TRUE(g.bk == 128 && g.bp == 128 && g.rk == 16 && g.rp == 8 && g.cc == 32) << c << " " << g.str();
    EXPECT_TRUE(g.bulk_v && g.groups_per_core == 3) << g.str();
  }
}

// Three work-groups of the unfused half GEMM a multiprocessor only where K has two blocks of 128 or
// more (vgg16.2_2.b8, K 128: 0.88-0.90x at three), where ptxas fits them (16 x 8 tiles on chunks of
// 32) and where the device's memory is known; the kernel then asks CUDA for them.
TEST(Planner, HalfGemmAsksForThreeWorkGroupsWhereKHasTwoBlocks) {
  for (const auto& [k, tiles, three] : std::vector<std::tuple<int64_t, std::array<int, 5>, bool>>{
           {256, {128, 128, 16, 8, 32}, true}, {128, {128, 128, 16, 8, 32}, false}, {256, {128, 128, 8, 16, 16}, false}}) {
    ConvDesc d = layer(8, k, 28, k);
    d.layout = Layout::nhwc, d.dtype = DType::f16;
    Options o;
    o.plan = "unfused", o.m = 2, o.precision = Precision::fp16;
    o.block_k = tiles[0], o.block_tiles = tiles[1], o.reg_k = tiles[2], o.reg_tiles = tiles[3], o.chunk_c = tiles[4];
    const Choice choice = plan_convolution(d, o, caps_for_target("sm_90:h100"));
    ASSERT_TRUE(choice.plan.gemm);
    EXPECT_EQ(choice.plan.gemm->groups_per_core == 3, three) << k << " " << choice.plan.gemm->str();
    int gemms = 0;
    for (const auto& kernel : plans::build_program(d, choice.plan).kernels)
      if (kernel->name.find("_gemm_") != std::string::npos) {
        ++gemms;
        EXPECT_EQ(kernel->min_groups_per_multiprocessor, three ? 3 : 1) << kernel->name;
      }
    EXPECT_EQ(gemms, 1);
  }
  ConvDesc d = layer(8, 256, 28, 256);  // a device whose memory is unknown: no bound
  d.layout = Layout::nhwc, d.dtype = DType::f16;
  plans::PlanOptions p;
  p.plan = "unfused", p.m = 2, p.precision = Precision::fp16, p.async_copies = p.bulk_copies = true;
  p.block_k = 128, p.block_tiles = 128, p.reg_k = 16, p.reg_tiles = 8, p.chunk_c = 32;
  const plans::GemmTiles g = *resolve_plan(d, p).gemm;
  ASSERT_TRUE(g.bulk_v) << g.str();
  EXPECT_EQ(g.groups_per_core, 0);
}

// The three work-groups' bound (168 registers a thread at 128 threads) leaves the unfused half
// GEMM's 16 x 8 tiles on chunks of 32 no spill: ptxas (sm_90) took 166 registers in session 53,
// and the planner never rejects a kernel under a bound for its prediction (cost_model.cpp,
// spill_limit), so a spill would go unseen but here.
TEST(PlansNvrtc, ThreeGroupHalfGemmDoesNotSpill) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (const DType type : {DType::f16, DType::bf16})
    for (int64_t k : {256, 512}) {
      ConvDesc d = layer(8, k, 28, k);
      d.layout = Layout::nhwc, d.dtype = type;
      Options o;
      o.plan = "unfused", o.m = 2, o.precision = type == DType::f16 ? Precision::fp16 : Precision::bf16;
      o.block_k = 128, o.block_tiles = 128, o.reg_k = 16, o.reg_tiles = 8, o.chunk_c = 32;
      int gemms = 0;
      for (const KernelReport& kr : explain(d, o, "sm_90:h100").kernels) {
        if (kr.name.find("_gemm_") == std::string::npos) continue;
        ++gemms;
        EXPECT_NE(kr.name.find("_vb_"), std::string::npos) << kr.name;
        EXPECT_GT(kr.regs, 0) << kr.name;
        EXPECT_LE(kr.regs, 168) << kr.name;
        EXPECT_EQ(kr.spill_bytes, 0) << kr.name;
      }
      EXPECT_EQ(gemms, 1);
    }
}

}  // namespace
}  // namespace wino::planner

#include "runtime/opencl/opencl_device.h"

namespace wino::planner {
namespace {

// An OpenCL CPU device runs work-groups of 256 at most: PoCL 5.0's default method returned zeros
// for plan fused's work-groups of exactly 512 (session 65), whatever the device says it allows.
TEST(DeviceCapsOpenCl, CpuDevicesTakeWorkGroupsOf256AtMost) {
  const std::vector<opencl::DeviceInfo> devices = opencl::list_devices();
  int cpus = 0;
  for (const opencl::DeviceInfo& i : devices) {
    if (i.is_gpu()) continue;
    ++cpus;
    const DeviceCaps c = caps_for_device(Device::opencl(i.index));
    EXPECT_LE(c.max_threads, 256) << i.name << " allows " << i.max_work_group_size;
    EXPECT_GT(c.max_threads, 0) << i.name;
  }
  if (cpus == 0) GTEST_SKIP() << "no OpenCL CPU device";
}

}  // namespace
}  // namespace wino::planner

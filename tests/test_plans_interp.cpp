// The whole correctness sweep through the IR interpreter: every plan x every F(m, r) with r in
// 1..7 and alpha <= 8, on the edge shapes and on shapes spanning several K, C and tile blocks,
// with default and non-default GEMM tiles. No compiler runs, so this covers in seconds what the
// compiled backends (test_plans_cpu.cpp, test_plans_opencl.cpp) can only sample; the interpreter
// also fails on out-of-bounds accesses, uninitialized reads and races that hardware forgives.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "common/error.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "plans/program.h"
#include "conv_tester.h"

namespace wino::testing {
namespace {

class PlansInterp : public ::testing::TestWithParam<PlanCase> {};

/// The edge shapes but the 32x32 seed layer (the compiled sweeps run it), then the block shapes.
/// naive-fused has no GEMM blocks to span, and re-computes the channel sum in every output (the
/// seed's blow-up), which makes many channels slow: it keeps to the edge shapes.
std::vector<ConvCase> interp_shapes(const PlanCase& pc) {
  std::vector<ConvCase> shapes = edge_sweep(pc.r);
  shapes.pop_back();
  if (pc.plan != "naive-fused")
    for (const ConvCase& cc : block_sweep(pc.r)) shapes.push_back(cc);
  return shapes;
}

TEST_P(PlansInterp, MatchesReferenceOnEdgeAndBlockSweeps) {
  const PlanCase& pc = GetParam();
  const std::vector<ConvCase> shapes = interp_shapes(pc);
  double worst = 0;
  int runs = 0;
  for (const ConvCase& cc : shapes) {
    if (!has_output(cc)) continue;
    worst = std::max(worst, check_conv(Device::interpreter(), pc.plan, pc.m, cc));
    ++runs;
  }
  std::printf("[ measured ] %s F(%d,%d): %d shapes, worst rel L2 error %.3g\n", pc.plan.c_str(), pc.m,
              pc.r, runs, worst);
}

// The epilogue (bias, residual, activation) and f16/bf16 tensors on a prime-sized N = 2 shape
// with asymmetric padding: each case meets one epilogue and one type, so every plan meets them
// all with several F(m, r).
TEST_P(PlansInterp, EpilogueAndHalfTensorsMatchReference) {
  const PlanCase& pc = GetParam();
  const ConvCase cc = with_variant(edge_sweep(pc.r)[4], pc);
  const double err = check_conv(Device::interpreter(), pc.plan, pc.m, cc);
  std::printf("[ measured ] %s F(%d,%d) on %s: rel L2 error %.3g\n", pc.plan.c_str(), pc.m, pc.r,
              cc.str().c_str(), err);
}

// Non-default tiles on a shape with several blocks and on a partial-tile edge. A combination a
// plan cannot build is refused with a wino::Error naming the tiles and the limit: never computed.
TEST_P(PlansInterp, MatchesReferenceWithOtherTiles) {
  const PlanCase& pc = GetParam();
  // K = 37 spans several blocks of the smaller tiles and part of the larger ones; C = 9 leaves
  // partial channel chunks; the edge has H and W that are not multiples of m.
  const std::vector<ConvCase> shapes = {{2, 9, 6, 7, 37, pc.r, Padding::all(pc.r / 2)}, edge_sweep(pc.r)[1]};
  int ran = 0, refused = 0;
  for (const auto& tiles : tile_variants(pc.plan)) {
    for (const ConvCase& cc : shapes) {
      if (!has_output(cc)) continue;
      try {
        check_conv(Device::interpreter(), plan_options(pc.plan, pc.m, tiles), cc);
        ++ran;
      } catch (const Error& e) {
        const std::string what = e.what();  // names the plan and the limit
        EXPECT_EQ(what.rfind("plan " + pc.plan + ": ", 0), 0u) << what;
        EXPECT_NE(what.find("tiles"), std::string::npos) << what;
        ++refused;
      }
    }
  }
  std::printf("[ measured ] %s F(%d,%d): %d runs with other tiles, %d refused\n", pc.plan.c_str(),
              pc.m, pc.r, ran, refused);
  if (!tile_variants(pc.plan).empty()) {
    EXPECT_GT(ran, 0) << "every tile variant was refused";
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansInterp, ::testing::ValuesIn(every_plan_case()), plan_case_name);

// Channels-last (NHWC) input, output and residual: an edge, a prime-sized N = 2 shape with an
// epilogue and a half type, and one spanning several blocks, for every plan.
class PlansInterpNhwc : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlansInterpNhwc, MatchesReference) {
  const PlanCase& pc = GetParam();
  std::vector<ConvCase> shapes = {edge_sweep(pc.r)[1], with_variant(edge_sweep(pc.r)[4], pc)};
  if (pc.plan != "naive-fused") shapes.push_back(block_sweep(pc.r)[0]);
  double worst = 0;
  for (ConvCase cc : shapes) {
    cc.layout = Layout::nhwc;
    if (has_output(cc)) worst = std::max(worst, check_conv(Device::interpreter(), pc.plan, pc.m, cc));
  }
  std::printf("[ measured ] nhwc %s F(%d,%d): worst rel L2 error %.3g\n", pc.plan.c_str(), pc.m, pc.r, worst);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PlansInterpNhwc, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

}  // namespace
}  // namespace wino::testing

namespace wino::testing {
namespace {

// Every barrier of every kernel is needed: without any one of them, some thread reads or writes
// work-group memory another thread touched in the same interval, which the interpreter reports as
// a race, whatever the hardware would have done (PoCL misses the end-of-chunk barriers: it
// synchronizes at loop back edges). Shape with several chunks, slices and K blocks; `fused` also
// GPU-shaped (register tiles given), with its ring of input patches (GemmTiles::patch_ring).
TEST(InterpBarriers, RemovingAnyBarrierIsARace) {
  const ConvCase cc{1, 9, 9, 9, 40, 3, Padding::all(1)};
  const std::vector<std::pair<const char*, std::array<int, 5>>> plans = {
      {"unfused", {}}, {"fused-input", {}}, {"fused-output", {}}, {"fused", {}}, {"fused", {0, 0, 4, 4, 0}}};
  for (const auto& [plan, tiles] : plans) {
    for (int m : {2, 3, 4}) {
      const ConvDesc d = desc_of(cc);
      const plans::Program probe =
          lower::lower(d, planner::choose_plan(d, plan_options(plan, m, tiles), Device::interpreter()),
                       render::Dialect::cuda)  // the dialect with every IR op (the ring's copies)
              .program;
      for (size_t k = 0; k < probe.kernels.size(); ++k) {
        const int barriers = remove_barrier(probe.kernels[k]->body, -2);
        for (int which = 0; which < barriers; ++which) {
          std::string what;
          try {
            check_conv(Device::interpreter(), plan_options(plan, m, tiles), cc, 1,
                       [&](plans::Program& prog) { remove_barrier(prog.kernels[k]->body, which); });
          } catch (const Error& e) {
            what = e.what();
          }
          EXPECT_NE(what.find("(a race)"), std::string::npos)
              << plan << " F(" << m << ",3) kernel " << probe.kernels[k]->name << " without barrier " << which
              << " of " << barriers << ": " << (what.empty() ? "ran without a race" : what);
        }
      }
    }
  }
}

}  // namespace
}  // namespace wino::testing

namespace wino::testing {
namespace {

// The interpreter plans the CPU-shaped kernels at 4 lanes; these run them at AVX2's 8 and
// AVX-512's 16, where blocks of channels, narrow rows and padding channels end differently, with
// every access bounds-checked (a compiled run would read past x unnoticed). Shapes: C a whole
// number of narrow blocks but not of vectors (4 channels on 5-pixel rows, 8 on 9), a partial
// channel block with uneven padding, bias and residual, batch 2.
TEST(PlansInterpCpuShaped, EightAndSixteenLanesStayInBounds) {
  const std::vector<ConvCase> shapes = {
      {2, 4, 6, 5, 7, 3, Padding::all(1)},
      {1, 8, 5, 9, 9, 3, Padding::all(1), {true, false, Activation::none}},
      {2, 19, 7, 17, 21, 3, {2, 1, 0, 2}, {true, true, Activation::none}},
  };
  for (int lanes : {8, 16})
    for (const char* plan : {"unfused", "fused", "direct"})
      for (int m : {2, 4})
        for (const ConvCase& cc : shapes) {
          const ConvDesc d = desc_of(cc);
          plans::PlanOptions p;
          p.plan = plan, p.m = m, p.vector_lanes = lanes;
          const plans::PlanOptions resolved = planner::resolve_plan(d, p);
          const double err = check_conv(Device::interpreter(), plan, m, cc, 1, [&](plans::Program& prog) {
            prog = plans::build_program(d, resolved);
          });
          std::printf("[ measured ] interp %s F(%d,3) at %d lanes %s: rel L2 error %.3g\n", plan, m, lanes,
                      cc.str().c_str(), err);
        }
}

// The CPU GEMM by rows of points (U made from the weights as it goes) for every F(m, r) up to alpha 8 on
// the edge shapes, at 4 lanes (several vectors of channels), AVX2's 8 and 16 (channels past K in
// one vector), every access bounds-checked.
TEST(PlansInterpCpuShaped, RowsOfPointsMatchReferenceForEveryAlpha) {
  for (auto [m, r] : every_f_mr()) {
    if (m + r - 1 < 2) continue;
    const std::vector<ConvCase> shapes = edge_sweep(r);
    for (int lanes : {4, 8, 16})
      for (size_t i = 0; i < shapes.size(); i += lanes == 4 ? 1 : lanes == 8 ? 2 : 3) {
        const ConvDesc d = desc_of(shapes[i]);
        plans::PlanOptions p;
        p.plan = "unfused", p.m = m, p.vector_lanes = lanes, p.points_per_thread = m + r - 1;
        const plans::PlanOptions resolved = planner::resolve_plan(d, p);
        ASSERT_EQ(resolved.gemm->points, m + r - 1);
        const double err = check_conv(Device::interpreter(), "unfused", m, shapes[i], 1, [&](plans::Program& prog) {
          prog = plans::build_program(d, resolved);
        });
        if (i == 0)
          std::printf("[ measured ] interp rows F(%d,%d) at %d lanes %s: rel L2 error %.3g\n", m, r, lanes,
                      shapes[i].str().c_str(), err);
      }
  }
}

}  // namespace
}  // namespace wino::testing

namespace wino::testing {
namespace {

// The GPU transforms for NHWC turn blocks of 16 channels x 16 tiles around in work-group memory:
// channels past whole blocks (17, 33) and exactly one (16), C = 1, tiles a multiple of 16 and not,
// K on both sides of a block, batch 3, f16 tensors and an epilogue, F(1,3) to F(6,3) (odd alpha
// included; one round through work-group memory up to 25 points, two unequal ones at 49, three at
// 64), for every plan that uses them (register tiles select the GPU-shaped unfused plan here). The
// interpreter stops on any race, out-of-bounds access or read of unwritten memory.
TEST(PlansInterpNhwcTransforms, BlockEdgesMatchReference) {
  const std::vector<ConvCase> shapes = {
      {3, 17, 8, 8, 16, 3, Padding::all(1)},  // 3 x 4 tiles at m = 4
      {1, 33, 9, 13, 31, 3, {0, 2, 1, 0}, {true, true, Activation::relu}},
      {2, 1, 16, 16, 17, 3, Padding::all(1)},
      {1, 16, 11, 6, 1, 3, Padding::all(2)},
  };
  const std::vector<std::pair<const char*, std::array<int, 5>>> plans = {
      {"unfused", {64, 64, 8, 8, 8}}, {"fused-output", {0, 0, 0, 0, 0}}, {"fused-input", {0, 0, 0, 0, 0}}};
  for (const auto& [plan, tiles] : plans)
    for (int m = 1; m <= 6; ++m)
      for (ConvCase cc : shapes) {
        cc.layout = Layout::nhwc;
        if (cc.c == 33) cc.dtype = DType::f16;
        const Options o = plan_options(plan, m, tiles);
        const ConvDesc d = desc_of(cc);
        int turned = 0;
        for (const KernelReport& k : compile(Device::interpreter(), d, o).report().kernels)
          turned += k.name.find("_nhwc_t256") != std::string::npos;
        EXPECT_EQ(turned, std::string(plan) == "unfused" ? 2 : 1) << plan << " F(" << m << ",3)";
        const double err = check_conv(Device::interpreter(), o, cc);
        std::printf("[ measured ] interp nhwc %s F(%d,3) %s: rel L2 error %.3g\n", plan, m, cc.str().c_str(), err);
      }
}

// The GPU's NCHW output transform writes a work-group's 128 tiles of a channel through work-group
// memory when a channel has at least 128 tiles: a last block of tiles part full (200 = 128 + 72,
// 147 = 128 + 19), partial tiles at the image's right and bottom edges (37 = 9 x 4 + 1 = 6 x 6 + 1),
// m = 1 to 6 (odd m needs no row padding), uneven padding, batch > 1, K = 5, f16 tensors and the
// whole epilogue; unfused (register tiles
// select the GPU-shaped plan) and fused-input, which share it. The interpreter stops on any race,
// out-of-bounds access or read of unwritten memory.
TEST(PlansInterpNchwOutputRows, PartialBlocksAndTilesMatchReference) {
  const std::vector<std::pair<int, ConvCase>> cases = {
      {4, {2, 3, 37, 37, 5, 3, Padding::all(1)}},
      {4, {2, 2, 38, 36, 5, 3, {0, 2, 1, 0}, {true, true, Activation::relu}, DType::f16}},
      {6, {3, 3, 37, 37, 5, 3, Padding::all(1), {true, true, Activation::silu}}},
      {2, {1, 1, 30, 20, 2, 3, Padding::all(2)}},
      {1, {1, 2, 12, 12, 3, 3, Padding::all(1)}},    // m = 1: 144 tiles of one pixel
      {3, {2, 3, 37, 37, 5, 3, Padding::all(1)}},    // odd m: its rows need no padding in work-group memory
      {5, {2, 2, 37, 37, 4, 3, {1, 0, 0, 1}}},       // 8 x 8 tiles per image, the last ones partial
  };
  const std::vector<std::pair<const char*, std::array<int, 5>>> plans = {{"unfused", {64, 64, 8, 8, 8}},
                                                                         {"fused-input", {0, 0, 0, 0, 0}}};
  for (const auto& [plan, tiles] : plans)
    for (const auto& [m, cc] : cases) {
      const Options o = plan_options(plan, m, tiles);
      const ConvDesc d = desc_of(cc);
      int rows = 0;
      for (const KernelReport& k : compile(Device::interpreter(), d, o).report().kernels)
        rows += k.name.find("_output_") != std::string::npos && k.name.find("_rows") != std::string::npos;
      EXPECT_EQ(rows, 1) << plan << " F(" << m << ",3) " << cc.str();
      const double err = check_conv(Device::interpreter(), o, cc);
      std::printf("[ measured ] interp nchw output rows %s F(%d,3) %s: rel L2 error %.3g\n", plan, m, cc.str().c_str(),
                  err);
    }
}

// fused's ring of input patches (GemmTiles::patch_ring, GPU-shaped: register tiles given) with
// every epilogue, both layouts, padding 0, 1, 2 and asymmetric, odd alpha and m = 1, N = 2, C = 9
// (3 chunks of 4, the last partial), K = 37 (blocks of 16, the last partial), H and W not
// multiples of m. f16 and bf16 tensors are staged directly (the ring copies floats): they must
// still match. The interpreter stops on any race, out-of-bounds access or unwritten read. Every
// case runs with two tile shapes: 16 x 16 (a thread per (channel, tile) pair in the patches'
// transform) and 64 x 8 (more threads than pairs: up to alpha threads share a pair, a band of V's
// rows each); at alpha 4 and 6 (F(2,3), F(4,3), F(3,2), F(2,5)) also with 8 x 8 register tiles a
// point a thread (the planner's F(2,3) shape on a GPU): 32 x 32 and 32 x 16 blocks, in chunks of 4
// and of 8 channels (float32: 8 and 1; 2 threads a pair's transform), and 16 x 32 (V's rows of
// neighbouring points padded: ring_v_row); their exchange stores runs of 4 in rows laid out for
// the banks (plans::fma_exchange_layout), 32 x 16 pads the patches' and V's planes, and U's rows of
// neighbouring points are 16 banks apart (ring_u_point).
TEST(PlansInterpFusedRing, EpiloguesLayoutsAndTypesMatchReference) {
  const std::array<std::array<int, 5>, 5> tile_shapes = {
      {{16, 16, 4, 4, 4}, {64, 8, 4, 4, 4}, {32, 0, 8, 8, 4}, {32, 0, 8, 8, 8}, {16, 32, 8, 8, 4}}};
  const std::vector<std::pair<int, int>> fs = {{1, 3}, {2, 3}, {3, 3}, {4, 3}, {3, 2}, {2, 5}, {4, 2}};
  const std::vector<Epilogue> epilogues = epilogue_variants();
  const std::vector<Padding> pads = {Padding::all(0), Padding::all(1), Padding::all(2), {0, 2, 1, 0}};
  int i = 0;
  for (const auto& [m, r] : fs)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16, DType::bf16})
        for (const std::array<int, 5>& tiles : tile_shapes) {
          // (The padding turns once more each round of shapes, so that every shape meets each.)
          const size_t pad = (i + i / tile_shapes.size()) % pads.size();
          ConvCase cc{2, 9, 11, 13, 37, r, pads[pad], epilogues[i % epilogues.size()], dtype};
          cc.layout = layout;
          ++i;
          if (!has_output(cc)) continue;
          Options o = plan_options("fused", m, tiles);
          if (tiles[2] == 8) {  // 8 x 8 tiles a point a thread, at alpha 4 and 6 (bp 0: the planner's block)
            const int alpha = m + r - 1;
            if (alpha != 4 && alpha != 6) continue;
            if (!tiles[1]) o.block_tiles = alpha == 4 ? 32 : 16;
            o.points_per_thread = 1;
            // Chunks of 8 only in the ring (float32 tensors), which takes past 48 KiB at alpha 6.
            if (tiles[4] == 8 && dtype != DType::f32) continue;
          }
          std::string name;
          const double err = check_conv(Device::interpreter(), o, cc, 1,
                                        [&](plans::Program& prog) { name = prog.kernels[0]->name; });
          EXPECT_EQ(name.find("_s2") != std::string::npos, dtype == DType::f32) << "F(" << m << "," << r << ") " << cc.str();
          std::printf("[ measured ] interp fused ring F(%d,%d) %s %s: rel L2 error %.3g\n", m, r, name.c_str(), cc.str().c_str(), err);
        }
}

// fused with fewer threads than a block's tiles (4 x 32 with 16 tiles a thread), so that each of
// the exchange's output passes finds its pair's tile and output channel anew, where every other
// shape steps a thread's tile (transform_exchanged). Partial last passes and blocks of output
// channels (K = 37), odd alpha, m = 1, both layouts, f16.
TEST(PlansInterpFused, FewerThreadsThanABlocksTilesMatchReference) {
  const std::vector<std::pair<int, int>> fs = {{1, 3}, {2, 3}, {3, 3}, {4, 3}, {3, 2}, {2, 5}, {4, 2}};
  const std::vector<Epilogue> epilogues = epilogue_variants();
  int i = 0;
  for (const auto& [m, r] : fs)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16}) {
        ConvCase cc{2, 9, 11, 13, 37, r, Padding::all(i % 3), epilogues[i % epilogues.size()], dtype};
        cc.layout = layout;
        ++i;
        int threads = 0;
        const double err = check_conv(Device::interpreter(), plan_options("fused", m, {4, 32, 4, 16, 4}), cc, 1,
                                      [&](plans::Program& prog) { threads = prog.kernels[0]->threads_per_group; });
        EXPECT_NE(threads % 32, 0) << "F(" << m << "," << r << ") " << cc.str() << ": " << threads << " threads";
        std::printf("[ measured ] interp fused F(%d,%d) t4,32 %d threads %s: rel L2 error %.3g\n", m, r, threads,
                    cc.str().c_str(), err);
      }
}

}  // namespace
}  // namespace wino::testing

// The tensor-core GEMM as a CUDA sm_80+ device builds it (asynchronous copies, a half V stored by
// tiles and staged into rows in ldmatrix's order, staged_tile_row), run in the interpreter. Its own
// device (no CUDA dialect) plans without the copies, so the precision sweep there never stages V
// this way; these cases do, over every register tile shape plan auto offers in fp16, with a last
// block of tiles and a last chunk of channels part full (V by tiles needs tiles and C multiples of
// 8), N > 1 and an epilogue. The interpreter stops on any race, out-of-bounds access or read of
// unwritten memory.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <tuple>

#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "plans/program.h"
#include "conv_tester.h"

namespace wino::testing {
namespace {

// Plan unfused at F(m, r) on tensor cores with the given GEMM tiles, as a CUDA sm_80+ device builds
// it (asynchronous copies; with `bulk`, sm_90's bulk copies), run in the interpreter against the
// reference; returns the tiles the planner resolved.
plans::GemmTiles check_unfused(ConvCase cc, Precision precision, int m, const std::array<int, 5>& shape, bool bulk,
                               const char* what) {
  const bool half = precision == Precision::fp16 || precision == Precision::bf16;
  cc.dtype = precision == Precision::fp16 ? DType::f16 : precision == Precision::bf16 ? DType::bf16 : DType::f32;
  cc.layout = half ? Layout::nhwc : Layout::nchw;
  const ConvDesc d = desc_of(cc);
  plans::PlanOptions p;
  p.plan = "unfused", p.m = m, p.precision = precision, p.async_copies = true, p.bulk_copies = bulk;
  p.block_k = shape[0], p.block_tiles = shape[1], p.reg_k = shape[2], p.reg_tiles = shape[3], p.chunk_c = shape[4];
  const plans::PlanOptions resolved = planner::resolve_plan(d, p);
  Options o = plan_options("unfused", m, shape);
  o.precision = precision;
  const double err = check_conv(Device::interpreter(), o, cc, 1, [&](plans::Program& prog) {
    prog = plans::build_program(d, resolved);
  });
  std::printf("[ measured ] interp %s F(%d,%d) %s %s: rel L2 error %.3g\n", what, m, static_cast<int>(cc.r), resolved.gemm->str().c_str(),
              cc.str().c_str(), err);
  return *resolved.gemm;
}

TEST(TensorCoreInterp, HalfVStagedByTilesMatchesReference) {
  const std::vector<std::array<int, 5>> tiles = {
      {128, 64, 8, 8, 16}, {64, 128, 8, 8, 16}, {128, 128, 8, 16, 16}, {128, 128, 16, 8, 16}};
  const std::vector<ConvCase> cases = {
      {2, 24, 16, 11, 20, 3, Padding::all(1), {true, true, Activation::relu}},  // 96 tiles; C: 16 + 8
      {1, 40, 31, 18, 136, 3, {0, 2, 1, 0}},                                    // 144 tiles; K: 128 + 8
  };
  for (const Precision precision : {Precision::fp16, Precision::bf16})
    for (const auto& shape : tiles)
      for (const ConvCase& cc : cases) {
        const plans::GemmTiles g = check_unfused(cc, precision, 2, shape, false, "V by tiles");
        EXPECT_TRUE(g.v_tile_major && g.stages) << g.str() << " " << cc.str();
      }
}

// The unfused tensor-core GEMM with U's chunks by one bulk copy each (GemmTiles::bulk_u, sm_90),
// from U stored as its staged copies, for each point: fp16 and bf16 (half U, channels last; V's
// chunks by the same bulk copies from V stored as its staged copies, bulk_v, the last block's
// tiles past P zeros) and tf32 and 3xtf32 (float U, rounded to tf32 for tf32; V by 16-byte copies),
// register tiles of 16 x 8 and 8 x 16, chunks of 32 and 16 (more chunks than the ring's copies:
// every barrier past its first phase), two blocks of output channels, a partial block of tiles,
// N > 1 and an epilogue; then every F(m, r) the modes plan (m = 1, odd alpha 3, 5 and 7, r = 2).
TEST(TensorCoreInterp, UnfusedGemmWithUByBulkCopiesMatchesReference) {
  const std::vector<std::array<int, 5>> tiles = {{128, 128, 16, 8, 32}, {128, 128, 8, 16, 16}, {64, 128, 8, 8, 16}};
  const std::vector<ConvCase> cases = {
      {2, 32, 16, 11, 128, 3, Padding::all(1), {true, true, Activation::relu}},  // 96 tiles
      {1, 96, 15, 18, 256, 3, {0, 2, 1, 0}},                                     // C: 6 chunks of 16
  };
  const Precision modes[] = {Precision::fp16, Precision::bf16, Precision::tf32, Precision::tf32x3};
  for (const Precision precision : modes)
    for (const auto& shape : tiles)
      for (const ConvCase& cc : cases) {
        if (cc.c % shape[4] || cc.k % shape[0]) continue;
        const plans::GemmTiles g = check_unfused(cc, precision, 2, shape, true, "unfused, U by bulk copies");
        const bool half = precision == Precision::fp16 || precision == Precision::bf16;
        EXPECT_TRUE(g.bulk_u && g.stages >= 2 && g.bulk_v == half) << g.str() << " " << cc.str();
      }
  for (const Precision precision : modes)
    for (const auto& [m, r] : std::vector<std::pair<int, int>>{{1, 3}, {3, 3}, {4, 3}, {5, 3}, {6, 3}, {3, 2}}) {
      ConvCase cc = cases[1];
      cc.r = r;
      const plans::GemmTiles g = check_unfused(cc, precision, m, {64, 128, 8, 8, 16}, true, "unfused, U by bulk copies");
      EXPECT_TRUE(g.bulk_u) << g.str() << " F(" << m << "," << r << ")";
    }
}

// V by bulk copies (GemmTiles::bulk_v) across blocks: 144 tiles in two blocks of 128 (the second
// part full, its tiles past P zeros), 160 channels in 5 chunks of 32 through a ring of 4 copies,
// 256 output channels in two blocks of 128, so that a block's, a chunk's and a point's copy each
// come from their own place in V stored as the GEMM's staged copies (plans::bulk_v_index); then at
// every other F(m, r) the half modes plan.
TEST(TensorCoreInterp, UnfusedGemmWithBulkVAcrossBlocksMatchesReference) {
  const ConvCase cc{3, 160, 16, 11, 256, 3, Padding::all(1), {true, false, Activation::relu}};
  for (const Precision precision : {Precision::fp16, Precision::bf16}) {
    const plans::GemmTiles g = check_unfused(cc, precision, 2, {128, 128, 16, 8, 32}, true, "unfused, V by bulk copies");
    EXPECT_TRUE(g.bulk_v && g.stages == 4) << g.str();
  }
  // Every other F(m, r) the half modes plan, on tiles a multiple of 8 (V by tiles, so by bulk
  // copies): m = 1, odd alpha 3 and 5, alpha 6, r = 2 (F(6,3)'s 18 tiles are no multiple of 8).
  for (const Precision precision : {Precision::fp16, Precision::bf16})
    for (const auto& [m, r] : std::vector<std::pair<int, int>>{{1, 3}, {3, 3}, {4, 3}, {5, 3}, {3, 2}}) {
      ConvCase odd{2, 32, 16, 16, 64, 3, {1, 1, 1, 1}, {true, true, Activation::none}};
      odd.r = r;
      const plans::GemmTiles g = check_unfused(odd, precision, m, {64, 128, 8, 8, 16}, true, "unfused, V by bulk copies");
      EXPECT_TRUE(g.bulk_v) << g.str() << " F(" << m << "," << r << ")";
    }
}

// The channels-last input transform into V by tiles loads and stores several channels of a pixel
// at a time from half x: 4 at F(2,3), F(1,3) and F(3,2) (alpha 4, 3 and 4), 2 at F(3,3) (alpha 5),
// 1 at F(4,3) (alpha 6); float32 x (an fp16 GEMM on float tensors) 1. A last block of tiles part full, N > 1,
// uneven padding, C = 8 and 24, plans unfused and fused-output (which shares the kernel). (V by
// tiles needs the tiles a multiple of 8: where an m leaves them not, that shape stores V by channels
// and is left out; every m runs at least one.) Conv::run refuses x off the loads' boundary.
TEST(TensorCoreInterp, InputTransformByChannelVectorsMatchesReference) {
  const std::vector<std::tuple<int, int, const char*>> fs = {
      {2, 3, "_x4"}, {1, 3, "_x4"}, {3, 3, "_x2"}, {4, 3, "_t256"}, {3, 2, "_x4"}};
  const std::vector<ConvCase> cases = {
      {2, 24, 16, 11, 20, 3, Padding::all(1), {true, true, Activation::none}},
      {1, 8, 31, 18, 16, 3, {0, 2, 1, 0}},
  };
  for (const char* plan : {"unfused", "fused-output"})
    for (const DType type : {DType::f16, DType::bf16, DType::f32})
      for (const auto& [m, r, vector_suffix] : fs) {
        if (std::string(plan) == "fused-output" && m != 2) continue;
        int ran = 0;
        for (ConvCase cc : cases) {
          cc.dtype = type, cc.layout = Layout::nhwc, cc.r = r;
          const Precision precision = type == DType::bf16 ? Precision::bf16 : Precision::fp16;
          const std::string suffix = type == DType::f32 ? "_t256" : vector_suffix;
          const ConvDesc d = desc_of(cc);
          plans::PlanOptions p;
          p.plan = plan, p.m = m, p.precision = precision, p.async_copies = true;
          const plans::PlanOptions resolved = planner::resolve_plan(d, p);
          const plans::Program prog = plans::build_program(d, resolved);
          std::string input;
          for (const auto& k : prog.kernels)
            if (k->name.find("_input_") != std::string::npos) input = k->name;
          if (!resolved.gemm->v_tile_major) continue;  // tiles no multiple of 8 at this m: V by channels
          ASSERT_GE(input.size(), suffix.size()) << input;
          EXPECT_EQ(input.substr(input.size() - suffix.size()), suffix) << input;
          const int lanes = suffix[1] == 'x' ? suffix[2] - '0' : 1;
          EXPECT_EQ(prog.start_alignments().at(prog.buffer(plans::BufferRole::input)), lanes > 1 ? 2 * lanes : 1) << input;
          Options o = plan_options(plan, m);
          o.precision = precision;
          const double err = check_conv(Device::interpreter(), o, cc, 1, [&](plans::Program& edit) {
            edit = plans::build_program(d, resolved);
          });
          std::printf("[ measured ] interp %s %s: rel L2 error %.3g\n", input.c_str(), cc.str().c_str(), err);
          ++ran;
        }
        EXPECT_GT(ran, 0) << plan << " F(" << m << "," << r << ") " << dtype_name(type) << " stored V by tiles for no shape";
      }
}

}  // namespace
}  // namespace wino::testing

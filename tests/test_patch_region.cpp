// The tensor-core fused ring's 2D blocks of tiles (GemmTiles::region, plans/patch_region.h): the
// planner's choice, the region's geometry, and every block shape in the interpreter against the
// float64 reference where blocks run past the image's tiles, with N > 1, padding 0, 1, 2 and uneven,
// a last chunk of channels part full, several blocks of output channels and the whole epilogue.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "common/error.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "plans/patch_region.h"
#include "plans/program.h"
#include "conv_tester.h"
#include "square_layer.h"

namespace wino::testing {
namespace {

plans::PlanOptions ring_options(int tile_block_cols, Precision precision = Precision::fp16, int m = 2) {
  plans::PlanOptions o;
  o.plan = "fused";
  o.m = m;
  o.precision = precision;
  o.async_copies = true;
  o.tile_block_cols = tile_block_cols;
  return o;
}

// An sm_90 work-group's memory: the 64 x 32 blocks of a warp a point (planner: widen_tile_ring).
plans::PlanOptions sm90_ring_options(int tile_block_cols) {
  plans::PlanOptions o = ring_options(tile_block_cols);
  o.shared_per_core = 228 * 1024, o.shared_per_group = 227 * 1024;
  return o;
}

ConvDesc half_nhwc(ConvDesc d, DType t = DType::f16) {
  d.dtype = t;
  d.layout = Layout::nhwc;
  return d;
}

TEST(PatchRegion, PlannerTakesBlocksThatFitTheImagesTiles) {
  // 112 x 112 tiles (vgg16.2_2): blocks of 8 x 4 divide them; the region reads 18 x 10 pixels for
  // 32 patches of 16.
  const plans::GemmTiles g = *planner::resolve_plan(half_nhwc(layer(8, 128, 112, 128)), sm90_ring_options(0)).gemm;
  ASSERT_TRUE(g.tile_patch_ring()) << g.str();
  ASSERT_EQ(g.bp, 32);
  EXPECT_EQ(g.region.rows * g.region.cols, 32);
  EXPECT_EQ(g.region.h, (g.region.rows - 1) * 2 + 4);
  EXPECT_EQ(g.region.w, (g.region.cols - 1) * 2 + 4);
  EXPECT_LT(int64_t{g.region.h} * g.region.w, 16 * 32 / 2) << "under half the pixels of 32 patches";
  EXPECT_EQ(g.region.pixel_pitch % 8, 0) << "16-byte copies stay aligned";
  EXPECT_EQ(g.region.row_pitch % 8, 0);
  EXPECT_GE(g.region.row_pitch, g.region.w * g.region.pixel_pitch);
  EXPECT_NE(g.str().find("_b" + std::to_string(g.region.rows) + "x" + std::to_string(g.region.cols)), std::string::npos);
  // 14 x 14 tiles (resnet50.c3): every block of 32 runs past them by 14% or more: runs of tiles.
  EXPECT_EQ(planner::resolve_plan(half_nhwc(layer(32, 128, 28, 128)), sm90_ring_options(0)).gemm->region.cols, 0);
  // With the device's multiprocessors known, a block that adds work-groups but no wave of them:
  // vgg16.5_2.b8's 7 x 7 tiles an image in 104 work-groups as runs, 128 as 8 x 4 blocks, one wave
  // of 132 either way; vgg16.3_2.b8's 28 x 28 would take 7 waves for 6.
  plans::PlanOptions h100 = sm90_ring_options(0);
  h100.device_cores = 132;
  EXPECT_EQ(planner::resolve_plan(half_nhwc(layer(8, 512, 14, 512)), h100).gemm->region.cols, 4);
  EXPECT_EQ(planner::resolve_plan(half_nhwc(layer(8, 256, 56, 256)), h100).gemm->region.cols, 0);
  // Asked for: a block of 16 x 2, or runs.
  const ConvDesc d = half_nhwc(layer(8, 128, 112, 128));
  EXPECT_EQ(planner::resolve_plan(d, sm90_ring_options(2)).gemm->region.rows, 16);
  EXPECT_EQ(planner::resolve_plan(d, sm90_ring_options(-1)).gemm->region.cols, 0);
  EXPECT_THROW(planner::resolve_plan(d, sm90_ring_options(3)), Error) << "3 does not divide 32 tiles";
}

TEST(PatchRegion, WorkGroupsCoverEachImagesTilesByBlocks) {
  plans::GemmTiles g;
  g.bp = 32, g.cc = 16;
  const plans::Tiling t = plans::make_tiling(half_nhwc(layer(3, 16, 26, 16)), 2);  // 13 x 13 tiles an image
  EXPECT_EQ(plans::tile_blocks(g, t), (3 * 13 * 13 + 31) / 32);
  g.region.cols = 8, g.region.rows = 4;
  EXPECT_EQ(plans::tile_blocks(g, t), 3 * 4 * 2);
}

// Each block shape (for F(2,3)'s 32 tiles 16 x 2 to 1 x 32, for F(3,3)'s 16 (odd alpha) 8 x 2 to 1 x
// 16) and runs, for r = 2, 3, 5 and m = 1 to 4, in f16 and bf16, over shapes whose tiles the blocks
// do not divide. Where F(m, r) has no ring (F(4,3): its two copies do not fit), a block is refused,
// never computed. The
// interpreter stops on any race, out-of-bounds access or read of unwritten memory; every output
// element must be written (the tester poisons y).
TEST(PatchRegion, EveryBlockShapeMatchesReference) {
  const std::vector<ConvCase> cases = {
      {2, 24, 13, 11, 20, 3, Padding::all(1), {true, true, Activation::relu}},  // F(2,3): 7 x 6 tiles; C: 16 + 8
      {1, 40, 9, 17, 40, 3, Padding::all(0)},                                   // 4 x 8 tiles; K: 32 + 8
      {2, 32, 10, 10, 8, 3, Padding::all(2), {true, false, Activation::silu}},  // 6 x 6 tiles
      {1, 32, 12, 15, 8, 3, {0, 2, 1, 0}},                                      // 7 x 8 tiles
  };
  for (int r : {2, 3, 5})
  for (int m : {1, 2, 3, 4})
    for (const DType type : {DType::f16, DType::bf16}) {
      const Precision precision = type == DType::f16 ? Precision::fp16 : Precision::bf16;
      for (ConvCase cc : cases) {
        cc.dtype = type, cc.layout = Layout::nhwc, cc.r = r;
        const ConvDesc d = desc_of(cc);
        const plans::GemmTiles runs = *planner::resolve_plan(d, ring_options(0, precision, m)).gemm;
        if (!runs.tile_patch_ring()) {
          EXPECT_FALSE(m == 2 && r == 3) << "F(2,3) runs its ring on " << cc.str();
          EXPECT_THROW(planner::resolve_plan(d, ring_options(2, precision, m)), Error) << m << " " << cc.str();
          EXPECT_THROW(planner::resolve_plan(d, ring_options(-1, precision, m)), Error) << m << " " << cc.str();
          continue;
        }
        for (int cols = -1; cols <= runs.bp; ++cols) {
          if (cols == 0 || (cols > 0 && (cols < 2 || runs.bp % cols))) continue;
          // A block whose region (with its padded pitches) outgrows the memory the ring may take is
          // refused by name (a 1 x 32 block at r = 2: 98688 bytes against 98304), never computed.
          plans::PlanOptions resolved;
          plans::Program built;
          try {
            resolved = planner::resolve_plan(d, ring_options(cols, precision, m));
            built = plans::build_program(d, resolved);
          } catch (const Error& e) {
            EXPECT_GT(cols, 0) << e.what();
            EXPECT_NE(std::string(e.what()).find("bytes of work-group memory"), std::string::npos) << e.what();
            continue;
          }
          ASSERT_TRUE(resolved.gemm->tile_patch_ring()) << resolved.gemm->str() << " " << cc.str();
          ASSERT_EQ(resolved.gemm->region.cols, std::max(cols, 0)) << cc.str();
          Options o = plan_options("fused", m);
          o.precision = precision;
          const double err = check_conv(Device::interpreter(), o, cc, 1, [&](plans::Program& prog) {
            prog = std::move(built);
          });
          std::printf("[ measured ] interp tile ring F(%d,%d) %s %s: rel L2 error %.3g\n", m, r,
                      resolved.gemm->str().c_str(), cc.str().c_str(), err);
        }
      }
    }
}

// The ring as sm_90 runs it (widen_tile_ring): 64 x 32 blocks of a warp a point, 512 threads,
// chunks of 32 channels (the transform in two bands a pair) or, from 32 chunks of 16 on, U and V
// staged twice; 2D blocks and runs, over two K blocks (64 + 8) and a partial last chunk.
TEST(PatchRegion, WidenedRingMatchesReference) {
  struct Case {
    ConvCase cc;
    bool double_operands;
  };
  const std::vector<Case> cases = {{{2, 40, 13, 11, 72, 3, Padding::all(1), {true, true, Activation::relu}}, false},
                                   {{1, 520, 7, 9, 64, 3, Padding::all(1)}, true}};
  for (const auto& [shape, twice] : cases)
    for (int cols : {-1, 4, 8}) {
      ConvCase cc = shape;
      cc.dtype = DType::f16, cc.layout = Layout::nhwc;
      const ConvDesc d = desc_of(cc);
      const plans::PlanOptions resolved = planner::resolve_plan(d, sm90_ring_options(cols));
      const plans::GemmTiles& g = *resolved.gemm;
      ASSERT_TRUE(g.tile_patch_ring() && g.bk == 64 && g.bp == 32 && g.threads() == 512) << g.str() << " " << cc.str();
      ASSERT_EQ(g.double_operands, twice) << g.str();
      ASSERT_EQ(g.cc, twice ? 16 : 32) << g.str();
      ASSERT_EQ(g.region.cols, std::max(cols, 0)) << g.str();
      Options o = plan_options("fused", 2);
      o.precision = Precision::fp16;
      const double err = check_conv(Device::interpreter(), o, cc, 1, [&](plans::Program& prog) {
        prog = plans::build_program(d, resolved);
      });
      std::printf("[ measured ] interp widened tile ring %s %s: rel L2 error %.3g\n", g.str().c_str(), cc.str().c_str(), err);
    }
}

// U by one bulk copy a chunk (GemmTiles::bulk_u, sm_90), from U stored as its staged copies: the
// ring with U staged once (chunks of 32) and twice (32 chunks of 16), runs and 2D blocks, two
// blocks of output channels, N > 1 and the epilogue. Without the device's bulk copies, or with C no
// multiple of the chunk or K of the block, U keeps its 16-byte copies.
TEST(PatchRegion, UByBulkCopiesMatchesReference) {
  struct Case {
    ConvCase cc;
    bool double_operands;
  };
  const std::vector<Case> cases = {{{2, 64, 13, 11, 128, 3, Padding::all(1), {true, true, Activation::relu}}, false},
                                   {{1, 512, 7, 9, 64, 3, Padding::all(1)}, true}};
  for (const auto& [shape, twice] : cases)
    for (int cols : {-1, 8}) {
      ConvCase cc = shape;
      cc.dtype = DType::bf16, cc.layout = Layout::nhwc;
      const ConvDesc d = desc_of(cc);
      plans::PlanOptions o = sm90_ring_options(cols);
      o.precision = Precision::bf16;
      EXPECT_FALSE(planner::resolve_plan(d, o).gemm->bulk_u);
      o.bulk_copies = true;
      const plans::PlanOptions resolved = planner::resolve_plan(d, o);
      const plans::GemmTiles& g = *resolved.gemm;
      ASSERT_TRUE(g.bulk_u && g.tile_patch_ring() && g.double_operands == twice) << g.str() << " " << cc.str();
      ASSERT_NE(g.str().find("_ub"), std::string::npos) << g.str();
      Options opts = plan_options("fused", 2);
      opts.precision = Precision::bf16;
      const double err = check_conv(Device::interpreter(), opts, cc, 1, [&](plans::Program& prog) {
        prog = plans::build_program(d, resolved);
      });
      std::printf("[ measured ] interp tile ring, U by bulk copies %s %s: rel L2 error %.3g\n", g.str().c_str(),
                  cc.str().c_str(), err);
    }
  // The other F(m, r) whose ring the planner takes: r = 2 at m = 3 and 1; at alpha 3 (F(1,3), F(2,2))
  // the tensor-core fused stages its tiles without the ring, and U keeps its copies.
  int others = 0;
  for (const auto& [m, r] : std::vector<std::pair<int, int>>{{1, 3}, {3, 2}, {1, 2}, {2, 2}}) {
    ConvCase cc = cases[0].cc;
    cc.r = r, cc.dtype = DType::f16, cc.layout = Layout::nhwc;
    const ConvDesc d = desc_of(cc);
    plans::PlanOptions o = ring_options(0, Precision::fp16, m);
    o.shared_per_core = 228 * 1024, o.shared_per_group = 227 * 1024, o.bulk_copies = true;
    const plans::PlanOptions resolved = planner::resolve_plan(d, o);
    if (!resolved.gemm->tile_patch_ring()) {
      EXPECT_FALSE(resolved.gemm->bulk_u) << resolved.gemm->str();
      continue;
    }
    EXPECT_TRUE(resolved.gemm->bulk_u) << resolved.gemm->str() << " F(" << m << "," << r << ")";
    Options opts = plan_options("fused", m);
    opts.precision = Precision::fp16;
    const double err = check_conv(Device::interpreter(), opts, cc, 1, [&](plans::Program& prog) {
      prog = plans::build_program(d, resolved);
    });
    std::printf("[ measured ] interp tile ring, U by bulk copies, F(%d,%d) %s: rel L2 error %.3g\n", m, r,
                resolved.gemm->str().c_str(), err);
    ++others;
  }
  EXPECT_EQ(others, 2);
  for (ConvCase odd : {ConvCase{1, 40, 9, 9, 64, 3, Padding::all(1)}, ConvCase{1, 64, 9, 9, 72, 3, Padding::all(1)}}) {
    odd.dtype = DType::f16, odd.layout = Layout::nhwc;  // C 32 + 8; K 64 + 8
    plans::PlanOptions o = sm90_ring_options(-1);
    o.bulk_copies = true;
    const plans::GemmTiles g = *planner::resolve_plan(desc_of(odd), o).gemm;
    EXPECT_TRUE(g.tile_patch_ring() && !g.bulk_u) << g.str() << " " << odd.str();
  }
}

// Work-groups of several blocks each (GemmTiles::persistent_groups): the next block's first
// patches land during the exchange, kept apart from it. Three work-groups over more blocks, the last
// round part full or whole, runs and 2D blocks, an odd count of chunks (the ring's copies alternate
// across blocks), two blocks of output channels, N > 1 and the epilogue.
TEST(PatchRegion, PersistentRingMatchesReference) {
  const std::vector<ConvCase> cases = {{2, 64, 13, 11, 128, 3, Padding::all(1), {true, true, Activation::relu}},
                                       {1, 96, 21, 15, 64, 3, Padding::all(2)},
                                       {3, 64, 16, 16, 64, 3, Padding::all(1)}};
  int uneven = 0, odd_chunks = 0;
  for (const ConvCase& shape : cases)
    for (int cols : {-1, 8}) {
      ConvCase cc = shape;
      cc.dtype = DType::f16, cc.layout = Layout::nhwc;
      const ConvDesc d = desc_of(cc);
      plans::PlanOptions o = sm90_ring_options(cols);
      o.bulk_copies = true;
      o.device_cores = 3;
      const plans::PlanOptions resolved = planner::resolve_plan(d, o);
      const plans::GemmTiles& g = *resolved.gemm;
      ASSERT_EQ(g.persistent_groups, 3) << g.str() << " " << cc.str();
      ASSERT_NE(g.str().find("_n3"), std::string::npos) << g.str();
      const plans::Tiling t = plans::make_tiling(d, 2);
      const int64_t blocks = plans::tile_blocks(g, t) * plans::ceil_div(d.k, g.bk);
      ASSERT_GT(blocks, 3) << g.str() << " " << cc.str();
      uneven += blocks % 3 != 0;
      odd_chunks += plans::ceil_div(d.c, g.cc) % 2;
      // Three work-groups launched, within the work-group's memory with the patches kept apart.
      const plans::Program built = plans::build_program(d, resolved);
      const ir::Kernel& ring = *built.kernels[built.launches.back().kernel];
      ASSERT_NE(ring.name.find("_n3"), std::string::npos) << ring.name;
      EXPECT_EQ(ring.num_groups, 3) << ring.name;
      EXPECT_LE(ir::shared_array_bytes(ring), o.shared_per_group) << ring.name;
      Options opts = plan_options("fused", 2);
      opts.precision = Precision::fp16;
      const double err = check_conv(Device::interpreter(), opts, cc, 1, [&](plans::Program& prog) {
        prog = plans::build_program(d, resolved);
      });
      std::printf("[ measured ] interp persistent tile ring %s %s, %lld blocks: rel L2 error %.3g\n", g.str().c_str(),
                  cc.str().c_str(), static_cast<long long>(blocks), err);
    }
  EXPECT_GT(uneven, 0);
  EXPECT_LT(uneven, 6);
  EXPECT_GT(odd_chunks, 0);
  // Not without the device's multiprocessors, nor where one wave holds every block.
  ConvCase one = cases[2];
  one.dtype = DType::f16, one.layout = Layout::nhwc;
  plans::PlanOptions o = sm90_ring_options(-1);
  o.bulk_copies = true;
  EXPECT_EQ(planner::resolve_plan(desc_of(one), o).gemm->persistent_groups, 0);
  o.device_cores = 132;
  EXPECT_EQ(planner::resolve_plan(desc_of(one), o).gemm->persistent_groups, 0);
}

// The persistent ring in both types and in every F(m, r) whose ring takes a multiprocessor alone
// (F(2,3) and F(3,2); F(1,2)'s 4 points leave room for two work-groups, which overlap on their own),
// none with the user's tiles (the ring is not widened to one work-group an SM then), and refused
// without U by bulk copies, whose copies read the block when issued.
TEST(PatchRegion, PersistentRingInEveryTypeAndShape) {
  ConvCase base{2, 64, 13, 11, 128, 3, Padding::all(1), {true, false, Activation::silu}};
  int persistent = 0;
  for (const auto& [m, r] : std::vector<std::pair<int, int>>{{2, 3}, {3, 2}, {1, 2}})
    for (DType type : {DType::f16, DType::bf16}) {
      ConvCase cc = base;
      cc.r = r, cc.dtype = type, cc.layout = Layout::nhwc;
      const ConvDesc d = desc_of(cc);
      const Precision precision = type == DType::bf16 ? Precision::bf16 : Precision::fp16;
      plans::PlanOptions o = ring_options(0, precision, m);
      o.shared_per_core = 228 * 1024, o.shared_per_group = 227 * 1024, o.bulk_copies = true, o.device_cores = 3;
      const plans::PlanOptions resolved = planner::resolve_plan(d, o);
      const plans::GemmTiles& g = *resolved.gemm;
      ASSERT_TRUE(g.tile_patch_ring() && g.bulk_u) << g.str() << " F(" << m << "," << r << ")";
      EXPECT_EQ(g.persistent_groups, m == 1 ? 0 : 3) << g.str() << " F(" << m << "," << r << ")";
      if (!g.persistent_groups) continue;
      Options opts = plan_options("fused", m);
      opts.precision = precision;
      const double err = check_conv(Device::interpreter(), opts, cc, 1, [&](plans::Program& prog) {
        prog = plans::build_program(d, resolved);
      });
      std::printf("[ measured ] interp persistent tile ring F(%d,%d) %s %s: rel L2 error %.3g\n", m, r, g.str().c_str(),
                  cc.str().c_str(), err);
      ++persistent;
    }
  EXPECT_EQ(persistent, 4);
  ConvCase cc = base;
  cc.dtype = DType::f16, cc.layout = Layout::nhwc;
  const ConvDesc d = desc_of(cc);
  plans::PlanOptions o = sm90_ring_options(0);
  o.bulk_copies = true, o.device_cores = 3;
  const plans::PlanOptions planned = planner::resolve_plan(d, o);
  ASSERT_EQ(planned.gemm->persistent_groups, 3) << planned.gemm->str();
  plans::PlanOptions no_bulk = planned;
  no_bulk.gemm->bulk_u = false;
  EXPECT_THROW(plans::build_program(d, no_bulk), Error);
  for (const auto& tiles : std::vector<std::array<int, 6>>{{64, 32, 8, 8, 32, 1}, {32, 32, 4, 8, 16, 2}}) {
    o.block_k = tiles[0], o.block_tiles = tiles[1], o.reg_k = tiles[2], o.reg_tiles = tiles[3], o.chunk_c = tiles[4];
    o.points_per_thread = tiles[5];
    EXPECT_EQ(planner::resolve_plan(d, o).gemm->persistent_groups, 0) << planner::resolve_plan(d, o).gemm->str();
  }
}

}  // namespace
}  // namespace wino::testing

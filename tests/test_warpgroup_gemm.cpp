// The unfused tensor-core GEMM on warpgroup mmas (GemmTiles::async_mma with bulk_v; sm_90 wgmma):
// a warpgroup for each 64 of the block's 64 or 128 output channels, over all its tiles, U in core
// matrices and V stored swizzled as the mmas read it, both by bulk copies. f16 and bf16, blocks
// of 64, 128 and 256 tiles (the planner's 64 x 256 on chunks of 64 among them), chunks of 16, 32 and 64 (swizzles of 32, 64 and 128 bytes), more chunks than
// the ring's copies, one, two and four blocks of output channels, a last block of tiles part full, N >
// 1, padding 0, 1 and 2, the epilogue, F(2,3) and F(3,2), in the interpreter against the float64
// reference; the kernels compile for sm_90a without spilling, and the GPU agrees.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "cuda_skip.h"
#include "cuda_source.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "plans/program.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"
#include "conv_tester.h"

namespace wino::testing {
namespace {

struct GemmCase {
  ConvCase conv;
  Precision precision;
  int m;
  std::array<int, 5> tiles;  // bk, bp, rk, rp, cc
  bool roles = false;        // a producer warpgroup issues the copies (PlanOptions::gemm_roles)
};

const std::vector<GemmCase>& gemm_cases() {
  static const std::vector<GemmCase> cases = {
      // 2 x 80 tiles in one block of 256 (96 past P), 5 chunks of 32 through the ring, K in 2 blocks.
      {{2, 160, 16, 20, 128, 3, Padding::all(1), {true, true, Activation::relu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {64, 256, 2, 64, 32}},
      // 3 x 64 tiles over two blocks of 128 (the second part full), 6 chunks of 16, K in 4 blocks.
      {{3, 96, 16, 16, 256, 3, Padding::all(1), {}, DType::bf16, Layout::nhwc}, Precision::bf16, 2, {64, 128, 2, 32, 16}},
      // No padding: 112 tiles in blocks of 64 (the second part full), chunks of 32.
      {{1, 64, 18, 30, 64, 3, Padding::all(0), {true, false, Activation::silu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {64, 64, 2, 16, 32}},
      // Chunks of 64 (rows of 128 bytes: the widest swizzle), 5 of them through the ring.
      {{2, 320, 16, 16, 128, 3, Padding::all(1), {}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {64, 128, 2, 32, 64}},
      // The planner's shape (K >= 512, 256 to 512 tiles): 64 x 256 on chunks of 64, 128 accumulators a thread.
      {{2, 128, 16, 16, 512, 3, Padding::all(1), {true, false, Activation::relu}, DType::bf16, Layout::nhwc}, Precision::bf16, 2, {64, 256, 2, 64, 64}},
      // Two warpgroups over 128 output channels, sharing V: 2 blocks of K, 6 chunks of 32, 2 x 64 tiles.
      {{2, 192, 16, 16, 256, 3, Padding::all(1), {true, true, Activation::none}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {128, 256, 2, 64, 32}},
      {{1, 128, 16, 30, 128, 3, Padding::all(2), {}, DType::bf16, Layout::nhwc}, Precision::bf16, 2, {128, 128, 2, 32, 64}},
      // F(3,2), padding 2: 2 x 36 tiles.
      {{2, 64, 13, 15, 128, 2, Padding::all(2), {}, DType::bf16, Layout::nhwc}, Precision::bf16, 3, {64, 128, 2, 32, 32}},
      // In warps with roles: 128 x 256 on chunks of 64, 6 chunks through a ring of 4 copies (the
      // copies reused), K in 2 blocks, 2 x 80 tiles in one block part full, the epilogue.
      {{2, 384, 16, 20, 256, 3, Padding::all(1), {true, true, Activation::relu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {128, 256, 2, 64, 64}, true},
      // Roles, bf16, F(3,2), padding 2: 2 x 36 tiles in blocks of 64 (the second part full), 5
      // chunks of 32 through 4 copies.
      {{2, 160, 13, 15, 128, 2, Padding::all(2), {}, DType::bf16, Layout::nhwc}, Precision::bf16, 3, {128, 64, 2, 16, 32}, true},
      // Roles with one chunk (no copy reused) and padding 0: 112 tiles in blocks of 64, the last part full.
      {{1, 64, 18, 30, 128, 3, Padding::all(0), {true, false, Activation::silu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, {128, 64, 2, 16, 64}, true},
  };
  return cases;
}

// As an sm_90 device plans it (bulk copies, warpgroup mmas), with the case's tiles.
plans::PlanOptions resolved(const GemmCase& gc) {
  plans::PlanOptions p;
  p.plan = "unfused", p.m = gc.m, p.precision = gc.precision;
  p.async_copies = p.bulk_copies = p.warpgroup_mma = true;
  p.gemm_roles = gc.roles;
  p.shared_per_core = 228 * 1024, p.shared_per_group = 227 * 1024;
  std::tie(p.block_k, p.block_tiles, p.reg_k, p.reg_tiles, p.chunk_c) =
      std::tuple(gc.tiles[0], gc.tiles[1], gc.tiles[2], gc.tiles[3], gc.tiles[4]);
  return planner::resolve_plan(desc_of(gc.conv), p);
}

double check(const GemmCase& gc, const Device& device) {
  const plans::PlanOptions p = resolved(gc);
  // (The program is built from `p`; the options only have to resolve without roles, whose
  // larger chunks fit the device's whole work-group memory only.)
  Options o = gc.roles ? plan_options("unfused", gc.m) : plan_options("unfused", gc.m, gc.tiles);
  o.precision = gc.precision;
  return check_conv(device, o, gc.conv, 1, [&](plans::Program& prog) { prog = plans::build_program(desc_of(gc.conv), p); });
}

TEST(WarpgroupGemm, MatchesReferenceInEveryTypeAndShape) {
  for (const GemmCase& gc : gemm_cases()) {
    const plans::GemmTiles g = *resolved(gc).gemm;
    ASSERT_TRUE(g.async_mma && g.bulk_u && g.bulk_v && g.stages >= 2) << g.str() << " " << gc.conv.str();
    ASSERT_EQ(g.warp_roles, gc.roles) << g.str();
    if (gc.roles) {
      EXPECT_EQ(g.stages, 4) << g.str();  // the work-group's whole memory: chunks past 4 reuse copies
    }
    const double err = check(gc, Device::interpreter());
    std::printf("[ measured ] interp warpgroup GEMM F(%d,%d) %s %s: rel L2 error %.3g\n", gc.m,
                static_cast<int>(gc.conv.r), g.str().c_str(), gc.conv.str().c_str(), err);
  }
  // Without warpgroup mmas the same tiles run on warps' mmas, V stored as ldmatrix reads it.
  plans::PlanOptions p = resolved(gemm_cases()[0]);
  p.warpgroup_mma = false;
  const plans::PlanOptions warps = planner::resolve_plan(desc_of(gemm_cases()[0].conv), p);
  EXPECT_FALSE(warps.gemm->async_mma);
  EXPECT_NO_THROW(plans::build_program(desc_of(gemm_cases()[0].conv), warps));
}

// Every other F(m, r) the half modes plan (m = 1, odd alpha 3 and 5, alpha 6, r = 2) and float32
// tensors channels last (V in halves all the same), with warpgroup tiles given: taken where V is
// stored by tiles (the tiles a multiple of 8), else built on warps' mmas; either way right. The
// same in warps with roles (two warpgroups over 128 output channels), taken where the warpgroup
// mmas are.
TEST(WarpgroupGemm, EveryTilingAndFloatTensorsMatchReference) {
  struct Other { int m, r; DType dtype; };
  const std::vector<Other> others = {{1, 3, DType::f16}, {3, 3, DType::bf16}, {4, 3, DType::f16}, {1, 2, DType::bf16},
                                     {2, 2, DType::f16}, {2, 3, DType::f32}};
  for (const bool roles : {false, true}) {
    int taken = 0;
    for (const Other& o : others) {
      GemmCase gc{{2, 64, 16, 16, 128, 3, Padding::all(1), {true, false, Activation::relu}, o.dtype, Layout::nhwc},
                  o.dtype == DType::bf16 ? Precision::bf16 : Precision::fp16, o.m,
                  roles ? std::array<int, 5>{128, 64, 2, 16, 32} : std::array<int, 5>{64, 128, 2, 32, 32}, roles};
      gc.conv.r = o.r;
      const plans::GemmTiles g = *resolved(gc).gemm;
      taken += g.async_mma;
      EXPECT_EQ(g.warp_roles, roles && g.async_mma) << g.str();
      const double err = check(gc, Device::interpreter());
      std::printf("[ measured ] interp warpgroup GEMM tiles F(%d,%d) %s %s: rel L2 error %.3g\n", o.m, o.r,
                  g.str().c_str(), gc.conv.str().c_str(), err);
    }
    EXPECT_GE(taken, 4);
  }
}

// The planner's own tiles (no --tiles): the warpgroup GEMM where K >= 512 and 256 to 512 tiles are
// stored channels last in groups of 8 (resnet50.c5.b32's 512, vgg16.5_2.b8's 392); not below 256
// tiles, with tiles no multiple of 8 or channels first, and each of those builds.
TEST(WarpgroupGemm, PlannerTakesItForManyChannelsAndFewTiles) {
  auto planned = [](int n, int hw, Layout layout) {
    const ConvCase cc{n, 512, hw, hw, 512, 3, Padding::all(1), {}, DType::f16, layout};
    plans::PlanOptions p;
    p.plan = "unfused", p.m = 2, p.precision = Precision::fp16;
    p.async_copies = p.bulk_copies = p.warpgroup_mma = true;
    p.shared_per_core = 228 * 1024, p.shared_per_group = 227 * 1024;  // (roles not asked: the 96 KiB)
    const plans::PlanOptions r = planner::resolve_plan(desc_of(cc), p);
    EXPECT_NO_THROW(plans::build_program(desc_of(cc), r)) << r.gemm->str() << " " << cc.str();
    EXPECT_FALSE(r.gemm->warp_roles) << r.gemm->str();
    EXPECT_LE(r.gemm->stage_floats(), plans::kAsyncSharedFloats) << r.gemm->str();
    return *r.gemm;
  };
  EXPECT_TRUE(planned(32, 7, Layout::nhwc).async_mma);   // 512 tiles
  EXPECT_TRUE(planned(8, 14, Layout::nhwc).async_mma);   // 392
  EXPECT_FALSE(planned(8, 28, Layout::nhwc).async_mma);  // 1568
  EXPECT_FALSE(planned(2, 14, Layout::nhwc).async_mma);  // 98: mostly padding in blocks of 256
  EXPECT_FALSE(planned(5, 14, Layout::nhwc).async_mma);  // 245: no multiple of 8
  EXPECT_FALSE(planned(8, 14, Layout::nchw).async_mma);  // V by channels
}

// With roles asked (PlanOptions::gemm_roles), the planner takes 128 output channels over as few
// blocks of up to 256 tiles as cover them, each a multiple of 32, in as many copies as the
// work-group's memory holds (4); not where K is no multiple of 128 or V is not stored by tiles.
TEST(WarpgroupGemm, PlannerTakesRolesWhereAsked) {
  auto planned = [](int n, int hw, int c, int k, Layout layout) {
    const ConvCase cc{n, c, hw, hw, k, 3, Padding::all(1), {}, DType::f16, layout};
    plans::PlanOptions p;
    p.plan = "unfused", p.m = 2, p.precision = Precision::fp16;
    p.async_copies = p.bulk_copies = p.warpgroup_mma = p.gemm_roles = true;
    p.shared_per_core = 228 * 1024, p.shared_per_group = 227 * 1024;
    const plans::PlanOptions r = planner::resolve_plan(desc_of(cc), p);
    EXPECT_NO_THROW(plans::build_program(desc_of(cc), r)) << r.gemm->str() << " " << cc.str();
    return *r.gemm;
  };
  const plans::GemmTiles c5 = planned(32, 7, 512, 512, Layout::nhwc);  // 512 tiles: 2 blocks of 256
  EXPECT_TRUE(c5.warp_roles && c5.async_mma) << c5.str();
  EXPECT_EQ(c5.bk, 128);
  EXPECT_EQ(c5.bp, 256);
  EXPECT_EQ(c5.stages, 4);
  EXPECT_EQ(c5.kernel_threads(), 384);
  EXPECT_EQ(planned(8, 14, 512, 512, Layout::nhwc).bp, 224);  // 392 tiles: 2 blocks of 224
  EXPECT_EQ(planned(8, 28, 512, 512, Layout::nhwc).bp, 224);  // 1568: 7 blocks of 224
  EXPECT_TRUE(planned(8, 56, 256, 256, Layout::nhwc).warp_roles);
  EXPECT_FALSE(planned(8, 56, 64, 64, Layout::nhwc).warp_roles);    // K = 64
  EXPECT_FALSE(planned(8, 14, 512, 512, Layout::nchw).warp_roles);  // V by channels
}

TEST(WarpgroupGemm, CompilesForSm90aWithoutSpilling) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  size_t compiled = 0;
  for (const GemmCase& gc : gemm_cases()) {
    const plans::Program prog = plans::build_program(desc_of(gc.conv), resolved(gc));
    for (const plans::Launch& l : prog.launches) {
      const ir::Kernel& k = *prog.kernels[l.kernel];
      if (!render::needs_arch_specific(k)) continue;
      const std::string src = cuda_translation_unit(k);
      const cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k.name, cuda::kernel_arch("sm_90", true));
      ASSERT_EQ(out.kernels.count(k.name), 1u) << out.log;
      EXPECT_EQ(out.kernels.at(k.name).spill_store_bytes + out.kernels.at(k.name).spill_load_bytes, 0) << out.log;
      // ptxas waits for the whole wgmma pipeline where the threads touch an accumulator in flight.
      EXPECT_EQ(out.log.find("is injected"), std::string::npos) << out.log;
      std::printf("[ measured ] %s: %d registers (sm_90a)\n", k.name.c_str(), out.kernels.at(k.name).registers);
      ++compiled;
    }
  }
  EXPECT_EQ(compiled, gemm_cases().size());  // one warpgroup GEMM each
}

TEST(WarpgroupGemm, GpuMatchesReference) {
  SKIP_WITHOUT_CUDA();
  for (const GemmCase& gc : gemm_cases()) {
    const double err = check(gc, Device::cuda());
    std::printf("[ measured ] cuda warpgroup GEMM F(%d,%d) %s %s: rel L2 error %.3g\n", gc.m, static_cast<int>(gc.conv.r),
                resolved(gc).gemm->str().c_str(), gc.conv.str().c_str(), err);
  }
}

}  // namespace
}  // namespace wino::testing

// The tensor-core fused ring on warpgroup mmas (GemmTiles::async_mma; sm_90 wgmma): the planner's
// shape for it, U and V in core matrices, its input transform on the tensor cores where its tiles
// are 2D blocks, and every option the ring takes (f16 and bf16, F(2,3)
// and F(3,2), runs and 2D blocks, U and V staged once or twice (the mmas of one chunk during the
// next one's transform), persistent work-groups with uneven last rounds and U resident in them,
// odd chunk counts, two blocks of output channels, N > 1, padding 1 and 2, the epilogue) in the
// interpreter against
// the float64 reference; the kernel compiles for sm_90a without spilling, and the GPU agrees.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "common/error.h"
#include "cuda_skip.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "plans/program.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"
#include "conv_tester.h"

namespace wino::testing {
namespace {

// An sm_90 device's ring (planner: widen_tile_ring, persist_tile_ring) with `cores` multiprocessors.
plans::PlanOptions warpgroup_options(Precision precision, int m, int cols, int cores, bool mma_transform = false,
                                     bool warp_roles = false) {
  plans::PlanOptions o;
  o.plan = "fused";
  o.m = m;
  o.precision = precision;
  o.async_copies = o.bulk_copies = o.warpgroup_mma = true;
  o.mma_transform = mma_transform;
  o.warp_roles = warp_roles;
  o.tile_block_cols = cols;
  o.shared_per_core = 228 * 1024, o.shared_per_group = 227 * 1024;
  o.device_cores = cores;
  return o;
}

struct RingCase {
  ConvCase conv;
  Precision precision;
  int m, cols, cores;
  bool mma_transform = false;  // where the tiles are 2D blocks: the transform on the tensor cores
  bool warp_roles = false;     // a producer warpgroup copies and transforms the patches (GemmTiles::warp_roles)
  plans::PlanOptions options() const { return warpgroup_options(precision, m, cols, cores, mma_transform, warp_roles); }
};

const std::vector<RingCase>& ring_cases() {
  static const std::vector<RingCase> cases = {
      {{2, 64, 13, 11, 128, 3, Padding::all(1), {true, true, Activation::relu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, -1, 3},
      {{1, 96, 21, 15, 64, 3, Padding::all(2), {}, DType::f16, Layout::nhwc}, Precision::fp16, 2, 8, 3, true},
      {{3, 64, 16, 16, 64, 3, Padding::all(1), {}, DType::bf16, Layout::nhwc}, Precision::bf16, 2, 8, 5, true},
      {{2, 64, 13, 11, 128, 2, Padding::all(1), {true, false, Activation::silu}, DType::bf16, Layout::nhwc}, Precision::bf16, 3, 0, 3, true},
      {{1, 32, 9, 9, 64, 3, Padding::all(1), {}, DType::f16, Layout::nhwc}, Precision::fp16, 2, -1, 132},
      // Staged twice, persistent, its work-groups' rounds uneven (8 blocks over 5).
      {{2, 64, 18, 14, 64, 3, Padding::all(1), {true, false, Activation::none}, DType::f16, Layout::nhwc}, Precision::fp16, 2, 8, 5},
      // F(3,2) persistent, with a residual and relu6: its region leaves no room for two copies of U
      // and V, so U is not resident there.
      {{2, 64, 23, 25, 64, 2, Padding::all(1), {false, true, Activation::relu6}, DType::f16, Layout::nhwc}, Precision::fp16, 3, 4, 3, true},
      // Persistent, U resident in its two copies (two chunks of 16 channels), 5 blocks over 3.
      {{3, 32, 9, 17, 64, 3, Padding::all(1), {true, true, Activation::relu6}, DType::f16, Layout::nhwc}, Precision::fp16, 2, -1, 3},
      // 32 chunks of 16 channels staged twice, each warp's two units two tiles' 16 channels; on the
      // tensor cores.
      {{1, 512, 8, 10, 64, 3, Padding::all(1), {true, false, Activation::relu}, DType::f16, Layout::nhwc}, Precision::fp16, 2, 4, 3, true},
      // In warps with roles: persistent with U resident (8 blocks over 5); U copied every step
      // (two blocks of output channels, 5 chunks of 32 channels: an odd count), N > 1, padding 2, bf16.
      {{2, 64, 18, 14, 64, 3, Padding::all(1), {true, false, Activation::none}, DType::f16, Layout::nhwc}, Precision::fp16, 2, 8, 5, false, true},
      {{2, 160, 11, 13, 128, 3, Padding::all(2), {true, true, Activation::relu}, DType::bf16, Layout::nhwc}, Precision::bf16, 2, 4, 3, false, true},
  };
  return cases;
}

TEST(WarpgroupRing, PlannerShapesTheRingForWarpgroupsOnSm90Only) {
  const RingCase& rc = ring_cases()[0];
  const ConvDesc d = desc_of(rc.conv);
  const plans::GemmTiles g = *planner::resolve_plan(d, rc.options()).gemm;
  EXPECT_TRUE(g.async_mma && g.tile_patch_ring() && g.bulk_u) << g.str();
  EXPECT_EQ(g.bk, 64);
  EXPECT_EQ(g.rk * 32, g.bk) << g.str();  // a warpgroup's 4 warps over the block's rows
  EXPECT_EQ(g.bp, 4 * g.rp) << g.str();   // each warp over all its tiles
  EXPECT_NE(g.str().find("_wg"), std::string::npos) << g.str();
  plans::PlanOptions without = rc.options();
  without.warpgroup_mma = false;
  const plans::GemmTiles h = *planner::resolve_plan(d, without).gemm;
  EXPECT_FALSE(h.async_mma) << h.str();
  EXPECT_EQ(h.ppt, 1) << h.str();
  // Where the warpgroups would not run, the ring keeps a warp a point: 9 points (F(2,2)), K not a
  // multiple of the block, C not of the chunk; each plans and builds.
  for (const auto& [m, r, c, k] : std::vector<std::array<int, 4>>{{2, 2, 64, 64}, {2, 3, 64, 72}, {2, 3, 40, 64}}) {
    ConvCase other = rc.conv;
    other.r = r, other.c = c, other.k = k;
    const ConvDesc od = desc_of(other);
    const plans::PlanOptions q = planner::resolve_plan(od, warpgroup_options(rc.precision, m, 0, rc.cores));
    EXPECT_FALSE(q.gemm->async_mma) << q.gemm->str() << " " << other.str();
    EXPECT_EQ(q.gemm->ppt, 1) << q.gemm->str() << " " << other.str();
    EXPECT_NO_THROW(plans::build_program(od, q)) << q.gemm->str() << " " << other.str();
  }
  // Tiles the warpgroups do not fit are refused by name.
  plans::PlanOptions planned = planner::resolve_plan(d, rc.options());
  planned.gemm->rk = 4, planned.gemm->ppt = 2;
  EXPECT_THROW(plans::build_program(d, planned), Error);
}

// U resident (GemmTiles::resident_u) in 8 x 4 blocks on an H200's 132 multiprocessors where one
// block of output channels and two chunks hold it (resnet50.c2.b32, vgg16.1_2.b8), not with two
// blocks of output channels (resnet50.c3.b32) nor four chunks (C = 128, K = 64).
TEST(WarpgroupRing, PlannerKeepsUResidentWhereOneBlockOfOutputChannelsHoldsIt) {
  struct Layer {
    int n, c, hw, k;
    bool resident;
  };
  for (const Layer& l : {Layer{32, 64, 56, 64, true}, Layer{8, 64, 224, 64, true}, Layer{32, 128, 28, 128, false},
                         Layer{32, 128, 56, 64, false}}) {
    ConvCase cc{l.n, l.c, l.hw, l.hw, l.k, 3, Padding::all(1), {}, DType::f16, Layout::nhwc};
    const ConvDesc d = desc_of(cc);
    const plans::GemmTiles g = *planner::resolve_plan(d, warpgroup_options(Precision::fp16, 2, 4, 132)).gemm;  // 8 x 4 blocks
    EXPECT_TRUE(g.async_mma && g.persistent_groups) << g.str() << " " << cc.str();
    EXPECT_EQ(g.resident_u, l.resident) << g.str() << " " << cc.str();
    EXPECT_EQ(g.str().find("_ur") != std::string::npos, l.resident) << g.str();
  }
}

// The ring in warps with roles takes U and V staged twice in 2D blocks: F(3,2)'s ring, staged once
// (its region leaves no room for two copies), stays as it is when roles are asked for.
TEST(WarpgroupRing, RolesOnlyWhereTheRingIsStagedTwiceInBlocks) {
  const RingCase rc{{1, 64, 14, 16, 64, 2, Padding::all(1), {}, DType::f16, Layout::nhwc}, Precision::fp16, 3, 4, 3, false, true};
  const plans::GemmTiles g = *planner::resolve_plan(desc_of(rc.conv), rc.options()).gemm;
  EXPECT_TRUE(g.async_mma && g.region.cols > 0) << g.str();
  EXPECT_FALSE(g.double_operands) << g.str();
  EXPECT_FALSE(g.warp_roles) << g.str();
}

TEST(WarpgroupRing, MatchesReferenceInEveryTypeAndShape) {
  int persistent = 0, regions = 0, twice = 0, persistent_twice = 0, resident = 0, by_mma = 0, chunks16_by_mma = 0;
  int roles_resident = 0, roles_copying_u = 0;
  for (const RingCase& rc : ring_cases()) {
    const ConvDesc d = desc_of(rc.conv);
    const plans::PlanOptions resolved = planner::resolve_plan(d, rc.options());
    const plans::GemmTiles& g = *resolved.gemm;
    ASSERT_TRUE(g.async_mma) << g.str() << " " << rc.conv.str();
    persistent += g.persistent_groups > 0;
    twice += g.double_operands;
    persistent_twice += g.double_operands && g.persistent_groups > 0;
    regions += g.region.cols > 0;
    resident += g.resident_u;
    by_mma += g.transforms_by_mma();
    chunks16_by_mma += g.transforms_by_mma() && g.cc == 16;
    EXPECT_EQ(g.transforms_by_mma(), rc.mma_transform && g.region.cols > 0) << g.str();
    EXPECT_EQ(g.warp_roles, rc.warp_roles) << g.str();
    roles_resident += g.warp_roles && g.resident_u;
    roles_copying_u += g.warp_roles && !g.resident_u;
    const plans::Program built = plans::build_program(d, resolved);  // within the device's work-group memory
    const ir::Kernel& ring = *built.kernels[built.launches.back().kernel];
    EXPECT_LE(ir::shared_array_bytes(ring), 227 * 1024) << ring.name;
    Options opts = plan_options("fused", rc.m);
    opts.precision = rc.precision;
    const double err = check_conv(Device::interpreter(), opts, rc.conv, 1, [&](plans::Program& prog) {
      prog = plans::build_program(d, resolved);
    });
    std::printf("[ measured ] interp warpgroup ring F(%d,%d) %s %s: rel L2 error %.3g\n", rc.m, static_cast<int>(rc.conv.r),
                g.str().c_str(), rc.conv.str().c_str(), err);
  }
  EXPECT_GE(persistent, 3);
  EXPECT_GE(twice, 3);
  EXPECT_GE(persistent_twice, 3);
  EXPECT_GE(regions, 2);
  EXPECT_GE(resident, 2);
  EXPECT_GE(persistent_twice - resident, 1);  // and staged twice with U copied every step
  EXPECT_GE(by_mma, 4);  // on the tensor cores: f16 and bf16, F(2,3) and F(3,2), resident U
  EXPECT_GE(chunks16_by_mma, 1);
  EXPECT_GE(regions - by_mma, 1);  // and 2D blocks transformed by the threads
  EXPECT_EQ(roles_resident, 1);  // in warps with roles: U resident,
  EXPECT_EQ(roles_copying_u, 1);  // and U copied every step
}

// The transform by mma in every 2D block of 32 tiles (16 x 2 to 2 x 16): each warp's two tiles
// lie elsewhere in the region, and its units' offsets must still be the same in every warp.
TEST(WarpgroupRing, TransformsByMmaInEveryBlockShape) {
  for (int cols : {2, 4, 8, 16}) {
    SCOPED_TRACE(cols);
    const RingCase rc{{1, 32, 34, 34, 64, 3, Padding::all(1), {true, false, Activation::none}, DType::bf16, Layout::nhwc},
                      Precision::bf16, 2, cols, 3, true};
    const ConvDesc d = desc_of(rc.conv);
    const plans::PlanOptions resolved = planner::resolve_plan(d, rc.options());
    ASSERT_TRUE(resolved.gemm->transforms_by_mma()) << resolved.gemm->str();
    ASSERT_EQ(resolved.gemm->region.cols, cols) << resolved.gemm->str();
    Options opts = plan_options("fused", rc.m);
    opts.precision = rc.precision;
    const double err = check_conv(Device::interpreter(), opts, rc.conv, 1, [&](plans::Program& prog) {
      prog = plans::build_program(d, resolved);
    });
    std::printf("[ measured ] interp ring by mma %s: rel L2 error %.3g\n", resolved.gemm->str().c_str(), err);
  }
  // bf16 tensors in fp16: the patches' bits are not the mma's operands, so the threads transform.
  const RingCase mixed{{1, 32, 34, 34, 64, 3, Padding::all(1), {}, DType::bf16, Layout::nhwc}, Precision::fp16, 2, 4, 3, true};
  const plans::GemmTiles g = *planner::resolve_plan(desc_of(mixed.conv), mixed.options()).gemm;
  EXPECT_TRUE(g.async_mma && g.region.cols == 4) << g.str();
  EXPECT_FALSE(g.transforms_by_mma()) << g.str();
}

// The ring kernel of a resolved plan, its CUDA source (the kernel alone and with the prelude) and
// its sm_90a build.
struct CompiledRing {
  std::string name, kernel, src;
  cuda::NvrtcOutput out;
  int spill_bytes() const { return out.kernels.at(name).spill_store_bytes + out.kernels.at(name).spill_load_bytes; }
};
CompiledRing compile_ring(const ConvDesc& d, const plans::PlanOptions& resolved) {
  const plans::Program prog = plans::build_program(d, resolved);
  const ir::Kernel& ring = *prog.kernels[prog.launches.back().kernel];
  CompiledRing c{ring.name, render::render_kernel(ring, render::Dialect::cuda), "", {}};
  EXPECT_TRUE(render::needs_arch_specific(ring)) << ring.name;
  c.src = render::translation_unit({c.kernel}, render::Dialect::cuda);
  c.out = cuda::nvrtc_compile(c.src, ring.name, cuda::kernel_arch("sm_90", true));
  return c;
}

// The ring staged once (case 0) and twice, its mmas overlapping the next transform (case 1).
TEST(WarpgroupRing, CompilesForSm90aWithoutSpilling) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (int c : {0, 1}) {
  SCOPED_TRACE(c);
  const RingCase& rc = ring_cases()[static_cast<size_t>(c)];
  const ConvDesc d = desc_of(rc.conv);
  const plans::PlanOptions resolved = planner::resolve_plan(d, rc.options());
  const CompiledRing ring = compile_ring(d, resolved);
  const std::string& src = ring.src;
  // U's descriptor: core matrices 1024 bytes apart along the channels (64 rows of 16 bytes), 128
  // apart by 8 rows, no swizzle; V's where the threads transform (runs): rows of 64 bytes swizzled
  // (mode 2), patterns 512 bytes apart; where the mmas transform (2D blocks): core matrices like
  // U's, 512 bytes apart along the channels (32 tiles). Each built once a multiply; one proxy fence
  // a step, after the transform's stores.
  const plans::GemmTiles& g = *resolved.gemm;
  ASSERT_EQ(g.transforms_by_mma(), c == 1) << g.str();
  EXPECT_NE(src.find("wino_wgmma_desc(&us[ua], 1024u, 128u, 0u)"), std::string::npos) << src;
  EXPECT_NE(src.find(g.transforms_by_mma() ? "wino_wgmma_desc(&vs[va], 512u, 128u, 0u)"
                                           : "wino_wgmma_desc(&vs[va], 16u, 512u, 2u)"),
            std::string::npos)
      << src;
  const std::string& kernel = ring.kernel;  // without the prelude
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = kernel.find(what); at != std::string::npos; at = kernel.find(what, at + 1)) ++n;
    return n;
  };
  // Staged twice, a block's last chunk multiplies after the loop (two multiplies), and its first
  // step transforms without one (a fence of its own).
  ASSERT_EQ(g.double_operands, c == 1) << g.str();
  EXPECT_EQ(count("wino_wgmma_desc(&"), g.double_operands ? 4u : 2u) << src;
  EXPECT_EQ(count("fence.proxy.async.shared::cta"), g.double_operands ? 2u : 1u) << src;
  const cuda::NvrtcOutput& out = ring.out;
  ASSERT_EQ(out.kernels.count(ring.name), 1u) << out.log;
  EXPECT_EQ(ring.spill_bytes(), 0) << out.log;
  // ptxas waits for the whole wgmma pipeline where the threads touch an accumulator in flight.
  EXPECT_EQ(out.log.find("is injected"), std::string::npos) << out.log;
  std::printf("[ measured ] %s: %d registers (sm_90a)\n", ring.name.c_str(), out.kernels.at(ring.name).registers);
  if (getenv("WINO_PRINT_LOG")) std::printf("%s\n", out.log.c_str());
  }
}

// Where the ring's tiles are 2D blocks it transforms on the tensor cores: each warp a tile's 16
// channels a step, one ldmatrix of the patch's pixels and two mmas with the transform's matrix
// (GemmTiles::transforms_by_mma), no conversions or additions of the threads'; ptxas keeps it
// unspilled on the shapes plan auto takes the ring on (vgg16.3_2.b8, resnet50.c4.b32: 8 x 4
// blocks, persistent).
TEST(WarpgroupRing, TransformsOnTheTensorCoresWithoutSpilling) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (const ConvCase& conv : {ConvCase{8, 256, 56, 56, 256, 3, Padding::all(1), {}, DType::f16, Layout::nhwc},
                               ConvCase{32, 256, 14, 14, 256, 3, Padding::all(1), {}, DType::bf16, Layout::nhwc}}) {
    SCOPED_TRACE(conv.str());
    const ConvDesc d = desc_of(conv);
    const Precision precision = conv.dtype == DType::f16 ? Precision::fp16 : Precision::bf16;
    const plans::PlanOptions resolved = planner::resolve_plan(d, warpgroup_options(precision, 2, 4, 132, true));
    const plans::GemmTiles& g = *resolved.gemm;
    ASSERT_TRUE(g.async_mma && g.double_operands && g.region.cols == 4) << g.str();
    ASSERT_TRUE(g.transforms_by_mma()) << g.str();
    const CompiledRing ring = compile_ring(d, resolved);
    EXPECT_NE(ring.src.find("transform the chunk's patches into V on the tensor cores"), std::string::npos) << ring.src;
    EXPECT_EQ(ring.src.find("two channels a thread"), std::string::npos) << ring.src;
    ASSERT_EQ(ring.out.kernels.count(ring.name), 1u) << ring.out.log;
    EXPECT_EQ(ring.spill_bytes(), 0) << ring.out.log;
    std::printf("[ measured ] %s: %d registers (sm_90a)\n", ring.name.c_str(), ring.out.kernels.at(ring.name).registers);
  }
}

TEST(WarpgroupRing, GpuMatchesReference) {
  SKIP_WITHOUT_CUDA();
  for (const RingCase& rc : ring_cases()) {
    const ConvDesc d = desc_of(rc.conv);
    const plans::PlanOptions resolved = planner::resolve_plan(d, rc.options());
    Options opts = plan_options("fused", rc.m);
    opts.precision = rc.precision;
    const double err = check_conv(Device::cuda(), opts, rc.conv, 1, [&](plans::Program& prog) {
      prog = plans::build_program(d, resolved);
    });
    std::printf("[ measured ] cuda warpgroup ring F(%d,%d) %s %s: rel L2 error %.3g\n", rc.m, static_cast<int>(rc.conv.r),
                resolved.gemm->str().c_str(), rc.conv.str().c_str(), err);
  }
}

}  // namespace
}  // namespace wino::testing

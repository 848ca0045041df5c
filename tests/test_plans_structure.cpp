// Structure without running: what each plan generates, what the register model predicts, and
// how far the prediction is from ptxas.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <tuple>

#include "ir/builder.h"
#include "planner/kernel_stats.h"
#include "lower/lower.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"
#include "wino/wino.h"
#include "planner/tile_choice.h"
#include "square_layer.h"

namespace wino {
namespace {

plans::Program build(const ConvDesc& d, const std::string& plan, int m = 4) {
  plans::PlanOptions o;
  o.plan = plan;
  o.m = m;
  return plans::build_program(d, planner::resolve_plan(d, o));
}

// The register model's count of the mma chains a run of mma statements interleaves: one per
// accumulator tile of m16n8 a warp holds (a thread's 8 x 8 tile over the warp: 16; 16 x 8: 32).
TEST(PlansStructure, MmaRunsCountTheirAccumulatorChains) {
  for (auto [tiles, chains] : {std::pair{std::array<int, 5>{128, 64, 8, 8, 16}, 16},
                               std::pair{std::array<int, 5>{128, 128, 16, 8, 16}, 32}}) {
    ConvDesc d = layer(8, 512, 28, 512);
    d.layout = Layout::nhwc, d.dtype = DType::f16;
    plans::PlanOptions o;
    o.plan = "unfused", o.m = 2, o.precision = Precision::fp16, o.async_copies = true;
    std::tie(o.block_k, o.block_tiles, o.reg_k, o.reg_tiles, o.chunk_c) = std::tuple(tiles[0], tiles[1], tiles[2], tiles[3], tiles[4]);
    int64_t most = 0;
    for (const auto& k : plans::build_program(d, planner::resolve_plan(d, o)).kernels)
      most = std::max(most, planner::analyze(*k).mma_chains);
    EXPECT_EQ(most, chains) << tiles[2] << " x " << tiles[3];
  }
}

// Options for plan fused at F(m, 3), as the planner resolves them for a device with or without
// asynchronous copies.
plans::PlanOptions fused_options(int m, bool async_copies, Precision precision = Precision::fp32) {
  plans::PlanOptions o;
  o.plan = "fused";
  o.m = m;
  o.precision = precision;
  o.async_copies = async_copies;
  return o;
}

int64_t total_ssa(const plans::Program& p) {
  int64_t n = 0;
  for (const auto& k : p.kernels) n += planner::analyze(*k).ssa_values;
  return n;
}

// The stats count a statement under a branch as often as the branch is taken where its condition
// depends on the innermost loop alone: a ring's copies of the chunks past the last are never
// issued. So the unfused GEMM's bytes are its operands' whatever the ring's chunk (they had charged
// S - 1 chunks too many: 11 of 8 at chunks of 32, 19 of 16 at 16). Conditions on the threads stay
// counted on every iteration.
TEST(PlansStructure, StatsCountBranchesAsTakenByTheLoop) {
  ir::KernelBuilder b(std::make_shared<ir::Context>(), "branches", 2, 32);
  const ir::Memory* out = b.buffer("out", 8 * 32, false);
  b.loop("i", 8, ir::LoopKind::serial, [&](ir::Expr i) {
    ir::Expr ahead = b.let("ahead", i + 3);
    b.threads([&](ir::Expr tid) {
      b.if_then(ir::lt(ahead, b.i32(8)), [&] { b.store(out, i * 32 + tid, b.f32(1)); });             // 5 of 8
      b.if_then(ir::lt(tid, b.i32(16)), [&] { b.store(out, i * 32 + tid, b.f32(2)); });              // all 8
      b.if_then(ir::logical_and(ir::le(b.i32(2), i), ir::lt(i % 3, b.i32(1))), [&] { b.store(out, i, b.f32(3)); });  // i = 3, 6
      b.if_then(ir::lt(ahead, b.i32(9)), [&] {  // 6 of 8, and of those 4 (i + 4 < 8)
        b.if_then(ir::lt(ahead + 1, b.i32(8)), [&] { b.store(out, i * 32 + tid, b.f32(4)); });
        b.if_then(ir::eq(tid, b.i32(0)), [&] { b.store(out, i, b.f32(5)); });  // one thread of 6 iterations
      });
      b.if_then(ir::lt(ahead, b.i32(7)), [&] {  // 4 of 8, with a loop inside (its frame comes and goes)
        b.loop("j", 3, ir::LoopKind::serial, [&](ir::Expr) { b.store(out, i * 32 + tid, b.f32(6)); });
        b.store(out, i * 32 + tid, b.f32(7));
      });
    });
  });
  const int64_t per_store = 4 * 2 * 32;  // a float, by every thread of both work-groups
  EXPECT_EQ(planner::analyze(*b.finish()).bytes, (5 + 8 + 2 + 4 + 4 * 3 + 4) * per_store + 6 * 4 * 2);

  ConvDesc d = layer(8, 256, 56, 256);
  d.layout = Layout::nhwc, d.dtype = DType::f16;
  std::map<int, int64_t> bytes;
  for (int cc : {16, 32}) {
    plans::PlanOptions o;
    o.plan = "unfused", o.m = 2, o.precision = Precision::fp16, o.async_copies = true;
    std::tie(o.block_k, o.block_tiles, o.reg_k, o.reg_tiles, o.chunk_c) = std::tuple(128, 128, 16, 8, cc);
    for (const auto& k : plans::build_program(d, planner::resolve_plan(d, o)).kernels)
      if (k->name.find("gemm") != std::string::npos) bytes[cc] = planner::analyze(*k).bytes;
  }
  // U (16 points x 256 x 256 halves) once per block of tiles (49), V (16 x 6272 tiles x 256) once
  // per block of output channels (2), M (16 x 256 x 6272 halves) stored once.
  const int64_t u = 16 * 256 * 256 * 2, v = int64_t{16} * 6272 * 256 * 2;
  EXPECT_EQ(bytes.at(16), 49 * u + 2 * v + v);
  EXPECT_EQ(bytes.at(32), bytes.at(16));
}

TEST(PlansStructure, KernelCountPerPlan) {
  const std::map<std::string, size_t> expected = {{"direct", 1},       {"unfused", 4},
                                                  {"fused-input", 3},  {"fused-output", 3},
                                                  {"fused", 2},        {"naive-fused", 2}};  // + the weight transform
  ASSERT_EQ(plans::plan_names().size(), expected.size());
  for (const std::string& plan : plans::plan_names())
    EXPECT_EQ(build(layer(1, 8, 32, 8), plan).kernels.size(), expected.at(plan)) << plan;
}

TEST(PlansStructure, NaiveFusedHasSeveralTimesTheSsaValuesOfFused) {
  const ConvDesc seed = layer(1, 8, 32, 8);
  // The re-inlined reduction grows with alpha^2: several times at F(4,3) and F(6,3) (the seed's
  // failure), and still more than fused at F(2,3), whose unrolled register tiles are not small.
  for (int m : {2, 4, 6}) {
    int64_t naive = total_ssa(build(seed, "naive-fused", m)), fused = total_ssa(build(seed, "fused", m));
    EXPECT_GE(naive, (m == 2 ? 1.5 : 3.0) * static_cast<double>(fused))
        << "m=" << m << ": naive " << naive << ", fused " << fused;
  }
}

TEST(PlansStructure, FusedPredictedRegistersDoNotGrowWithChannels) {
  for (int m : {2, 4, 6}) {
    int small = planner::analyze(*build(layer(1, 8, 32, 8), "fused", m).kernels[0]).pred_regs;
    int large = planner::analyze(*build(layer(1, 512, 32, 8), "fused", m).kernels[0]).pred_regs;
    EXPECT_LE(large, small + 2) << "m=" << m;  // a loop counter, not a value per channel
  }
}

// The model against ptxas on a fixed set of kernels. Documented bound (docs/performance.md):
// ptxas uses between 0.5x and 2.5x the predicted registers. Where ptxas has registers to spare
// (one block per SM allowed) it keeps more values live than the model's minimum.
TEST(PlansStructure, RegisterModelWithinDocumentedBoundOfPtxas) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (const ConvDesc& d : {layer(1, 8, 32, 8), layer(8, 256, 56, 256)})
    for (const std::string& plan : plans::plan_names()) {
      if (plan == "naive-fused") continue;  // sharing off: not what the model is for
      plans::PlanOptions o;
      o.plan = plan;
      o.m = 4;
      const lower::Lowered low = lower::lower(d, planner::resolve_plan(d, o), render::Dialect::cuda);
      std::vector<const ir::Kernel*> ks;
      for (const auto& k : low.program.kernels) ks.push_back(k.get());
      cuda::NvrtcOutput out = cuda::nvrtc_compile(low.source, ks[0]->name, "sm_90");
      for (const ir::Kernel* k : ks) {
        const int pred = planner::analyze(*k).pred_regs, regs = out.kernels.at(k->name).registers;
        EXPECT_LE(2 * regs, 5 * pred) << k->name << ": " << regs << " vs predicted " << pred;
        EXPECT_GE(regs, pred / 2) << k->name;
        EXPECT_FALSE(out.kernels.at(k->name).spills()) << k->name << " spills on " << d.str();
      }
    }
}

// The NHWC transform kernels ask CUDA for several work-groups per multiprocessor (a register
// budget: they are memory-bound), fewer as alpha^2 grows; the GEMM leaves registers to ptxas.
TEST(PlansStructure, NhwcTransformsAskForMoreWarpsInFlight) {
  ConvDesc d = layer(2, 32, 24, 32);
  d.layout = Layout::nhwc;
  d.dtype = DType::f16;
  // alpha 3 to 8, 256 threads (at most 64 registers up to alpha 6)
  const std::map<int, int> groups_at_m = {{1, 5}, {2, 4}, {3, 4}, {4, 4}, {5, 1}, {6, 1}};
  for (const auto& [m, groups] : groups_at_m) {
    const plans::Program prog = build(d, "unfused", m);
    for (const auto& k : prog.kernels) {
      const bool transform = k->name.find("_nhwc_") != std::string::npos;
      EXPECT_EQ(k->min_groups_per_multiprocessor, transform ? groups : 1) << k->name;
      const std::string cuda = render::render_kernel(*k, render::Dialect::cuda);
      EXPECT_NE(cuda.find("__launch_bounds__(" + std::to_string(k->threads_per_group) + ", " +
                          std::to_string(k->min_groups_per_multiprocessor) + ")"),
                std::string::npos)
          << k->name;
    }
    // ptxas meets the budget without spilling (where NVRTC is here).
    std::string why;
    if (!cuda::nvrtc_available(&why)) continue;
    plans::PlanOptions o;
    o.plan = "unfused";
    o.m = m;
    const lower::Lowered low = lower::lower(d, planner::resolve_plan(d, o), render::Dialect::cuda);
    const cuda::NvrtcOutput out = cuda::nvrtc_compile(low.source, low.program.kernels[0]->name, "sm_90");
    for (const auto& k : low.program.kernels) {
      const int cap = 65536 / (k->threads_per_group * k->min_groups_per_multiprocessor);
      EXPECT_LE(out.kernels.at(k->name).registers, cap) << k->name;
      EXPECT_FALSE(out.kernels.at(k->name).spills()) << k->name << " at F(" << m << ",3)";
    }
  }
}

// A half V of a channels-last layer whose C is a multiple of 8 is stored V[xi][p][c]: the input
// transform then writes each pixel's channels together with no turnaround (no work-group memory,
// no barrier), and the GEMM loads both operands' fragments by ldmatrix (A transposed, B not).
// NCHW, or C not a multiple of 8, keep V[xi][c][p].
TEST(PlansStructure, ChannelsLastHalfVIsStoredByTiles) {
  auto program = [](int64_t c, Layout layout, const std::string& plan) {
    ConvDesc d = layer(2, c, 16, 32);
    d.layout = layout;
    d.dtype = DType::f16;
    plans::PlanOptions o;
    o.plan = plan;
    o.m = 4;
    o.precision = Precision::fp16;
    o.async_copies = true;
    return plans::build_program(d, planner::resolve_plan(d, o));
  };
  auto count = [](const ir::Block& body, ir::StmtKind kind, bool transposed) {
    std::function<int(const ir::Block&)> walk = [&](const ir::Block& b) {
      int n = 0;
      for (const ir::StmtPtr& s : b) n += (s->kind == kind && s->transposed == transposed) + walk(s->body);
      return n;
    };
    return walk(body);
  };
  for (const std::string plan : {"unfused", "fused-output"}) {
    const plans::Program p = program(24, Layout::nhwc, plan);
    const ir::Kernel& input = *p.kernels.at(0);
    EXPECT_NE(input.name.find("_nhwc_vt_"), std::string::npos) << input.name;
    EXPECT_EQ(ir::shared_array_bytes(input), 0) << input.name;
    EXPECT_EQ(count(input.body, ir::StmtKind::barrier, false), 0) << input.name;
    const ir::Kernel& gemm = *p.kernels.at(1);
    EXPECT_NE(gemm.name.find("_vtf16"), std::string::npos) << gemm.name;
    EXPECT_GT(count(gemm.body, ir::StmtKind::load_matrix, true), 0) << gemm.name << ": A by ldmatrix, transposed";
    EXPECT_GT(count(gemm.body, ir::StmtKind::load_matrix, false), 0) << gemm.name << ": B by ldmatrix";
    for (const plans::Program& other : {program(24, Layout::nchw, plan), program(20, Layout::nhwc, plan)})
      for (const auto& k : other.kernels) EXPECT_EQ(k->name.find("_vt"), std::string::npos) << k->name;
  }
  // A half M comes into the channels-last output transform by 16-byte asynchronous copies, all its
  // points at once (session 32: 1.23-1.35x the 2-byte loads; session 43's removal of the ldmatrix
  // kernel had left them out).
  const plans::Program unfused = program(24, Layout::nhwc, "unfused");
  const ir::Kernel& output = *unfused.kernels.at(2);
  EXPECT_NE(output.name.find("_mf16"), std::string::npos) << output.name;
  EXPECT_GT(count(output.body, ir::StmtKind::copy_async, false), 0) << output.name;
}

// fused on tensor cores: one work-group per block with all alpha^2 points, a group of them a warp
// (F(4,3): 4 points, 9 warps), the chunk's tiles transformed into halves by tiles and both
// operands' fragments loaded by ldmatrix, each chunk's tiles loaded as it is staged (not a chunk
// ahead: that cost registers and time, session 45); one kernel besides the weight transform. In
// tf32 the operands stay floats (no ldmatrix). The exchange after the GEMM stores each register
// row under a warp-uniform branch, not a store mask per value.
TEST(PlansStructure, TensorCoreFusedSplitsThePointsOverTheWarps) {
  for (const Precision p : {Precision::fp16, Precision::tf32}) {
    ConvDesc d = layer(2, 24, 16, 40);
    d.layout = Layout::nhwc;
    plans::PlanOptions o;
    o.plan = "fused";
    o.m = 4;
    o.precision = p;
    o.async_copies = true;
    const plans::PlanOptions r = planner::resolve_plan(d, o);
    const plans::GemmTiles& g = *r.gemm;
    EXPECT_EQ(g.points, 36);
    EXPECT_LT(g.ppt, g.points);
    EXPECT_TRUE(g.mma && !g.prefetch);
    EXPECT_EQ(g.threads() % 32, 0);
    EXPECT_LE(g.threads() / 32, 9);
    const plans::Program prog = plans::build_program(d, r);
    ASSERT_EQ(prog.kernels.size(), 2u);
    const ir::Kernel& k = *prog.kernels.at(0);  // the weight transform runs at set_weights
    EXPECT_NE(k.name.find("_all_"), std::string::npos) << k.name;
    std::function<int(const ir::Block&, ir::StmtKind, int)> count = [&](const ir::Block& b, ir::StmtKind kind,
                                                                        int transposed) {
      int n = 0;  // statements of `kind` (transposed or not, or either: -1)
      for (const ir::StmtPtr& st : b)
        n += (st->kind == kind && (transposed < 0 || st->transposed == (transposed == 1))) + count(st->body, kind, transposed);
      return n;
    };
    const bool half = p == Precision::fp16;
    EXPECT_EQ(k.name.find("_svtf16") != std::string::npos, half) << k.name;
    EXPECT_EQ(count(k.body, ir::StmtKind::load_matrix, 1) > 0, half) << k.name << ": A by ldmatrix, transposed";
    EXPECT_EQ(count(k.body, ir::StmtKind::load_matrix, 0) > 0, half) << k.name << ": B by ldmatrix";
    EXPECT_GT(count(k.body, ir::StmtKind::mma, -1), 0) << k.name;
    std::function<int(const ir::Block&)> masked_exchange_stores = [&](const ir::Block& b) {
      int n = 0;
      for (const ir::StmtPtr& st : b)
        n += (st->kind == ir::StmtKind::store && st->memory->name == "smem" && st->cond) + masked_exchange_stores(st->body);
      return n;
    };
    EXPECT_EQ(masked_exchange_stores(k.body), 0) << k.name;
  }
}

// The CPU fused plan keeps V and M in per-thread arrays indexed by loop counters: memory (the
// stack), not registers. The register model counts them as local bytes, and a device with a
// register budget refuses such a kernel (it would live in local memory there).
TEST(PlansStructure, PerThreadArraysIndexedAtRunTimeAreMemoryNotRegisters) {
  const ConvDesc d = layer(1, 32, 16, 32);
  plans::PlanOptions o;
  o.plan = "fused";
  o.m = 4;
  o.vector_lanes = 4;
  const plans::Program prog = plans::build_program(d, planner::resolve_plan(d, o));
  const planner::KernelStats s = planner::analyze(*prog.kernels.at(1));  // after the pad
  ASSERT_NE(prog.kernels[1]->name.find("pipeline"), std::string::npos) << prog.kernels[1]->name;
  EXPECT_GT(s.local_bytes, 36 * 4 * 32 * 4);  // V and M of at least 4 tiles
  EXPECT_LT(s.pred_regs, 4096) << "the arrays were counted as registers";
  Options cpu_o;
  cpu_o.plan = "fused";
  EXPECT_LT(explain(d, cpu_o, "cpu").kernels.at(1).pred_regs, 4096);  // the host's lanes
  // GPU-shaped kernels index their per-thread arrays by constants only.
  for (const auto& k : build(d, "fused").kernels) EXPECT_EQ(planner::analyze(*k).local_bytes, 0) << k->name;
}

// The fused GEMM splits the alpha^2 points of a tile into groups of equal size: for every alpha
// (odd ones have no divisor 4, 8 or 9) the groups cover each point once, so no thread count is
// rounded down to 0 and no point is left out (the bug behind garbage for odd alpha).
TEST(PlansStructure, FusedPointGroupsCoverEveryPointForEveryAlpha) {
  for (int r = 1; r <= 7; ++r)
    for (int m = 1; m + r - 1 <= 8; ++m) {
      ConvDesc d = layer(1, 8, 16, 8);
      d.r = d.s = r;
      for (const char* plan : {"fused", "fused-input"}) {
        plans::Program p = build(d, plan, m);
        const std::string& name = p.kernels.front()->name;
        const size_t at = name.rfind("_p");  // no suffix: a single point (alpha = 1)
        const int ppt = at == std::string::npos ? 1 : std::stoi(name.substr(at + 2));
        const int a2 = (m + r - 1) * (m + r - 1);
        EXPECT_EQ(a2 % ppt, 0) << name;
        EXPECT_GT(p.kernels.front()->threads_per_group, 0) << name;
      }
    }
}

// With asynchronous copies (CUDA sm_80+) fused stages U and the raw input patches through a ring
// of 2 copies each of U, the patches and V (GemmTiles::patch_ring), where a layer has more than one chunk of channels, the
// tensors are float32 (the patches are copied a float at a time) and the ring fits 96 KiB; the
// kernel then carries `_s2` in its name and takes the ring's work-group memory.
TEST(PlansStructure, FusedStagesInputPatchesThroughARingWithAsyncCopies) {
  auto tiles = [](const ConvDesc& d, int m, bool async) { return *planner::resolve_plan(d, fused_options(m, async)).gemm; };
  const ConvDesc vgg = layer(8, 64, 224, 64);
  for (int m : {2, 3, 4}) {
    const plans::GemmTiles g = tiles(vgg, m, true);
    EXPECT_TRUE(g.patch_ring()) << "F(" << m << ",3)";
    EXPECT_EQ(g.stages, 2);
    EXPECT_LE(g.stage_floats(), plans::kAsyncSharedFloats);
    EXPECT_FALSE(tiles(vgg, m, false).patch_ring()) << "no asynchronous copies";
  }
  EXPECT_FALSE(tiles(vgg, 6, true).patch_ring()) << "alpha 8: the ring would take over 96 KiB";
  EXPECT_FALSE(tiles(layer(1, 8, 32, 8), 2, true).patch_ring()) << "the seed's layer: one chunk";
  ConvDesc half = vgg;
  half.dtype = DType::f16;
  EXPECT_FALSE(tiles(half, 4, true).patch_ring()) << "f16 tensors";
  plans::PlanOptions o;
  o.plan = "fused";
  o.m = 4;
  o.async_copies = true;
  const plans::Program prog = plans::build_program(vgg, planner::resolve_plan(vgg, o));
  EXPECT_NE(prog.kernels[0]->name.find("_s2"), std::string::npos) << prog.kernels[0]->name;
  EXPECT_GT(ir::shared_array_bytes(*prog.kernels[0]), 48 * 1024);
}

// The tensor-core fused on an f16 or bf16 channels-last input with C a multiple of 8 copies its
// input patches through a ring of 2 copies (GemmTiles::tile_patch_ring): 16-byte copies of a
// pixel's channels, no load of x of its own, the patches read two channels at a time. Elsewhere,
// and where the ring does not fit 96 KiB (F(4,3)'s 32 x 16 blocks), each chunk is staged directly.
TEST(PlansStructure, TensorCoreFusedCopiesHalfPatchesThroughARing) {
  auto resolve = [](const ConvDesc& d, int m, Precision p) { return planner::resolve_plan(d, fused_options(m, true, p)); };
  ConvDesc d = layer(8, 64, 224, 64);
  d.layout = Layout::nhwc;
  for (const DType t : {DType::f16, DType::bf16}) {
    d.dtype = t;
    const plans::PlanOptions r = resolve(d, 2, t == DType::f16 ? Precision::fp16 : Precision::bf16);
    ASSERT_TRUE(r.gemm->tile_patch_ring()) << r.gemm->str();
    const plans::Program prog = plans::build_program(d, r);
    const ir::Kernel& k = *prog.kernels.at(0);
    EXPECT_NE(k.name.find("_s2"), std::string::npos) << k.name;
    std::map<std::string, int> x_copies, x_loads, patch_reads;  // by run length
    std::function<void(const ir::Block&)> walk = [&](const ir::Block& b) {
      for (const ir::StmtPtr& st : b) {
        if (st->kind == ir::StmtKind::copy_async && st->source->name == "x") ++x_copies[std::to_string(st->extent)];
        if (st->kind == ir::StmtKind::load && st->memory->name == "x") ++x_loads["x"];
        if (st->kind == ir::StmtKind::load && st->memory->name == "xs" && st->aligned) ++patch_reads["xs"];
        walk(st->body);
      }
    };
    walk(k.body);
    EXPECT_GT(x_copies["8"], 0) << k.name << ": 16-byte copies of 8 channels";
    EXPECT_EQ(x_copies.size(), 1u) << k.name;
    EXPECT_EQ(x_loads["x"], 0) << k.name;
    EXPECT_GT(patch_reads["xs"], 0) << k.name << ": a channel pair read as one 32-bit word";
  }
  d.dtype = DType::f16;
  EXPECT_FALSE(resolve(d, 4, Precision::fp16).gemm->tile_patch_ring()) << "F(4,3): two copies of 36 points' patches do not fit";
  // Where a work-group may take the SM's memory (sm_90), 64 x 32 blocks of a warp a point, the
  // exchange in one slice; not for fewer than 64 output channels, nor over the user's tiles.
  auto sm90_options = [](int block_k) {
    plans::PlanOptions o = fused_options(2, true, Precision::fp16);
    o.shared_per_core = 228 * 1024, o.shared_per_group = 227 * 1024;
    o.bulk_copies = true;  // as an H100 plans it: U by bulk copies, their barriers past the arrays
    o.block_k = block_k;
    return o;
  };
  auto on_sm90 = [&](const ConvDesc& c, int block_k) { return *planner::resolve_plan(c, sm90_options(block_k)).gemm; };
  const plans::GemmTiles wide = on_sm90(d, 0);
  EXPECT_TRUE(wide.tile_patch_ring());
  EXPECT_EQ(wide.bk, 64);
  EXPECT_EQ(wide.bp, 32);
  EXPECT_EQ(wide.ppt, 1);
  EXPECT_EQ(wide.threads(), 512);
  EXPECT_EQ(wide.shared_limit, (228 - 1) * 1024 / 4);
  EXPECT_EQ(wide.cc, 32) << "below 32 chunks of 16 channels, chunks of 32";
  EXPECT_FALSE(wide.double_operands) << "U and V staged once";
  ConvDesc deep = d;
  deep.c = 512;
  EXPECT_EQ(on_sm90(deep, 0).cc, 16);
  EXPECT_TRUE(on_sm90(deep, 0).double_operands) << "32 chunks: two copies of U and V";
  ConvDesc narrow = d;
  narrow.k = 32;
  EXPECT_EQ(on_sm90(narrow, 0).bk, 32);
  EXPECT_EQ(on_sm90(d, 32).bk, 32);
  // Built: two work-groups' memory at 32 x 32 (K = 32) fits the SM's 228 KiB, less 1 KiB each
  // for the driver; the 64 x 32 block fits one work-group's 227 KiB, with two copies of U and V too.
  // All exchange in one slice, over the staging (Memory::reuses); the barriers of U's bulk copies
  // past both.
  auto check_on_sm90 = [&](const ConvDesc& c, int64_t limit_kib) {
    const plans::Program prog = plans::build_program(c, planner::resolve_plan(c, sm90_options(0)));
    const ir::Kernel& k = *prog.kernels.at(0);
    EXPECT_LE(ir::shared_array_bytes(k), limit_kib * 1024) << k.name;
    int64_t staged = 0, barriers = 0;
    const ir::Memory* exchange = nullptr;
    for (const auto& a : k.arrays) {
      if (a->name == "smem") exchange = a.get();
      else if (a->barriers) barriers += ir::aligned_shared_bytes(*a);
      else if (a->space == ir::Space::shared) staged += ir::aligned_shared_bytes(*a);
    }
    EXPECT_EQ(barriers, 16) << k.name << ": U by bulk copies, one barrier for each copy of U (one or two)";
    ASSERT_NE(exchange, nullptr) << k.name;
    EXPECT_TRUE(exchange->reuses) << k.name;
    EXPECT_GE(exchange->size, int64_t{16} * std::min<int64_t>(c.k, 64) * 33) << k.name << ": one slice";
    EXPECT_EQ(ir::shared_array_bytes(k), std::max(staged, ir::aligned_shared_bytes(*exchange)) + barriers) << k.name;
  };
  check_on_sm90(narrow, 113);
  check_on_sm90(d, 227);
  check_on_sm90(deep, 227);
  const plans::GemmTiles unknown = resolve(d, 2, Precision::fp16).gemm.value();
  EXPECT_EQ(unknown.bk, 32) << "the device's memory unknown: 32 x 32 blocks";
  EXPECT_EQ(unknown.shared_limit, 0);
  ConvDesc nchw = d;
  nchw.layout = Layout::nchw;
  EXPECT_FALSE(resolve(nchw, 2, Precision::fp16).gemm->tile_patch_ring()) << "NCHW";
  ConvDesc odd = layer(8, 20, 56, 64);
  odd.layout = Layout::nhwc, odd.dtype = DType::f16;
  EXPECT_FALSE(resolve(odd, 2, Precision::fp16).gemm->tile_patch_ring()) << "C not a multiple of 8";
  ConvDesc f32 = d;
  f32.dtype = DType::f32;
  EXPECT_FALSE(resolve(f32, 2, Precision::tf32).gemm->tile_patch_ring()) << "float32 tensors";
  EXPECT_FALSE(resolve(f32, 2, Precision::fp16).gemm->tile_patch_ring()) << "float32 tensors";
}

TEST(PlansStructure, UnknownPlanListsEveryPlanAndAuto) {
  try {
    build(layer(1, 8, 16, 8), "winograd");
    ADD_FAILURE() << "an unknown plan must be refused";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    for (const std::string& n : plans::plan_names()) EXPECT_NE(what.find(n), std::string::npos) << what;
    EXPECT_NE(what.find("auto"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace wino

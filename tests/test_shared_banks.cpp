// Bank conflicts without a GPU: the bank model of work-group memory (common/shared_banks.h), the
// interpreter's counts by it per statement (InterpretOptions::shared_accesses), and explain's
// report of them (`wino explain --banks`). Session 59's fixes stay fixed: the tensor-core fused
// ring's 2D blocks read their patches and store V with no conflict (a 4 x 8 block's patch reads
// took two passes each before its threads' rows were swapped: patch_region), tf32's and 3xtf32's
// fragment runs load as vectors, and the NCHW output transform's turn reads no padding.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "api/kernel_report.h"
#include "api/shared_access_report.h"
#include "cli_runner.h"
#include "scoped_env.h"
#include "common/error.h"
#include "common/shared_banks.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "planner/device_caps.h"
#include "planner/kernel_stats.h"
#include "planner/warp_values.h"
#include "runtime/cuda/nvrtc.h"
#include "wino/wino.h"

namespace wino {
namespace {

using namespace ir;
using testing::contains;
using testing::run_wino;

BankPasses passes_of(int bytes, int64_t (*start)(int lane)) {
  int64_t s[32];
  for (int l = 0; l < 32; ++l) s[l] = start(l);
  return bank_passes(s, bytes);
}

void expect_passes(BankPasses got, int64_t wavefronts, int64_t ideal, const char* what) {
  EXPECT_EQ(got.wavefronts, wavefronts) << what;
  EXPECT_EQ(got.ideal, ideal) << what;
}

TEST(SharedBanks, ModelServesAWarpInPassesOverTheBanks) {
  expect_passes(passes_of(4, [](int l) { return int64_t{4} * l; }), 1, 1, "consecutive words");
  expect_passes(passes_of(4, [](int) { return int64_t{64}; }), 1, 1, "one word for all: a broadcast");
  expect_passes(passes_of(4, [](int l) { return int64_t{8} * l; }), 2, 1, "every other word: 2 a bank");
  expect_passes(passes_of(4, [](int l) { return int64_t{128} * l; }), 32, 1, "one bank");
  expect_passes(passes_of(4, [](int l) { return int64_t{l / 16} * 512 + l % 16 * 4; }), 2, 1,
                "half-warps 512 bytes apart (the 4 x 8 ring's patch reads before the swap)");
  expect_passes(passes_of(4, [](int l) { return int64_t{l / 16} * 576 + l % 16 * 4; }), 1, 1,
                "half-warps 576 bytes apart: the other half of the banks");
  expect_passes(passes_of(2, [](int l) { return int64_t{2} * l; }), 1, 1, "halves: two lanes a word");
  expect_passes(passes_of(16, [](int l) { return int64_t{16} * l; }), 4, 4, "16 bytes: phases of 8 lanes");
  // 16-byte loads by half-warps: the FMA ring's U, 2 points a half-warp, 4 runs of 16 bytes each
  // (lanes 8 apart on the same run): rows 128 bytes apart take 2 passes a half-warp, 192 apart 1.
  int64_t rows128[32], rows192[32];
  for (int l = 0; l < 32; ++l) rows128[l] = l / 8 * 128 + l % 4 * 16, rows192[l] = l / 8 * 192 + l % 4 * 16;
  expect_passes(bank_passes(rows128, 16, kWideLoadPhaseLanes), 4, 2, "16-byte loads, rows 128 bytes apart");
  expect_passes(bank_passes(rows192, 16, kWideLoadPhaseLanes), 2, 2, "16-byte loads, rows 192 bytes apart");
  expect_passes(bank_passes(rows128, 16), 4, 4, "the same by quarter-warps: no conflict seen");
  expect_passes(passes_of(16, [](int l) { return int64_t{256} * l; }), 32, 4, "16 bytes 256 apart: 8 a bank");
  expect_passes(passes_of(8, [](int l) { return int64_t{8} * l; }), 2, 2, "8 bytes: phases of 16 lanes");
  expect_passes(passes_of(4, [](int l) { return l == 3 ? int64_t{12} : -1; }), 1, 1, "one lane");
  expect_passes(passes_of(4, [](int) { return int64_t{-1}; }), 0, 0, "no lane");
}

// Two warps over 4 work-groups: a store and a load 32 words apart (one bank), a store 33 apart
// (every bank), and a load of two halves a thread (one word each).
std::unique_ptr<Kernel> strided_kernel() {
  KernelBuilder b(std::make_shared<Context>(), "strided", 4, 64);
  const Memory* out = b.buffer("out", 4 * 64, false);
  const Memory* one_bank = b.shared_array("one_bank", 64 * 32);
  const Memory* padded = b.shared_array("padded", 64 * 33);
  const Memory* halves = b.shared_array("halves", 2 * 64, Type::f16);
  b.threads([&](Expr tid) {
    b.store(one_bank, tid * 32, b.f32(1));
    b.store(padded, tid * 33, b.f32(2));
    b.aligned_store(halves, tid * 2, broadcast(b.f32(0.5f), 2));
    Expr pair = b.aligned_load("h", halves, tid * 2, 2);
    Expr sum = b.load("x", one_bank, tid * 32) + b.load("y", padded, tid * 33) + extract(pair, 1);
    b.store(out, b.group_id() * 64 + tid, sum);
  });
  return b.finish();
}

TEST(SharedBanks, InterpreterCountsEachStatementWarpByWarp) {
  std::unique_ptr<Kernel> k = strided_kernel();
  std::vector<float> out(4 * 64, 0);
  for (int64_t groups : {int64_t{1}, int64_t{-1}}) {
    std::vector<interp::SharedAccessCount> counts;
    interp::InterpretOptions options;
    options.max_groups = groups;
    options.shared_accesses = &counts;
    interp::interpret(*k, {out.data()}, options);
    const int64_t warps = 2 * (groups < 0 ? 4 : groups);
    ASSERT_EQ(counts.size(), 6u) << "three stores and three loads of work-group memory";
    auto find = [&](StmtKind kind, const std::string& memory) {
      auto it = std::find_if(counts.begin(), counts.end(), [&](const interp::SharedAccessCount& c) {
        return c.stmt->kind == kind && c.stmt->memory->name == memory;
      });
      EXPECT_NE(it, counts.end()) << memory;
      return it == counts.end() ? interp::SharedAccessCount{} : *it;
    };
    for (StmtKind kind : {StmtKind::store, StmtKind::load}) {
      const interp::SharedAccessCount bank = find(kind, "one_bank"), pad = find(kind, "padded");
      EXPECT_EQ(bank.requests, warps);
      EXPECT_EQ(bank.wavefronts, 32 * warps) << "32 lanes in one bank";
      EXPECT_EQ(bank.ideal, warps);
      EXPECT_EQ(pad.wavefronts, warps) << "33 words apart: every bank once";
    }
    const interp::SharedAccessCount h = find(StmtKind::load, "halves");
    EXPECT_EQ(h.wavefronts, warps) << "two halves a lane: one word, 128 bytes a warp";
    EXPECT_EQ(h.ideal, warps);
  }
  EXPECT_EQ(out[3 * 64 + 5], 3.5f) << "every group ran";
}

// The cost model (planner::analyze) charges work-group memory by the passes a warp's access takes,
// 128 bytes each, as the interpreter counts them: 32 for 32 lanes in one bank, 1 for lanes 33 words
// apart or two halves a lane; and 1 where the lanes read 4 words between them, none for a warp
// whose lanes all skip the access.
TEST(SharedBanks, CostModelChargesTheWarpsPasses) {
  std::unique_ptr<Kernel> k = strided_kernel();
  std::vector<float> out(4 * 64, 0);
  std::vector<interp::SharedAccessCount> counts;
  interp::InterpretOptions options;
  options.shared_accesses = &counts;
  interp::interpret(*k, {out.data()}, options);
  int64_t wavefronts = 0;
  for (const interp::SharedAccessCount& c : counts) wavefronts += c.wavefronts;
  EXPECT_EQ(wavefronts, 8 * (32 + 1 + 1) * 2) << "8 warps: three stores and three loads";
  EXPECT_EQ(planner::analyze(*k).shared_bytes, wavefronts * kBankPassBytes);

  KernelBuilder b(std::make_shared<Context>(), "broadcast", 4, 64);
  const Memory* out2 = b.buffer("out", 4 * 64, false);
  const Memory* row = b.shared_array("row", 64);
  b.threads([&](Expr tid) { b.store(row, tid, b.f32(1)); });  // a pass a warp
  b.barrier();
  b.threads([&](Expr tid) {  // warp 0 only
    b.if_then(lt(tid, b.i32(16)), [&] { b.store(out2, b.group_id() * 64 + tid, b.load("x", row, tid % 4)); });
  });
  std::unique_ptr<Kernel> broadcast = b.finish();
  EXPECT_EQ(planner::analyze(*broadcast).shared_bytes, 4 * (2 + 1) * kBankPassBytes)
      << "4 groups: each warp's store, and warp 0's load of 4 words";
}

ConvDesc layer_of(int64_t n, int64_t c, int64_t hw, int64_t k, DType t = DType::f32) {
  ConvDesc d;
  d.n = n, d.c = c, d.h = d.w = hw, d.k = k, d.r = d.s = 3, d.pad = Padding::all(1);
  d.dtype = t, d.layout = t == DType::f32 ? Layout::nchw : Layout::nhwc;
  return d;
}

// The kernels plan_convolution and lower() make for an H100 (nothing compiled: no NVRTC needed),
// with their first work-group's bank counts.
std::vector<KernelReport> counted(const ConvDesc& d, const Options& o) {
  const planner::DeviceCaps caps = planner::caps_for_target("sm_90:h100");
  const planner::Choice choice = planner::plan_convolution(d, o, caps);
  const lower::Lowered low = lower::lower(d, choice.plan, caps.dialect);
  std::vector<KernelReport> reports;
  for (size_t i = 0; i < low.program.kernels.size(); ++i)
    reports.push_back(api::static_kernel_report(*low.program.kernels[i], low.kernel_sources[i]));
  api::count_bank_conflicts(low.program, 1, reports);
  return reports;
}

void expect_no_conflicts(const KernelReport& k) {
  EXPECT_GT(k.shared_ideal, 0) << k.name;
  EXPECT_EQ(k.shared_wavefronts, k.shared_ideal) << k.name;
  for (const KernelReport::SharedAccess& a : k.shared_conflicts)
    ADD_FAILURE() << k.name << ": " << a.access << ": " << a.wavefronts << " wavefronts for " << a.ideal;
}

const KernelReport& stage(const std::vector<KernelReport>& kernels, const std::string& name) {
  const auto k = std::find_if(kernels.begin(), kernels.end(), [&](const KernelReport& r) { return r.stage == name; });
  if (k == kernels.end()) throw Error("no " + name + " kernel");
  return *k;
}

// The cost model's passes (planner::analyze, each access by every warp at its loops' first
// iteration, over all work-groups) against the interpreter's over the first work-group, on the FMA
// rings, the GEMMs and the transforms: within 5% a work-group (partial tiles and the chunks' later
// iterations differ; copies are charged by their bytes). In float32: the tensor-core GEMMs' bulk
// copies, which the interpreter does not count, land in work-group memory all the same.
TEST(SharedBanks, CostModelPassesFollowTheInterpretersOnPlans) {
  const std::pair<const char*, int> plans[] = {{"fused", 2},   {"fused", 4},       {"unfused", 4},
                                               {"unfused", 6}, {"fused-input", 4}, {"fused-output", 2}};
  for (const auto& [plan, m] : plans) {
    SCOPED_TRACE(std::string(plan) + " F(" + std::to_string(m) + ",3)");
    Options o;
    o.plan = plan, o.m = m;
    const ConvDesc d = layer_of(2, 64, 32, 64);
    const planner::DeviceCaps caps = planner::caps_for_target("sm_90:h100");
    const lower::Lowered low = lower::lower(d, planner::plan_convolution(d, o, caps).plan, caps.dialect);
    std::vector<KernelReport> reports;
    for (size_t i = 0; i < low.program.kernels.size(); ++i)
      reports.push_back(api::static_kernel_report(*low.program.kernels[i], low.kernel_sources[i]));
    api::count_bank_conflicts(low.program, 1, reports);
    for (size_t i = 0; i < reports.size(); ++i) {
      const Kernel& k = *low.program.kernels[i];
      const double modelled = static_cast<double>(planner::analyze(k).shared_bytes) / k.num_groups;
      const double counted = static_cast<double>(std::max<int64_t>(reports[i].shared_wavefronts, 0) * kBankPassBytes);
      if (counted == 0) EXPECT_EQ(modelled, 0) << k.name << ": no work-group memory";
      else EXPECT_NEAR(modelled / counted, 1.0, 0.05) << k.name << ": " << modelled << " bytes a group against " << counted;
    }
  }
}

// A branch on an outer loop's variable counts its iterations there (planner::analyze's narrow:
// the innermost loop whose variable alone decides it), and its accesses are evaluated at an
// iteration that takes it: at j == 3 of 4, every warp's store, each of the inner loop's 2 times.
TEST(SharedBanks, CostModelCountsBranchesOnOuterLoops) {
  KernelBuilder b(std::make_shared<Context>(), "outer", 4, 64);
  const Memory* row = b.shared_array("row", 64);
  b.loop("j", 4, LoopKind::serial, [&](Expr j) {
    b.loop("i", 2, LoopKind::serial, [&](Expr) {
      b.threads([&](Expr tid) { b.if_then(eq(j, b.i32(3)), [&] { b.store(row, tid, b.f32(1)); }); });
    });
  });
  std::unique_ptr<Kernel> k = b.finish();
  EXPECT_EQ(planner::analyze(*k).shared_bytes, 4 * 2 * 2 * kBankPassBytes) << "4 groups, 2 passes of 2 warps";
}

// WarpValues: the thread (or a loop's variable) in 32 lanes, lets through their values; a division
// by zero fails only in a lane that counts; an unbound variable fails.
TEST(SharedBanks, WarpValuesEvaluateALaneEach) {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "lanes", 1, 64);
  const Expr tid = b.thread_id(), other = ctx->var("other", Type::i32);
  const std::unordered_map<const Node*, const Node*> lets;
  planner::WarpValues warp1(lets, {}, tid.node(), 32, 0, 40);  // threads 32..63, of which 32..39 count
  const auto v = warp1.of(select(lt(tid, b.i32(36)), tid % b.i32(4), tid / b.i32(8)).node());
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)[0], 0) << "thread 32: 32 % 4";
  EXPECT_EQ((*v)[5], 37 / 8);
  EXPECT_TRUE(warp1.of((b.i32(8) / (tid - b.i32(50))).node())) << "zero at thread 50, which does not count";
  EXPECT_FALSE(warp1.of((b.i32(8) / (tid - b.i32(35))).node())) << "zero at thread 35, which counts";
  EXPECT_FALSE(warp1.of((tid + other).node())) << "an unbound variable";
  const planner::WarpValues::Binding bound[] = {{other.node(), 7}};
  planner::WarpValues warp0(lets, bound, tid.node(), 0, 0, 64);
  EXPECT_EQ((*warp0.of((tid + other).node()))[31], 38);
}

// By the threads, and (2D blocks) on the tensor cores. In chunks of 16 channels (C = 512) the
// transform by mma still reads its patches (ldmatrix) and stores V without conflicts, but no pitch
// keeps both its reads and the region's copies (a pixel's two 16-byte runs) in distinct banks:
// patch_region takes the reads' (32 units of 4 passes a chunk against the copies' 45 passes).
TEST(SharedBanks, TensorCoreRingsReadPatchesAndStoreVWithoutConflicts) {
  for (const char* by_mma : {"0", "1"}) {
    testing::ScopedEnv transform("WINO_MMA_TRANSFORM", by_mma);
    for (int64_t c : {64, 512})
      for (int cols : {-1, 2, 4, 8, 16}) {  // runs, then 16 x 2, 8 x 4, 4 x 8 and 2 x 16 blocks
        if (c == 512 && (by_mma[0] == '0' || cols < 0)) continue;  // (the threads' transform: at 32 channels)
        SCOPED_TRACE("tile block " + std::to_string(cols) + ", C " + std::to_string(c) + ", by mma " + by_mma);
        Options o;
        o.plan = "fused", o.m = 2, o.precision = Precision::fp16, o.tile_block_cols = cols;
        const std::vector<KernelReport> kernels = counted(layer_of(c == 64 ? 2 : 1, c, 32, 64, DType::f16), o);
        const KernelReport& ring = stage(kernels, "fused");
        EXPECT_EQ(contains(ring.name, "_tm_"), by_mma[0] == '1' && cols > 0) << ring.name;
        if (c == 64) {
          expect_no_conflicts(ring);
          continue;
        }
        EXPECT_TRUE(contains(ring.name, "_c16_")) << ring.name;
        for (const KernelReport::SharedAccess& a : ring.shared_conflicts)
          EXPECT_TRUE(contains(a.access, "copy_async to xs")) << a.access << ": " << a.wavefronts << " for " << a.ideal;
      }
  }
}

// tf32's and 3xtf32's fragments in runs of 2 and 4 floats: one vector load a run (CUDA: one access).
TEST(SharedBanks, Tf32GemmsLoadFragmentRunsWithoutConflicts) {
  for (Precision p : {Precision::tf32, Precision::tf32x3}) {
    SCOPED_TRACE(precision_name(p));
    Options o;
    o.plan = "unfused", o.m = 4, o.precision = p;
    const std::vector<KernelReport> kernels = counted(layer_of(2, 64, 32, 64), o);
    const KernelReport& gemm = stage(kernels, "gemm");
    expect_no_conflicts(gemm);
    EXPECT_NE(gemm.source.find(p == Precision::tf32 ? "*reinterpret_cast<const float2*>(&smem["
                                                     : "*reinterpret_cast<const float4*>(&smem["),
              std::string::npos)
        << gemm.source;
  }
}

// The FMA fused ring (float32): its GEMM reads runs of 4 as one 16-byte access (by half-warps, as
// the H100 serves them), and its exchange stores runs of 4 accumulators in rows laid out to spread
// them over the banks (at a pitch of bp, 8-way conflicts: rows bp floats apart share their banks;
// plans::fma_exchange_layout). Without conflicts: 16 x 32 with 8 x 8 register tiles (V's rows of
// neighbouring points 16 banks apart); the planner's shapes, 32 x 32 with 8 x 8 tiles at F(2,3)
// and 32 x 16 with 4 x 4 tiles at F(4,3) (9 points a thread on this small layer); and F(4,3)'s 32 x 16 with 8 x 8 tiles in
// chunks of 8, whose warps span two channels' planes of the patches and V (padded: GemmTiles::
// ring_v_plane, ring_patch_plane), whose half-warps read two points' rows of U (16 banks apart:
// ring_u_point), and whose exchange's quarter-warps store 4 rows 4 apart where a warp reads 2
// neighbouring rows (no one pitch of whole runs serves both: rows of 16 with 4 floats after every
// 2 do).
TEST(SharedBanks, FmaFusedRingReadsRunsAndExchangesWithoutConflicts) {
  for (int m : {2, 4}) {
    SCOPED_TRACE("F(" + std::to_string(m) + ",3) 16 x 32");
    Options o;
    o.plan = "fused", o.m = m;
    o.block_k = 16, o.block_tiles = 32, o.reg_k = o.reg_tiles = 8, o.chunk_c = 4, o.points_per_thread = 1;
    const std::vector<KernelReport> kernels = counted(layer_of(2, 64, 32, 64), o);
    const KernelReport& ring = stage(kernels, "fused");
    ASSERT_TRUE(contains(ring.name, "_s2")) << ring.name << ": the ring";
    EXPECT_TRUE(contains(ring.source, "*reinterpret_cast<const float4*>(&smem[")) << ring.source;
    EXPECT_TRUE(contains(ring.source, "*reinterpret_cast<float4*>(&smem[")) << "the exchange's runs";
    expect_no_conflicts(ring);
  }
  for (int m : {2, 4}) {
    SCOPED_TRACE("F(" + std::to_string(m) + ",3) the planner's shape");
    Options o;
    o.plan = "fused", o.m = m;
    const std::vector<KernelReport> kernels = counted(layer_of(2, 64, 32, 64), o);
    const KernelReport& ring = stage(kernels, "fused");
    ASSERT_TRUE(contains(ring.name, m == 2 ? "_bk32_bp32_r8x8_c4_p1_s2" : "_bk32_bp16_r4x4_c4_p9_s2")) << ring.name;
    expect_no_conflicts(ring);
  }
  Options o;
  o.plan = "fused", o.m = 4;
  o.block_k = 32, o.block_tiles = 16, o.reg_k = o.reg_tiles = 8, o.chunk_c = 8, o.points_per_thread = 1;
  const std::vector<KernelReport> kernels = counted(layer_of(2, 64, 32, 64), o);
  const KernelReport& ring = stage(kernels, "fused");
  ASSERT_TRUE(contains(ring.name, "_bk32_bp16_r8x8_c8_p1_s2")) << ring.name;
  expect_no_conflicts(ring);
}

// The NCHW output transform's turn through work-group memory at every m (odd: no padding).
TEST(SharedBanks, NchwOutputTransformTurnsWithoutConflicts) {
  for (int m : {2, 3, 4, 5, 6}) {
    SCOPED_TRACE("m " + std::to_string(m));
    Options o;
    o.plan = "unfused", o.m = m;
    const std::vector<KernelReport> kernels = counted(layer_of(2, 16, 56, 16), o);
    const KernelReport& out = stage(kernels, "output_transform");
    ASSERT_NE(out.name.find("_rows"), std::string::npos) << out.name;
    expect_no_conflicts(out);
  }
}

TEST(SharedBanks, ExplainBanksPrintsEachKernelsPasses) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  const std::vector<std::string> ring = {"explain", "--shape", "2,64,32,32", "--k", "64", "--pad", "1", "--plan", "fused",
                                         "--m", "2", "--precision", "fp16", "--dtype", "f16", "--layout", "nhwc",
                                         "--target", "sm_90", "--tile-block", "8", "--banks"};
  auto args = ring;
  args.push_back("2");
  auto r = run_wino(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t at = r.out.find("shared memory of wino_fused_all_");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_TRUE(contains(line, "(first 2 work-groups, interpreted):")) << line;
  EXPECT_TRUE(contains(line, "no bank conflicts")) << line;
  EXPECT_FALSE(contains(r.out, "shared memory of wino_fused_staged_weights")) << "no work-group memory: not printed";
  args.back() = "0";
  r = run_wino(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--banks")) << r.err;
}

}  // namespace
}  // namespace wino

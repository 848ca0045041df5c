// The tensor-core precisions (Options::precision): the unfused, fused-output and fused plans' mma GEMMs against the
// float64 reference in the interpreter (every edge, several blocks, epilogues, half tensors, other
// tiles) and on the GPU; the planner treating precision as a constraint; NVRTC building each mode
// for sm_90 without spills; the CLI's --precision.
#include <gtest/gtest.h>

#include <map>

#include <cstdio>

#include "cli_runner.h"
#include "common/error.h"
#include "conv_tester.h"
#include "cuda_skip.h"
#include "error_of.h"
#include "planner/choose_plan.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::testing {
namespace {

const Precision kTensorPrecisions[] = {Precision::tf32x3, Precision::tf32, Precision::fp16, Precision::bf16};

struct PrecisionCase {
  Precision precision;
  int m, r;
  const char* plan = "unfused";  // or fused-output or fused (tensor cores up to alpha 6, then fp32)
};

std::vector<PrecisionCase> precision_cases() {
  std::vector<PrecisionCase> out;
  for (const char* plan : {"unfused", "fused-output"})
    for (Precision p : kTensorPrecisions)
      for (auto [m, r] : {std::pair{2, 3}, {3, 3}, {4, 3}, {6, 3}, {2, 5}, {1, 3}, {1, 2}}) out.push_back({p, m, r, plan});
  // fused on tensor cores up to alpha 6 (past it, the fp32 plan the other sweeps run), odd alpha
  // 3 and 5, m = 1, r = 2, 3 and 5
  for (Precision p : kTensorPrecisions)
    for (auto [m, r] : {std::pair{2, 3}, {3, 3}, {4, 3}, {2, 5}, {1, 2}, {1, 3}, {2, 2}})
      out.push_back({p, m, r, "fused"});
  return out;
}

std::string case_name(const ::testing::TestParamInfo<PrecisionCase>& info) {
  const std::string plan = info.param.plan;
  const std::string prefix = plan == "unfused" ? "" : plan == "fused" ? "fused_" : "fused_output_";
  return prefix + std::string(precision_name(info.param.precision)) + "_f" +
         std::to_string(info.param.m) + "x" + std::to_string(info.param.r);
}

Options precision_options(const PrecisionCase& pc, const std::array<int, 5>& tiles = {}) {
  Options o = plan_options(pc.plan, pc.m, tiles);
  o.precision = pc.precision;
  return o;
}

// Valid tensor-core tiles besides the default: a 64 x 64 block, a 64 x 64 block with chunks of
// 32 channels, a 4 x 4 register tile (warps of 32 x 16), an 8 x 16 one (warps of 64 x 64, in
// 128 x 128 blocks and in the 64 x 128 blocks with chunks of 32 that fp16 and bf16 take on large
// layers), and
// register tiles whose rows and slices are read in runs of 2 and 1 (2 x 2, 6 x 6: the GEMM core's
// run_width) instead of 4.
const std::array<int, 5> kOtherTiles[] = {{64, 64, 8, 8, 16},      {64, 64, 8, 8, 32}, {64, 128, 4, 4, 16},
                                          {128, 128, 8, 16, 16},   {64, 128, 8, 16, 32}, {32, 32, 2, 2, 16},
                                          {96, 96, 6, 6, 16}};
// fused-output's besides its default (32 x 32 blocks of 2 x 2 register tiles, chunks of 16, a
// ring of 4 copies): a 64-row block (16 warps), 4 x 2 register tiles, warps of 16 x 16, and chunks
// of 32 (a ring of 2; at alpha 5 two copies of 5 points do not fit, and the planner says so: tested
// below); past alpha 6 it runs the fp32 plan, whose tiles these are not.
const std::array<int, 5> kOtherOutputTiles[] = {{64, 32, 2, 2, 16}, {32, 32, 4, 2, 16}, {32, 64, 2, 4, 16},
                                                {32, 32, 2, 2, 32}};

// fused's besides its default: 16 x 16 blocks of 2 x 4 register tiles (one warp a point group)
// and of 2 x 2 (two warps a point group, each with its half of the tiles), chunks of 16.
const std::array<int, 5> kOtherFusedTiles[] = {{16, 16, 2, 4, 16}, {16, 16, 2, 2, 16}};

std::vector<std::array<int, 5>> other_tiles(const PrecisionCase& pc) {
  if (std::string(pc.plan) == "unfused") return {std::begin(kOtherTiles), std::end(kOtherTiles)};
  const int alpha = pc.m + pc.r - 1;
  if (alpha > 6) return {};
  if (std::string(pc.plan) == "fused") {  // tf32 in chunks of 8 (its rows' padding of 8 floats takes more room)
    std::vector<std::array<int, 5>> tiles(std::begin(kOtherFusedTiles), std::end(kOtherFusedTiles));
    if (pc.precision == Precision::tf32 || pc.precision == Precision::tf32x3)
      for (auto& t : tiles) t[4] = 8;
    return tiles;
  }
  return {std::begin(kOtherOutputTiles), std::end(kOtherOutputTiles) - (alpha == 5 ? 1 : 0)};
}

class PrecisionSweep : public ::testing::TestWithParam<PrecisionCase> {};

// The worst error of a sweep, kept apart for float32 tensors and for f16/bf16 ones (whose own
// rounding, up to 1e-3 and more, would hide the GEMM's precision in one number).
struct WorstErrors {
  double f32 = 0, half = 0;
  void add(const ConvCase& cc, double err) {
    double& w = cc.dtype == DType::f32 ? f32 : half;
    w = std::max(w, err);
  }
  void print(const char* where, const PrecisionCase& pc) const {
    std::printf("[ measured ] %s %s %s F(%d,%d): worst rel L2 error %.3g with float32 tensors, %.3g with f16/bf16 ones\n",
                where, pc.plan, precision_name(pc.precision), pc.m, pc.r, f32, half);
  }
};

TEST_P(PrecisionSweep, InterpreterMatchesReference) {
  const PrecisionCase& pc = GetParam();
  const PlanCase plan{pc.plan, pc.m, pc.r};
  std::vector<ConvCase> shapes = edge_sweep(pc.r);
  shapes.pop_back();  // the 32x32 seed layer: the GPU runs it
  for (const ConvCase& cc : block_sweep(pc.r)) shapes.push_back(cc);
  shapes.push_back(with_variant(edge_sweep(pc.r)[4], plan));
  ConvCase nhwc = with_variant(block_sweep(pc.r)[1], plan);
  nhwc.layout = Layout::nhwc;
  shapes.push_back(nhwc);
  // Tiles a multiple of 4 for every F(m, r) here (M's runs go out as aligned vector stores), and
  // of 8 for all but F(6,3) on the second (fp16 and bf16 then store V and M in their type), K = 40 a
  // partial block.
  shapes.push_back({4, 20, 14, 14, 40, pc.r, Padding::all(pc.r / 2)});
  // Five chunks of 16 channels: more steps than the ring has copies (issued within a point group)
  shapes.push_back({1, 80, 8, 8, 40, pc.r, Padding::all(pc.r / 2)});
  shapes.push_back({2, 20, 16, 16, 40, pc.r, Padding::all(pc.r / 2)});
  ConvCase nhwc8 = with_variant(shapes.back(), plan);  // the same channels last, with an epilogue
  nhwc8.layout = Layout::nhwc;
  shapes.push_back(nhwc8);
  // Half tensors channels last, C a multiple of 8 and tiles of 8 (V and M in halves, moved in runs;
  // 24 channels: a partial block of 16; a pad of 1 above and left only).
  if (pc.precision == Precision::fp16 || pc.precision == Precision::bf16) {
    ConvCase half{2, 24, 16, 16, 40, pc.r, Padding::all(pc.r / 2)};
    half.layout = Layout::nhwc;
    half.dtype = pc.precision == Precision::fp16 ? DType::f16 : DType::bf16;
    shapes.push_back(half);
    if (pc.r == 3) {
      half.pad = {1, 0, 1, 0};
      half.h = half.w = 25;  // 24 x 24 outputs: a partial block of the output transform's (F(2,3):
                             // 288 tiles in blocks of 64; F(4,3): 144 in blocks of 32)
      shapes.push_back(half);
    }
  }
  WorstErrors worst;
  for (const ConvCase& cc : shapes)
    if (has_output(cc)) worst.add(cc, check_conv(Device::interpreter(), precision_options(pc), cc));
  // fused's tile ring (f16/bf16 channels last, C a multiple of 8): in blocks of 64 x 32 with a
  // warp a point, which the planner takes on sm_90 up to 16 points from 64 output channels on
  // (planner/tile_choice.cpp, widen_tile_ring; the interpreter is planned with an sm_90
  // multiprocessor's memory, so the exchange lies over the staging in one slice as there),
  // elsewhere in its own blocks: 72 output channels (a partial block of 64), 40 input channels
  // (chunks of 32, the second partial), an odd image; with an epilogue, without padding and on 24
  // channels (two chunks of 16: the ring's first step holds both), with a pad of 2 on two sides, on
  // 504 channels (32 chunks of 16, the last partial: two copies of U and V); and the other tiles.
  if (std::string(pc.plan) == "fused" && (pc.precision == Precision::fp16 || pc.precision == Precision::bf16)) {
    ConvCase wide{2, 40, 10, 9, 72, pc.r, Padding::all(pc.r / 2)};
    wide.layout = Layout::nhwc;
    wide.dtype = pc.precision == Precision::fp16 ? DType::f16 : DType::bf16;
    ConvCase unpadded = wide, padded = wide, deep = wide;
    unpadded.pad = Padding::all(0);
    unpadded.c = 24;
    padded.pad = {2, 0, 0, 2};
    deep.c = 504;
    for (const ConvCase& cc : {wide, with_epilogue(wide, plan), unpadded, padded, deep})
      if (has_output(cc)) worst.add(cc, check_conv(Device::interpreter(), precision_options(pc), cc));
    for (const auto& tiles : other_tiles(pc)) worst.add(wide, check_conv(Device::interpreter(), precision_options(pc, tiles), wide));
  }
  for (const auto& tiles : other_tiles(pc))
    worst.add(block_sweep(pc.r)[0], check_conv(Device::interpreter(), precision_options(pc, tiles), block_sweep(pc.r)[0]));
  worst.print("interp", pc);
  // The interpreter accumulates as float32 does, so there 3xtf32 keeps float32's own bound (its
  // checks take 1e-5, what the GPU's accumulation needs over many channels: tolerance.h).
  if (pc.precision == Precision::tf32x3) {
    EXPECT_LE(worst.f32, error_tolerance(pc.m, pc.r));
  }
}

TEST_P(PrecisionSweep, GpuMatchesReference) {
  SKIP_WITHOUT_CUDA();
  const PrecisionCase& pc = GetParam();
  const std::vector<ConvCase> e = edge_sweep(pc.r);
  WorstErrors worst;
  ConvCase nhwc{2, 64, 28, 28, 96, pc.r, Padding::all(pc.r / 2)};
  nhwc.layout = Layout::nhwc;
  // 28 x 28 has tiles of no multiple of 8 at F(4,3) (V float32 in every mode), 32 x 32 has (fp16
  // and bf16 store V in their type).
  for (const ConvCase& cc : {e[3], with_variant(e[4], {pc.plan, pc.m, pc.r}), e[5], block_sweep(pc.r)[0],
                             ConvCase{2, 64, 28, 28, 96, pc.r, Padding::all(pc.r / 2)},
                             ConvCase{2, 64, 32, 32, 96, pc.r, Padding::all(pc.r / 2)}, nhwc})
    if (has_output(cc)) worst.add(cc, check_conv(Device::cuda(), precision_options(pc), cc));
  if (pc.precision == Precision::fp16 || pc.precision == Precision::bf16) {
    // Half tensors channels last, V and M in halves moved in runs (24 x 24 outputs: tiles of 8 at
    // F(2,3) and F(4,3), 72 at F(4,3) a partial block of 16; 72 and 88 channels: partial blocks of
    // 16; padded above and left).
    ConvCase half{2, 72, 25, 25, 88, pc.r, {1, 0, 1, 0}};
    half.layout = Layout::nhwc;
    half.dtype = pc.precision == Precision::fp16 ? DType::f16 : DType::bf16;
    if (has_output(half)) worst.add(half, check_conv(Device::cuda(), precision_options(pc), half));
    // fused's ring with U by bulk copies (sm_90, C a multiple of its chunk, K of its block): chunks
    // of 32 staged once over two blocks of output channels (128), and 32 chunks of 16 staged twice
    // (512); unfused's GEMM the same way (its blocks of 128).
    if (std::string(pc.plan) == "fused" || std::string(pc.plan) == "unfused")
      for (ConvCase ring : {ConvCase{2, 64, 25, 25, 128, pc.r, {1, 0, 1, 0}}, ConvCase{1, 512, 9, 11, 64, pc.r, Padding::all(1)}}) {
        ring.layout = Layout::nhwc;
        ring.dtype = half.dtype;
        if (has_output(ring)) worst.add(ring, check_conv(Device::cuda(), precision_options(pc), ring));
      }
  }
  for (const auto& tiles : other_tiles(pc))
    worst.add(block_sweep(pc.r)[0], check_conv(Device::cuda(), precision_options(pc, tiles), block_sweep(pc.r)[0]));
  worst.print("cuda", pc);
}

INSTANTIATE_TEST_SUITE_P(Sweep, PrecisionSweep, ::testing::ValuesIn(precision_cases()), case_name);

TEST(Precision, TilesTheMmaCannotUseAreRefusedByName) {
  Options o = precision_options({Precision::fp16, 4, 3}, {64, 64, 8, 8, 8});  // 8 channels < fp16's k = 16
  try {
    check_conv(Device::interpreter(), o, block_sweep(3)[0]);
    ADD_FAILURE() << "tiles with chunks of 8 channels ran with fp16 mma (k = 16)";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunks multiples of 16"), std::string::npos) << e.what();
  }
}

ConvDesc large_layer() {
  ConvDesc d;
  d.n = 8, d.c = d.k = 256, d.h = d.w = 28, d.pad = Padding::all(1);
  return d;
}

TEST(Precision, PlannerNeverPicksALowerPrecision) {
  for (Precision asked : {Precision::fp32, Precision::tf32x3, Precision::tf32, Precision::bf16}) {
    Options o;
    o.precision = asked;
    const Report rep = explain(large_layer(), o, "sm_90");
    bool offered = false;
    for (const PlanCandidate& c : rep.candidates) {
      EXPECT_TRUE(c.precision == Precision::fp32 || c.precision == asked) << precision_name(c.precision);
      offered = offered || (c.precision == asked && c.plan == "unfused" && c.rejected.find("tensor") == std::string::npos);
    }
    EXPECT_TRUE(offered) << precision_name(asked);
    EXPECT_TRUE(rep.precision == Precision::fp32 || rep.precision == asked);
  }
}

// In fp16 and bf16 plan auto takes only an F(m, r) whose modelled error stays within 5x that of
// rounding the output (planner::kHalfErrorFactor: F(2,3) and smaller); the others are rejected by
// name, and a plan named with its m still runs.
TEST(Precision, HalfModesPlanOnlyWithinTheirErrorBound) {
  for (Precision p : {Precision::fp16, Precision::bf16}) {
    ConvDesc d = large_layer();
    d.dtype = p == Precision::fp16 ? DType::f16 : DType::bf16;
    d.layout = Layout::nhwc;
    Options o;
    o.precision = p;
    const Report rep = explain(d, o, "sm_90");
    EXPECT_TRUE(rep.precision == Precision::fp32 || rep.m <= 2) << precision_name(p) << " picked F(" << rep.m << ",3)";
    bool f23 = false, f43 = false;
    for (const PlanCandidate& c : rep.candidates) {
      if (c.precision != p) continue;
      if (c.m == 2) f23 = f23 || c.rejected.empty() || c.rejected.find("predicted slower") != std::string::npos;
      if (c.m >= 3) {
        EXPECT_NE(c.rejected.find("of rounding the output"), std::string::npos) << c.plan << " F(" << c.m << ",3): " << c.rejected;
        f43 = f43 || c.m == 4;
      }
    }
    EXPECT_TRUE(f23) << precision_name(p) << ": F(2,3) offered";
    EXPECT_TRUE(f43) << precision_name(p) << ": F(4,3) considered and left out";
  }
  ConvDesc half = large_layer();
  half.dtype = DType::f16;
  for (int m : {1, 2}) EXPECT_EQ(planner::half_error_rejection(half, m, Precision::fp16, true), "") << m;
  for (int m : {3, 4}) EXPECT_NE(planner::half_error_rejection(half, m, Precision::fp16, false), "") << m;
  Options named = plan_options("unfused", 4);
  named.precision = Precision::fp16;
  EXPECT_EQ(explain(large_layer(), named, "sm_90").m, 4) << "a named plan and m run";
  named.m = 0;
  EXPECT_EQ(explain(large_layer(), named, "sm_90").m, 2) << "a named plan without m: the largest the bound admits";
  named.precision = Precision::fp32;
  EXPECT_EQ(explain(large_layer(), named, "sm_90").m, 4) << "float32: the default";
}

// fused-output runs its GEMM on tensor cores where every thread's alpha^2 x 4 accumulators fit
// (alpha <= 6: 144 at F(4,3)); at F(6,3) (256) it keeps fp32, the higher precision, and says so.
TEST(Precision, FusedOutputTakesTensorCoresUpToAlpha6) {
  for (auto [m, tensor] : {std::pair{2, true}, {4, true}, {6, false}}) {
    Options o = plan_options("fused-output", m);
    o.precision = Precision::fp16;
    const Report rep = explain(large_layer(), o, "sm_90");
    EXPECT_EQ(rep.precision, tensor ? Precision::fp16 : Precision::fp32) << m;
    bool mma = false;
    for (const KernelReport& k : rep.kernels) {
      if (k.source.find("wino_mma_f16_bits(") == std::string::npos) continue;
      mma = true;
      // V (the tiles a multiple of 8) and U (K a multiple of 8) in f16 go in as stored
      EXPECT_NE(k.source.find(" = wino_halves(b"), std::string::npos) << k.name;
      EXPECT_NE(k.source.find(" = wino_halves(a"), std::string::npos) << k.name;
      EXPECT_EQ(k.source.find("wino_f16x2("), std::string::npos) << k.name;
    }
    EXPECT_EQ(mma, tensor) << m;
  }
  Options o;
  o.precision = Precision::tf32;
  bool offered = false;
  for (const PlanCandidate& c : explain(large_layer(), o, "sm_90").candidates)
    offered = offered || (c.plan == "fused-output" && c.precision == Precision::tf32 &&
                          c.rejected.find("tensor") == std::string::npos && c.rejected.find("spill") == std::string::npos);
  EXPECT_TRUE(offered);
}

// Plan auto offers fused on tensor cores in fp16 and bf16 where it runs its ring of input patches
// (half tensors channels last), timed against the unfused GEMMs in session 47; elsewhere, and in
// tf32 and 3xtf32, it runs where named (1.2-3.5x the unfused plan's time when last timed, sessions
// 43-45). A named plan keeps the precision.
TEST(Precision, TensorCoreFusedIsOfferedWhereItsRingRuns) {
  for (Precision p : kTensorPrecisions) {
    const bool half = p == Precision::fp16 || p == Precision::bf16;
    ConvDesc nhwc = large_layer();
    nhwc.layout = Layout::nhwc;
    nhwc.dtype = p == Precision::bf16 ? DType::bf16 : DType::f16;
    for (const ConvDesc& d : {large_layer(), nhwc}) {
      Options o;
      o.precision = p;
      bool offered = false;
      for (const PlanCandidate& c : explain(d, o, "sm_90").candidates)
        offered = offered || (c.plan == "fused" && c.precision == p);
      EXPECT_EQ(offered, half && d.layout == Layout::nhwc) << precision_name(p) << " " << d.str();
    }
    Options o = plan_options("fused", 4);
    o.precision = p;
    EXPECT_EQ(explain(large_layer(), o, "sm_90").precision, p);
  }
}

TEST(Precision, TensorCoreFusedTilesThatDoNotFitAreRefusedByName) {
  Options o = plan_options("fused", 4, {32, 32, 4, 8, 16});  // U and V of 36 points x 16 channels: 99 KiB
  o.precision = Precision::fp16;
  const std::string why = error_of([&] { explain(large_layer(), o, "sm_90"); });
  EXPECT_NE(why.find("need 101376 bytes of work-group memory; the limit is 98304: use smaller blocks or chunks"),
            std::string::npos) << why;
}

TEST(Precision, FusedOutputTilesThatDoNotFitTwoCopiesAreRefusedByName) {
  Options o = plan_options("fused-output", 3, {32, 32, 2, 2, 32});  // alpha 5: copies of 5 points x 32 channels
  o.precision = Precision::tf32;
  const std::string why = error_of([&] { explain(large_layer(), o, "sm_90"); });
  EXPECT_NE(why.find("for two copies of a staged chunk; the limit is 98304: use smaller blocks or chunks"),
            std::string::npos) << why;
}

// tf32, fp16 and bf16 past alpha 8 are refused by name (their error was over every tolerance:
// F(10,3) fp16 161 on the interpreter); 3xtf32 keeps fp32's accuracy there, and plan auto keeps
// to the candidates it may run.
TEST(Precision, RoundedOperandsPastAlphaEightAreRefusedByName) {
  for (Precision p : {Precision::tf32, Precision::fp16, Precision::bf16}) {
    Options o = plan_options("unfused", 7, {});
    o.precision = p;
    const std::string why = error_of([&] { explain(large_layer(), o, "sm_90"); });
    EXPECT_NE(why.find("lose all accuracy past alpha 8: use a smaller m, or --precision 3xtf32 or fp32"),
              std::string::npos) << why;
    o.m = 6;  // alpha 8
    EXPECT_EQ(error_of([&] { explain(large_layer(), o, "sm_90"); }), "") << precision_name(p);
  }
  Options o = plan_options("unfused", 7, {});
  o.precision = Precision::tf32x3;
  EXPECT_EQ(error_of([&] { explain(large_layer(), o, "sm_90"); }), "");
}

TEST(Precision, DevicesWithoutTensorCoresRunFp32AndSayWhy) {
  Options o;
  o.precision = Precision::tf32;
  const Report rep = explain(large_layer(), o, "cpu");
  EXPECT_EQ(rep.precision, Precision::fp32);
  bool said = false;
  for (const PlanCandidate& c : rep.candidates)
    if (c.precision == Precision::tf32) said = c.rejected.find("runs on tensor cores (CUDA sm_80 or newer") != std::string::npos;
  EXPECT_TRUE(said);
  for (const char* plan : {"unfused", "fused-output", "fused"}) {
    o.plan = plan;
    try {
      explain(large_layer(), o, "cpu");
      ADD_FAILURE() << plan << " tf32 planned for the CPU";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("use --precision fp32"), std::string::npos) << e.what();
    }
  }
  o.m = 6;  // fused-output and fused past alpha 6 run fp32 wherever they run
  for (const char* plan : {"fused-output", "fused"}) {
    o.plan = plan;
    EXPECT_EQ(explain(large_layer(), o, "cpu").precision, Precision::fp32) << plan;
  }
}

TEST(Precision, EachModeCompilesForSm90WithoutSpills) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (Precision p : kTensorPrecisions)
  for (const char* plan : {"unfused", "fused-output", "fused"})
  for (int m : std::string(plan) == "fused" ? std::vector<int>{2, 3, 4} : std::vector<int>{2, 4}) {
    Options o = plan_options(plan, m);
    o.precision = p;
    const Report rep = explain(large_layer(), o, "sm_90");
    EXPECT_EQ(rep.precision, p) << plan;
    for (const KernelReport& k : rep.kernels) {
      EXPECT_EQ(k.spill_bytes, 0) << k.name;
      std::printf("[ measured ] %s %s: predicted %d registers, ptxas %d\n", precision_name(p), k.name.c_str(),
                  k.pred_regs, k.regs);
    }
  }
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A warp's 4 x 4 mmas per k-step share their fragments: each of the 16 + 8 registers of A and B
// is converted once (tf32: one value each; f16, bf16: a packed pair), not once per mma.
// tf32's operands are stored rounded by the transforms, so its GEMM passes their bits; f16 and
// bf16 operands are stored in their type (U: K a multiple of 8; V: the tiles) and go in as
// stored, each pair packed once; with K = 60 U stays float32 and each A pair is converted once.
TEST(Precision, EachFragmentRegisterIsConvertedOnce) {
  ConvDesc odd_k = large_layer();
  odd_k.k = 60;
  for (const ConvDesc& d : {large_layer(), odd_k})
  for (Precision p : {Precision::tf32, Precision::fp16, Precision::bf16}) {
    Options o = plan_options("unfused", 4, {64, 64, 8, 8, 16});
    o.precision = p;
    const Report rep = explain(d, o, "sm_90");
    const bool tf32 = p == Precision::tf32, float_u = d.k % 8 != 0;
    const std::string conv = tf32 ? " = wino_tf32_bits(" : p == Precision::fp16 ? " = wino_f16x2(" : " = wino_bf16x2(";
    const std::string mma = tf32 ? "wino_mma_tf32_bits(" : p == Precision::fp16 ? "wino_mma_f16_bits(" : "wino_mma_bf16_bits(";
    int checked = 0, rounding = 0;
    for (const KernelReport& k : rep.kernels) {
      if (k.stage == "input_transform" || k.stage == "weight_transform") {
        EXPECT_EQ(count_of(k.source, "wino_round_tf32(") > 0, tf32) << k.source;
        ++rounding;
      }
      if (k.stage != "gemm") continue;
      ++checked;
      EXPECT_EQ(count_of(k.source, mma), 16) << k.source;  // one k-step in the loop body
      // A: 4 slices of 4 registers, B: 4 of 2
      EXPECT_EQ(count_of(k.source, conv), tf32 ? 24 : float_u ? 16 : 0) << k.source;
      EXPECT_EQ(count_of(k.source, " = wino_halves("), tf32 ? 0 : float_u ? 8 : 24) << k.source;
      EXPECT_EQ(count_of(k.source, " = wino_tf32("), 0) << k.source;
    }
    EXPECT_EQ(checked, 1) << precision_name(p);
    EXPECT_EQ(rounding, 2) << precision_name(p);
  }
}

// fp16 and bf16 store V in their type where the tiles are a multiple of 8 (at F(4,3) on 28 x 28,
// 8 x 7 x 7 = 392 is, 1 x 7 x 7 = 49 is not): the input transform writes half V's bytes, and the
// GEMM is named for it; tf32 keeps a float32 V. U likewise where K is a multiple of 8, and M where
// V is (the GEMM's sums rounded to the type, as y is). On sm_80, where U is stored as it is (sm_90's
// bulk copies store it as the GEMM's staged copies, rows padded: plans::staged_weights).
TEST(Precision, HalfModesStoreUVAndMInTheirType) {
  auto kernels = [](const ConvDesc& d, Precision p) {
    Options o = plan_options("unfused", 4, {64, 64, 8, 8, 16});
    o.precision = p;
    std::map<std::string, KernelReport> by_stage;
    for (const KernelReport& k : explain(d, o, "sm_80").kernels) by_stage[k.stage] = k;
    return by_stage;
  };
  ConvDesc odd = large_layer(), odd_k = large_layer();
  odd.n = 1;  // 49 tiles
  odd_k.k = 60;
  for (const ConvDesc& d : {large_layer(), odd, odd_k}) {
    const bool half_v = d.n == 8, half_u = d.k % 8 == 0;
    auto f32 = kernels(d, Precision::tf32);
    for (Precision p : {Precision::fp16, Precision::bf16}) {
      auto k = kernels(d, p);
      const std::string type = p == Precision::fp16 ? "f16" : "bf16";
      EXPECT_EQ(k["gemm"].name.find("_v" + type) != std::string::npos, half_v) << k["gemm"].name;
      EXPECT_EQ(k["gemm"].name.find("_u" + type) != std::string::npos, half_u) << k["gemm"].name;
      const int64_t v_halves = int64_t{36} * d.c * (d.n * 7 * 7);  // V's elements at F(4,3): 6 x 6 points
      EXPECT_EQ(f32["input_transform"].bytes - k["input_transform"].bytes, half_v ? v_halves * 2 : 0) << precision_name(p);
      const int64_t u_halves = int64_t{36} * d.c * d.k;
      EXPECT_EQ(f32["weight_transform"].bytes - k["weight_transform"].bytes, half_u ? u_halves * 2 : 0)
          << precision_name(p);
      // M like V (float32 tensors: bf16 only, an f16 M could overflow): the GEMM stores it, the
      // output transform reads it, in halves.
      const bool half_m = half_v && p == Precision::bf16;
      EXPECT_EQ(k["gemm"].name.find("_m" + type) != std::string::npos, half_m) << k["gemm"].name;
      const int64_t m_halves = int64_t{36} * d.k * (d.n * 7 * 7);  // read at least once (the model counts rows of 512)
      const int64_t m_saved = f32["output_transform"].bytes - k["output_transform"].bytes;
      if (half_m) {
        EXPECT_GE(m_saved, m_halves * 2) << precision_name(p);
      } else {
        EXPECT_EQ(m_saved, 0) << precision_name(p);
      }
    }
    EXPECT_EQ(f32["gemm"].name.find("_v"), std::string::npos) << f32["gemm"].name;
    EXPECT_EQ(f32["gemm"].name.find("_m"), std::string::npos) << f32["gemm"].name;
    if (d.n == 8) {  // half tensors: an fp16 M too
      ConvDesc half = d;
      half.dtype = DType::f16;
      EXPECT_NE(kernels(half, Precision::fp16)["gemm"].name.find("_mf16"), std::string::npos);
    }
    for (const char* half : {"_uf16", "_ubf16"}) EXPECT_EQ(f32["gemm"].name.find(half), std::string::npos);
  }
}

TEST(Precision, CliTakesAndChecksIt) {
  CliResult bad = run_wino({"run", "--shape", "1,4,8,8", "--k", "4", "--precision", "fp8"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("expected fp32, 3xtf32, tf32, fp16 or bf16"), std::string::npos) << bad.err;
  CliResult ok = run_wino({"run", "--shape", "1,8,10,10", "--k", "8", "--pad", "1", "--device", "interp", "--plan",
                           "unfused", "--precision", "3xtf32", "--check"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("3xtf32 GEMM (tensor cores)"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace wino::testing

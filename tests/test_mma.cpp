// The warp-level matrix op (ir::StmtKind::mma): what the interpreter computes for each operand
// kind against a product written out here from the PTX fragment layouts, the CUDA source compiled
// by NVRTC for sm_90 (no GPU needed), the GPU agreeing with the interpreter, and clear refusals.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/half.h"
#include "common/random.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "error_of.h"
#include "opencl_skip.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/backend.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kWarps = 2;
const MmaKind kKinds[] = {MmaKind::tf32_m16n8k8, MmaKind::tf32x3_m16n8k8, MmaKind::f16_m16n8k16,
                          MmaKind::bf16_m16n8k16};

// Each warp w: d[w] = c[w] + a[w] x b[w], with a[w] 16 x k, b[w] k x 8 and c, d 16 x 8 row-major,
// each lane loading its fragment values at the positions ir/mma.h gives, twice over (two mmas
// accumulate: the second adds a x b again).
// `rounded`: the operands are values of the mma's type already (Stmt::operands_rounded); f16
// and bf16 ones then come through work-group arrays of that type (`through_halves`, which rounds
// them there), as the GEMM's staged V does.
std::unique_ptr<Kernel> mma_kernel(MmaKind kind, int threads = kWarps * kWarp, bool rounded = false,
                                   bool through_halves = true) {
  const int k = mma_depth(kind);
  KernelBuilder b(std::make_shared<Context>(), "mma_test", 1, threads);
  const Memory* a = b.buffer("a", kWarps * 16 * k, true);
  const Memory* bm = b.buffer("b", kWarps * k * 8, true);
  const Memory* c = b.buffer("c", kWarps * 16 * 8, true);
  const Memory* d = b.buffer("d", kWarps * 16 * 8, false);
  const Memory* acc = b.thread_array("acc", 4);
  if (rounded && through_halves && !mma_is_tf32(kind)) {
    const Type half = kind == MmaKind::f16_m16n8k16 ? Type::f16 : Type::bf16;
    const Memory* as = b.shared_array("as", a->size, half);
    const Memory* bs = b.shared_array("bs", bm->size, half);
    b.threads([&](Expr tid) {
      for (const auto& [from, to] : {std::pair{a, as}, std::pair{bm, bs}})
        b.loop("e", from->size / threads, LoopKind::serial,
               [&](Expr e) { b.store(to, e * threads + tid, b.load("x", from, e * threads + tid)); });
    });
    b.barrier();
    a = as;
    bm = bs;
  }
  b.threads([&](Expr tid) {
    Expr w = b.let("w", tid / kWarp), lane = b.let("lane", tid % kWarp);
    // Positions depend on the lane: select over the 32 lanes' constants, as a plan's formulas would.
    auto pos = [&](auto f, int i, int cols) {
      Expr at = b.i32(0);
      for (int l = kWarp - 1; l >= 0; --l) {
        MmaPos p = f(l, i);
        at = l == kWarp - 1 ? b.i32(p.row * cols + p.col) : select(eq(lane, b.i32(l)), b.i32(p.row * cols + p.col), at);
      }
      return at;
    };
    for (int i = 0; i < 4; ++i)
      b.store(acc, b.i32(i), b.load("c", c, w * 128 + pos([](int l, int j) { return mma_c_pos(l, j); }, i, 8)));
    std::vector<Expr> av, bv;
    for (int i = 0; i < mma_a_values(kind); ++i)
      av.push_back(b.load("a", a, w * (16 * k) + pos([&](int l, int j) { return mma_a_pos(kind, l, j); }, i, k)));
    for (int i = 0; i < mma_b_values(kind); ++i)
      bv.push_back(b.load("b", bm, w * (k * 8) + pos([&](int l, int j) { return mma_b_pos(kind, l, j); }, i, 8)));
    b.mma(kind, acc, {0, 1, 2, 3}, av, bv, {rounded, rounded});
    // f16/bf16: the second mma converts A from the same stored values (its loads keep their bits
    // for the first one, and widen for this use)
    b.mma(kind, acc, {0, 1, 2, 3}, av, bv, {rounded && mma_is_tf32(kind), rounded});
    for (int i = 0; i < 4; ++i)
      b.store(d, w * 128 + pos([](int l, int j) { return mma_c_pos(l, j); }, i, 8), b.load("r", acc, b.i32(i)));
  });
  return b.finish();
}

float rounded(MmaKind kind, float x) {
  switch (kind) {
    case MmaKind::f16_m16n8k16: return f16_to_float(float_to_f16(x));
    case MmaKind::bf16_m16n8k16: return bf16_to_float(float_to_bf16(x));
    default: return round_tf32(x);
  }
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

struct Data {
  std::vector<float> a, b, c, d;
};

Data random_data(MmaKind kind) {
  const int k = mma_depth(kind);
  return {random_floats(kWarps * 16 * k, 1), random_floats(kWarps * k * 8, 2), random_floats(kWarps * 128, 3),
          std::vector<float>(kWarps * 128, -7)};
}

// d = c + 2 a x b in float64, from the operands as given (exact) or as the tensor cores round them.
std::vector<double> expected(MmaKind kind, const Data& in, bool round_operands) {
  const int k = mma_depth(kind);
  std::vector<double> d(kWarps * 128);
  for (int w = 0; w < kWarps; ++w)
    for (int r = 0; r < 16; ++r)
      for (int col = 0; col < 8; ++col) {
        double s = in.c[w * 128 + r * 8 + col];
        for (int j = 0; j < k; ++j) {
          float x = in.a[w * 16 * k + r * k + j], y = in.b[w * k * 8 + j * 8 + col];
          s += 2 * (round_operands ? double{rounded(kind, x)} * rounded(kind, y) : double{x} * y);
        }
        d[w * 128 + r * 8 + col] = s;
      }
  return d;
}

double max_rel(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i])));
  return worst;
}

TEST(Mma, InterpreterComputesEachKindFromTheFragmentLayouts) {
  for (MmaKind kind : kKinds) {
    SCOPED_TRACE(mma_name(kind));
    std::unique_ptr<Kernel> k = mma_kernel(kind);
    EXPECT_TRUE(verify(*k).empty()) << verify(*k)[0];
    Data in = random_data(kind);
    interp::interpret(*k, {in.a.data(), in.b.data(), in.c.data(), in.d.data()});
    const double exact = max_rel(in.d, expected(kind, in, false));
    if (kind == MmaKind::tf32x3_m16n8k8) {
      // fp32-accurate: the small parts are truncated, so each product is off by at most about
      // 2.5 * 2^-21 |a b| (1.2e-6; tf32 alone: 2^-10), summed over 16 products
      EXPECT_LT(exact, 2e-6);
    } else {
      EXPECT_LT(max_rel(in.d, expected(kind, in, true)), 1e-6);  // the rounded operands' product
      EXPECT_GT(exact, kind == MmaKind::f16_m16n8k16 ? 1e-5 : 1e-4);  // ... which is not the exact one
    }
  }
}

TEST(Mma, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (MmaKind kind : kKinds) {
    std::unique_ptr<Kernel> k = mma_kernel(kind);
    const std::string src = cuda_translation_unit(*k);
    const std::string call = "wino_mma_" + mma_operand_name(kind) + (kind == MmaKind::tf32x3_m16n8k8 ? "(" : "_bits(");
    EXPECT_NE(src.find(call), std::string::npos) << call;
    cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
    EXPECT_FALSE(out.cubin.empty()) << mma_name(kind) << ":\n" << out.log;
  }
}

TEST(Mma, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  auto backend = runtime::make_backend(Device::cuda(), Options{});
  for (MmaKind kind : kKinds)
  for (bool rounded : {false, true}) {  // f16/bf16 operands converted, or passed as stored
    if (rounded && mma_is_tf32(kind)) continue;
    SCOPED_TRACE(mma_name(kind) + (rounded ? " as stored" : ""));
    std::unique_ptr<Kernel> k = mma_kernel(kind, kWarps * kWarp, rounded);
    Data in = random_data(kind), gpu = in;
    interp::interpret(*k, {in.a.data(), in.b.data(), in.c.data(), in.d.data()});
    backend->compile({runtime::KernelSpec::of(*k)},
                     runtime::compile_sources({render::render_kernel(*k, render::Dialect::cuda)}, render::Dialect::cuda));
    std::vector<std::unique_ptr<runtime::Allocation>> mem;
    std::vector<runtime::MemoryRef> args;
    for (std::vector<float>* v : {&gpu.a, &gpu.b, &gpu.c, &gpu.d}) {
      mem.push_back(backend->alloc(static_cast<int64_t>(v->size() * 4)));
      backend->copy_from_host(mem.back()->ref(), v->data(), static_cast<int64_t>(v->size() * 4), nullptr);
      args.push_back(mem.back()->ref());
    }
    backend->launch(0, args, nullptr);
    backend->copy_to_host(gpu.d.data(), args[3], static_cast<int64_t>(gpu.d.size() * 4), nullptr);
    backend->synchronize(nullptr);
    std::vector<double> want(in.d.begin(), in.d.end());
    EXPECT_LT(max_rel(gpu.d, want), 1e-5);  // the tensor cores' summation order and rounding differ
  }
}

// A tf32 mma whose operands the plan stored rounded takes their bits (no conversion in the
// source); the interpreter refuses an operand that is not a tf32 value, the verifier the promise
// on other kinds.
TEST(Mma, RoundedTf32OperandsPassUnconverted) {
  std::unique_ptr<Kernel> k = mma_kernel(MmaKind::tf32_m16n8k8, kWarps * kWarp, true);
  EXPECT_TRUE(verify(*k).empty());
  Data in = random_data(MmaKind::tf32_m16n8k8);
  const std::string refused = testing::error_of([&] { interp::interpret(*k, {in.a.data(), in.b.data(), in.c.data(), in.d.data()}); });
  EXPECT_NE(refused.find("not a tf32 value"), std::string::npos) << refused;
  for (std::vector<float>* v : {&in.a, &in.b})
    for (float& x : *v) x = round_tf32(x);
  interp::interpret(*k, {in.a.data(), in.b.data(), in.c.data(), in.d.data()});
  EXPECT_LT(max_rel(in.d, expected(MmaKind::tf32_m16n8k8, in, false)), 1e-6);
  const std::string src = render::render_kernel(*k, render::Dialect::cuda);
  EXPECT_NE(src.find("= wino_tf32_bits("), std::string::npos) << src;
  EXPECT_EQ(src.find("= wino_tf32("), std::string::npos) << src;
  const std::vector<std::string> problems = verify(*mma_kernel(MmaKind::tf32x3_m16n8k8, kWarps * kWarp, true));
  ASSERT_EQ(problems.size(), 4u);  // one per side of each mma
  EXPECT_NE(problems[0].find("splits its operands"), std::string::npos) << problems[0];
}

// f16/bf16 operands staged in work-group memory of the mma's type go in as their stored bits,
// packed in pairs (no conversion to float and back); the verifier refuses the promise for values
// that were not loaded from such memory.
TEST(Mma, HalfOperandsPassAsStored) {
  for (MmaKind kind : {MmaKind::f16_m16n8k16, MmaKind::bf16_m16n8k16}) {
    SCOPED_TRACE(mma_name(kind));
    std::unique_ptr<Kernel> k = mma_kernel(kind, kWarps * kWarp, true);
    ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
    Data in = random_data(kind);
    interp::interpret(*k, {in.a.data(), in.b.data(), in.c.data(), in.d.data()});
    EXPECT_LT(max_rel(in.d, expected(kind, in, true)), 1e-6);
    const std::string src = render::render_kernel(*k, render::Dialect::cuda);
    const std::string name = mma_operand_name(kind);
    EXPECT_NE(src.find("= wino_halves(b"), std::string::npos) << src;  // B, in both mmas
    EXPECT_NE(src.find("= wino_" + name + "x2(wino_" + name + "_to_f32(a"), std::string::npos) << src;  // A, 2nd
    EXPECT_EQ(src.find("wino_" + name + "x2(wino_" + name + "_to_f32(b"), std::string::npos) << src;
    std::string why;
    if (cuda::nvrtc_available(&why)) {
      cuda::NvrtcOutput out = cuda::nvrtc_compile(render::translation_unit({src}, render::Dialect::cuda), k->name, "sm_90");
      EXPECT_FALSE(out.cubin.empty()) << out.log;
    }
    const std::vector<std::string> problems = verify(*mma_kernel(kind, kWarps * kWarp, true, false));
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("is marked rounded but is not a value loaded from"), std::string::npos) << problems[0];
  }
}

// out[i] = tf32_rounded(in[i]) in each dialect, bit for bit as ir::round_tf32 on the host: ties
// (away from zero), the values beside them, signed zeros, subnormals, the largest floats, Inf and NaN.
void expect_tf32_rounding_as_host(const Device& device) {
  std::vector<float> in = random_floats(256, 9);
  for (uint32_t bits : {0x3f801000u, 0x3f800fffu, 0x3f803000u, 0xbf801000u, 0x00001000u, 0x00000fffu, 0x80000001u,
                        0x7f7fffffu, 0xff7fefffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x80000000u, 0u})
    in.push_back(std::bit_cast<float>(bits));
  const int64_t n = static_cast<int64_t>(in.size());
  KernelBuilder b(std::make_shared<Context>(), "round_tf32_test", (n + 63) / 64, 64);
  const Memory* x = b.buffer("x", n, true);
  const Memory* y = b.buffer("y", n, false);
  b.threads([&](Expr tid) {
    Expr i = b.let("i", b.group_id() * 64 + tid);
    b.if_then(lt(i, b.i32(n)), [&] { b.store(y, i, tf32_rounded(b.load("x", x, i))); });
  });
  const std::vector<float> out = run_on_device(device, *b.finish(), in, in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const float want = round_tf32(in[i]);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(out[i])) << i;
    else EXPECT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want)) << "x = " << in[i];
  }
}

TEST(Mma, Tf32RoundingRunsAsTheHostsInTheInterpreterAndC) {
  expect_tf32_rounding_as_host(Device::interpreter());
  expect_tf32_rounding_as_host(Device::cpu());
}
TEST(Mma, Tf32RoundingRunsAsTheHostsInOpencl) {
  SKIP_WITHOUT_OPENCL();
  expect_tf32_rounding_as_host(Device::opencl());
}
TEST(CudaMma, Tf32RoundingRunsAsTheHosts) {
  SKIP_WITHOUT_CUDA();
  expect_tf32_rounding_as_host(Device::cuda());
}

TEST(Mma, MisuseIsRefusedClearly) {
  std::unique_ptr<Kernel> partial = mma_kernel(MmaKind::tf32_m16n8k8, 48);
  std::vector<std::string> problems = verify(*partial);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("whole warps"), std::string::npos) << problems[0];
  expect_cuda_only(*mma_kernel(MmaKind::f16_m16n8k16), "tensor-core precisions run on CUDA only");
}

}  // namespace
}  // namespace wino

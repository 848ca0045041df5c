// Vector values in the IR (types with lanes): what the expression builder accepts and refuses,
// the verifier's bounds, each dialect's spelling from its type table, and one kernel run the same
// on every backend that is here (interpreter, C through gcc, OpenCL, CUDA), checked value by value.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/half.h"
#include "common/random.h"
#include "cuda_source.h"
#include "error_of.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "opencl_skip.h"
#include "render/render.h"
#include "runtime/backend.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::ir {
namespace {

using testing::error_of;

TEST(IrVectors, TypesCarryLanesAndBytes) {
  EXPECT_EQ(type_name(Type::f32.with_lanes(4)), "f32x4");
  EXPECT_EQ(type_bytes(Type::f32.with_lanes(8)), 32);
  EXPECT_EQ(type_bytes(Type::f16.with_lanes(4)), 8);
  EXPECT_EQ(value_type(Type::bf16.with_lanes(2)), Type::f32.with_lanes(2));
  Context c;
  Expr v = c.broadcast(c.f32(2), 4);
  EXPECT_EQ(v.type(), Type::f32.with_lanes(4));
  EXPECT_EQ(c.extract(v, 3), c.f32(2));  // a lane of a broadcast is its scalar
  Expr x = c.var("x", Type::f32.with_lanes(4));
  EXPECT_EQ((x * 3).type(), x.type());    // integer constants broadcast to the lanes
  EXPECT_EQ(c.extract(x + x, 1).type(), Type::f32);
  EXPECT_EQ(c.broadcast(c.i32(1), 1), c.i32(1));
}

TEST(IrVectors, ScalarOnlyOperationsAreRefusedWithTheWayOut) {
  Context c;
  Expr x = c.var("x", Type::f32.with_lanes(4)), i = c.var("i", Type::i32.with_lanes(4));
  EXPECT_NE(error_of([&] { lt(x, x); }).find("lt is scalar; extract the lanes of f32x4 first"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)(i % i); }).find("mod"), std::string::npos);
  EXPECT_NE(error_of([&] { c.cast(x, Type::i32); }).find("casts are scalar"), std::string::npos);
  EXPECT_NE(error_of([&] { c.broadcast(c.f32(1), 3); }).find("2, 4, 8 or 16 lanes"), std::string::npos);
  EXPECT_NE(error_of([&] { c.broadcast(c.boolean(true), 4); }).find("broadcast of bool"), std::string::npos);
  EXPECT_NE(error_of([&] { c.extract(x, 4); }).find("extract of lane 4 from f32x4"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)(x + c.var("y", Type::f32.with_lanes(8))); }).find("f32x4 vs f32x8"),
            std::string::npos);
}

TEST(IrVectors, VerifierChecksEveryLaneIsInBounds) {
  KernelBuilder b(std::make_shared<Context>(), "lanes", 1, 1);
  const Memory* x = b.buffer("x", 6, true);
  const Memory* y = b.buffer("y", 8, false);
  b.threads([&](Expr) {
    Expr v = b.load("v", x, b.i32(4), {}, 4);  // x[4..8) of x[6]
    b.store(y, b.i32(0), v);
  });
  auto k = b.finish();
  const std::vector<std::string> problems = verify(*k);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("vector access f32x4 at 4 runs past the end of x[6]"), std::string::npos);
}

/// Each of `groups` x 4 threads owns 4 consecutive elements at e = 4 * (group * 4 + thread):
///   v = x[e..e+4) (f32x4), h = hx[e..e+4) (f16 loads, widened lane by lane), s = x[0]
///   y[e..e+4) = max(v * s + h, -0.5) - extract(v, 3), masked to e < limit (else untouched), as
///                an aligned store (e is a multiple of the lanes)
///   acc[e..e+4) += v                  (a vector accumulation into a written buffer)
std::unique_ptr<Kernel> vector_kernel(int groups, int64_t limit, int lanes = 4) {
  const int64_t n = int64_t{groups} * 4 * lanes;
  KernelBuilder b(std::make_shared<Context>(), "lanes_kernel", groups, 4);
  const Memory* x = b.buffer("x", n, true);
  const Memory* hx = b.buffer("hx", n, true, Type::f16);
  const Memory* y = b.buffer("y", n, false);
  const Memory* acc = b.buffer("acc", n, false);
  b.threads([&](Expr tid) {
    Expr e = b.let("e", (b.group_id() * 4 + tid) * lanes);
    Expr v = b.load("v", x, e, {}, lanes);
    Expr h = b.load("h", hx, e, {}, lanes);
    Expr s = b.load("s", x, b.i32(0));
    Expr r = max(v * broadcast(s, lanes) + h, broadcast(b.f32(-0.5), lanes)) - broadcast(extract(v, lanes - 1), lanes);
    b.aligned_store(y, e, r, lt(e, b.i32(limit)));
    b.accumulate(acc, e, v);
  });
  return b.finish();
}

struct Inputs {
  std::vector<float> x, y, acc;
  std::vector<uint16_t> hx;
};

Inputs make_inputs(int64_t n) {
  Rng rng(7);
  Inputs in;
  for (int64_t i = 0; i < n; ++i) {
    in.x.push_back(static_cast<float>(rng.normal()));
    in.hx.push_back(float_to_f16(static_cast<float>(rng.normal())));
    in.y.push_back(100.0f + static_cast<float>(i));
    in.acc.push_back(static_cast<float>(i));
  }
  return in;
}

void expect_matches_definition(const Inputs& in, const Inputs& out, int64_t limit, int lanes) {
  for (size_t e0 = 0; e0 < in.x.size(); e0 += lanes)
    for (int l = 0; l < lanes; ++l) {
      const size_t i = e0 + l;
      const float r = std::fmax(in.x[i] * in.x[0] + f16_to_float(in.hx[i]), -0.5f) - in.x[e0 + lanes - 1];
      // Compilers may contract v * s + h into one FMA (gcc, nvcc do): one rounding less.
      const float want = static_cast<int64_t>(e0) < limit ? r : in.y[i];
      EXPECT_NEAR(out.y[i], want, 1e-6 * (1 + std::fabs(want))) << "y[" << i << "]";
      EXPECT_EQ(out.acc[i], in.acc[i] + in.x[i]) << "acc[" << i << "]";
    }
}

/// Runs the vector kernel on `device` through the backend interface (render, compile, launch).
void run_on(const Device& device, int lanes = 4) {
  const int groups = 3;
  const int64_t n = int64_t{groups} * 4 * lanes, limit = n - 2 * lanes;
  auto k = vector_kernel(groups, limit, lanes);
  ASSERT_TRUE(verify(*k).empty());
  auto backend = runtime::make_backend(device, {});
  const render::Dialect dialect = backend->dialect();
  backend->compile({runtime::KernelSpec::of(*k)}, runtime::compile_sources({render::render_kernel(*k, dialect)}, dialect));
  Inputs in = make_inputs(n), out = in;
  auto bx = backend->alloc(n * 4), bh = backend->alloc(n * 2), by = backend->alloc(n * 4), ba = backend->alloc(n * 4);
  backend->copy_from_host(bx->ref(), in.x.data(), n * 4, nullptr);
  backend->copy_from_host(bh->ref(), in.hx.data(), n * 2, nullptr);
  backend->copy_from_host(by->ref(), in.y.data(), n * 4, nullptr);
  backend->copy_from_host(ba->ref(), in.acc.data(), n * 4, nullptr);
  backend->launch(0, {bx->ref(), bh->ref(), by->ref(), ba->ref()}, nullptr);
  backend->synchronize(nullptr);
  backend->copy_to_host(out.y.data(), by->ref(), n * 4, nullptr);
  backend->copy_to_host(out.acc.data(), ba->ref(), n * 4, nullptr);
  expect_matches_definition(in, out, limit, lanes);
}

TEST(IrVectors, InterpreterRunsTheDefinition) { run_on(Device::interpreter()); }
TEST(IrVectors, InterpreterRunsSixteenLanes) { run_on(Device::interpreter(), 16); }
TEST(IrVectors, CpuGccRunsTheDefinition) { run_on(Device::cpu()); }
TEST(IrVectors, CpuGccSixteenLanes) { run_on(Device::cpu(), 16); }

TEST(IrVectors, OpenClRunsTheDefinition) {
  SKIP_WITHOUT_OPENCL();
  run_on(Device::opencl());
  run_on(Device::opencl(), 8);
}

TEST(CudaVectors, RunTheDefinition) {
  std::string why;
  if (!cuda::cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  run_on(Device::cuda());
}

TEST(IrVectors, EachDialectSpellsVectorsFromItsTable) {
  auto k = vector_kernel(1, 16);
  const std::string c = render::render_kernel(*k, render::Dialect::c);
  EXPECT_NE(c.find("const wino_floatx4 v = *(const wino_floatx4*)(&x[e]);"), std::string::npos) << c;
  const std::string cl = render::render_kernel(*k, render::Dialect::opencl);
  EXPECT_NE(cl.find("vload4(0, &x[e])"), std::string::npos) << cl;
  EXPECT_NE(cl.find("vstore4("), std::string::npos) << cl;
  const std::string cu = render::render_kernel(*k, render::Dialect::cuda);
  EXPECT_NE(cu.find("const float4 v = make_float4(x[e], x[e + 1], x[e + 2], x[e + 3]);"), std::string::npos) << cu;
  EXPECT_NE(cu.find("v.w"), std::string::npos) << cu;
  EXPECT_NE(cu.find("*reinterpret_cast<float4*>(&y[e]) = "), std::string::npos) << cu;  // aligned: one wide store
  EXPECT_EQ(cu.find("*reinterpret_cast<float4*>(&acc[e])"), std::string::npos) << cu;
  const std::string metal = render::render_kernel(*k, render::Dialect::metal);
  EXPECT_NE(metal.find("float4(wino_f16_to_f32(hx[e])"), std::string::npos) << metal;
}

// An aligned pair or quad of f16 or bf16 loads as one 4- or 8-byte access on CUDA, widened by the
// prelude's unpacking (lane by lane elsewhere), zeros where its mask is false; the interpreter
// widens it lane by lane and refuses one at an element off its lanes.
TEST(IrVectors, AlignedHalfVectorsLoadAsOneAccess) {
  for (const Type half : {Type::f16, Type::bf16})
    for (int lanes : {2, 4})
      for (int shift : {0, 1}) {
        KernelBuilder b(std::make_shared<Context>(), "aligned_halves", 1, 4);
        const Memory* hx = b.buffer("hx", 4 * lanes + 2, true, half);
        const Memory* y = b.buffer("y", 4 * lanes, false);
        b.threads([&](Expr tid) {
          Expr e = b.let("e", tid * lanes + shift);
          b.store(y, tid * lanes, b.aligned_load("h", hx, e, lanes, lt(tid, b.i32(3))));  // thread 3 loads zeros
        });
        auto k = b.finish();
        EXPECT_TRUE(verify(*k).empty());
        std::vector<uint16_t> hs(4 * lanes + 2);
        for (int i = 0; i < 4 * lanes + 2; ++i)
          hs[i] = half == Type::f16 ? float_to_f16(0.5f * i - 1) : float_to_bf16(0.5f * i - 1);
        std::vector<float> ys(4 * lanes, 7.0f);
        const std::string error = error_of([&] { interp::interpret(*k, {hs.data(), ys.data()}); });
        if (shift == 1) {
          EXPECT_NE(error.find("aligned load of " + std::to_string(lanes) + " elements from 'hx' at element 1, not a multiple of " +
                               std::to_string(lanes) + " (misaligned)"),
                    std::string::npos) << error;
          continue;
        }
        EXPECT_EQ(error, "");
        for (int i = 0; i < 4 * lanes; ++i) EXPECT_EQ(ys[i], i < 3 * lanes ? 0.5f * i - 1 : 0.0f) << i;
        const std::string cu = render::render_kernel(*k, render::Dialect::cuda);
        const std::string unpack = std::string("wino_") + (half == Type::f16 ? "f16" : "bf16") + "x" + std::to_string(lanes) +
                                   "_to_float" + std::to_string(lanes);
        const std::string word = lanes == 2 ? "unsigned" : "uint2";
        EXPECT_NE(cu.find("? " + unpack + "(*reinterpret_cast<const " + word + "*>(&hx[e])) : make_float" +
                          std::to_string(lanes) + "(0.0f"),
                  std::string::npos) << cu;
        EXPECT_EQ(render::render_kernel(*k, render::Dialect::c).find(unpack), std::string::npos);
      }
}

TEST(IrVectors, InterpreterRefusesMisalignedAlignedStores) {
  for (int shift : {0, 2}) {
    KernelBuilder b(std::make_shared<Context>(), "aligned_store", 1, 4);
    const Memory* x = b.buffer("x", 32, true);
    const Memory* y = b.buffer("y", 32, false);
    b.threads([&](Expr tid) {
      Expr e = b.let("e", tid * 4 + shift);
      b.aligned_store(y, e, b.load("v", x, e, {}, 4));
    });
    auto k = b.finish();
    EXPECT_NE(print(*k).find("(aligned)"), std::string::npos);
    std::vector<float> xs(32, 1.0f), ys(32, 0.0f);
    const std::string error = error_of([&] { interp::interpret(*k, {xs.data(), ys.data()}); });
    if (shift == 0) EXPECT_EQ(error, "");
    else EXPECT_NE(error.find("aligned store of 4 elements to 'y' at element 2, not a multiple of 4 (misaligned)"),
                   std::string::npos) << error;
  }
  KernelBuilder b(std::make_shared<Context>(), "aligned_scalar", 1, 4);
  const Memory* y = b.buffer("y", 4, false);
  b.threads([&](Expr tid) { b.aligned_store(y, tid, b.f32(1)); });
  const std::vector<std::string> problems = verify(*b.finish());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("an aligned store of a scalar"), std::string::npos) << problems[0];
}

TEST(IrVectors, LanesBeyondTheLanguageAreRefusedByName) {
  auto k = vector_kernel(1, 64, 8);
  EXPECT_NE(error_of([&] { render::render_kernel(*k, render::Dialect::cuda); }).find("no f32x8 vectors (at most 4 lanes"),
            std::string::npos);
  EXPECT_NE(error_of([&] { render::render_kernel(*k, render::Dialect::metal); }).find("no f32x8 vectors"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { render::render_kernel(*k, render::Dialect::opencl); }), "");
}

TEST(IrVectors, CudaSourceCompilesWithNvrtc) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "no NVRTC: " << why;
  auto k = vector_kernel(2, 16);
  const std::string src = cuda_translation_unit(*k);
  cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
  EXPECT_FALSE(out.cubin.empty());
}

}  // namespace
}  // namespace wino::ir

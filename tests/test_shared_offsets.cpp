// Work-group memory at a let variable plus a constant (DialectSpec::shared_pointer_offsets): the
// CUDA source forms the variable's pointer into the array once, at its let, and offsets it at each
// access (NVRTC's 64-bit work-group addresses otherwise cost an add and a shift per access); the
// other dialects index as before; the source compiles for sm_90; and the GPU agrees with the
// interpreter, in branches as well as before them, for static and dynamic arrays.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kThreads = 64, kRow = 6;

// out[t * 6 + j] = the sum of row t of `in` staged in work-group memory, times j + 1: each thread
// stages its row at `base` (a let), then half the threads read it back in one branch and half in
// another, at base + constant.
// `clash`: the output index is a variable named like the base's pointer ("base_s").
std::unique_ptr<Kernel> rows_kernel(int64_t pad_floats, bool clash = false) {
  KernelBuilder b(std::make_shared<Context>(), "rows", 1, kThreads);
  const Memory* in = b.buffer("in", kThreads * kRow, true);
  const Memory* out = b.buffer("out", kThreads * kRow, false);
  const Memory* s = b.shared_array("s", pad_floats + kThreads * kRow);
  b.threads([&](Expr tid) {
    Expr first = b.let(clash ? "base_s" : "first", tid * kRow);
    Expr base = b.let("base", b.i32(pad_floats) + tid * kRow);
    for (int j = 0; j < kRow; ++j) b.store(s, base + j, b.load("x", in, tid * kRow + j));
    for (int half = 0; half < 2; ++half)
      b.if_then(eq(tid % 2, b.i32(half)), [&] {
        Expr sum = b.load("y", s, base);
        for (int j = 1; j < kRow; ++j) sum = sum + b.load("y", s, base + j);
        for (int j = 0; j < kRow; ++j) b.store(out, first + j, sum * b.f32(j + 1));
      });
  });
  return b.finish();
}

std::vector<float> input() {
  std::vector<float> in(kThreads * kRow);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.25f * static_cast<float>(i % 23) - 2;
  return in;
}

TEST(SharedOffsets, CudaOffsetsOnePointerPerBaseOtherDialectsIndex) {
  for (int64_t pad : {int64_t{0}, int64_t{16384}}) {  // static arrays, and one above 48 KiB (dynamic)
    std::unique_ptr<Kernel> k = rows_kernel(pad);
    const std::string cuda = render::render_kernel(*k, render::Dialect::cuda);
    EXPECT_NE(cuda.find("auto* const base_s = s + base;"), std::string::npos) << cuda;
    EXPECT_NE(cuda.find("base_s[5]"), std::string::npos) << cuda;
    EXPECT_NE(cuda.find("base_s[0]"), std::string::npos) << cuda;
    EXPECT_EQ(cuda.find("first_"), std::string::npos) << "global memory keeps its indices: " << cuda;
    for (render::Dialect d : {render::Dialect::opencl, render::Dialect::metal, render::Dialect::c})
      EXPECT_EQ(render::render_kernel(*k, d).find("base_s"), std::string::npos) << render::dialect_name(d);
  }
}

TEST(SharedOffsets, APointerNeverTakesAVariablesName) {
  const std::string cuda = render::render_kernel(*rows_kernel(0, true), render::Dialect::cuda);
  EXPECT_NE(cuda.find("const int base_s = "), std::string::npos) << cuda;
  EXPECT_NE(cuda.find("auto* const base_s1 = s + base;"), std::string::npos) << cuda;
  EXPECT_NE(cuda.find("base_s1[5]"), std::string::npos) << cuda;
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  const cuda::NvrtcOutput out =
      cuda::nvrtc_compile(render::translation_unit({cuda}, render::Dialect::cuda), "rows", "sm_90");
  EXPECT_FALSE(out.cubin.empty()) << out.log;  // a name declared twice would not compile
}

TEST(SharedOffsets, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (int64_t pad : {int64_t{0}, int64_t{16384}}) {
    std::unique_ptr<Kernel> k = rows_kernel(pad);
    cuda::NvrtcOutput out = cuda::nvrtc_compile(
        cuda_translation_unit(*k), k->name,
        "sm_90");
    EXPECT_FALSE(out.cubin.empty()) << out.log;
  }
}

TEST(SharedOffsets, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  for (int64_t pad : {int64_t{0}, int64_t{16384}}) {
    std::unique_ptr<Kernel> k = rows_kernel(pad);
    std::vector<float> in = input(), want(in.size(), -1);
    interp::interpret(*k, {in.data(), want.data()});
    EXPECT_EQ(run_on_cuda(*k, in, in.size()), want) << "pad " << pad;
  }
}

}  // namespace
}  // namespace wino

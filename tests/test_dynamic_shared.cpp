// Work-group memory above 48 KiB (CUDA): the arrays are carved from one dynamic `extern` array,
// each on a 16-byte boundary, the launch provides the bytes, and the GPU agrees with the
// interpreter; kernels within 48 KiB and the other dialects keep static arrays.
#include <gtest/gtest.h>

#include <vector>

#include "cuda_source.h"
#include "device_run.h"
#include "cuda_skip.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kThreads = 256;

// out[e] = in[e] + 3 in[e'] through two shared arrays of `big` and 1001 floats: every thread
// writes its elements of both, then reads another thread's.
std::unique_ptr<Kernel> two_array_kernel(int64_t big) {
  KernelBuilder b(std::make_shared<Context>(), "two_arrays", 1, kThreads);
  const Memory* in = b.buffer("in", big, true);
  const Memory* out = b.buffer("out", big, false);
  const Memory* a = b.shared_array("a", big);
  const Memory* small = b.shared_array("small", 1001);
  const int64_t per = big / kThreads;
  b.threads([&](Expr tid) {
    b.loop("i", per, LoopKind::serial, [&](Expr i) {
      Expr e = b.let("e", i * kThreads + tid);
      b.store(a, e, b.load("x", in, e));
    });
    b.store(small, tid, b.load("y", in, tid) * b.f32(3));
  });
  b.barrier();
  b.threads([&](Expr tid) {
    Expr other = b.let("other", b.i32(kThreads - 1) - tid);
    b.loop("i", per, LoopKind::serial, [&](Expr i) {
      Expr e = b.let("e", i * kThreads + other);
      b.store(out, e, b.load("x", a, e) + b.load("y", small, other));
    });
  });
  return b.finish();
}

constexpr int64_t kBig = 16384;  // 64 KiB, plus the small array: 68,032 bytes

std::vector<float> input() {
  std::vector<float> in(kBig);
  for (int64_t i = 0; i < kBig; ++i) in[i] = 0.5f * static_cast<float>(i % 29) - 7;
  return in;
}

TEST(DynamicShared, CudaCarvesArraysAbove48KiBFromOneExternArray) {
  std::unique_ptr<Kernel> k = two_array_kernel(kBig);
  EXPECT_EQ(shared_array_bytes(*k), kBig * 4 + 4016);  // 1001 floats rounded up to 16 bytes
  EXPECT_EQ(render::dynamic_shared_bytes(*k, render::Dialect::cuda), kBig * 4 + 4016);
  const std::string src = render::render_kernel(*k, render::Dialect::cuda);
  EXPECT_NE(src.find("extern __shared__ __align__(16) unsigned char wino_shared_[];"), std::string::npos) << src;
  EXPECT_NE(src.find("float* small = reinterpret_cast<float*>(wino_shared_ + 65536);"), std::string::npos) << src;
  for (render::Dialect d : {render::Dialect::opencl, render::Dialect::metal, render::Dialect::c}) {
    EXPECT_EQ(render::dynamic_shared_bytes(*k, d), 0) << render::dialect_name(d);
    EXPECT_EQ(render::render_kernel(*k, d).find("wino_shared_"), std::string::npos) << render::dialect_name(d);
  }
  std::unique_ptr<Kernel> within = two_array_kernel(4096);  // 20 KiB: static
  EXPECT_EQ(render::dynamic_shared_bytes(*within, render::Dialect::cuda), 0);
  EXPECT_NE(render::render_kernel(*within, render::Dialect::cuda).find("__shared__ __align__(16) float a[4096];"),
            std::string::npos);
}

TEST(DynamicShared, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  std::unique_ptr<Kernel> k = two_array_kernel(kBig);
  cuda::NvrtcOutput out = cuda::nvrtc_compile(
      cuda_translation_unit(*k), k->name,
      "sm_90");
  EXPECT_FALSE(out.cubin.empty()) << out.log;
}

TEST(DynamicShared, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  std::unique_ptr<Kernel> k = two_array_kernel(kBig);
  std::vector<float> in = input(), want(kBig, -1);
  interp::interpret(*k, {in.data(), want.data()});
  const std::vector<float> got = run_on_cuda(*k, in, kBig);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace wino

// The IR interpreter on hand-built kernels: what it computes, and the mistakes it refuses to
// forgive (out-of-bounds accesses, uninitialized reads, races, stores to inputs, overflow, a
// warp_uniform value that differs in a warp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"

namespace wino::interp {
namespace {

using namespace ir;

std::string error_of(const Kernel& k, std::vector<void*> buffers) {
  try {
    interpret(k, buffers);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// y[g * 4 + t] = 2 * x[...] + 1 over 3 work-groups of 4 threads, through shared memory reversed
// within the group (so each thread reads what a neighbour wrote, after a barrier).
std::unique_ptr<Kernel> reverse_kernel(bool with_barrier, int64_t y_size = 12) {
  KernelBuilder b(std::make_shared<Context>(), "reverse", 3, 4);
  const Memory* x = b.buffer("x", 12, true);
  const Memory* y = b.buffer("y", y_size, false);
  const Memory* s = b.shared_array("s", 4);
  b.threads([&](Expr t) { b.store(s, t, b.load("v", x, b.group_id() * 4 + t) * b.f32(2) + b.f32(1)); });
  if (with_barrier) b.barrier();
  b.threads([&](Expr t) { b.store(y, b.group_id() * 4 + t, b.load("w", s, b.i32(3) - t)); });
  return b.finish();
}

TEST(Interp, ComputesWhatTheKernelSays) {
  std::vector<float> x(12), y(12, -1);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i);
  interpret(*reverse_kernel(true), {x.data(), y.data()});
  for (int g = 0; g < 3; ++g)
    for (int t = 0; t < 4; ++t) EXPECT_EQ(y[g * 4 + t], 2 * x[g * 4 + 3 - t] + 1) << g << "," << t;
}

TEST(Interp, MissingBarrierIsARace) {
  std::vector<float> x(12, 1), y(12);
  EXPECT_NE(error_of(*reverse_kernel(false), {x.data(), y.data()}).find("(a race)"), std::string::npos);
}

TEST(Interp, OutOfBoundsNamesTheMemoryAndIndex) {
  std::vector<float> x(12, 1), y(11);
  const std::string what = error_of(*reverse_kernel(true, 11), {x.data(), y.data()});
  EXPECT_NE(what.find("store to global 'y' at index 11, outside [0, 11)"), std::string::npos) << what;
  EXPECT_NE(what.find("work-group 2, thread 3"), std::string::npos) << what;
}

TEST(Interp, UninitializedReadStoreToInputAndOverflowAreErrors) {
  {
    KernelBuilder b(std::make_shared<Context>(), "uninit", 1, 2);
    const Memory* y = b.buffer("y", 2, false);
    const Memory* acc = b.thread_array("acc", 2);
    b.threads([&](Expr t) {
      b.store(acc, b.i32(0), b.f32(1));
      b.store(y, t, b.load("a", acc, b.i32(1)));  // element 1 was never written
    });
    std::vector<float> yv(2);
    EXPECT_NE(error_of(*b.finish(), {yv.data()}).find("nothing wrote"), std::string::npos);
  }
  {
    KernelBuilder b(std::make_shared<Context>(), "to_input", 1, 1);
    const Memory* x = b.buffer("x", 1, true);
    b.threads([&](Expr) { b.store(x, b.i32(0), b.f32(1)); });
    std::vector<float> xv(1);
    EXPECT_NE(error_of(*b.finish(), {xv.data()}).find("read-only buffer 'x'"), std::string::npos);
  }
  {
    KernelBuilder b(std::make_shared<Context>(), "overflow", 1, 1);
    const Memory* y = b.buffer("y", 1, false);
    // (t + 2^20) * 2^12 = 2^32 at t = 0: the multiplication overflows 32 bits
    b.threads([&](Expr t) { b.store(y, (t + b.i32(1 << 20)) * b.i32(1 << 12), b.f32(1)); });
    std::vector<float> yv(1);
    EXPECT_NE(error_of(*b.finish(), {yv.data()}).find("32-bit overflow"), std::string::npos);
  }
}

TEST(Interp, MaskedLoadsReadZeroWithoutTouchingMemory) {
  KernelBuilder b(std::make_shared<Context>(), "masked", 1, 4);
  const Memory* x = b.buffer("x", 2, true);
  const Memory* y = b.buffer("y", 4, false);
  b.threads([&](Expr t) { b.store(y, t, b.load("v", x, t, lt(t, b.i32(2))) + b.f32(5)); });
  std::vector<float> xv = {1, 2}, yv(4);
  interpret(*b.finish(), {xv.data(), yv.data()});
  EXPECT_EQ(yv, (std::vector<float>{6, 7, 5, 5}));
}

// y[tid] = warp_uniform(tid / d) over one work-group of 64 threads: one value a warp where d is
// 32 or a multiple (a warpgroup's index), refused by name where it is not; CUDA takes lane 0's,
// other dialects the value itself.
std::unique_ptr<Kernel> warp_index_kernel(int d) {
  KernelBuilder b(std::make_shared<Context>(), "warp_index", 1, 64);
  const Memory* y = b.buffer("y", 64, false);
  b.threads([&](Expr t) { b.store(y, t, b.ctx().cast(b.let("w", warp_uniform(t / d)), Type::f32)); });
  return b.finish();
}

TEST(Interp, WarpUniformIsTheValueWhereAWarpAgrees) {
  std::vector<float> y(64, -1);
  interpret(*warp_index_kernel(32), {y.data()});
  for (int t = 0; t < 64; ++t) EXPECT_EQ(y[t], t / 32) << t;
  const std::string what = error_of(*warp_index_kernel(16), {y.data()});
  EXPECT_NE(what.find("warp_uniform: this thread's value 1 is not its warp's (0)"), std::string::npos) << what;
  EXPECT_NE(what.find("thread 16"), std::string::npos) << what;
  EXPECT_NE(render::render_kernel(*warp_index_kernel(32), render::Dialect::cuda).find("__shfl_sync(0xffffffffu, "),
            std::string::npos);
  EXPECT_EQ(render::render_kernel(*warp_index_kernel(32), render::Dialect::opencl).find("shfl"), std::string::npos);
  // Every thread of a warp must compute it (CUDA's __shfl_sync): a let outside branches only.
  KernelBuilder b(std::make_shared<Context>(), "branchy", 1, 64);
  const Memory* out = b.buffer("y", 64, false);
  b.threads([&](Expr t) {
    b.if_then(lt(t, b.i32(48)), [&] { b.store(out, t, b.ctx().cast(b.let("w", warp_uniform(t / 32)), Type::f32)); });
  });
  const std::vector<std::string> problems = verify(*b.finish());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("takes warp_uniform where not every thread computes it"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace wino::interp

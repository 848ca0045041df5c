// Asynchronous copies (ir::StmtKind::copy_async, CUDA cp.async): the interpreter lands them at the
// copy_wait that retires their group (so a kernel that reads too early fails), fills masked-off
// copies with zeros, refuses copies never waited for; the CUDA source compiles for sm_90; other
// dialects and malformed copies are refused by name; and the GPU agrees with the interpreter.
#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_source.h"
#include "device_run.h"
#include "cuda_skip.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kThreads = 64, kRuns = 2;  // each thread copies two runs of 4 and two single floats
constexpr int kFloats = kThreads * kRuns * 4;

enum class Wait { retire_then_read, read_in_flight, never };

// out[e] = 2 * in[e] through work-group memory: each thread copies its runs of 4 (those of odd
// runs masked off, which must land as zeros) and one single element, in two groups; the thread
// reads a run another thread copied.
std::unique_ptr<Kernel> copy_kernel(Wait wait) {
  KernelBuilder b(std::make_shared<Context>(), "copy_test", 1, kThreads);
  const Memory* in = b.buffer("in", kFloats, true);
  const Memory* out = b.buffer("out", kFloats, false);
  const Memory* smem = b.shared_array("smem", kFloats);
  b.threads([&](Expr tid) {
    for (int run = 0; run < kRuns; ++run) {
      Expr at = b.let("at", (tid * kRuns + run) * 4);
      b.copy_async(smem, at, in, at, 4, run % 2 == 0 ? Expr{} : lt(tid, b.i32(kThreads / 2)));
      b.copy_commit();
    }
    if (wait == Wait::retire_then_read) b.copy_wait(0);
    if (wait == Wait::read_in_flight) b.copy_wait(1);  // the second group is still in flight
  });
  if (wait == Wait::never) return b.finish();
  b.barrier();
  b.threads([&](Expr tid) {
    Expr other = b.let("other", (b.i32(kThreads - 1) - tid) * kRuns);  // another thread's runs
    for (int e = 0; e < kRuns * 4; ++e) {
      Expr at = b.let("at", other * 4 + e);
      b.store(out, at, b.load("x", smem, at) * b.f32(2));
    }
  });
  return b.finish();
}

std::vector<float> expected(const std::vector<float>& in) {
  std::vector<float> want(kFloats);
  for (int t = 0; t < kThreads; ++t)
    for (int run = 0; run < kRuns; ++run)
      for (int i = 0; i < 4; ++i) {
        const int e = (t * kRuns + run) * 4 + i;
        want[e] = run % 2 == 1 && t >= kThreads / 2 ? 0.0f : 2 * in[e];
      }
  return want;
}

std::vector<float> input() {
  std::vector<float> in(kFloats);
  for (int i = 0; i < kFloats; ++i) in[i] = 0.25f * static_cast<float>(i % 37) - 3;
  return in;
}

std::string run_error(const Kernel& k) {
  std::vector<float> in = input(), out(kFloats, -1);
  try {
    interp::interpret(k, {in.data(), out.data()});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CopyAsync, InterpreterLandsCopiesAtTheWaitWithZerosWhereMasked) {
  std::unique_ptr<Kernel> k = copy_kernel(Wait::retire_then_read);
  ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
  std::vector<float> in = input(), out(kFloats, -1);
  interp::interpret(*k, {in.data(), out.data()});
  EXPECT_EQ(out, expected(in));
}

TEST(CopyAsync, InterpreterCatchesReadsBeforeTheWaitAndCopiesNeverWaitedFor) {
  const std::string early = run_error(*copy_kernel(Wait::read_in_flight));
  EXPECT_NE(early.find("in flight"), std::string::npos) << early;  // the second run has not landed
  const std::string never = run_error(*copy_kernel(Wait::never));
  EXPECT_NE(never.find("never retired by a copy_wait"), std::string::npos) << never;
}

TEST(CopyAsync, InterpreterRefusesMisalignedRunsAndTwoCopiesToOneElement) {
  for (int shift : {1, 0}) {  // runs at 4 t + 1: misaligned; every thread's run to element 0: two in flight
    KernelBuilder b(std::make_shared<Context>(), "copy_overlap", 1, 4);
    const Memory* in = b.buffer("in", 32, true);
    const Memory* smem = b.shared_array("smem", 32);
    b.threads([&](Expr tid) {
      Expr at = b.let("at", shift == 1 ? tid * 4 + 1 : tid * 4);
      b.copy_async(smem, shift == 1 ? at : b.i32(0), in, at, 4);
      b.copy_commit();
      b.copy_wait(0);
    });
    std::vector<float> data(32, 1.0f);
    std::string error;
    try {
      interp::interpret(*b.finish(), {data.data()});
    } catch (const Error& e) {
      error = e.what();
    }
    EXPECT_NE(error.find(shift == 1 ? "misaligned" : "in flight"), std::string::npos) << error;
  }
}

// Stmt::source_in_bounds: the CUDA source takes the index as it is (no guard where the mask is
// false), so the interpreter holds the plan to its promise on the masked lanes too.
TEST(CopyAsync, AnIndexPromisedInBoundsIsUnguardedAndCheckedWhereMasked) {
  for (bool clamp : {true, false}) {
    KernelBuilder b(std::make_shared<Context>(), "copy_promise", 1, 8);
    const Memory* in = b.buffer("in", 8, true);
    const Memory* out = b.buffer("out", 8, false);
    const Memory* smem = b.shared_array("smem", 8);
    b.threads([&](Expr tid) {
      Expr from = b.let("from", tid - 1);  // thread 0 reads element -1: masked off
      b.copy_async(smem, tid, in, clamp ? max(from, b.i32(0)) : from, 1, lt(b.i32(0), tid), true);
      b.copy_commit();
      b.copy_wait(0);
      b.store(out, tid, b.load("x", smem, tid));
    });
    std::unique_ptr<Kernel> k = b.finish();
    std::vector<float> data = {1, 2, 3, 4, 5, 6, 7, 8}, result(8, -1);
    std::string error;
    try {
      interp::interpret(*k, {data.data(), result.data()});
    } catch (const Error& e) {
      error = e.what();
    }
    if (clamp) {
      EXPECT_EQ(error, "");
      EXPECT_EQ(result, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
      const std::string src = render::render_kernel(*k, render::Dialect::cuda);
      EXPECT_EQ(src.find(" ? "), std::string::npos) << src;  // no guarded address
    } else {
      EXPECT_NE(error.find("index promised in bounds"), std::string::npos) << error;
    }
  }
}

TEST(CopyAsync, MalformedCopiesAndOtherDialectsAreRefusedByName) {
  KernelBuilder b(std::make_shared<Context>(), "bad_copy", 1, 32);
  const Memory* in = b.buffer("in", 64, true);
  const Memory* out = b.buffer("out", 64, false);
  b.threads([&](Expr tid) { b.copy_async(out, tid, in, tid, 3); });
  std::vector<std::string> problems = verify(*b.finish());
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("work-group memory only"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("1, 2, 4 or 8 elements"), std::string::npos) << problems[1];
  expect_cuda_only(*copy_kernel(Wait::retire_then_read), "no asynchronous copy");
}

TEST(CopyAsync, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  std::unique_ptr<Kernel> k = copy_kernel(Wait::retire_then_read);
  const std::string src =
      cuda_translation_unit(*k);
  EXPECT_NE(src.find("wino_copy_async<16>("), std::string::npos);
  EXPECT_NE(src.find("cp.async.wait_group 0"), std::string::npos);
  cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
  EXPECT_FALSE(out.cubin.empty()) << out.log;
}

TEST(CopyAsync, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  std::vector<float> in = input();
  const std::vector<float> out = run_on_cuda(*copy_kernel(Wait::retire_then_read), in, kFloats);
  EXPECT_EQ(out, expected(in));
}

}  // namespace
}  // namespace wino

// Bulk copies and their barriers (ir::StmtKind::copy_bulk, mbarrier_*; CUDA sm_90 cp.async.bulk and
// mbarrier): the interpreter lands a copy at the first wait that sees its barrier's phase complete,
// so a kernel that reads too early, waits on a phase that never completes, overwrites what another
// thread still reads, or leaves a copy unwaited fails by name; the verifier refuses malformed ones,
// other dialects refuse them, the CUDA source compiles for sm_90 and the GPU agrees.
#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kThreads = 64, kFloats = 256, kRounds = 3;

enum class Fault { none, no_init, wrong_parity, no_wait, no_barrier, misaligned, never_waited, no_expect, one_warp_waits };

// Round r: thread 0 arms the barrier for kFloats floats and copies in[r kFloats ..] into smem in one
// bulk copy; every thread waits for the phase (parity r % 2), then writes out[r kFloats + e] =
// 2 smem[e] for its elements; a work-group barrier before the next round's copy overwrites smem.
std::unique_ptr<Kernel> bulk_kernel(Fault fault) {
  KernelBuilder b(std::make_shared<Context>(), "bulk_test", 1, kThreads);
  const Memory* in = b.buffer("in", kRounds * kFloats + 4, true);
  const Memory* out = b.buffer("out", kRounds * kFloats, false);
  const Memory* smem = b.shared_array("smem", kFloats);
  const Memory* bars = b.barrier_array("bars", 1);
  b.threads([&](Expr tid) {
    if (fault != Fault::no_init) b.if_then(eq(tid, b.i32(0)), [&] { b.mbarrier_init(bars, b.i32(0), 1); });
  });
  b.barrier();
  for (int r = 0; r < kRounds; ++r) {
    b.threads([&](Expr tid) {
      b.if_then(eq(tid, b.i32(0)), [&] {
        if (fault != Fault::no_expect) b.mbarrier_expect(bars, b.i32(0), kFloats * 4);
        const int shift = fault == Fault::misaligned ? 1 : 0;
        b.copy_bulk(smem, b.i32(0), in, b.i32(r * kFloats + shift), kFloats, bars, b.i32(0));
      });
      const bool last = r == kRounds - 1;
      if (fault == Fault::never_waited && last) return;
      auto wait = [&] { b.mbarrier_wait(bars, b.i32(0), b.i32(fault == Fault::wrong_parity ? 1 - r % 2 : r % 2)); };
      if (fault == Fault::one_warp_waits) b.if_then(lt(tid, b.i32(32)), wait);  // the others read unordered
      else if (fault != Fault::no_wait || !last) wait();
      for (int i = 0; i < kFloats / kThreads; ++i) {
        Expr e = b.let("e", tid + i * kThreads);
        b.store(out, e + r * kFloats, b.load("x", smem, e) * b.f32(2));
      }
    });
    if (fault != Fault::no_barrier) b.barrier();
  }
  return b.finish();
}

std::vector<float> input() {
  std::vector<float> in(kRounds * kFloats + 4);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.5f * static_cast<float>(i % 29) - 4;
  return in;
}

std::string run_error(const Kernel& k, std::vector<float>* result = nullptr) {
  std::vector<float> in = input(), out(kRounds * kFloats, -1);
  try {
    interp::interpret(k, {in.data(), out.data()});
  } catch (const Error& e) {
    return e.what();
  }
  if (result) *result = out;
  return "";
}

std::vector<float> expected() {
  const std::vector<float> in = input();
  std::vector<float> want(kRounds * kFloats);
  for (size_t i = 0; i < want.size(); ++i) want[i] = 2 * in[i];
  return want;
}

TEST(CopyBulk, InterpreterLandsEachPhasesCopyAtItsWait) {
  std::unique_ptr<Kernel> k = bulk_kernel(Fault::none);
  ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
  std::vector<float> out;
  EXPECT_EQ(run_error(*k, &out), "");
  EXPECT_EQ(out, expected());
}

TEST(CopyBulk, InterpreterNamesEveryMisuse) {
  const std::vector<std::pair<Fault, std::string>> faults = {
      {Fault::no_init, "that no mbarrier_init set up"},
      {Fault::wrong_parity, "for parity 1, but its phase 1 (that parity) is not complete: 1 arrivals and 0 bytes still due"},
      {Fault::no_expect, "is not complete: 1 arrivals and 1024 bytes more than expected delivered"},
      {Fault::one_warp_waits, "landed by a bulk copy whose mbarrier_wait this thread has not seen"},
      {Fault::no_wait, "in flight"},
      {Fault::no_barrier, "(a race)"},
      {Fault::misaligned, "not on 16 bytes (misaligned)"},
      {Fault::never_waited, "never landed"},
  };
  for (const auto& [fault, message] : faults) {
    const std::string error = run_error(*bulk_kernel(fault));
    EXPECT_NE(error.find(message), std::string::npos) << static_cast<int>(fault) << ": [" << error << "]";
  }
}

TEST(CopyBulk, MalformedCopiesAndBarriersAndOtherDialectsAreRefusedByName) {
  KernelBuilder b(std::make_shared<Context>(), "bad_bulk", 1, 32);
  const Memory* in = b.buffer("in", 64, true);
  const Memory* smem = b.shared_array("smem", 64);
  const Memory* floats = b.shared_array("floats", 2);
  b.threads([&](Expr) {
    b.copy_bulk(smem, b.i32(0), in, b.i32(0), 5, floats, b.i32(0));  // 20 bytes, on a float array
    b.mbarrier_init(floats, b.i32(1), 0);
  });
  const std::vector<std::string> problems = verify(*b.finish());
  auto has = [&](const std::string& what) {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(has("a positive multiple of 16 bytes")) << problems.size();
  EXPECT_TRUE(has("copy_bulk's barrier is not in a barrier array"));
  EXPECT_TRUE(has("mbarrier_init's arrivals must be 1"));
  expect_cuda_only(*bulk_kernel(Fault::none), "no bulk copy or its barriers");
}

TEST(CopyBulk, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  std::unique_ptr<Kernel> k = bulk_kernel(Fault::none);
  const std::string src = cuda_translation_unit(*k);
  EXPECT_NE(src.find("wino_copy_bulk(&smem[0], in + "), std::string::npos) << src;
  EXPECT_NE(src.find("wino_mbarrier_wait(&bars[0], "), std::string::npos) << src;
  cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
  EXPECT_FALSE(out.cubin.empty()) << out.log;
}

TEST(CopyBulk, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  const std::vector<float> out = run_on_cuda(*bulk_kernel(Fault::none), input(), kRounds * kFloats);
  EXPECT_EQ(out, expected());
}

}  // namespace
}  // namespace wino

// Warps with roles (ir::StmtKind::roles, mbarrier_arrive): a producer warp fills a ring of
// work-group memory a chunk a step, by one bulk copy or by every producer's stores, and two consumer
// warps sum what each stage holds, the roles meeting only at the ring's `full` and `empty`
// mbarriers. The interpreter runs the roles' schedule and checks each hand-off: a kernel that
// reads a stage before it is full, fills a stage still being read, lets too few consumers
// arrive, or waits for a phase the schedule never completes fails by name; the verifier refuses
// malformed roles, other dialects refuse them, the CUDA source compiles for sm_90 and the GPU agrees.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kProducers = 32, kConsumers = 64, kThreads = kProducers + kConsumers;
constexpr int kChunk = 256, kStages = 3, kSteps = 8, kGroups = 2;

enum class Fill { bulk, stores };
enum class Fault { none, no_full_wait, no_empty_wait, one_arrival_a_warp, wrong_empty_parity, consumer_writes_after_arriving };

// Work-group g sums chunks g kSteps .. g kSteps + kSteps - 1 of `in`: consumer c (thread kProducers
// + c) adds the chunk's elements c, c + kConsumers, ... at every step; out[g kConsumers + c] is
// its sum. Step i fills stage i % kStages; its n-th filling (n = i / kStages) completes phase n of
// full[stage], and the consumers' reads of it phase n of empty[stage], which filling n + 1 waits for.
std::unique_ptr<Kernel> ring_kernel(Fill fill, Fault fault = Fault::none) {
  KernelBuilder b(std::make_shared<Context>(), "roles_ring", kGroups, kThreads);
  const Memory* in = b.buffer("in", int64_t{kGroups} * kSteps * kChunk, true);
  const Memory* out = b.buffer("out", int64_t{kGroups} * kConsumers, false);
  const Memory* ring = b.shared_array("ring", int64_t{kStages} * kChunk);
  const Memory* full = b.barrier_array("full", kStages);
  const Memory* empty = b.barrier_array("empty", kStages);
  const Memory* acc = b.thread_array("acc", 1);
  const bool one_a_warp = fault == Fault::one_arrival_a_warp;
  b.threads([&](Expr tid) {
    b.if_then(eq(tid, b.i32(0)), [&] {
      for (int s = 0; s < kStages; ++s) {
        b.mbarrier_init(full, b.i32(2 * s), fill == Fill::bulk ? 1 : kProducers);
        b.mbarrier_init(empty, b.i32(2 * s), one_a_warp ? kConsumers / 32 : kConsumers);
      }
    });
  });
  b.barrier();
  b.threads([&](Expr tid) {
    b.store(acc, b.i32(0), b.f32(0));
    auto produce = [&](Expr i) {
      Expr stage = b.let("stage", i % kStages), bar = b.let("bar", stage * 2);
      Expr source = b.let("source", (b.group_id() * kSteps + i) * kChunk);
      Expr parity = fault == Fault::wrong_empty_parity ? i / kStages % 2 : (i / kStages + 1) % 2;
      auto wait_empty = [&] {
        if (fault != Fault::no_empty_wait) b.if_then(le(b.i32(kStages), i), [&] { b.mbarrier_wait(empty, bar, parity); });
      };
      if (fill == Fill::bulk) {
        b.if_then(eq(tid, b.i32(0)), [&] {
          wait_empty();
          b.mbarrier_expect(full, bar, kChunk * 4);
          b.copy_bulk(ring, stage * kChunk, in, source, kChunk, full, bar);
        });
        return;
      }
      wait_empty();
      for (int j = 0; j < kChunk / kProducers; ++j) {
        Expr e = b.let("e", tid + j * kProducers);
        b.store(ring, stage * kChunk + e, b.load("x", in, source + e));
      }
      b.mbarrier_arrive(full, bar);
    };
    auto consume = [&](Expr i) {
      Expr stage = b.let("stage", i % kStages), bar = b.let("bar", stage * 2);
      Expr c = b.let("c", tid - kProducers);
      if (fault != Fault::no_full_wait) b.mbarrier_wait(full, bar, i / kStages % 2);
      Expr sum = b.load("sum", acc, b.i32(0));
      for (int j = 0; j < kChunk / kConsumers; ++j) sum = sum + b.load("x", ring, stage * kChunk + c + j * kConsumers);
      b.store(acc, b.i32(0), sum);
      if (one_a_warp) b.if_then(eq(c % 32, b.i32(0)), [&] { b.mbarrier_arrive(empty, bar); });
      else b.mbarrier_arrive(empty, bar);
      // (a write before the arrival would be ordered before the next filling's)
      if (fault == Fault::consumer_writes_after_arriving) b.store(ring, stage * kChunk + c, b.f32(0));
    };
    b.roles(kProducers, kStages, kSteps, produce, consume);
    b.if_then(le(b.i32(kProducers), tid), [&] {
      b.store(out, b.group_id() * kConsumers + tid - kProducers, b.load("total", acc, b.i32(0)));
    });
  });
  return b.finish();
}

std::vector<float> input() {
  std::vector<float> in(size_t{kGroups} * kSteps * kChunk);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.25f * static_cast<float>(i % 37) - 3;
  return in;
}

std::vector<float> expected() {
  const std::vector<float> in = input();
  std::vector<float> want(size_t{kGroups} * kConsumers, 0);
  for (int g = 0; g < kGroups; ++g)
    for (int c = 0; c < kConsumers; ++c) {
      float sum = 0;  // in the kernel's order: step by step, element by element
      for (int i = 0; i < kSteps; ++i)
        for (int j = 0; j < kChunk / kConsumers; ++j) sum += in[(size_t(g) * kSteps + i) * kChunk + c + j * kConsumers];
      want[size_t(g) * kConsumers + c] = sum;
    }
  return want;
}

std::string run_error(const Kernel& k, std::vector<float>* result = nullptr) {
  std::vector<float> in = input(), out(size_t{kGroups} * kConsumers, -1);
  try {
    interp::interpret(k, {in.data(), out.data()});
  } catch (const Error& e) {
    return e.what();
  }
  if (result) *result = out;
  return "";
}

TEST(Roles, InterpreterRunsTheScheduleAndSums) {
  for (Fill fill : {Fill::bulk, Fill::stores}) {
    std::unique_ptr<Kernel> k = ring_kernel(fill);
    ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
    std::vector<float> out;
    EXPECT_EQ(run_error(*k, &out), "") << static_cast<int>(fill);
    EXPECT_EQ(out, expected()) << static_cast<int>(fill);
  }
}

TEST(Roles, InterpreterNamesEveryBrokenHandOff) {
  struct Case {
    Fill fill;
    Fault fault;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Fill::bulk, Fault::no_full_wait, "while an asynchronous copy into it is in flight"},
      {Fill::stores, Fault::no_full_wait, "reads shared 'ring' element 0 written by thread 0 with no barrier between, nor a later arrival"},
      {Fill::bulk, Fault::no_empty_wait, "copies to shared 'ring' element 0 that another thread read with no barrier between, nor"},
      {Fill::stores, Fault::no_empty_wait, "that another thread read with no barrier between, nor a later arrival"},
      {Fill::stores, Fault::one_arrival_a_warp, "thread 1: writes shared 'ring' element 1 that another thread read"},
      {Fill::bulk, Fault::wrong_empty_parity, "when the roles' schedule meets the wait"},
      {Fill::stores, Fault::consumer_writes_after_arriving, "thread 0: writes shared 'ring' element 0 also written by thread 32"},
  };
  for (const Case& c : cases) {
    std::unique_ptr<Kernel> k = ring_kernel(c.fill, c.fault);
    ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
    const std::string error = run_error(*k);
    EXPECT_NE(error.find(c.message), std::string::npos)
        << static_cast<int>(c.fill) << "/" << static_cast<int>(c.fault) << ": [" << error << "]";
  }
}

TEST(Roles, PrinterShowsBothRoles) {
  const std::string text = print(*ring_kernel(Fill::stores));
  EXPECT_NE(text.find("roles: threads 0..32 produce, the others consume, 3 stages ahead:"), std::string::npos) << text;
  const size_t produced = text.find("    role for produced."), consumed = text.find("    role for consumed.");
  ASSERT_NE(produced, std::string::npos) << text;
  ASSERT_NE(consumed, std::string::npos) << text;
  EXPECT_LT(produced, consumed) << text;
  EXPECT_EQ(text.substr(text.find(' ', produced + 22), 9), " in 0..8:") << text;
  EXPECT_NE(text.find("mbarrier_arrive full["), std::string::npos) << text;
}

// Roles with nothing between them: the kernel's shape is all the verifier and the dialects see.
std::unique_ptr<Kernel> bare_roles(int threads, int producers, int64_t stages, bool in_loop, bool stray_role) {
  KernelBuilder b(std::make_shared<Context>(), "bare_roles", 1, threads);
  const Memory* out = b.buffer("out", threads, false);
  b.threads([&](Expr tid) {
    auto roles = [&] {
      b.roles(producers, stages, 2, [&](Expr i) { b.store(out, tid + min(i, b.i32(0)), b.f32(1)); },
              [&](Expr) { b.store(out, tid, b.f32(2)); });
    };
    if (in_loop) b.loop("n", 2, LoopKind::serial, [&](Expr) { roles(); });
    else roles();
  });
  std::unique_ptr<Kernel> k = b.finish();
  if (stray_role) {  // a role taken out of its roles statement
    Stmt& region = *k->body.back();
    region.body.push_back(clone(*region.body.back()->body.front()));
  }
  return k;
}

bool has(const std::vector<std::string>& problems, const std::string& what) {
  for (const std::string& p : problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

TEST(Roles, VerifierRefusesMalformedRoles) {
  EXPECT_TRUE(verify(*bare_roles(96, 32, 2, false, false)).empty());
  EXPECT_TRUE(has(verify(*bare_roles(96, 48, 2, false, false)), "the producers must be whole warps"));
  EXPECT_TRUE(has(verify(*bare_roles(64, 64, 2, false, false)), "fewer than the work-group's 64 threads"));
  EXPECT_TRUE(has(verify(*bare_roles(96, 32, 0, false, false)), "roles' stages must be >= 1"));
  EXPECT_TRUE(has(verify(*bare_roles(96, 32, 2, true, false)), "not inside a loop or a branch"));
  EXPECT_TRUE(has(verify(*bare_roles(96, 32, 2, false, true)), "a role stands only in a roles statement"));
  // A barrier cannot stand inside a role: it stands between thread regions.
  std::unique_ptr<Kernel> k = bare_roles(96, 32, 2, false, false);
  auto barrier = std::make_unique<Stmt>();
  barrier->kind = StmtKind::barrier;
  k->body.back()->body.front()->body.front()->body.push_back(std::move(barrier));
  EXPECT_TRUE(has(verify(*k), "barrier inside a thread region"));
}

TEST(Roles, OtherDialectsRefuseThem) {
  expect_cuda_only(*bare_roles(96, 32, 2, false, false), "no warps with roles");
  expect_cuda_only(*ring_kernel(Fill::stores), "no bulk copy or its barriers");
}

TEST(Roles, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (Fill fill : {Fill::bulk, Fill::stores}) {
    std::unique_ptr<Kernel> k = ring_kernel(fill);
    const std::string src = render::translation_unit({render::render_kernel(*k, render::Dialect::cuda)}, render::Dialect::cuda);
    EXPECT_NE(src.find("if (tid < 32) {"), std::string::npos) << src;
    EXPECT_NE(src.find("if (tid >= 32) {"), std::string::npos) << src;
    EXPECT_NE(src.find("wino_mbarrier_arrive(&empty["), std::string::npos) << src;
    cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
    EXPECT_FALSE(out.cubin.empty()) << out.log;
  }
}

TEST(Roles, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  for (Fill fill : {Fill::bulk, Fill::stores})
    EXPECT_EQ(run_on_cuda(*ring_kernel(fill), input(), size_t{kGroups} * kConsumers), expected()) << static_cast<int>(fill);
}

}  // namespace
}  // namespace wino

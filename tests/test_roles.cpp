// Warps with roles (ir::StmtKind::roles, mbarrier_arrive): a producer warp fills a ring of
// work-group memory a chunk a step, by one bulk copy or by every producer's stores, and two consumer
// warps sum what each stage holds, the roles meeting only at the ring's `full` and `empty`
// mbarriers. The interpreter runs the roles' schedule and checks each hand-off: a kernel that
// reads a stage before it is full, fills a stage still being read, lets too few consumers
// arrive, or waits for a phase the schedule never completes fails by name; the verifier refuses
// malformed roles, other dialects refuse them, the CUDA source compiles for sm_90 and the GPU agrees.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "planner/kernel_stats.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kProducers = 32, kConsumers = 64, kThreads = kProducers + kConsumers;
constexpr int kChunk = 256, kStages = 3, kSteps = 8, kGroups = 2;

enum class Fill { bulk, stores };
enum class Fault {
  none, no_full_wait, no_empty_wait, one_arrival_a_warp, wrong_empty_parity, consumer_writes_after_arriving,
  producer_arrives_before_storing
};

// Work-group g sums chunks g kSteps .. g kSteps + kSteps - 1 of `in`: consumer c (thread c; the
// producers are the last warp, p = tid - kConsumers) adds the chunk's elements c, c + kConsumers, ... at every step; out[g kConsumers + c] is
// its sum. Step i fills stage i % kStages; its n-th filling (n = i / kStages) completes phase n of
// full[stage], and the consumers' reads of it phase n of empty[stage], which filling n + 1 waits for.
std::unique_ptr<Kernel> ring_kernel(Fill fill, Fault fault = Fault::none, std::array<int, 2> registers = {}) {
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
        b.if_then(eq(tid, b.i32(kConsumers)), [&] {  // the first producer
          wait_empty();
          b.mbarrier_expect(full, bar, kChunk * 4);
          b.copy_bulk(ring, stage * kChunk, in, source, kChunk, full, bar);
        });
        return;
      }
      wait_empty();
      const bool early = fault == Fault::producer_arrives_before_storing;
      if (early) b.mbarrier_arrive(full, bar);
      for (int j = 0; j < kChunk / kProducers; ++j) {
        Expr e = b.let("e", tid - kConsumers + j * kProducers);
        b.store(ring, stage * kChunk + e, b.load("x", in, source + e));
      }
      if (!early) b.mbarrier_arrive(full, bar);
    };
    auto consume = [&](Expr i) {
      Expr stage = b.let("stage", i % kStages), bar = b.let("bar", stage * 2);
      Expr c = b.let("c", tid);
      if (fault != Fault::no_full_wait) b.mbarrier_wait(full, bar, i / kStages % 2);
      Expr sum = b.load("sum", acc, b.i32(0));
      for (int j = 0; j < kChunk / kConsumers; ++j) sum = sum + b.load("x", ring, stage * kChunk + c + j * kConsumers);
      b.store(acc, b.i32(0), sum);
      if (one_a_warp) b.if_then(eq(c % 32, b.i32(0)), [&] { b.mbarrier_arrive(empty, bar); });
      else b.mbarrier_arrive(empty, bar);
      // (a write before the arrival would be ordered before the next filling's)
      if (fault == Fault::consumer_writes_after_arriving) b.store(ring, stage * kChunk + c, b.f32(0));
    };
    // (Arriving before its stores, the producers' first fillings alone: no stage is filled again.)
    const int64_t steps = fault == Fault::producer_arrives_before_storing ? kStages : kSteps;
    b.roles(kProducers, kStages, steps, produce, consume, registers);
    b.if_then(lt(tid, b.i32(kConsumers)), [&] {
      b.store(out, b.group_id() * kConsumers + tid, b.load("total", acc, b.i32(0)));
    });
  });
  return b.finish();
}

bool has(const std::vector<std::string>& problems, const std::string& what) {
  for (const std::string& p : problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
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
      {Fill::stores, Fault::no_full_wait, "reads shared 'ring' element 0 written by thread 64 with no barrier between, nor a later arrival"},
      {Fill::bulk, Fault::no_empty_wait, "copies to shared 'ring' element 0 that another thread read with no barrier between, nor"},
      {Fill::stores, Fault::no_empty_wait, "that another thread read with no barrier between, nor a later arrival"},
      {Fill::stores, Fault::one_arrival_a_warp, "thread 65: writes shared 'ring' element 1 that another thread read"},
      {Fill::bulk, Fault::wrong_empty_parity, "when the roles' schedule meets the wait"},
      {Fill::stores, Fault::consumer_writes_after_arriving, "thread 64: writes shared 'ring' element 0 also written by thread 0"},
      // (the stages' first fillings: their stores take the interpreter's fast path)
      {Fill::stores, Fault::producer_arrives_before_storing, "thread 0: reads shared 'ring' element 0 written by thread 64"},
  };
  for (const Case& c : cases) {
    std::unique_ptr<Kernel> k = ring_kernel(c.fill, c.fault);
    ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
    const std::string error = run_error(*k);
    EXPECT_NE(error.find(c.message), std::string::npos)
        << static_cast<int>(c.fill) << "/" << static_cast<int>(c.fault) << ": [" << error << "]";
  }
}

// A producer warpgroup stores step i's A (64 x 16) and B (8 x 16) in f16 into a ring of two
// stages (core-matrix layout, ir::SharedMatrix); a consumer warpgroup multiplies each stage by
// mma_async, summing over the steps: out[r][c] = sum over i, k of A_i[r][k] B_i[c][k].
constexpr int kMmaSteps = 4, kMmaStages = 2, kA = 64 * 16, kB = 8 * 16;

std::unique_ptr<Kernel> mma_ring_kernel(bool wait_full, std::array<int, 2> registers = {}, bool arrive_early = false) {
  KernelBuilder b(std::make_shared<Context>(), "roles_mma_ring", 1, 2 * kWarpGroup);
  const Memory* in = b.buffer("in", int64_t{kMmaSteps} * (kA + kB), true);
  const Memory* out = b.buffer("out", 64 * 8, false);
  const Memory* as = b.shared_array("as", int64_t{kMmaStages} * kA, Type::f16);
  const Memory* bs = b.shared_array("bs", int64_t{kMmaStages} * kB, Type::f16);
  const Memory* full = b.barrier_array("full", kMmaStages);
  const Memory* empty = b.barrier_array("empty", kMmaStages);
  const Memory* acc = b.thread_array("acc", 4);
  b.threads([&](Expr tid) {
    b.if_then(eq(tid, b.i32(0)), [&] {
      for (int s = 0; s < kMmaStages; ++s) {
        b.mbarrier_init(full, b.i32(2 * s), kWarpGroup);
        b.mbarrier_init(empty, b.i32(2 * s), kWarpGroup);
      }
    });
  });
  b.barrier();
  b.threads([&](Expr tid) {
    auto produce = [&](Expr i) {
      Expr stage = b.let("stage", i % kMmaStages), bar = b.let("bar", stage * 2);
      b.if_then(le(b.i32(kMmaStages), i), [&] { b.mbarrier_wait(empty, bar, (i / kMmaStages + 1) % 2); });
      Expr from = b.let("from", i * (kA + kB));
      for (int j = 0; j < kA / kWarpGroup; ++j) {  // A's element (row, kk) at row/8 64 + kk/8 512 + row%8 8 + kk%8
        Expr e = b.let("e", tid - kWarpGroup + j * kWarpGroup), row = b.let("row", e / 16), kk = b.let("kk", e % 16);
        Expr at = stage * kA + row / 8 * 64 + kk / 8 * 512 + row % 8 * 8 + kk % 8;
        b.store(as, at, b.load("a", in, from + e));
      }
      Expr p = b.let("p", tid - kWarpGroup), row = b.let("row", p / 16), kk = b.let("kk", p % 16);  // B's (row, kk):
      b.store(bs, stage * kB + kk / 8 * 64 + row * 8 + kk % 8, b.load("b", in, from + kA + p));  // kk/8 64 + row 8 + kk%8
      b.mbarrier_arrive(full, bar);
    };
    auto consume = [&](Expr i) {
      Expr stage = b.let("stage", i % kMmaStages), bar = b.let("bar", stage * 2);
      if (wait_full) b.mbarrier_wait(full, bar, i / kMmaStages % 2);
      b.mma_async(MmaKind::f16_m16n8k16, acc, {0, 1, 2, 3}, {as, stage * kA, 64, 512}, {bs, stage * kB, 128, 64},
                  lt(b.i32(0), i));
      b.mma_async_commit();
      if (arrive_early) b.mbarrier_arrive(empty, bar);  // the tensor cores may still read the stage
      b.mma_async_wait(0);
      if (!arrive_early) b.mbarrier_arrive(empty, bar);
    };
    b.roles(kWarpGroup, kMmaStages, kMmaSteps, produce, consume, registers);
    b.if_then(lt(tid, b.i32(kWarpGroup)), [&] {
      Expr lane = b.let("lane", tid);
      Expr row0 = b.let("r0", lane / 32 * 16 + lane % 32 / 4), col0 = b.let("c0", lane % 4 * 2);
      for (int i = 0; i < 4; ++i)  // mma_async_c_pos
        b.store(out, (row0 + i / 2 * 8) * 8 + col0 + i % 2, b.load("d", acc, b.i32(i)));
    });
  });
  return b.finish();
}

// Multiples of 1/8 in [-1, 1]: f16 holds them, and every sum is exact in fp32.
std::vector<float> mma_input() {
  std::vector<float> in(size_t{kMmaSteps} * (kA + kB));
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(static_cast<int>(i * 37 % 17) - 8) / 8;
  return in;
}

std::vector<float> mma_expected() {
  const std::vector<float> in = mma_input();
  std::vector<float> want(64 * 8, 0);
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 8; ++c) {
      double sum = 0;
      for (int i = 0; i < kMmaSteps; ++i)
        for (int k = 0; k < 16; ++k)
          sum += double{in[size_t(i) * (kA + kB) + r * 16 + k]} * in[size_t(i) * (kA + kB) + kA + c * 16 + k];
      want[size_t(r) * 8 + c] = static_cast<float>(sum);
    }
  return want;
}

TEST(Roles, AConsumerWarpgroupMultipliesWhatTheProducersStored) {
  std::unique_ptr<Kernel> k = mma_ring_kernel(true);
  ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
  std::vector<float> in = mma_input(), out(64 * 8, -1);
  EXPECT_NO_THROW(interp::interpret(*k, {in.data(), out.data()}));
  EXPECT_EQ(out, mma_expected());
  try {
    interp::interpret(*mma_ring_kernel(false), {in.data(), out.data()});
    ADD_FAILURE() << "an mma_async read a stage before waiting for it";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("thread 0: an mma_async reads shared 'as' element 0 written by thread 128 in this "
                                         "barrier interval"),
              std::string::npos)
        << e.what();
  }
  // An mma_async reads until its wait retires it: an arrival before the wait does not order the read.
  try {
    interp::interpret(*mma_ring_kernel(true, {}, true), {in.data(), out.data()});
    ADD_FAILURE() << "the producers refilled a stage the tensor cores may still read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("thread 128: writes shared 'as' element 0 that another thread read"), std::string::npos)
        << e.what();
  }
}

// One role loads 32 values and sums them (all live at the last load), the other stores a constant:
// producers one warpgroup, consumers two.
std::unique_ptr<Kernel> heavy_role_kernel(int heavy, std::array<int, 2> registers = {}) {
  KernelBuilder b(std::make_shared<Context>(), "heavy_roles", 1, 3 * kWarpGroup);
  const Memory* in = b.buffer("in", 64, true);
  const Memory* out = b.buffer("out", 3 * kWarpGroup, false);
  b.threads([&](Expr tid) {
    auto role = [&](bool loads) {
      return [&, loads](Expr i) {
        if (!loads) return b.store(out, tid, b.f32(1));
        std::vector<Expr> xs;
        for (int k = 0; k < 32; ++k) xs.push_back(b.load("x", in, (i + k) % 64));
        Expr sum = xs[0];
        for (int k = 1; k < 32; ++k) sum = sum + xs[static_cast<size_t>(k)];
        b.store(out, tid, sum);
      };
    };
    b.roles(kWarpGroup, 2, 2, role(heavy == 0), role(heavy == 1), registers);
  });
  return b.finish();
}

// setmaxnreg: the producers give registers up and the consumers take them, whole warpgroups
// within 64 Ki; the register model predicts each role's loop on its own.
TEST(Roles, RegistersSplitBetweenTheRoles) {
  std::unique_ptr<Kernel> k = mma_ring_kernel(true, {40, 256});
  ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
  EXPECT_NE(print(*k).find("2 stages ahead, registers 40 and 256:"), std::string::npos) << print(*k);
  EXPECT_TRUE(has(verify(*mma_ring_kernel(true, {48, 40})), "the consumers at least as many, not 48 and 40"));
  EXPECT_TRUE(has(verify(*mma_ring_kernel(true, {20, 216})), "a multiple of 8 in [24, 256], not 20"));
  EXPECT_TRUE(has(verify(*mma_ring_kernel(true, {40, 260})), "not 260"));
  // 384 threads start with 168 registers each (64512): 128 x 48 + 256 x 224 = 63488 fit; 256 x 232
  // would fit a multiprocessor's 65536, but not what the producers give back (the GPU waits forever).
  EXPECT_EQ(launch_registers(*heavy_role_kernel(0)), 168);
  EXPECT_TRUE(verify(*heavy_role_kernel(0, {48, 224})).empty());
  EXPECT_TRUE(has(verify(*heavy_role_kernel(0, {48, 232})), "are more than the 64512 the work-group has at launch (384 x 168)"));
  // setmaxnreg.dec lowers a thread's count and .inc raises it: consumers below the launch's 168 are refused.
  EXPECT_TRUE(has(verify(*heavy_role_kernel(0, {40, 160})), "the consumers at least as many, not 40 and 160"));
  // A split takes sm_90a's instructions, with or without warpgroup mmas.
  EXPECT_TRUE(render::needs_arch_specific(*heavy_role_kernel(0, {48, 224})));
  EXPECT_FALSE(render::needs_arch_specific(*heavy_role_kernel(0)));
  EXPECT_TRUE(has(verify(*ring_kernel(Fill::stores, Fault::none, {40, 256})), "whole warpgroups (128 threads)"));
  for (int heavy : {0, 1}) {  // 32 values live in one role's loop, a few in the other's
    const planner::KernelStats stats = planner::analyze(*heavy_role_kernel(heavy));
    EXPECT_GE(stats.role_pred_regs[heavy], 32) << heavy;
    EXPECT_LT(stats.role_pred_regs[1 - heavy], 16) << heavy;
    EXPECT_EQ(stats.pred_regs, stats.role_pred_regs[heavy]) << heavy;
  }
}

TEST(Roles, PrinterShowsBothRoles) {
  const std::string text = print(*ring_kernel(Fill::stores));
  EXPECT_NE(text.find("roles: the last 32 threads produce, the others consume, 3 stages ahead:"), std::string::npos) << text;
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
    const std::string src = cuda_translation_unit(*k);
    EXPECT_NE(src.find("if (tid >= 64) {\n" + std::string(6, ' ') + "for (int produced = 0; produced < 8;"), std::string::npos) << src;
    EXPECT_NE(src.find("if (tid < 64) {\n" + std::string(6, ' ') + "for (int consumed = 0; consumed < 8;"), std::string::npos) << src;
    EXPECT_NE(src.find("wino_mbarrier_arrive(&empty["), std::string::npos) << src;
    cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
    EXPECT_FALSE(out.cubin.empty()) << out.log;
  }
  // The producers' stores reach the tensor cores through a proxy fence before each arrival; each
  // role sets its registers where its loop starts.
  std::unique_ptr<Kernel> k = mma_ring_kernel(true, {40, 256});
  const std::string src = cuda_translation_unit(*k);
  const size_t arrive = src.find("wino_mbarrier_arrive(&full[");
  ASSERT_NE(arrive, std::string::npos) << src;
  const size_t line = src.rfind('\n', arrive), before = src.rfind('\n', line - 1);
  EXPECT_NE(src.substr(before, line - before).find("fence.proxy.async.shared::cta;"), std::string::npos) << src;
  EXPECT_NE(src.find("setmaxnreg.dec.sync.aligned.u32 40;"), std::string::npos) << src;
  EXPECT_NE(src.find("setmaxnreg.inc.sync.aligned.u32 256;"), std::string::npos) << src;
  cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90a");
  EXPECT_FALSE(out.cubin.empty()) << out.log;
}

TEST(Roles, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  for (Fill fill : {Fill::bulk, Fill::stores})
    EXPECT_EQ(run_on_cuda(*ring_kernel(fill), input(), size_t{kGroups} * kConsumers), expected()) << static_cast<int>(fill);
  EXPECT_EQ(run_on_cuda(*mma_ring_kernel(true), mma_input(), 64 * 8), mma_expected());
  EXPECT_EQ(run_on_cuda(*mma_ring_kernel(true, {40, 256}), mma_input(), 64 * 8), mma_expected());
}

}  // namespace
}  // namespace wino

namespace wino {
namespace {

// The kernel statistics count a role's branch on the thread id among the role's threads: the first
// producer's bulk copies are 8 steps x 1 KiB a work-group, not a third of it (one thread's share of
// the work-group's 96 rather than of the 32 producers). Beside them a float out a thread (the
// statistics narrow no `<` on the thread id: all 96 threads' stores are counted).
TEST(Roles, KernelStatisticsCountABranchAmongTheRolesThreads) {
  const planner::KernelStats stats = planner::analyze(*ring_kernel(Fill::bulk));
  EXPECT_EQ(stats.bytes, int64_t{kGroups} * (kSteps * kChunk * 4 + kThreads * 4));
}

}  // namespace
}  // namespace wino

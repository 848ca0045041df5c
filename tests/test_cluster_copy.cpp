// Work-groups in clusters (ir::Kernel::cluster_groups; CUDA sm_90 thread-block clusters) that copy
// together (Stmt::cluster: multicast copy_bulk, each work-group its part into the memory of all)
// and wait at cluster barriers: the interpreter gives each work-group the whole copy and refuses a
// cluster whose work-groups issue different copies; the verifier refuses cluster statements
// without clusters and parts off 16 bytes; other dialects refuse clusters; the CUDA source
// compiles for sm_90a and the GPU agrees.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kGroups = 4, kCluster = 2, kThreads = 64, kFloats = 256, kRounds = 3;

enum class Fault { none, source_by_group, second_skips_a_copy };  // (the last: its last round's)

// 4 work-groups in clusters of 2. Round r: thread 0 of each arms its barrier for kFloats floats and
// issues the cluster's multicast copy of in[(cluster + r) kFloats ..] into smem; every thread
// waits for the phase, then writes out[gid][r][e] = 2 smem[e] + gid; a cluster barrier before the
// next round's copy overwrites smem in both.
std::unique_ptr<Kernel> cluster_kernel(Fault fault, int cluster = kCluster) {
  KernelBuilder b(std::make_shared<Context>(), "cluster_test", kGroups, kThreads);
  b.set_cluster_groups(cluster);
  const Memory* in = b.buffer("in", (kGroups + kRounds) * kFloats, true);
  const Memory* out = b.buffer("out", kGroups * kRounds * kFloats, false);
  const Memory* smem = b.shared_array("smem", kFloats);
  const Memory* bars = b.barrier_array("bars", 1);
  Expr gid = b.group_id();
  b.threads([&](Expr tid) { b.if_then(eq(tid, b.i32(0)), [&] { b.mbarrier_init(bars, b.i32(0), 1); }); });
  b.cluster_barrier();  // the other's copies arrive on this barrier
  for (int r = 0; r < kRounds; ++r) {
    b.threads([&](Expr tid) {
      Expr from = (fault == Fault::source_by_group ? gid : gid / kCluster) + r;
      // (The fault: the cluster's second work-group leaves out its last round.)
      Expr runs = fault == Fault::second_skips_a_copy && r == kRounds - 1 ? eq(gid % kCluster, b.i32(0)) : b.ctx().boolean(true);
      b.if_then(runs, [&] {
        b.if_then(eq(tid, b.i32(0)), [&] {
          b.mbarrier_expect(bars, b.i32(0), kFloats * 4);
          b.copy_bulk(smem, b.i32(0), in, from * kFloats, kFloats, bars, b.i32(0), true);
        });
        b.mbarrier_wait(bars, b.i32(0), b.i32(r % 2));
        for (int i = 0; i < kFloats / kThreads; ++i) {
          Expr e = b.let("e", tid + i * kThreads);
          b.store(out, (gid * kRounds + r) * kFloats + e, b.load("x", smem, e) * b.f32(2) + b.ctx().cast(gid, Type::f32));
        }
      });
    });
    b.cluster_barrier();
  }
  return b.finish();
}

std::vector<float> input() {
  std::vector<float> in((kGroups + kRounds) * kFloats);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.25f * static_cast<float>(i % 37) - 3;
  return in;
}

std::vector<float> expected() {
  const std::vector<float> in = input();
  std::vector<float> want(kGroups * kRounds * kFloats);
  for (int g = 0; g < kGroups; ++g)
    for (int r = 0; r < kRounds; ++r)
      for (int e = 0; e < kFloats; ++e)
        want[(g * kRounds + r) * kFloats + e] = 2 * in[(g / kCluster + r) * kFloats + e] + static_cast<float>(g);
  return want;
}

std::string run_error(const Kernel& k, std::vector<float>* result = nullptr) {
  std::vector<float> in = input(), out(kGroups * kRounds * kFloats, -1);
  try {
    interp::interpret(k, {in.data(), out.data()});
  } catch (const Error& e) {
    return e.what();
  }
  if (result) *result = out;
  return "";
}

TEST(ClusterCopy, InterpreterGivesEachWorkGroupTheWholeCopy) {
  std::unique_ptr<Kernel> k = cluster_kernel(Fault::none);
  ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
  std::vector<float> out;
  EXPECT_EQ(run_error(*k, &out), "");
  EXPECT_EQ(out, expected());
}

TEST(ClusterCopy, InterpreterRefusesClustersWhoseCopiesDiffer) {
  EXPECT_NE(run_error(*cluster_kernel(Fault::source_by_group)).find("is not the one its cluster's first work-group issued"),
            std::string::npos);
  const std::string skipped = run_error(*cluster_kernel(Fault::second_skips_a_copy));
  EXPECT_NE(skipped.find("the cluster copies"), std::string::npos) << skipped;
}

TEST(ClusterCopy, MalformedClustersAndOtherDialectsAreRefusedByName) {
  auto problems_of = [](const Kernel& k) {
    const std::vector<std::string> p = verify(k);
    std::string all;
    for (const std::string& s : p) all += s + "\n";
    return all;
  };
  EXPECT_NE(problems_of(*cluster_kernel(Fault::none, 3)).find("a divisor of the work-group count 4"), std::string::npos);
  EXPECT_NE(problems_of(*cluster_kernel(Fault::none, 1)).find("a cluster barrier in a kernel without clusters"), std::string::npos);
  EXPECT_NE(problems_of(*cluster_kernel(Fault::none, 1)).find("a multicast copy_bulk needs a cluster"), std::string::npos);
  KernelBuilder b(std::make_shared<Context>(), "bad_cluster", 2, 32);
  b.set_cluster_groups(2);
  const Memory* in = b.buffer("in", 64, true);
  const Memory* smem = b.shared_array("smem", 64);
  const Memory* bars = b.barrier_array("bars", 1);
  b.threads([&](Expr) { b.copy_bulk(smem, b.i32(0), in, b.i32(0), 4, bars, b.i32(0), true); });  // 8 bytes a part
  EXPECT_NE(problems_of(*b.finish()).find("a multiple of 16 bytes for each of its work-groups"), std::string::npos);
  expect_cuda_only(*cluster_kernel(Fault::none), "no clusters of work-groups");
}

TEST(ClusterCopy, CudaSourceCompilesForSm90a) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  std::unique_ptr<Kernel> k = cluster_kernel(Fault::none);
  const std::string src = render::translation_unit({render::render_kernel(*k, render::Dialect::cuda)}, render::Dialect::cuda);
  EXPECT_NE(src.find("__cluster_dims__(2, 1, 1)"), std::string::npos) << src;
  EXPECT_NE(src.find("wino_copy_bulk_multicast(&smem[0], in + "), std::string::npos) << src;
  EXPECT_NE(src.find("barrier.cluster.arrive.release.aligned"), std::string::npos) << src;
  cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, cuda::kernel_arch("sm_90", true));
  EXPECT_FALSE(out.cubin.empty()) << out.log;
}

TEST(ClusterCopy, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  const std::vector<float> out = run_on_cuda(*cluster_kernel(Fault::none), input(), kGroups * kRounds * kFloats);
  EXPECT_EQ(out, expected());
}

}  // namespace
}  // namespace wino

// The lowering pipeline and its passes: each pass has a golden test (IR in, IR out) and an
// idempotence test on every plan's kernels; lower() verifies after every step and renders once.
#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "lower/lower.h"
#include "passes/sink_to_first_use.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"

namespace wino {
namespace {

using namespace ir;

// Two values used by one store, a value used later, and a load that must not pass a store to
// its own buffer.
std::unique_ptr<Kernel> sink_input() {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "sink", 1, 4);
  const Memory* in = b.buffer("in", 8, true);
  const Memory* out = b.buffer("out", 8, false);
  b.threads([&](Expr tid) {
    Expr a = b.let("a", tid * 2);
    Expr c = b.let("c", tid + 1);
    Expr x = b.load("x", in, a);
    Expr y = b.load("y", out, tid);
    b.store(out, tid, b.f32(1));
    b.store(out, c, x + y);
  });
  return b.finish();
}

// The load of `out` stays before the store to `out`; `a` and `c`, both waited for by what follows,
// keep their order.
const char* const kSinkGoldenAfter = R"(kernel sink groups=1 threads=4
  buffer in: f32[8] read_only
  buffer out: f32[8]
  threads tid.1:
    load y.9 = out[tid.1]
    store out[tid.1] = 1f
    let a.4 = mul(2, tid.1)
    let c.7 = add(tid.1, 1)
    load x.8 = in[a.4]
    store out[c.7] = add(x.8, y.9)
)";

TEST(PassSinkToFirstUse, GoldenIrInIrOut) {
  auto k = sink_input();
  EXPECT_GT(passes::sink_to_first_use(*k), 0);
  EXPECT_EQ(print(*k), kSinkGoldenAfter);
}

TEST(PassSinkToFirstUse, IdempotentOnTheGolden) {
  auto k = sink_input();
  passes::sink_to_first_use(*k);
  const std::string once = print(*k);
  EXPECT_EQ(passes::sink_to_first_use(*k), 0);
  EXPECT_EQ(print(*k), once);
}

// Work-group loads stay ahead of stores into another work-group array (ptxas would keep them
// after such stores, their latencies in series); a global load sinks past them to its use.
TEST(PassSinkToFirstUse, WorkGroupLoadsStayAheadOfWorkGroupStores) {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "sink_shared", 1, 4);
  const Memory* in = b.buffer("in", 8, true);
  const Memory* patches = b.shared_array("patches", 8);
  const Memory* v = b.shared_array("v", 8);
  b.threads([&](Expr tid) {
    Expr p0 = b.load("p0", patches, tid);
    Expr p1 = b.load("p1", patches, tid + 4);
    Expr g = b.load("g", in, tid);
    b.store(v, tid, p0);
    b.store(v, tid + 4, p1 + g);
  });
  auto k = b.finish();
  passes::sink_to_first_use(*k);
  const std::string after = print(*k);
  const size_t first_store = after.find("store v[");
  const size_t p1 = after.find("load p1."), g = after.find("load g.");
  ASSERT_TRUE(first_store != std::string::npos && p1 != std::string::npos && g != std::string::npos) << after;
  EXPECT_LT(p1, first_store) << after;
  EXPECT_GT(g, first_store) << after;
}

// Every kernel of every plan: after lower() (which ran the pass), running it again changes
// nothing.
TEST(PassSinkToFirstUse, IdempotentOnEveryPlan) {
  ConvDesc d;
  d.n = 2, d.c = 5, d.h = d.w = 9, d.k = 6, d.r = d.s = 3, d.pad = Padding::all(1);
  for (const std::string& plan : plans::plan_names())
    for (int m : plan == "direct" ? std::vector<int>{0} : std::vector<int>{2, 4}) {
      Options o;
      o.plan = plan;
      o.m = m;
      lower::Lowered low = lower::lower(d, planner::choose_plan(d, o, Device::cpu()), render::Dialect::c);
      for (auto& k : low.program.kernels) {
        const std::string before = print(*k);
        EXPECT_EQ(passes::sink_to_first_use(*k), 0) << k->name;
        EXPECT_EQ(print(*k), before) << k->name;
      }
    }
}

TEST(Lower, SnapshotsAfterBuildAndEachPass) {
  ConvDesc d;
  d.c = 3, d.h = d.w = 6, d.k = 2, d.pad = Padding::all(1);
  plans::PlanOptions o;
  o.plan = "unfused";
  o.m = 2;
  lower::LowerOptions dump;
  dump.dump_ir = true;
  lower::Lowered low = lower::lower(d, planner::resolve_plan(d, o), render::Dialect::opencl, dump);
  ASSERT_EQ(low.snapshots.size(), 2u);
  EXPECT_EQ(low.snapshots[0].after, "build");
  EXPECT_EQ(low.snapshots[1].after, "sink_to_first_use");
  EXPECT_NE(low.snapshots[0].ir, low.snapshots[1].ir);
  ASSERT_EQ(low.kernel_sources.size(), low.program.kernels.size());
  for (size_t i = 0; i < low.kernel_sources.size(); ++i) {
    EXPECT_NE(low.source.find(low.kernel_sources[i]), std::string::npos) << "kernel " << i;
    EXPECT_EQ(low.snapshots[1].ir.find(print(*low.program.kernels[i])) != std::string::npos, true);
  }
  EXPECT_TRUE(lower::lower(d, planner::resolve_plan(d, o), render::Dialect::opencl).snapshots.empty());
}

TEST(Lower, InvalidIrAfterAnEditIsRefusedNamingTheStep) {
  ConvDesc d;
  d.c = 3, d.h = d.w = 6, d.k = 2, d.pad = Padding::all(1);
  plans::PlanOptions o;
  o.plan = "direct";
  auto drop_first_let = [](plans::Program& p) {
    // The thread region's first statement defines the index every later statement uses.
    Block& region = p.kernels[0]->body[0]->body;
    region.erase(region.begin());
  };
  try {
    lower::LowerOptions edit;
    edit.edit = drop_first_let;
    lower::lower(d, o, render::Dialect::c, edit);
    FAIL() << "an invalid kernel was lowered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid after build"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wino

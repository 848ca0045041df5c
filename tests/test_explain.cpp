// wino::explain: the kernels of every plan without a device, in every dialect, and (with NVRTC)
// the registers and spills ptxas reports for sm_90.
#include <gtest/gtest.h>

#include "common/error.h"
#include "plans/program.h"
#include "runtime/cuda/nvrtc.h"
#include "wino/wino.h"

namespace wino {
namespace {

ConvDesc seed_layer() {
  ConvDesc d;
  d.n = 1, d.c = 8, d.h = 32, d.w = 32, d.k = 8, d.r = d.s = 3, d.pad = Padding::all(1);
  return d;
}

Options plan_options(const std::string& plan) {
  Options o;
  o.plan = plan;
  return o;
}

TEST(Explain, CpuTargetReportsEveryPlanStatically) {
  for (const std::string& plan : plans::plan_names()) {
    SCOPED_TRACE(plan);
    Report rep = explain(seed_layer(), plan_options(plan), "cpu");
    EXPECT_EQ(rep.plan, plan);
    EXPECT_TRUE(rep.device.empty());
    ASSERT_FALSE(rep.kernels.empty());
    if (plan == "direct") {
      ASSERT_EQ(rep.kernels.size(), 2u);  // the CPU-shaped kernel, then its weights into panels
      EXPECT_EQ(rep.kernels[1].stage, "weight_panels");
    } else if (plan == "unfused") {
      ASSERT_EQ(rep.kernels.size(), 5u);  // pad (channels last), input, GEMM, output, then the weights
      EXPECT_EQ(rep.kernels[0].stage, "pad");
      EXPECT_EQ(rep.kernels[4].stage, "weight_transform");
    }
    for (const KernelReport& k : rep.kernels) {
      SCOPED_TRACE(k.name);
      EXPECT_FALSE(k.name.empty());
      EXPECT_FALSE(k.stage.empty());
      EXPECT_GT(k.lines, 0);
      EXPECT_GT(k.ssa_values, 0);
      EXPECT_GT(k.pred_regs, 0);
      if (k.stage != "pad" && k.stage != "weight_panels") {
        EXPECT_GT(k.flops, 0);  // a copy has none
      }
      EXPECT_GT(k.bytes, 0);
      EXPECT_GT(k.groups, 0);
      EXPECT_GT(k.threads_per_group, 0);
      EXPECT_NE(k.source.find(k.name), std::string::npos);
      EXPECT_EQ(k.regs, -1);
      EXPECT_EQ(k.spill_bytes, -1);
      EXPECT_EQ(k.time_us, -1);
    }
  }
}

TEST(Explain, Sm90ReportsRegistersWithoutSpills) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (const std::string& plan : plans::plan_names()) {
    SCOPED_TRACE(plan);
    Report rep = explain(seed_layer(), plan_options(plan), "sm_90");
    ASSERT_FALSE(rep.kernels.empty());
    for (const KernelReport& k : rep.kernels) {
      EXPECT_GT(k.regs, 0) << k.name;
      EXPECT_EQ(k.spill_bytes, 0) << k.name;
      EXPECT_GT(k.lines, 0) << k.name;
      EXPECT_EQ(k.time_us, -1) << k.name;
    }
  }
}

TEST(Explain, MatchesTheStaticReportOfCompile) {
  Options o = plan_options("unfused");
  o.m = 2;
  Report compiled = compile(Device::cpu(), seed_layer(), o).report();
  Report explained = explain(seed_layer(), o, "cpu");
  EXPECT_EQ(explained.plan, compiled.plan);
  EXPECT_EQ(explained.m, compiled.m);
  EXPECT_EQ(explained.r, compiled.r);
  ASSERT_EQ(explained.kernels.size(), compiled.kernels.size());
  for (size_t i = 0; i < compiled.kernels.size(); ++i) {
    const KernelReport &a = explained.kernels[i], &b = compiled.kernels[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.stage, b.stage);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.lines, b.lines);
    EXPECT_EQ(a.ssa_values, b.ssa_values);
    EXPECT_EQ(a.pred_regs, b.pred_regs);
    EXPECT_EQ(a.flops, b.flops);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.groups, b.groups);
    EXPECT_EQ(a.threads_per_group, b.threads_per_group);
  }
}

TEST(Explain, EachTargetRendersItsDialect) {
  Options o = plan_options("fused-output");  // one IR on every target (no CPU-shaped version)
  Report c = explain(seed_layer(), o, "cpu");
  Report c_alias = explain(seed_layer(), o, "c");
  EXPECT_EQ(c.kernels.at(0).source, c_alias.kernels.at(0).source);
  for (const char* target : {"opencl", "metal"}) {
    Report rep = explain(seed_layer(), o, target);
    ASSERT_EQ(rep.kernels.size(), c.kernels.size()) << target;
    EXPECT_NE(rep.kernels[0].source, c.kernels[0].source) << target;
    EXPECT_EQ(rep.kernels[0].ssa_values, c.kernels[0].ssa_values) << target;
    EXPECT_EQ(rep.kernels[0].regs, -1) << target;
  }
}

TEST(Explain, RejectsUnknownTargetsAndUnsupportedPlans) {
  EXPECT_THROW(explain(seed_layer(), plan_options("direct"), "vulkan"), Error);
  EXPECT_THROW(explain(seed_layer(), plan_options("direct"), "sm_"), Error);
  EXPECT_THROW(explain(seed_layer(), plan_options("no-such-plan"), "cpu"), Error);
  ConvDesc grouped = seed_layer();
  grouped.groups = 2;
  EXPECT_THROW(explain(grouped, plan_options("unfused"), "cpu"), Error);
  EXPECT_EQ(explain(grouped, plan_options("direct"), "cpu").kernels.size(), 1u);
  ConvDesc empty = seed_layer();
  empty.pad = Padding::all(0);
  empty.h = 2;
  EXPECT_THROW(explain(empty, plan_options("direct"), "cpu"), Error);
}

}  // namespace
}  // namespace wino

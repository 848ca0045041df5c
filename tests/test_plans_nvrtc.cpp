// The CUDA source of every plan compiles with NVRTC for sm_90 (no GPU needed), and its ptxas
// report is read back.
#include <gtest/gtest.h>

#include "lower/lower.h"
#include "plans/program.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"
#include "planner/tile_choice.h"

namespace wino {
namespace {

TEST(PlansNvrtc, EveryPlanCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  ConvDesc d;
  d.n = 1, d.c = 8, d.h = 32, d.w = 32, d.k = 8, d.r = d.s = 3, d.pad = Padding::all(1);
  for (const std::string& plan : plans::plan_names()) {
    for (int m : plan == "direct" ? std::vector<int>{0} : std::vector<int>{2, 4, 6}) {
      plans::PlanOptions o;
      o.plan = plan;
      o.m = m;
      const lower::Lowered low = lower::lower(d, planner::resolve_plan(d, o), render::Dialect::cuda);
      std::vector<const ir::Kernel*> kernels;
      for (const auto& k : low.program.kernels) kernels.push_back(k.get());
      cuda::NvrtcOutput out = cuda::nvrtc_compile(low.source, kernels[0]->name, "sm_90");
      EXPECT_FALSE(out.cubin.empty());
      for (const ir::Kernel* k : kernels) {
        auto it = out.kernels.find(k->name);
        ASSERT_NE(it, out.kernels.end()) << k->name << " missing from the ptxas report:\n" << out.log;
        EXPECT_GT(it->second.registers, 0) << k->name;
        // naive-fused is the seed's failure mode: it is allowed (expected) to spill.
        if (plan != "naive-fused") {
          EXPECT_FALSE(it->second.spills()) << k->name << " spills";
        }
      }
    }
  }
}

}  // namespace
}  // namespace wino

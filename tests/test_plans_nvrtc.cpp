// The CUDA source of every plan compiles with NVRTC for sm_90 (no GPU needed), and its ptxas
// report is read back.
#include <gtest/gtest.h>

#include <sstream>

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

// Each CUDA kernel begins by waiting for the launch before it (a run's later kernels overlap the
// end of the one before on sm_90: runtime::Backend::launch): the statement right after the ids,
// before any memory is declared or touched. The wait is sm_90 PTX, so the prelude keeps it from
// older architectures, and no other dialect has it. No NVRTC needed.
TEST(PlansNvrtc, CudaKernelsWaitForThePreviousGridFirst) {
  ConvDesc d;
  d.n = 1, d.c = 8, d.h = 32, d.w = 32, d.k = 8, d.r = d.s = 3, d.pad = Padding::all(1);
  for (const std::string& plan : plans::plan_names()) {
    plans::PlanOptions o;
    o.plan = plan;
    o.m = plan == "direct" ? 0 : 4;
    const lower::Lowered low = lower::lower(d, planner::resolve_plan(d, o), render::Dialect::cuda);
    const std::string& src = low.source;
    const size_t helper = src.find("void wino_follow_previous_grid()");
    ASSERT_NE(helper, std::string::npos) << src;
    const size_t guard = src.find("#if __CUDA_ARCH__ >= 900", helper), wait = src.find("griddepcontrol.wait", helper);
    EXPECT_LT(guard, wait) << src;
    EXPECT_LT(wait, src.find("griddepcontrol.launch_dependents", helper)) << src;
    for (const auto& k : low.program.kernels) {
      const size_t at = src.find(" " + k->name + "(");
      ASSERT_NE(at, std::string::npos) << k->name;
      std::istringstream body(src.substr(src.find("{\n", at) + 2));
      std::string gid, tid, first;
      std::getline(body, gid), std::getline(body, tid), std::getline(body, first);
      EXPECT_NE(gid.find("(int)blockIdx.x;"), std::string::npos) << k->name << ": " << gid;
      EXPECT_NE(tid.find("(int)threadIdx.x;"), std::string::npos) << k->name << ": " << tid;
      EXPECT_EQ(first, "  wino_follow_previous_grid();") << k->name;
    }
    for (render::Dialect other : {render::Dialect::opencl, render::Dialect::metal, render::Dialect::c}) {
      const lower::Lowered l = lower::lower(d, planner::resolve_plan(d, o), other);
      EXPECT_EQ(l.source.find("wino_follow_previous_grid"), std::string::npos) << plan;
    }
  }
}

}  // namespace
}  // namespace wino

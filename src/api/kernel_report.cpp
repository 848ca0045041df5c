#include "api/kernel_report.h"

#include "planner/kernel_stats.h"
#include "render/render.h"

namespace wino::api {

KernelReport static_kernel_report(const ir::Kernel& k, const std::string& source) {
  planner::KernelStats st = planner::analyze(k);
  KernelReport kr;
  kr.name = k.name;
  kr.stage = k.info.stage;
  kr.source = source;
  kr.lines = render::count_lines(kr.source);
  kr.ssa_values = st.ssa_values;
  kr.pred_regs = st.pred_regs;
  kr.flops = st.flops;
  kr.bytes = st.bytes;
  kr.groups = k.num_groups;
  kr.threads_per_group = k.threads_per_group;
  return kr;
}

}  // namespace wino::api

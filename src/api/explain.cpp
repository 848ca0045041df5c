// wino::explain: the front half of compile() (planner -> lower()) for a target
// instead of a device, plus NVRTC's register and spill report for CUDA architectures.
#include <chrono>

#include "api/kernel_report.h"
#include "api/shared_access_report.h"
#include "common/error.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "planner/device_caps.h"
#include "runtime/backend.h"
#include "runtime/offline_compile.h"
#include "wino/wino.h"

namespace wino {


Report explain(const ConvDesc& desc, const Options& options, const std::string& target,
               bool with_ir, int shared_groups) {
  validate(desc);
  auto t0 = std::chrono::steady_clock::now();
  lower::LowerOptions lower_options;
  lower_options.dump_ir = with_ir;
  const planner::DeviceCaps caps = planner::caps_for_target(target);
  planner::Choice choice = planner::plan_convolution(desc, options, caps);
  lower::Lowered low = lower::lower(desc, choice.plan, caps.dialect, lower_options);
  const plans::Program& prog = low.program;
  Report rep;
  rep.plan = prog.plan;
  rep.m = prog.m;
  rep.r = prog.r;
  rep.precision = choice.plan.precision;
  rep.candidates = std::move(choice.candidates);
  if (!rep.candidates.empty()) rep.planned_for = caps.name + ": " + caps.budget_text();
  for (size_t i = 0; i < prog.kernels.size(); ++i)
    rep.kernels.push_back(api::static_kernel_report(*prog.kernels[i], low.kernel_sources[i]));
  for (lower::IrSnapshot& s : low.snapshots) rep.ir.push_back({s.after, std::move(s.ir)});
  std::vector<runtime::KernelSpec> kernels;
  for (const auto& k : prog.kernels) kernels.push_back(runtime::KernelSpec::of(*k));
  const std::vector<runtime::BackendKernelStats> stats =
      runtime::compile_offline(planner::target_architecture(target), kernels,
                               runtime::compile_sources(low.kernel_sources, caps.dialect));
  for (size_t i = 0; i < rep.kernels.size(); ++i) {
    rep.kernels[i].regs = stats[i].regs;
    rep.kernels[i].spill_bytes = stats[i].spill_bytes;
  }
  rep.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  // After the compile time is taken: the interpreter takes seconds a work-group on large layers.
  if (shared_groups > 0) api::count_bank_conflicts(prog, shared_groups, rep.kernels);
  return rep;
}

}  // namespace wino

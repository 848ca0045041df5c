// wino::explain: the front half of compile() (planner -> lower()) for a target
// instead of a device, plus NVRTC's register and spill report for CUDA architectures.
#include <chrono>

#include "api/kernel_report.h"
#include "common/error.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "runtime/backend.h"
#include "runtime/cuda/nvrtc.h"
#include "wino/wino.h"

namespace wino {

namespace {

struct Target {
  render::Dialect dialect = render::Dialect::c;
  bool cuda_arch = false;  // "sm_XX": compile with NVRTC for that architecture
};

Target parse_target(const std::string& t) {
  if (t == "cpu" || t == "c") return {render::Dialect::c, false};
  if (t == "opencl") return {render::Dialect::opencl, false};
  if (t == "metal") return {render::Dialect::metal, false};
  if (t.rfind("sm_", 0) == 0 && t.size() > 3) return {render::Dialect::cuda, true};
  throw Error("unknown target '" + t + "' (expected cpu, c, opencl, metal, or sm_XX such as sm_90)");
}

}  // namespace

Report explain(const ConvDesc& desc, const Options& options, const std::string& target,
               bool with_ir) {
  validate(desc);
  const Target tgt = parse_target(target);
  std::string why;
  if (tgt.cuda_arch && !cuda::nvrtc_available(&why))
    throw Error("target " + target + " needs NVRTC to report registers and spills, but it is "
                "missing: " + why + " (use --target cpu, opencl or metal)");
  auto t0 = std::chrono::steady_clock::now();
  lower::LowerOptions lower_options;
  lower_options.dump_ir = with_ir;
  const planner::DeviceCaps caps = planner::caps_for_target(target);
  planner::Choice choice = planner::plan_convolution(desc, options, caps);
  lower::Lowered low = lower::lower(desc, choice.plan, tgt.dialect, lower_options);
  const plans::Program& prog = low.program;
  Report rep;
  rep.plan = prog.plan;
  rep.m = prog.m;
  rep.r = prog.r;
  rep.candidates = std::move(choice.candidates);
  if (!rep.candidates.empty()) rep.planned_for = caps.name + ": " + caps.budget_text();
  for (size_t i = 0; i < prog.kernels.size(); ++i)
    rep.kernels.push_back(api::static_kernel_report(*prog.kernels[i], low.kernel_sources[i]));
  for (lower::IrSnapshot& s : low.snapshots) rep.ir.push_back({s.after, std::move(s.ir)});
  if (tgt.cuda_arch && !prog.kernels.empty()) {
    // One program per kernel, compiled in parallel (as the CUDA backend does).
    std::vector<std::string> names;
    for (const KernelReport& kr : rep.kernels) names.push_back(kr.name);
    std::vector<cuda::NvrtcOutput> outs =
        cuda::nvrtc_compile_parallel(runtime::compile_sources(low.kernel_sources, tgt.dialect).kernels, names, target);
    for (size_t i = 0; i < rep.kernels.size(); ++i) {
      KernelReport& kr = rep.kernels[i];
      auto it = outs[i].kernels.find(kr.name);
      if (it == outs[i].kernels.end())
        throw Error("internal: kernel " + kr.name + " is missing from the ptxas report for " +
                    target + ":\n" + outs[i].log);
      kr.regs = it->second.registers;
      kr.spill_bytes = static_cast<int>(it->second.spill_store_bytes + it->second.spill_load_bytes);
    }
  }
  rep.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace wino

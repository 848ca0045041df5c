// `wino explain`: what each plan generates for a convolution, kernel by kernel, without running it:
// source lines, SSA values, predicted registers, and the registers and spills the target's
// compiler reports. With --device the plans also run, for times (and the device's registers).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "common/json.h"
#include "conv_options.h"
#include "plans/program.h"
#include "report_format.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::cli {

namespace {

// Apple GPUs (Apple7 / M1 and later) give a thread at most 128 32-bit registers (256 16-bit
// halves), and keep the full 1024 threads per core only up to 104 halves (Mesa's AGX compiler,
// agx_occupancy; Dougall Johnson's G13 notes; Philip Turner's metal-benchmarks).
constexpr int kAppleMaxRegs = 128, kAppleFullOccupancyRegs = 52;
const std::string kMetalBudgetNote =
    " (no Metal compiler here: regs and spills are not measured; Apple GPUs allow at most " +
    std::to_string(kAppleMaxRegs) + " 32-bit registers per thread, and full occupancy needs <= " +
    std::to_string(kAppleFullOccupancyRegs) + ")";
constexpr int kDeviceRepeats = 20;  // timed runs per plan with --device, after one warm-up
constexpr size_t kTopConflicts = 8;  // accesses with bank conflicts printed per kernel (--banks)

struct PlanResult {
  std::string plan;    // as requested
  Report report;       // what explain() (and the device run) found; empty when `error` is set
  std::string error;   // why the plan does not apply to this problem
  std::string note;    // a remark on the device run
  bool ran = false;
};

bool known_target(const std::string& t) {
  return t == "cpu" || t == "c" || t == "opencl" || t == "metal" ||
         (t.rfind("sm_", 0) == 0 && t.size() > 3);
}

std::string plan_names_text() {
  std::string s;
  for (const std::string& n : plans::plan_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::vector<std::string> requested_plans(const std::string& plan) {
  if (plan == "all") return plans::plan_names();
  const auto& names = plans::plan_names();
  if (plan != "auto" && std::find(names.begin(), names.end(), plan) == names.end())
    throw UsageError("--plan: unknown plan '" + plan + "' (known: " + plan_names_text() +
                     ", auto or all)");
  return {plan};
}

// Runs the plan on the device and copies its kernel times into `rep`, and where it has them the
// registers and spills the device reports (CUDA). Kernels are matched by name.
void run_on_device(PlanResult& res, const Device& device, const Problem& prob, const Options& o) {
  Conv conv = compile(device, prob.desc, o);
  const Epilogue& e = prob.desc.epilogue;
  conv.set_weights(prob.w.data(), e.bias ? prob.bias.data() : nullptr);
  Tensor y(prob.desc.dtype, {prob.desc.n, prob.desc.k, prob.desc.out_h(), prob.desc.out_w()});
  conv.benchmark(prob.x.data(), y.data(), kDeviceRepeats, /*warmup=*/1, e.residual ? prob.residual.data() : nullptr);
  Report dev = conv.report();
  res.report.device = dev.device;
  res.report.time_us = dev.time_us;  // whole runs, as `wino run` and `wino bench` report
  res.ran = true;
  int matched = 0;
  for (const KernelReport& dk : dev.kernels) {
    for (KernelReport& k : res.report.kernels) {
      if (k.name != dk.name) continue;
      k.time_us = dk.time_us;
      if (dk.regs >= 0) k.regs = dk.regs;  // the backend compiler's own numbers, where it has them
      if (dk.spill_bytes >= 0) k.spill_bytes = dk.spill_bytes;
      ++matched;
    }
  }
  if (matched != static_cast<int>(dev.kernels.size()) || dev.kernels.size() != res.report.kernels.size()) {
    res.note = "on " + dev.device + " the planner chose other kernels:";
    for (const KernelReport& dk : dev.kernels) res.note += " " + dk.name;
  }
}

struct Totals {
  int lines = 0;
  int64_t ssa = 0;
  int max_pred = 0, max_regs = -1, spill = -1;
  double time_us = -1;
};

Totals totals(const Report& rep) {
  Totals t;
  for (const KernelReport& k : rep.kernels) {
    t.lines += k.lines;
    t.ssa += k.ssa_values;
    t.max_pred = std::max(t.max_pred, k.pred_regs);
    t.max_regs = std::max(t.max_regs, k.regs);
    if (k.spill_bytes >= 0) t.spill = std::max(t.spill, 0) + k.spill_bytes;
  }
  t.time_us = rep.time_us;
  return t;
}

// What to print after each plan's table.
struct Extras {
  bool source = false;  // each kernel's source
  bool ir = false;      // the IR after each lowering step
  int banks = 0;        // work-groups of each kernel interpreted to count bank conflicts (0: none)
};

void print_plan(std::ostream& out, const PlanResult& res, const std::string& target, const Extras& extras) {
  if (!res.error.empty()) {
    out << "== " << res.plan << ": not supported: " << res.error << "\n\n";
    return;
  }
  const Report& rep = res.report;
  const Totals t = totals(rep);
  print_candidate_table(out, rep);
  out << "== " << rep.plan;
  if (rep.m) out << " F(" << rep.m << "x" << rep.m << ", " << rep.r << "x" << rep.r << ")";
  out << ", target " << target << ": " << rep.kernels.size()
      << (rep.kernels.size() == 1 ? " kernel, " : " kernels, ") << t.lines << " lines, " << t.ssa
      << " SSA values, max registers " << (t.max_regs >= 0 ? std::to_string(t.max_regs) : "-")
      << " (predicted " << t.max_pred << ")";
  if (t.spill >= 0) out << ", " << t.spill << " spill bytes";
  if (t.time_us >= 0) {
    char time[32];
    std::snprintf(time, sizeof time, "%.1f", t.time_us);
    out << ", " << time << " us on " << rep.device;
  }
  out << "\n";
  print_kernel_table(out, rep);
  if (extras.banks > 0) print_bank_conflicts(out, rep, extras.banks, kTopConflicts);
  if (!res.note.empty()) out << "note: " << res.note << "\n";
  if (target == "metal" && t.max_pred > kAppleMaxRegs)
    out << "note: predicted registers over Apple's " << kAppleMaxRegs
        << " per thread: this plan would spill on an Apple GPU\n";
  if (extras.ir)
    for (const Report::IrSnapshot& s : rep.ir) out << "\n-- IR after " << s.after << "\n" << s.ir;
  if (extras.source)
    for (const KernelReport& k : rep.kernels) out << "\n// " << k.name << "\n" << k.source;
  out << "\n";
}

void write_json(std::ostream& out, const std::vector<PlanResult>& results, const Problem& prob,
                const std::string& target, const Extras& extras) {
  JsonWriter j;
  j.begin_array();
  for (const PlanResult& res : results) {
    j.begin_object();
    j.key("plan").value(res.error.empty() ? res.report.plan : res.plan);
    j.key("problem").value(prob.desc.str());
    j.key("target").value(target);
    if (!res.error.empty()) {
      j.key("error").value(res.error).end_object();
      continue;
    }
    j.key("m").value(res.report.m).key("r").value(res.report.r);
    if (res.ran) j.key("device").value(res.report.device); else j.key("device").null();
    if (target == "metal") j.key("max_regs_per_thread").value(kAppleMaxRegs);
    write_candidates_json(j, res.report);
    write_kernels_json(j, res.report);
    if (extras.ir) {
      j.key("ir").begin_array();
      for (const Report::IrSnapshot& s : res.report.ir)
        j.begin_object().key("after").value(s.after).key("ir").value(s.ir).end_object();
      j.end_array();
    }
    if (extras.source) {
      j.key("sources").begin_object();
      for (const KernelReport& k : res.report.kernels) j.key(k.name).value(k.source);
      j.end_object();
    }
    if (!res.note.empty()) j.key("note").value(res.note);
    j.end_object();
  }
  j.end_array();
  out << j.str() << "\n";
}

}  // namespace

int cmd_explain(const Argv& argv) {
  Args args("explain",
            "Show the kernels each plan generates for a convolution: source lines, SSA values, "
            "predicted and actual registers, spills; with --device also their times.");
  add_problem_options(args);
  // Declared here rather than with add_plan_options: explain takes no device by default.
  args.option("plan", "P", "a plan (" + plan_names_text() + ", auto) or all (default auto)");
  add_m_option(args);
  args.option("target", "T",
              "cpu, opencl, metal, or a CUDA architecture sm_XX (default sm_90 when NVRTC is "
              "available, else cpu); sm_XX reports ptxas registers and spills; sm_90 plans for "
              "an H200, sm_90:h100 for an H100 (slower memory)");
  add_tiles_option(args);
  add_accuracy_option(args);
  args.option("device", "D", "also run each plan on this device (auto, cpu, cuda[:N], opencl[:N]) for times");
  args.flag("source", "print each kernel's source (in the target's dialect) after its table");
  args.flag("ir", "print the IR of every kernel after each lowering step (build, then each pass)");
  args.option("banks", "G",
              "count each kernel's shared-memory bank conflicts over its first G work-groups, run in the "
              "IR interpreter (no GPU; large layers take seconds per work-group), by NVIDIA's 32 banks "
              "of 4 bytes whatever the target: wavefronts against the ideal, and the accesses that "
              "conflict most");
  args.flag("json", "print a JSON list of plans instead of the tables");
  args.epilog(
      "examples:\n"
      "  wino explain --shape 1,8,32,32 --k 8 --pad 1 --plan all --target sm_90\n"
      "  wino explain --shape 1,64,56,56 --k 64 --pad 1 --plan unfused --m 6 --device cpu\n"
      "  wino explain --shape 8,256,56,56 --k 256 --pad 1 --plan fused --m 2 --precision fp16 --dtype f16 --layout nhwc --banks 1");
  if (!args.parse(argv)) return 0;

  std::string target = args.get_or("target", "");
  if (target.empty()) target = cuda::nvrtc_available() ? "sm_90" : "cpu";
  if (!known_target(target))
    throw UsageError("--target: unknown target '" + target +
                     "' (expected cpu, opencl, metal, or sm_XX such as sm_90, sm_90:h100)");
  std::string why;
  if (target.rfind("sm_", 0) == 0 && !cuda::nvrtc_available(&why))
    throw Error("--target " + target + " needs NVRTC, which is missing: " + why +
                " (use --target cpu, opencl or metal)");
  const std::string plan_arg = args.get_or("plan", "auto");
  const std::vector<std::string> plan_list = requested_plans(plan_arg);
  const bool run = args.has("device");
  const Device device = run ? read_device(args) : Device::cpu();
  const Problem prob = read_problem(args, run);
  const Options base = read_options(args);
  const Extras extras{args.has("source"), args.has("ir"), static_cast<int>(args.get_int_opt("banks", 1, 1 << 20).value_or(0))};

  std::vector<PlanResult> results;
  for (const std::string& plan : plan_list) {
    PlanResult res;
    res.plan = plan;
    Options o = base;
    o.plan = plan;
    try {
      res.report = explain(prob.desc, o, target, extras.ir, extras.banks);
    } catch (const Error& e) {
      // A plan that does not fit this problem is one row of `--plan all`, not a failure of it.
      if (plan_arg != "all") throw;
      res.error = e.what();
    }
    if (run && res.error.empty()) run_on_device(res, device, prob, o);
    results.push_back(std::move(res));
  }

  if (args.has("json")) {
    write_json(std::cout, results, prob, target, extras);
    return 0;
  }
  std::cout << "problem " << prob.desc.str() << "\n"
            << "target  " << target;
  if (target.rfind("sm_", 0) == 0) std::cout << " (NVRTC " << cuda::nvrtc_version() << ", no GPU needed)";
  if (target == "metal") std::cout << kMetalBudgetNote;
  std::cout << "\n\n";
  for (const PlanResult& res : results) print_plan(std::cout, res, target, extras);
  return 0;
}

}  // namespace wino::cli

#include "report_format.h"

#include <cstdio>
#include <string>

namespace wino::cli {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

namespace {

std::string or_dash(int v) { return v < 0 ? "-" : std::to_string(v); }

}  // namespace

void print_kernel_table(std::ostream& out, const Report& report) {
  size_t width = 6;
  for (const KernelReport& k : report.kernels) width = std::max(width, k.name.size());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %6s %7s %5s %5s %6s %10s %10s %10s %8s\n",
                static_cast<int>(width), "kernel", "lines", "ssa", "pred", "regs", "spill",
                "MFLOP", "MB", "time_us", "GFLOP/s");
  out << line;
  for (const KernelReport& k : report.kernels) {
    std::string gflops = k.time_us > 0 ? fmt("%.1f", k.flops / (k.time_us * 1e3)) : "-";
    std::string time = k.time_us >= 0 ? fmt("%.1f", k.time_us) : "-";
    std::snprintf(line, sizeof line, "%-*s %6d %7lld %5d %5s %6s %10.2f %10.2f %10s %8s\n",
                  static_cast<int>(width), k.name.c_str(), k.lines,
                  static_cast<long long>(k.ssa_values), k.pred_regs, or_dash(k.regs).c_str(),
                  or_dash(k.spill_bytes).c_str(), k.flops / 1e6, k.bytes / 1e6, time.c_str(),
                  gflops.c_str());
    out << line;
  }
}

void print_bank_conflicts(std::ostream& out, const Report& report, int groups, size_t top) {
  for (const KernelReport& k : report.kernels) {
    if (k.shared_wavefronts <= 0) continue;  // not counted, or no work-group memory
    out << "shared memory of " << k.name << " (first " << groups << " work-group" << (groups == 1 ? "" : "s")
        << ", interpreted): " << k.shared_wavefronts << " wavefronts, ideal " << k.shared_ideal;
    if (k.shared_ideal > 0)
      out << fmt(" (%.1f%% over)", 100.0 * static_cast<double>(k.shared_wavefronts - k.shared_ideal) /
                                        static_cast<double>(k.shared_ideal));
    out << (k.shared_conflicts.empty() ? ", no bank conflicts\n" : "\n");
    for (size_t i = 0; i < k.shared_conflicts.size() && i < top; ++i) {
      const KernelReport::SharedAccess& a = k.shared_conflicts[i];
      out << "  " << a.wavefronts << " wavefronts for ideal " << a.ideal << " in " << a.requests
          << " warp accesses: " << a.access << "\n";
    }
    if (k.shared_conflicts.size() > top)
      out << "  ... and " << k.shared_conflicts.size() - top << " more accesses with conflicts (--json lists all)\n";
  }
}

void write_kernels_json(JsonWriter& j, const Report& report) {
  j.key("kernels").begin_array();
  for (const KernelReport& k : report.kernels) {
    j.begin_object();
    j.key("name").value(k.name).key("stage").value(k.stage);
    j.key("lines").value(k.lines).key("ssa_values").value(k.ssa_values);
    j.key("pred_regs").value(k.pred_regs);
    if (k.regs >= 0) j.key("regs").value(k.regs); else j.key("regs").null();
    if (k.spill_bytes >= 0) j.key("spill_bytes").value(k.spill_bytes); else j.key("spill_bytes").null();
    j.key("flops").value(k.flops).key("bytes").value(k.bytes);
    j.key("groups").value(k.groups).key("threads_per_group").value(k.threads_per_group);
    if (k.time_us >= 0) j.key("time_us").value(k.time_us); else j.key("time_us").null();
    if (k.shared_wavefronts >= 0) {
      j.key("shared_wavefronts").value(k.shared_wavefronts).key("shared_ideal").value(k.shared_ideal);
      j.key("shared_conflicts").begin_array();
      for (const KernelReport::SharedAccess& a : k.shared_conflicts)
        j.begin_object().key("access").value(a.access).key("requests").value(a.requests)
            .key("wavefronts").value(a.wavefronts).key("ideal").value(a.ideal).end_object();
      j.end_array();
    }
    j.end_object();
  }
  j.end_array();
}

std::string candidate_label(const PlanCandidate& c) {
  return c.plan + (c.m ? " m=" + std::to_string(c.m) : "") + (c.tiles.empty() ? "" : " t" + c.tiles) +
         (c.precision != Precision::fp32 ? std::string(" ") + precision_name(c.precision) : "");
}

void print_candidate_table(std::ostream& out, const Report& report) {
  if (report.candidates.empty()) return;
  out << "planner: " << report.candidates.size() << " candidates for " << report.planned_for << "\n";
  char line[512];
  // model_MB: the memory traffic the cost model charges (PlanCandidate::predicted_mb), beside its time.
  std::snprintf(line, sizeof line, "  %-34s %5s %12s %10s %17s %12s  %s\n", "candidate", "pred", "model_us", "model_MB",
                "bound", "measured_us", "decision");
  out << line;
  for (const PlanCandidate& c : report.candidates) {
    std::snprintf(line, sizeof line, "  %-34s %5s %12s %10s %17s %12s  %s\n", candidate_label(c).c_str(),
                  c.pred_regs ? std::to_string(c.pred_regs).c_str() : "-",
                  c.predicted_us >= 0 ? fmt("%.1f", c.predicted_us).c_str() : "-",
                  c.predicted_mb >= 0 ? fmt("%.1f", c.predicted_mb).c_str() : "-", c.bound.empty() ? "-" : c.bound.c_str(),
                  c.measured_us >= 0 ? fmt("%.1f", c.measured_us).c_str() : "-",
                  c.chosen ? "chosen" : c.rejected.substr(0, c.rejected.find('\n')).c_str());
    out << line;
  }
  out << "\n";
}

void write_candidates_json(JsonWriter& j, const Report& report) {
  if (report.candidates.empty()) return;
  j.key("planned_for").value(report.planned_for);
  j.key("candidates").begin_array();
  for (const PlanCandidate& c : report.candidates) {
    j.begin_object().key("plan").value(c.plan).key("m").value(c.m).key("tiles").value(c.tiles);
    j.key("precision").value(precision_name(c.precision));
    j.key("pred_regs").value(c.pred_regs).key("predicted_us").value(c.predicted_us);
    j.key("predicted_mb").value(c.predicted_mb).key("predicted_mflop").value(c.predicted_mflop);
    j.key("measured_us").value(c.measured_us).key("bound").value(c.bound);
    j.key("chosen").value(c.chosen).key("rejected").value(c.rejected).end_object();
  }
  j.end_array();
}

}  // namespace wino::cli

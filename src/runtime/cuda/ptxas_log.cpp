#include "runtime/cuda/ptxas_log.h"

#include <regex>
#include <set>
#include <sstream>

namespace wino::cuda {
namespace {

struct Patterns {
  std::regex entry{R"(Compiling entry function '([^']+)')"};
  std::regex properties{R"(Function properties for (\S+))"};
  std::regex registers{R"(Used (\d+) registers)"};
  std::regex barriers{R"(used (\d+) barriers)"};
  std::regex stack_frame{R"((\d+) bytes stack frame)"};
  std::regex spill_stores{R"((\d+) bytes spill stores)"};
  std::regex spill_loads{R"((\d+) bytes spill loads)"};
  std::regex smem{R"((\d+) bytes smem)"};
  std::regex cmem{R"((\d+) bytes cmem\[\d+\])"};
  std::regex cumulative_stack{R"((\d+) bytes cumulative stack size)"};
};

const Patterns& patterns() {
  static const Patterns p;
  return p;
}

// Sets `field` from the first match of `re` in `line`; returns whether it matched.
bool read_number(const std::string& line, const std::regex& re, int64_t& field) {
  std::smatch m;
  if (!std::regex_search(line, m, re)) return false;
  field = std::stoll(m[1].str());
  return true;
}

// Applies every size the line mentions. Each is assigned, not added: one report names a
// quantity once per function, and the "Used ..." line may repeat the stack frame.
void apply_sizes(const std::string& line, KernelResourceStats& s) {
  const Patterns& p = patterns();
  int64_t n = 0;
  if (read_number(line, p.registers, n)) s.registers = static_cast<int>(n);
  if (read_number(line, p.barriers, n)) s.barriers = static_cast<int>(n);
  read_number(line, p.stack_frame, s.stack_frame_bytes);
  read_number(line, p.spill_stores, s.spill_store_bytes);
  read_number(line, p.spill_loads, s.spill_load_bytes);
  read_number(line, p.smem, s.shared_bytes);
  read_number(line, p.cumulative_stack, s.cumulative_stack_bytes);
  int64_t cmem_total = 0;
  bool any_cmem = false;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), p.cmem); it != std::sregex_iterator(); ++it) {
    cmem_total += std::stoll((*it)[1].str());
    any_cmem = true;
  }
  if (any_cmem) s.constant_bytes = cmem_total;
}

}  // namespace

std::map<std::string, KernelResourceStats> parse_ptxas_log(const std::string& log) {
  const Patterns& p = patterns();
  std::map<std::string, KernelResourceStats> all;  // entries and device functions
  std::set<std::string> entries;
  std::string current_entry;  // target of "Used N registers" lines
  std::string properties_of;  // target of the stack / spill line after "Function properties for"
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, p.entry)) {
      current_entry = properties_of = m[1].str();
      entries.insert(current_entry);
      all[current_entry];
      continue;
    }
    if (std::regex_search(line, m, p.properties)) {
      properties_of = m[1].str();
      all[properties_of];
      continue;
    }
    if (std::regex_search(line, p.registers)) {
      if (!current_entry.empty()) apply_sizes(line, all[current_entry]);
      continue;
    }
    if (!properties_of.empty() && (line.find("bytes stack frame") != std::string::npos ||
                                   line.find("bytes spill") != std::string::npos)) {
      apply_sizes(line, all[properties_of]);
    }
  }
  std::map<std::string, KernelResourceStats> result;
  for (const std::string& name : entries) result[name] = all[name];
  return result;
}

std::string format_kernel_stats(const std::string& name, const KernelResourceStats& s) {
  std::ostringstream out;
  out << name << ": " << s.registers << " registers, " << s.stack_frame_bytes << " B stack, " << s.spill_store_bytes
      << " B spill stores, " << s.spill_load_bytes << " B spill loads, " << s.shared_bytes << " B smem";
  if (s.constant_bytes > 0) out << ", " << s.constant_bytes << " B cmem";
  return out.str();
}

}  // namespace wino::cuda

#include "api/shared_access_report.h"

#include <algorithm>
#include <map>

#include "interp/interpreter.h"
#include "ir/printer.h"

namespace wino::api {

namespace {

constexpr size_t kIndexChars = 160;  // an index longer than this is cut (the source has it whole)

std::string access_name(const ir::Stmt& s) {
  std::string index = ir::print(s.index);
  if (index.size() > kIndexChars) index = index.substr(0, kIndexChars) + "...";
  const std::string at = s.memory->name + "[" + index + "]";
  switch (s.kind) {
    case ir::StmtKind::load: return "load " + s.var->name + " = " + at;
    case ir::StmtKind::store: return "store " + at;
    case ir::StmtKind::copy_async: return "copy_async to " + at;
    case ir::StmtKind::load_matrix: return "load_matrix from " + at;
    default: return std::string(ir::stmt_kind_name(s.kind)) + " " + at;
  }
}

void fill(KernelReport& k, const std::vector<interp::SharedAccessCount>& counts) {
  k.shared_wavefronts = k.shared_ideal = 0;
  k.shared_conflicts.clear();
  for (const interp::SharedAccessCount& c : counts) {
    k.shared_wavefronts += c.wavefronts;
    k.shared_ideal += c.ideal;
    if (c.wavefronts > c.ideal)
      k.shared_conflicts.push_back({access_name(*c.stmt), c.requests, c.wavefronts, c.ideal});
  }
  std::stable_sort(k.shared_conflicts.begin(), k.shared_conflicts.end(),
                   [](const KernelReport::SharedAccess& a, const KernelReport::SharedAccess& b) {
                     return a.wavefronts - a.ideal > b.wavefronts - b.ideal;
                   });
}

}  // namespace

void count_bank_conflicts(const plans::Program& prog, int64_t groups, std::vector<KernelReport>& kernels) {
  std::vector<std::vector<float>> storage;  // floats: every buffer's start aligned for any type
  for (const plans::ProgramBuffer& b : prog.buffers) storage.emplace_back((b.bytes() + 3) / 4 + 4, 0.0f);
  std::map<int, std::vector<interp::SharedAccessCount>> counts;  // by kernel
  interp::InterpretOptions options;
  options.max_groups = groups;
  auto run = [&](const std::vector<plans::Launch>& launches) {
    for (const plans::Launch& l : launches) {
      std::vector<void*> buffers;
      for (int b : l.buffers) buffers.push_back(storage[static_cast<size_t>(b)].data());
      options.shared_accesses = &counts[l.kernel];
      interp::interpret(*prog.kernels[static_cast<size_t>(l.kernel)], buffers, options);
    }
  };
  run(prog.prepare_launches);
  run(prog.launches);
  for (auto& [kernel, c] : counts) fill(kernels.at(static_cast<size_t>(kernel)), c);
}

}  // namespace wino::api

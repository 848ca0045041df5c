#include "lower/lower.h"

#include "common/error.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/sink_to_first_use.h"

namespace wino::lower {

namespace {

struct Pass {
  const char* name;
  void (*run)(ir::Kernel&);
};

// The passes, in order. Each is idempotent (tests/test_passes.cpp proves it).
const Pass kPasses[] = {
    {"sink_to_first_use", [](ir::Kernel& k) { passes::sink_to_first_use(k); }},
};

std::string print_program(const plans::Program& p) {
  std::string out;
  for (const auto& k : p.kernels) out += ir::print(*k) + "\n";
  return out;
}

// Verifies every kernel; `step` names what ran last, for the message.
void verify_after(const plans::Program& p, const std::string& step) {
  for (const auto& k : p.kernels)
    if (std::vector<std::string> problems = ir::verify(*k); !problems.empty())
      throw Error("internal: kernel " + k->name + " of plan " + p.plan + " is invalid after " +
                  step + ": " + problems.front());
}

}  // namespace

Lowered lower(const ConvDesc& desc, const plans::PlanOptions& choice, render::Dialect dialect,
              const LowerOptions& options) {
  Lowered out;
  out.program = plans::build_program(desc, choice);
  if (options.edit) options.edit(out.program);
  auto step = [&](const std::string& name) {
    verify_after(out.program, name);
    if (options.dump_ir) out.snapshots.push_back({name, print_program(out.program)});
  };
  step("build");
  for (const Pass& pass : kPasses) {
    for (auto& k : out.program.kernels) pass.run(*k);
    step(pass.name);
  }
  if (options.ir_as_source) {
    for (const auto& k : out.program.kernels) out.kernel_sources.push_back(ir::print(*k));
    for (const std::string& s : out.kernel_sources) out.source += s + "\n";
    return out;
  }
  for (const auto& k : out.program.kernels) out.kernel_sources.push_back(render::render_kernel(*k, dialect));
  out.source = render::translation_unit(out.kernel_sources, dialect);
  return out;
}

}  // namespace wino::lower

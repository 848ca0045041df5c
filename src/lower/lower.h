// The one path from a convolution and a plan choice to source text: build the plan's program,
// run each pass in sequence (verifying the IR after each), render every kernel once. api,
// explain, the fuzz target and the tests all go through lower(); nothing else runs the passes or
// the renderer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plans/program.h"
#include "render/render.h"

namespace wino::lower {

/// The IR of every kernel after one step of the pipeline ("build", then each pass by name).
struct IrSnapshot {
  std::string after;
  std::string ir;
};

struct LowerOptions {
  bool dump_ir = false;  // keep an IrSnapshot after every step
  bool ir_as_source = false;  // the interpreter's "source": each kernel's IR as printed, no rendering
  /// Edits the built program before the passes (tests: remove a barrier, plant a bug).
  std::function<void(plans::Program&)> edit;
};

struct Lowered {
  plans::Program program;                    // the kernels after every pass
  std::vector<std::string> kernel_sources;   // one per kernel, in the dialect (or IR: ir_as_source)
  std::string source;                        // the translation unit: prelude + kernel sources
  std::vector<IrSnapshot> snapshots;         // with LowerOptions::dump_ir
};

/// Lowers `choice` (a resolved plan: see planner::choose_plan) for `desc` in `dialect`. Throws
/// wino::Error for a plan that does not apply, and for IR that fails verification after a step.
Lowered lower(const ConvDesc& desc, const plans::PlanOptions& choice, render::Dialect dialect,
              const LowerOptions& options = {});

}  // namespace wino::lower

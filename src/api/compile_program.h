// compile() from a program that is already built: for tests that change a plan's kernels before
// they run (a barrier removed, to show that the correctness sweep catches the race).
#pragma once

#include "plans/program.h"
#include "wino/wino.h"

namespace wino::api {

/// Verifies, renders and compiles `program` (built by plans::build_program for `desc`, then
/// possibly edited) on the device, as compile() does after planning.
Conv compile_program(const Device& device, const ConvDesc& desc, plans::Program program,
                     const Options& options = {});

}  // namespace wino::api

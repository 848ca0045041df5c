// Compiling a program for a target without its device: what `explain` reports for a target. The
// same sources and compiler a backend uses (runtime::compile_sources; NVRTC per kernel, in
// parallel, for CUDA), so explain's registers and spills are the ones compile() gets.
#pragma once

#include <string>
#include <vector>

#include "runtime/backend.h"

namespace wino::runtime {

/// For a CUDA architecture "sm_XX": NVRTC's compile of each kernel, registers and spill bytes
/// from ptxas. Other targets have no offline compiler here: their stats stay -1. Throws
/// wino::Error when NVRTC is needed and missing, or a kernel does not compile.
std::vector<BackendKernelStats> compile_offline(const std::string& target,
                                                const std::vector<KernelSpec>& kernels,
                                                const CompileSources& sources);

}  // namespace wino::runtime

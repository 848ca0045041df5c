// The static part of a kernel's report, shared by compile() and explain(): everything known from
// the IR and the rendered source before a backend compiler sees the kernel.
#pragma once

#include "ir/kernel.h"
#include "wino/wino.h"

namespace wino::api {

/// Name, stage, `source` (the kernel rendered by lower()), lines, SSA values, predicted registers,
/// FLOPs, bytes and grid of a kernel; regs, spill_bytes and time_us stay -1 (not reported).
KernelReport static_kernel_report(const ir::Kernel& kernel, const std::string& source);

}  // namespace wino::api

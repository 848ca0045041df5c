// The planner's cost model: predicts a candidate program's time on a device from its kernels'
// static facts (KernelStats) and the device's rates and budgets (DeviceCaps).
#pragma once

#include <vector>

#include "planner/device_caps.h"
#include "planner/kernel_stats.h"
#include "plans/program.h"
#include "wino/wino.h"

namespace wino::planner {

/// The registers a thread of `k` may take on the device (fewer where the kernel asks CUDA for
/// several work-groups per multiprocessor).
int register_budget(const ir::Kernel& k, const DeviceCaps& caps);

/// The predicted registers over which a kernel with register budget `budget` spills for sure.
int spill_limit(int budget, const DeviceCaps& caps);

/// Sets c's predicted time, bytes, FLOPs and limit (`bound`) for program `prog`, whose kernels'
/// facts are `stats` (one per kernel, in order).
void predict(PlanCandidate& c, const plans::Program& prog, const std::vector<KernelStats>& stats,
             const DeviceCaps& caps);

}  // namespace wino::planner

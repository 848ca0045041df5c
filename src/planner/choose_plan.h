// The planner's choice of plan, F(m, r) and tile sizes for a convolution on a device.
#pragma once

#include "plans/program.h"
#include "wino/wino.h"

namespace wino::planner {

/// Resolves Options (plan "auto", m = 0) into concrete plan options. A plan the user forced is
/// kept as is (build_program then reports what it does not support); "auto" falls back to
/// `direct` where Winograd does not apply (groups, non-square or 1x1 filters, stride or
/// dilation other than 1).
plans::PlanOptions choose_plan(const ConvDesc& desc, const Options& options, const Device& device);

}  // namespace wino::planner

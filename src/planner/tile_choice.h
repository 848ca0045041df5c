// The planner's choices inside a plan: the GEMM tile sizes of each Winograd plan (for the device
// Wino is tuned on, with the user's overrides applied) and the largest alpha = m + r - 1 each plan
// is built for. resolve_plan applies both; the plans only check and use what it gives them.
#pragma once

#include "plans/program.h"
#include "wino/wino.h"

namespace wino::planner {

/// The largest alpha `plan` builds kernels for (0: no limit).
int max_alpha(const std::string& plan);

/// Whether `plan`'s GEMM runs on tensor cores at this alpha when a precision asks for them: unfused
/// always, fused-output while each thread's alpha^2 x 4 accumulators fit (alpha <= 6), and fused
/// up to alpha 6 (plan auto weighs it in fp16 and bf16 only).
bool tensor_core_plan(const std::string& plan, int alpha);

/// `p` with its GEMM tiles chosen (PlanOptions::gemm, for the plans that have a GEMM), on tensor
/// cores when p.precision asks for them (tensor_core_plan; the other plans run in fp32, which is
/// never a lower precision than asked, and their precision becomes fp32). Throws
/// wino::Error for an alpha over the plan's limit, naming what to use instead.
plans::PlanOptions resolve_plan(const ConvDesc& desc, plans::PlanOptions p);

}  // namespace wino::planner

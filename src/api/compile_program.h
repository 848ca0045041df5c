// compile()'s helpers: tune mode's measurement of one plan, and compile() with an edit of the
// lowered program (for tests that change a plan's kernels before the passes run: a barrier
// removed, to show that the correctness sweep catches the race).
#pragma once

#include "lower/lower.h"
#include "wino/wino.h"

namespace wino::api {

/// compile() of exactly `plan`, one of the planner's candidates (its precision, tiles and vector
/// width as the candidate has them; a plan given through Options would be planned again).
Conv compile_candidate(const Device& device, const ConvDesc& desc, const Options& options,
                       const plans::PlanOptions& plan);

/// Tune mode's measurement: compiles `plan` on `device` (compile_candidate), rejects it when a kernel spills, and
/// returns the median microseconds of one run on random data (-1 with *rejected set otherwise).
double measure_plan(const Device& device, const ConvDesc& desc, const Options& options,
                    const plans::PlanOptions& plan, std::string* rejected);

/// compile(device, desc, options), with `edit` applied to the built program inside lower().
Conv compile_edited(const Device& device, const ConvDesc& desc, const Options& options,
                    const std::function<void(plans::Program&)>& edit);

}  // namespace wino::api

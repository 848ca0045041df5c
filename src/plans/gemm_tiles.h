// The limits every GEMM tile choice must meet, checked by the plans that take one (the planner
// chooses the tiles: planner/tile_choice.h).
#pragma once

#include <string>

#include "plans/gemm_tile_shape.h"
#include "plans/plan_common.h"

namespace wino::plans {

/// The tiles a GEMM plan was given (PlanOptions::gemm); throws wino::Error when the planner has
/// not resolved them (build through planner::resolve_plan).
const GemmTiles& given_tiles(const PlanOptions& o);

/// Checks tiles for one GEMM per Winograd point (plan unfused); throws naming what to change.
void check_point_gemm_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan);

/// Checks tiles of a work-group holding all alpha^2 points (plans fused, fused-input,
/// fused-output; `all_points_per_thread` for fused-output).
void check_all_points_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan, bool all_points_per_thread);

}  // namespace wino::plans

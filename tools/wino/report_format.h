// Printing a wino::Report: the per-kernel table and its JSON form.
#pragma once

#include <ostream>
#include <string>

#include "common/json.h"
#include "wino/wino.h"

namespace wino::cli {

/// One number printf-formatted ("%.2f"), as a string.
std::string fmt(const char* f, double v);

/// One row per kernel: name, lines, SSA values, registers (predicted / actual), spills, FLOPs,
/// bytes, time, GFLOP/s.
void print_kernel_table(std::ostream& out, const Report& report);

/// "unfused m=4 t128,64,8,8,8": a candidate's plan, m and GEMM tiles.
std::string candidate_label(const PlanCandidate& c);
/// The planner's candidates (plan "auto"): plan, F(m, r), tiles, predicted registers, the cost
/// model's time and what bounds it, the measured time (tune mode), and why each was not chosen.
void print_candidate_table(std::ostream& out, const Report& report);
/// Writes "planned_for" and the "candidates" list into an open JSON object (when there are any).
void write_candidates_json(JsonWriter& j, const Report& report);

/// Writes the "kernels" list (an array of objects) into an open JSON object.
void write_kernels_json(JsonWriter& j, const Report& report);

/// Each kernel's shared-memory wavefronts against the ideal (explain's shared_groups) and its `top`
/// accesses with the most bank conflicts; nothing for kernels not counted or without work-group memory.
void print_bank_conflicts(std::ostream& out, const Report& report, int groups, size_t top);

}  // namespace wino::cli

// The planner: which plan, F(m, r) and GEMM tiles run a convolution on a device. For plan "auto"
// it builds every candidate (plan x m x tile shapes), rejects those over the device's budgets or
// the requested accuracy, ranks the rest by a cost model (FLOPs and bytes against the device's
// rates) and, in tune mode, measures the best few on the device.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "planner/device_caps.h"
#include "plans/program.h"
#include "transforms/winograd.h"
#include "wino/wino.h"

namespace wino::planner {

struct Choice {
  plans::PlanOptions plan;
  std::vector<PlanCandidate> candidates;  // plan "auto": the choice first; empty for a given plan
  bool from_cache = false;                // the choice is the tuning cache's
};

/// Tune mode: compiles and runs `plan` on the device and returns one run's microseconds, or
/// returns a negative number with the reason in *rejected (spills, a failure).
using Measure = std::function<double(const plans::PlanOptions& plan, std::string* rejected)>;

/// Plans a convolution for `caps`. A plan the user gave is kept as is (build_program then reports
/// what it does not support); "auto" searches, and throws wino::Error listing every candidate's
/// reason when none fits. With `measure`, the model's best Options::tune_top are measured;
/// else a `remembered` pick (the tuning cache's) is taken when it is still an eligible candidate.
Choice plan_convolution(const ConvDesc& desc, const Options& options, const DeviceCaps& caps,
                        const Measure& measure = {}, const std::optional<PlanCandidate>& remembered = {});

/// The candidate that plan `p` is: its plan, m, precision and tiles string (PlanCandidate::tiles).
PlanCandidate describe_plan(const plans::PlanOptions& p);

/// A candidate's tiles (PlanCandidate::tiles: "bk,bp,rk,rp,cc[,ppt]", then "runs" or "colsN" for the
/// tensor-core fused ring's tiles, as the planner writes them) set in `o`, so that compile() runs
/// that candidate by name. A CPU-shaped candidate at a narrower vector ("vN") has no option for it:
/// refused with wino::Error, as is any other text.
void apply_candidate_tiles(const std::string& tiles, Options& o);

/// plan_convolution's plan for `device` (resolved), by the cost model alone.
plans::PlanOptions choose_plan(const ConvDesc& desc, const Options& options, const Device& device);

/// The largest relative error of one F(m, r) tile in float32 over 1000 random tiles (cached).
double fp32_error_bound(int m, int r);

/// In the half modes (fp16, bf16) the planner takes an F(m, r) only where the model of its tile
/// as the plan rounds it (measure_half_error) stays within this many times the error of rounding
/// the output alone, the type's floor. Issue 15's target is 3x cuDNN's error, and cuDNN's fp16
/// and bf16 convolutions through PyTorch (the yardstick) measure 1.7-1.8x that floor (fp16 3.6e-4
/// against 2.0e-4, bf16 2.9e-3 against 1.7e-3): about 5x. F(2,3) and smaller pass, F(3,3) and
/// larger do not (docs/accuracy.md); a plan named without m gets the largest m the bound admits,
/// one named with its m runs whatever its error.
constexpr double kHalfErrorFactor = 5.0;
/// measure_half_error of F(m, r) in `precision` (fp16 or bf16), M rounded too or not, the output
/// rounded (half tensors) or not; cached.
HalfError half_error_bound(int m, int r, Precision precision, bool round_m, bool round_output);
/// Why F(m, r) in a half `precision` is over the bound on layer `d` (the output rounded where its
/// tensors are halves; M too where the plan stores it in the type, GemmTiles::half_m), or "".
std::string half_error_rejection(const ConvDesc& d, int m, Precision precision, bool half_m);

}  // namespace wino::planner

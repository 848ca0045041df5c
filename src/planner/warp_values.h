// The values an integer IR expression takes in 32 lanes where one variable varies by lane (the
// thread id over a warp, or a loop's variable over 32 iterations) and the others take one value
// each: the cost model's counts (kernel_stats.cpp) of a branch's iterations and of a warp's
// passes through work-group memory's banks. Each node of the expression's DAG is evaluated once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>

#include "ir/expr.h"
#include "ir/mma.h"

namespace wino::planner {

class WarpValues {
 public:
  using Lanes = std::array<int64_t, ir::kWarp>;
  using Binding = std::pair<const ir::Node*, int64_t>;

  /// In lane l variable `lane_var` is `first + l`, of which the values in [lo, hi) count (a loop's
  /// or the threads' range: the others' lanes are computed, but never fail); `env` binds other
  /// variables, `lets` maps let variables to their values.
  WarpValues(const std::unordered_map<const ir::Node*, const ir::Node*>& lets, std::span<const Binding> env,
             const ir::Node* lane_var, int64_t first, int64_t lo, int64_t hi)
      : lets_(lets), env_(env), lane_var_(lane_var), first_(first), lo_(lo), hi_(hi) {}

  /// Each lane's value of integer or boolean expression `n`, or nothing where it depends on
  /// anything else (memory, an unbound variable, a float) or divides by zero in a lane that counts
  /// (0 in the others).
  std::optional<Lanes> of(const ir::Node* n);

 private:
  std::optional<Lanes> compute(const ir::Node* n);

  const std::unordered_map<const ir::Node*, const ir::Node*>& lets_;
  std::span<const Binding> env_;
  const ir::Node* lane_var_;
  int64_t first_, lo_, hi_;
  std::unordered_map<const ir::Node*, std::optional<Lanes>> memo_;
};

}  // namespace wino::planner

// Bounds of the values an i32 or boolean node can take, and whether computing a node can fail
// (internal to src/interp; used by the analysis). With them the machine skips the overflow checks
// of arithmetic that cannot overflow, and folds nodes that take one value only (such as
// tid / 256 in a work-group of 256 threads) into constants, which are the same for every thread.
#pragma once

#include <cstdint>
#include <limits>

#include "ir/expr.h"

namespace wino::interp::detail {

struct Bounds {
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  double lo = -kInf, hi = kInf;  // infinite: unknown (an i32 load may even hold a fraction)
  bool may_fail = false;         // computing the node (operands included) may throw

  bool known() const { return lo > -kInf && hi < kInf; }
  bool fits_i32() const {
    return lo >= std::numeric_limits<int32_t>::min() && hi <= std::numeric_limits<int32_t>::max();
  }
  /// One value, and nothing that may fail: the node is that constant.
  bool constant() const { return known() && lo == hi && !may_fail; }
};

/// The bounds of a non-leaf node from those of its operands args[0 .. n->nargs).
Bounds bound(const ir::Node* n, const Bounds* const* args);

}  // namespace wino::interp::detail

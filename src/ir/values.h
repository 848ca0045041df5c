// Which expression nodes become named values, and where: the one evaluation order that the
// renderers print and the register model measures. A node used more than once is computed once,
// at its first use within the scope that can see it; a node used once is inlined into its use.
#pragma once

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/kernel.h"

namespace wino::ir {

struct ValuePlan {
  /// Per statement: nodes to define right before it, in dependency order.
  std::unordered_map<const Stmt*, std::vector<const Node*>> defs_before;
  /// Every node that is materialized somewhere (it may be defined at several sites when its
  /// first definition's scope had closed before a later use).
  std::unordered_set<const Node*> materialized;
  /// Value-producing operations in the rendered kernel: named defs, inlined operations, lets, loads.
  int64_t ssa_values = 0;
};

/// Builds the evaluation plan of a kernel.
ValuePlan plan_values(const Kernel& kernel);

/// Expression operands of a statement (value, index, cond, ..., mma_async's matrix starts), the non-null ones.
std::vector<Expr> stmt_operands(const Stmt& s);

}  // namespace wino::ir

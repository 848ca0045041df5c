#include "passes/sink_to_first_use.h"

#include <cstddef>
#include <functional>
#include <unordered_set>

#include "ir/values.h"

namespace wino::passes {

using namespace ir;

namespace {

struct Summary {
  std::unordered_set<const Node*> vars_used;
  std::unordered_set<const Memory*> stored;
  bool stores_shared = false;
  bool barrier = false;
};

void summarize(const Stmt& s, Summary& out, std::unordered_set<const Node*>& seen) {
  std::function<void(const Node*)> walk = [&](const Node* n) {
    if (!seen.insert(n).second) return;
    if (n->op == Op::var) out.vars_used.insert(n);
    for (int i = 0; i < n->nargs; ++i) walk(n->args[i]);
  };
  for (Expr e : stmt_operands(s)) walk(e.node());
  if (s.kind == StmtKind::store || s.kind == StmtKind::mma || s.kind == StmtKind::mma_async ||
      s.kind == StmtKind::copy_async || s.kind == StmtKind::copy_bulk) {
    out.stored.insert(s.memory);
    out.stores_shared = out.stores_shared || s.memory->space == Space::shared;
  }
  // Copies land in work-group memory at a copy_wait or an mbarrier_wait, and mma_asyncs' sums at an
  // mma_async_wait: no load moves past one. Nor past an arrival, after which another role may
  // write what the load reads.
  if (s.kind == StmtKind::barrier || s.kind == StmtKind::threads || s.kind == StmtKind::copy_wait ||
      s.kind == StmtKind::mbarrier_wait || s.kind == StmtKind::mma_async_wait || s.kind == StmtKind::mbarrier_arrive ||
      s.kind == StmtKind::mbarrier_expect || s.kind == StmtKind::roles)
    out.barrier = true;
  for (const StmtPtr& c : s.body) summarize(*c, out, seen);
}

bool movable(const Stmt& s) { return s.kind == StmtKind::let || s.kind == StmtKind::load; }

// Whether statement `later` must stay after the movable statement `s`. A work-group load stays
// ahead of every work-group store, not only of those into its own array: ptxas keeps a shared
// load after a shared store it cannot tell apart from it, so a load sunk past one issues only
// there, its latency in series with the stores (the tensor-core ring's transform read its patches
// so, one pixel at a time between its stores into V: 1.03-1.11x slower on the H100, session 54).
bool blocks(const Stmt& s, const Summary& later) {
  if (later.vars_used.count(s.var.node())) return true;
  return s.kind == StmtKind::load &&
         (later.barrier || later.stored.count(s.memory) || (s.memory->space == Space::shared && later.stores_shared));
}

// From the last statement up, each movable one moves down to just before its first blocker,
// and then up over the movable statements directly before that blocker (values the blocker also
// waits for). Stopping there, rather than right at the blocker, makes the pass idempotent: a
// greedy sink swaps two values used by the same statement on every run.
int sink_block(Block& block) {
  int moved = 0;
  for (StmtPtr& s : block) moved += sink_block(s->body);
  const size_t n = block.size();
  std::vector<Summary> sums(n);
  for (size_t i = 0; i < n; ++i) {
    std::unordered_set<const Node*> seen;
    summarize(*block[i], sums[i], seen);
  }
  std::vector<size_t> order;  // the arranged suffix, as original indices
  for (size_t i = n; i-- > 0;) {
    size_t at = 0;
    if (movable(*block[i])) {
      while (at < order.size() && !blocks(*block[i], sums[order[at]])) ++at;
      while (at > 0 && movable(*block[order[at - 1]])) --at;
    }
    order.insert(order.begin() + static_cast<std::ptrdiff_t>(at), i);
  }
  Block result;
  for (size_t k = 0; k < n; ++k) {
    moved += order[k] != k;
    result.push_back(std::move(block[order[k]]));
  }
  block = std::move(result);
  return moved;
}

}  // namespace

int sink_to_first_use(Kernel& kernel) { return sink_block(kernel.body); }

}  // namespace wino::passes

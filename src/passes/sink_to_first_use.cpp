#include "passes/sink_to_first_use.h"

#include <functional>
#include <unordered_set>

#include "ir/values.h"

namespace wino::passes {

using namespace ir;

namespace {

struct Summary {
  std::unordered_set<const Node*> vars_used;
  std::unordered_set<const Memory*> stored;
  bool barrier = false;
};

void summarize(const Stmt& s, Summary& out, std::unordered_set<const Node*>& seen) {
  std::function<void(const Node*)> walk = [&](const Node* n) {
    if (!seen.insert(n).second) return;
    if (n->op == Op::var) out.vars_used.insert(n);
    for (int i = 0; i < n->nargs; ++i) walk(n->args[i]);
  };
  for (Expr e : stmt_operands(s)) walk(e.node());
  if (s.kind == StmtKind::store) out.stored.insert(s.memory);
  if (s.kind == StmtKind::barrier || s.kind == StmtKind::threads) out.barrier = true;
  for (const StmtPtr& c : s.body) summarize(*c, out, seen);
}

int sink_block(Block& block) {
  int moved = 0;
  for (StmtPtr& s : block) moved += sink_block(s->body);
  std::vector<Summary> sums(block.size());
  for (size_t i = 0; i < block.size(); ++i) {
    std::unordered_set<const Node*> seen;
    summarize(*block[i], sums[i], seen);
  }
  for (size_t i = block.size(); i-- > 0;) {
    const Stmt& s = *block[i];
    if (s.kind != StmtKind::let && s.kind != StmtKind::load) continue;
    size_t target = i;
    for (size_t j = i + 1; j < block.size(); ++j) {
      if (sums[j].vars_used.count(s.var.node())) break;
      if (s.kind == StmtKind::load && (sums[j].barrier || sums[j].stored.count(s.memory))) break;
      target = j;
    }
    if (target == i) continue;
    // Rotate statement i to position target, keeping the summaries in step.
    StmtPtr moving = std::move(block[i]);
    Summary moving_sum = std::move(sums[i]);
    for (size_t j = i; j < target; ++j) {
      block[j] = std::move(block[j + 1]);
      sums[j] = std::move(sums[j + 1]);
    }
    block[target] = std::move(moving);
    sums[target] = std::move(moving_sum);
    ++moved;
  }
  return moved;
}

}  // namespace

int sink_to_first_use(Kernel& kernel) { return sink_block(kernel.body); }

}  // namespace wino::passes

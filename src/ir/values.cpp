#include "ir/values.h"

#include <functional>

namespace wino::ir {

std::vector<Expr> stmt_operands(const Stmt& s) {
  std::vector<Expr> out;
  for (Expr e : {s.cond, s.index, s.value, s.source_index})
    if (e) out.push_back(e);
  out.insert(out.end(), s.args.begin(), s.args.end());
  for (const SharedMatrix& m : s.matrices)
    if (m.start) out.push_back(m.start);
  return out;
}

namespace {

// Uses of each non-leaf node: one per argument slot of each distinct parent, one per statement
// operand reference.
void count_uses(const Block& block, std::unordered_map<const Node*, int>& uses,
                std::unordered_set<const Node*>& seen) {
  std::function<void(const Node*)> visit = [&](const Node* n) {
    if (!seen.insert(n).second) return;
    for (int i = 0; i < n->nargs; ++i) {
      ++uses[n->args[i]];
      visit(n->args[i]);
    }
  };
  for (const StmtPtr& s : block) {
    for (Expr e : stmt_operands(*s)) {
      ++uses[e.node()];
      visit(e.node());
    }
    count_uses(s->body, uses, seen);
  }
}

class Planner {
 public:
  // Without sharing (the seed's compiler) nothing is materialized: every use re-computes.
  Planner(ValuePlan& plan, bool sharing) : plan_(plan), sharing_(sharing) {}

  void block(const Block& b, std::unordered_map<const Node*, int>& uses) {
    uses_ = &uses;
    scopes_.emplace_back();
    for (const StmtPtr& s : b) {
      current_ = s.get();
      for (Expr e : stmt_operands(*s)) visit(e.node());
      if (s->kind == StmtKind::let || s->kind == StmtKind::load) ++plan_.ssa_values;
      plan_.ssa_values += static_cast<int64_t>(s->vars.size());
      if (!s->body.empty()) block(s->body, uses);
    }
    scopes_.pop_back();
  }

 private:
  bool available(const Node* n) const {
    for (const auto& scope : scopes_)
      if (scope.count(n)) return true;
    return false;
  }

  void visit(const Node* n) {
    if (n->nargs == 0 || available(n)) return;
    for (int i = 0; i < n->nargs; ++i) visit(n->args[i]);
    ++plan_.ssa_values;
    if (sharing_ && (*uses_)[n] >= 2) {
      plan_.defs_before[current_].push_back(n);
      plan_.materialized.insert(n);
      scopes_.back().insert(n);
    }
  }

  ValuePlan& plan_;
  bool sharing_;
  std::unordered_map<const Node*, int>* uses_ = nullptr;
  std::vector<std::unordered_set<const Node*>> scopes_;
  const Stmt* current_ = nullptr;
};

}  // namespace

ValuePlan plan_values(const Kernel& kernel) {
  ValuePlan plan;
  std::unordered_map<const Node*, int> uses;
  std::unordered_set<const Node*> seen;
  count_uses(kernel.body, uses, seen);
  Planner(plan, kernel.ctx->sharing()).block(kernel.body, uses);
  return plan;
}

}  // namespace wino::ir

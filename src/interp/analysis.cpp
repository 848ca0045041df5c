// The static analysis behind the machine's memoization (see machine.h), run once per launch in
// time linear in the kernel: which nodes are uniform and which vary by thread, and for each node
// its key, the variable whose assignment invalidates it.
//
// Statements are numbered in program order (pre-order); a variable is defined at its statement's
// number and is in scope up to the last number of the block around it (a loop's variable: of the
// loop's body). When every expression is used where all its variables are in scope (what the IR
// verifier checks), the variables in scope are assigned in the order they are defined, so the one
// defined last (the largest number) is the one assigned last. A kernel that breaks this is refused
// before anything runs: its memoized values could go stale.
#include "interp/analysis.h"

#include <algorithm>
#include <climits>

#include "common/error.h"

namespace wino::interp::detail {

using namespace ir;

namespace {

constexpr uint64_t kAlways = ~uint64_t{0};  // the time of a leaf: always current
constexpr int kConstPos = -3, kThreadPos = -2, kGroupPos = -1;

}  // namespace

// The analysis' tables, kept by the thread from launch to launch like the machine's (Workspace).
thread_local Analysis::Tables Analysis::kept_;

Analysis::Analysis(Machine& m) : m_(m), k_(m.k_), t_(std::move(kept_)) {
  const size_t n = k_.ctx->node_count();
  sentinel_ = static_cast<uint32_t>(n);
  m_.slots_.assign(n, Slot{});
  m_.vtime_.assign(n + 1, 1);
  t_.facts.assign(n, Facts{});
  t_.def_pos.assign(n, INT_MAX);
  t_.def_end.assign(n, -1);
}

Analysis::~Analysis() { kept_ = std::move(t_); }

void Analysis::reject(const std::string& what) const {
  throw Error("interpreter: kernel " + k_.name + ": " + what + " (the kernel does not verify)");
}

void Analysis::run() {
  const Node* gid = checked(k_.group_id.node());
  const Node* tid = checked(k_.thread_id.node());
  if (gid->op != Op::var || tid->op != Op::var || gid == tid)
    reject("group and thread ids must be two variables");
  t_.def_pos[gid->id] = kGroupPos;
  t_.def_end[gid->id] = INT_MAX;
  leaf(gid, false);
  bound_var(gid, 0, static_cast<double>(k_.num_groups - 1));
  t_.def_pos[tid->id] = kThreadPos;
  t_.def_end[tid->id] = INT_MAX;
  Slot& t = leaf(tid, true);
  bound_var(tid, 0, m_.threads_ - 1);
  t.lanes = m_.var_arena_.take(static_cast<size_t>(m_.threads_));
  t.cap = static_cast<uint32_t>(m_.threads_);
  for (int l = 0; l < m_.threads_; ++l) t.lanes[l] = l;
  counter_ = 0;
  define_block(k_.body);
  counter_ = 0;
  use_block(k_.body, false);
}

void Analysis::set_slot_bounds(Slot& s, const Bounds& b) {
  if (b.known() && b.fits_i32()) s.lo = static_cast<int32_t>(b.lo), s.hi = static_cast<int32_t>(b.hi);
}

void Analysis::bound_var(const Node* v, double lo, double hi) {
  Bounds& b = t_.facts[v->id].bounds;
  b.lo = lo, b.hi = hi;
  b.may_fail = false;  // reading a variable does not fail
  set_slot_bounds(m_.slots_[v->id], b);
}

const Node* Analysis::checked(const Node* n) const {
  if (!n) reject("an expression is missing");
  if (n->ctx != k_.ctx.get() || n->id >= sentinel_) reject("an expression uses a node of another context");
  return n;
}

Slot& Analysis::leaf(const Node* v, bool varying) {
  Slot& s = m_.slots_[v->id];
  s.time = kAlways;
  s.key = sentinel_;
  s.mask = kRootMask;
  s.depth = 0;
  s.varying = varying;
  s.width = v->type.lanes;
  s.lanes = nullptr;
  s.cap = 0;
  return s;
}

void Analysis::define(Expr var, int pos, int end_of_scope) {
  const Node* v = checked(var.node());
  if (v->op != Op::var) reject("a statement defines something that is not a variable");
  if (t_.def_pos[v->id] != INT_MAX) reject("variable '" + v->name + "' is defined twice");
  t_.def_pos[v->id] = pos;
  t_.def_end[v->id] = end_of_scope;
  leaf(v, false);
}

void Analysis::define_block(const Block& b) {
  std::vector<std::pair<Expr, int>> defs;  // let and load: in scope to the end of the block
  for (const StmtPtr& sp : b) {
    const Stmt& s = *sp;
    const int pos = counter_++;
    switch (s.kind) {
      case StmtKind::let:
      case StmtKind::load: defs.emplace_back(s.var, pos); break;
      case StmtKind::load_matrix:
        for (Expr v : s.vars) defs.emplace_back(v, pos);
        break;
      case StmtKind::loop:
      case StmtKind::role:
        define_block(s.body);
        define(s.var, pos, counter_ - 1);
        break;
      case StmtKind::roles: define_block(s.body); break;
      case StmtKind::if_then:
      case StmtKind::threads: define_block(s.body); break;
      default: break;
    }
  }
  for (const auto& [var, pos] : defs) define(var, pos, counter_ - 1);
}

void Analysis::use_block(const Block& b, bool in_region) {
  for (const StmtPtr& sp : b) {
    const Stmt& s = *sp;
    const int pos = counter_++;
    switch (s.kind) {
      case StmtKind::let:
        use(s.value, pos, in_region);
        bound_var(s.var.node(), t_.facts[s.value->id].bounds.lo, t_.facts[s.value->id].bounds.hi);
        m_.slots_[s.var->id].varying = in_region && varying(s.value);
        break;
      case StmtKind::load:
      case StmtKind::store: access(s, pos, in_region); break;
      case StmtKind::loop:
      case StmtKind::role:
        bound_var(s.var.node(), 0, static_cast<double>(s.extent - 1));
        use_block(s.body, in_region);
        break;
      case StmtKind::roles:
        if (!in_region) reject("roles outside a thread region");
        if (s.body.size() != 2 || s.body[0]->kind != StmtKind::role || s.body[1]->kind != StmtKind::role)
          reject("roles holds two role statements");
        use_block(s.body, in_region);
        break;
      case StmtKind::if_then:
        use(s.cond, pos, in_region);
        use_block(s.body, in_region);
        break;
      case StmtKind::threads: use_block(s.body, true); break;
      case StmtKind::mma:
        if (!in_region) reject("an mma outside a thread region");
        for (Expr e : s.args) use(e, pos, in_region);
        break;
      case StmtKind::mma_async:
        if (!in_region) reject("an mma_async outside a thread region");
        if (s.value) use(s.value, pos, in_region);
        for (const SharedMatrix& m : s.matrices) {
          if (!m.memory || m.memory->space != Space::shared) reject("an mma_async reads work-group memory only");
          use(m.start, pos, in_region);
        }
        break;
      case StmtKind::mma_async_commit:
      case StmtKind::mma_async_wait:
        if (!in_region) reject(std::string("an ") + stmt_kind_name(s.kind) + " outside a thread region");
        break;
      case StmtKind::load_matrix:  // every lane gets values of other lanes' rows
        if (!in_region) reject("a load_matrix outside a thread region");
        if (!s.memory) reject("a load_matrix has no memory");
        use(s.index, pos, in_region);
        for (Expr v : s.vars) m_.slots_[v->id].varying = true;
        break;
      case StmtKind::copy_async:
        if (!in_region) reject("a copy_async outside a thread region");
        if (!s.memory || s.memory->space != Space::shared || !s.source || s.source->space != Space::global)
          reject("a copy_async must copy from a global buffer to work-group memory");
        use(s.index, pos, in_region);
        use(s.source_index, pos, in_region);
        if (s.cond) use(s.cond, pos, in_region);
        break;
      case StmtKind::copy_bulk:
        if (!in_region) reject("a copy_bulk outside a thread region");
        if (!s.memory || s.memory->space != Space::shared || !s.source || s.source->space != Space::global || !s.mbarrier)
          reject("a copy_bulk must copy from a global buffer to work-group memory, on a barrier");
        use(s.index, pos, in_region);
        use(s.source_index, pos, in_region);
        use(s.value, pos, in_region);
        break;
      case StmtKind::mbarrier_init:
      case StmtKind::mbarrier_expect:
      case StmtKind::mbarrier_arrive:
      case StmtKind::mbarrier_wait:
        if (!in_region) reject(std::string("an ") + stmt_kind_name(s.kind) + " outside a thread region");
        if (!s.memory || s.memory->space != Space::shared) reject("a barrier must be in work-group memory");
        use(s.index, pos, in_region);
        if (s.value) use(s.value, pos, in_region);
        break;
      default: break;
    }
  }
}

void Analysis::access(const Stmt& s, int pos, bool in_region) {
  if (!s.memory) reject("a load or store has no memory");
  use(s.index, pos, in_region);
  if (s.cond) use(s.cond, pos, in_region);
  if (s.kind == StmtKind::store) {
    use(s.value, pos, in_region);
    return;
  }
  // A load varies unless every thread reads one element of memory no thread owns a copy of.
  Slot& v = m_.slots_[s.var->id];
  v.varying = in_region && (s.memory->space == Space::per_thread || varying(s.index) ||
                            (s.cond && varying(s.cond)) || s.var.type().is_vector());
  if (!in_region && s.var.type().is_vector()) reject("a vector load at work-group level");
}

void Analysis::use(Expr e, int pos, bool in_region) {
  const Facts& f = facts(checked(e.node()));
  if (f.last_def >= pos || pos > f.scope_end || (f.thread && !in_region))
    reject("a statement uses a variable outside its scope");
  if (m_.slots_[e->id].varying && !in_region)
    reject("a work-group level statement uses a per-thread or vector value");
}

bool Analysis::varying(Expr e) const { return m_.slots_[e->id].varying; }

const Analysis::Facts& Analysis::facts(const Node* n) {
  Facts& f = t_.facts[n->id];
  if (f.done) return f;
  f.done = true;
  if (n->op == Op::var) {
    f.last_def = t_.def_pos[n->id];
    f.scope_end = t_.def_end[n->id];
    f.thread = f.last_def == kThreadPos;
    if (!f.thread) f.memo_def = f.last_def, f.key = n->id;  // the thread id is never reassigned
    else f.key = sentinel_;
    return f;  // bounds: set where the variable is defined
  }
  f.key = sentinel_;
  Slot& s = m_.slots_[n->id];
  if (n->is_const()) {
    leaf(n, false).value = n->op == Op::const_int ? static_cast<double>(n->ival) : n->fval;
    if (n->op == Op::const_int) f.bounds.lo = f.bounds.hi = static_cast<double>(n->ival);
    return f;
  }
  bool vary = false;
  const Bounds* bounds[3] = {};
  for (int i = 0; i < n->nargs; ++i) {
    const Facts& a = facts(checked(n->args[i]));
    bounds[i] = &a.bounds;
    f.last_def = std::max(f.last_def, a.last_def);
    f.scope_end = std::min(f.scope_end, a.scope_end);
    f.thread = f.thread || a.thread;
    if (a.memo_def > f.memo_def) f.memo_def = a.memo_def, f.key = a.key;
    vary = vary || m_.slots_[n->args[i]->id].varying;
  }
  s.width = n->type.lanes;
  vary = vary || n->type.is_vector();  // vectors run in lanes (see machine.h)
  f.bounds = bound(n, bounds);
  if (f.bounds.constant()) {  // one value whatever the variables: a constant
    leaf(n, false).value = f.bounds.lo + 0.0;  // never -0, as in int64 arithmetic
    f.memo_def = kConstPos;
    f.key = sentinel_;
    return f;
  }
  s.varying = vary;
  s.key = f.key;
  set_slot_bounds(s, f.bounds);
  const bool exact_op = n->op == Op::add || n->op == Op::sub || n->op == Op::mul;
  s.in_range = exact_op && !is_f32(n->args[0]->type) && !n->type.is_vector() && f.bounds.fits_i32();
  return f;
}

}  // namespace wino::interp::detail

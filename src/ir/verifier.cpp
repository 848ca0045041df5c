#include "ir/verifier.h"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"

namespace wino::ir {

namespace {

class Verifier {
 public:
  explicit Verifier(const Kernel& k) : k_(k) {
    for (const auto& b : k.buffers) memories_.insert(b.get());
    for (const auto& a : k.arrays) memories_.insert(a.get());
  }

  std::vector<std::string> run() {
    if (k_.num_groups < 1) problem("work-group count must be >= 1");
    if (k_.threads_per_group < 1) problem("threads per work-group must be >= 1");
    if (k_.min_groups_per_multiprocessor < 1) problem("work-groups asked per multiprocessor must be >= 1");
    for (size_t i = 0; i < k_.buffers.size(); ++i)
      if (k_.buffers[i]->param_index != static_cast<int>(i) || k_.buffers[i]->space != Space::global)
        problem("buffer " + k_.buffers[i]->name + " is not a global parameter in position");
    for (const auto& a : k_.arrays) {
      if (a->space == Space::global || a->size < 1)
        problem("array " + a->name + " must be shared or per-thread with size >= 1");
      if (value_type(a->type) != a->type && a->space != Space::shared)  // f16/bf16: buffers and work-group memory
        problem("per-thread array " + a->name + " has storage type " + type_name(a->type) + "; they hold values");
      if (a->type.is_vector()) problem("array " + a->name + " has vector type " + type_name(a->type) + "; memory is scalar");
      if (a->reuses && a->space != Space::shared) problem("array " + a->name + " reuses memory but is not a work-group array");
      if (a->kept && (a->reuses || a->barriers || a->space != Space::shared))
        problem("array " + a->name + " is kept apart from the reusing arrays but is not a plain work-group array");
      if (a->barriers && (a->reuses || a->space != Space::shared || a->type != Type::i32 || a->size % 2))
        problem("array " + a->name + " of barriers is not a work-group array of 2 i32 elements a barrier");
      if (a->align < 16 || (a->align & (a->align - 1)) || (a->align != 16 && a->space != Space::shared))
        problem("array " + a->name + " starts on " + std::to_string(a->align) +
                " bytes: a work-group array's alignment is a power of two of 16 or more, other arrays' 16");
    }
    if (std::count_if(k_.arrays.begin(), k_.arrays.end(), [](const auto& a) { return a->reuses; }) > 1)
      problem("more than one work-group array reuses memory; they would lie over each other");
    for (const auto& b : k_.buffers) {
      if (b->type.is_vector()) problem("buffer " + b->name + " has vector type " + type_name(b->type) + "; memory is scalar");
    }
    defined_.emplace_back();
    defined_.back().insert(k_.group_id.node());
    block(k_.body, false);
    return problems_;
  }

 private:
  void problem(const std::string& what) { problems_.push_back(where_ + what); }
  int nest_ = 0;           // loops and branches around the statement
  bool in_roles_ = false;  // inside a roles statement's bodies
  int producer_threads_ = 0;  // of the kernel's roles statements

  bool is_defined(const Node* v) const {
    for (const auto& scope : defined_)
      if (scope.count(v)) return true;
    return false;
  }

  // `every_thread`: every thread of the work-group computes the expression (a let outside any
  // branch of a thread region), which warp_uniform needs (CUDA's __shfl_sync takes the whole warp).
  void check_expr(Expr e, const char* role, bool every_thread = false) {
    if (!e) {
      problem(std::string("missing ") + role);
      return;
    }
    std::unordered_set<const Node*> seen;
    std::function<void(const Node*, bool)> walk = [&](const Node* n, bool all) {
      if (!seen.insert(n).second) return;
      if (n->ctx != k_.ctx.get()) problem(std::string(role) + " uses a node of another context");
      if (n->op == Op::var && !is_defined(n))
        problem(std::string(role) + " uses variable '" + n->name + "' before it is defined");
      if (n->op == Op::warp_uniform && !all)
        problem(std::string(role) + " takes warp_uniform where not every thread computes it: only a let outside "
                "the branches of a thread region (and outside a select's branches) may");
      for (int i = 0; i < n->nargs; ++i) walk(n->args[i], all && !(n->op == Op::select && i > 0));
    };
    walk(e.node(), every_thread);
  }

  // A vector access touches `lanes` consecutive elements: all of them must be in bounds.
  void check_lanes(const Stmt& s, Type t) {
    if (!valid_lanes(t.lanes)) problem(type_name(t) + " has a lane count other than 1, 2, 4, 8 or 16");
    if (t.is_vector() && s.memory && s.index && s.index->op == Op::const_int && s.index->ival + t.lanes > s.memory->size)
      problem("vector access " + type_name(t) + " at " + std::to_string(s.index->ival) + " runs past the end of " +
              s.memory->name + "[" + std::to_string(s.memory->size) + "]");
  }

  void check_memory(const Stmt& s, bool in_threads) {
    if (!s.memory || !memories_.count(s.memory)) {
      problem("memory is not a buffer or array of this kernel");
      return;
    }
    const Memory& m = *s.memory;
    if (!in_threads) problem("access to " + m.name + " outside a thread region");
    check_expr(s.index, "index");
    if (s.index && s.index.type() != Type::i32) problem("index into " + m.name + " is not i32");
    if (s.index && s.index->op == Op::const_int && (s.index->ival < 0 || s.index->ival >= m.size))
      problem("constant index " + std::to_string(s.index->ival) + " out of bounds of " + m.name +
              "[" + std::to_string(m.size) + "]");
    if (s.cond) {
      check_expr(s.cond, "mask");
      if (s.cond.type() != Type::boolean) problem("mask of an access to " + m.name + " is not boolean");
    }
  }

  void check_mma(const Stmt& s, bool in_threads) {
    if (!in_threads) problem("mma outside a thread region");
    if (k_.threads_per_group % kWarp) problem("mma in a work-group that is not whole warps of 32 threads");
    if (!s.memory || !memories_.count(s.memory) || s.memory->space != Space::per_thread || s.memory->type != Type::f32) {
      problem("mma accumulates into something that is not a per-thread f32 array of this kernel");
      return;
    }
    if (s.slots.size() != 4) problem("mma takes 4 accumulator elements");
    for (int64_t e : s.slots)
      if (e < 0 || e >= s.memory->size) problem("mma accumulator element " + std::to_string(e) + " out of bounds");
    if (s.args.size() != size_t(mma_a_values(s.mma) + mma_b_values(s.mma)))
      problem("mma." + mma_name(s.mma) + " takes " + std::to_string(mma_a_values(s.mma)) + " values of A and " +
              std::to_string(mma_b_values(s.mma)) + " of B per lane");
    for (Expr e : s.args) {
      check_expr(e, "operand");
      if (e && e.type() != Type::f32) problem("mma operand is not f32");
    }
    const Type half = mma_storage_type(s.mma);
    for (int side = 0; side < 2; ++side)
      if (s.operands_rounded[side] && s.mma == MmaKind::tf32x3_m16n8k8)
        problem("mma.tf32x3 splits its operands: none can be marked rounded");
    if (half != Type::f32)
      for (size_t i = 0; i < s.args.size(); ++i) {
        if (!s.operands_rounded[mma_side(s.mma, i)]) continue;
        // f16/bf16 registers are the stored bits: each operand is a value loaded from such memory.
        auto from = loaded_from_.find(s.args[i].node());
        if (from == loaded_from_.end() || from->second->type != half)
          problem("mma." + mma_name(s.mma) + " operand " + std::to_string(i) +
                  " is marked rounded but is not a value loaded from " + type_name(half) + " memory");
      }
  }

  void check_mma_async(const Stmt& s, bool in_threads) {
    if (!in_threads) problem("mma_async outside a thread region");
    if (k_.threads_per_group % kWarpGroup) problem("mma_async in a work-group that is not whole warpgroups of 128 threads");
    if (s.cond) problem("mma_async has no mask");
    if (s.value) {
      check_expr(s.value, "accumulate");
      if (s.value.type() != Type::boolean) problem("mma_async's accumulate is not boolean");
    }
    if (s.mma == MmaKind::tf32x3_m16n8k8) problem("mma_async takes one product a step: tf32, f16 or bf16, not tf32x3");
    if (!mma_async_n_ok(s.extent)) problem("mma_async's n is a multiple of 8 from 8 to 256, not " + std::to_string(s.extent));
    if (!s.memory || !memories_.count(s.memory) || s.memory->space != Space::per_thread || s.memory->type != Type::f32) {
      problem("mma_async accumulates into something that is not a per-thread f32 array of this kernel");
      return;
    }
    if (static_cast<int64_t>(s.slots.size()) * 2 != s.extent) problem("mma_async takes n / 2 accumulator elements");
    for (int64_t e : s.slots)
      if (e < 0 || e >= s.memory->size) problem("mma_async accumulator element " + std::to_string(e) + " out of bounds");
    const Type stored = mma_storage_type(s.mma);
    const int64_t per = 16 / type_bytes(stored);
    for (int side = 0; side < 2; ++side) {
      const SharedMatrix& m = s.matrices[side];
      const std::string what = std::string("mma_async's ") + (side ? "B" : "A");
      if (!m.memory || !memories_.count(m.memory) || m.memory->space != Space::shared || m.memory->type != stored) {
        problem(what + " is not a " + type_name(stored) + " work-group array of this kernel");
        continue;
      }
      check_expr(m.start, "matrix start");
      if (m.start && m.start.type() != Type::i32) problem(what + "'s start is not i32");
      if (m.swizzle != 0 && m.swizzle != 32 && m.swizzle != 64 && m.swizzle != 128)
        problem(what + "'s swizzle is 0, 32, 64 or 128 bytes, not " + std::to_string(m.swizzle));
      if (m.swizzle && m.memory->align < 1024) problem(what + " is swizzled: its array must start on 1024 bytes");
      if (m.rows_stride <= 0 || m.rows_stride % per || (m.swizzle ? m.depth_stride != 0 : m.depth_stride <= 0 || m.depth_stride % per))
        problem(what + "'s strides must be positive multiples of 16 bytes (swizzled: the rows' only)");
    }
  }

  void check_load_matrix(const Stmt& s, bool in_threads) {
    check_memory(s, in_threads);
    if (k_.threads_per_group % kWarp) problem("load_matrix in a work-group that is not whole warps of 32 threads");
    if (s.memory && (s.memory->space != Space::shared || type_bytes(s.memory->type) != 2))
      problem("load_matrix reads 16-bit work-group memory only, not " + s.memory->name);
    if (s.cond) problem("load_matrix takes no mask (every lane of the warp reads)");
    if (s.extent != 1 && s.extent != 2 && s.extent != 4)
      problem("load_matrix loads 1, 2 or 4 matrices, not " + std::to_string(s.extent));
    if (s.vars.size() != size_t(2 * s.extent)) problem("load_matrix defines two values per matrix");
    for (Expr v : s.vars) {
      if (v && s.memory && v.type() != value_type(s.memory->type)) problem("load_matrix type mismatch");
      if (v && s.memory) loaded_from_[v.node()] = s.memory;
      define(v);
    }
  }

  void check_copy(const Stmt& s, bool in_threads) {
    check_memory(s, in_threads);
    if (s.memory && s.memory->space != Space::shared) problem("copy_async writes work-group memory only");
    if (!s.source || !memories_.count(s.source) || s.source->space != Space::global) {
      problem("copy_async reads something that is not a global buffer of this kernel");
      return;
    }
    if (s.memory && s.memory->type != s.source->type) problem("copy_async between memories of different types");
    if (s.extent != 1 && s.extent != 2 && s.extent != 4 && s.extent != 8)
      problem("copy_async moves 1, 2, 4 or 8 elements, not " + std::to_string(s.extent));
    else if (s.memory && (s.extent * type_bytes(s.memory->type) < 4 || s.extent * type_bytes(s.memory->type) > 16))
      problem("copy_async moves 4, 8 or 16 bytes, not " + std::to_string(s.extent * type_bytes(s.memory->type)));
    check_expr(s.source_index, "source index");
    if (s.source_index && s.source_index.type() != Type::i32) problem("source index is not i32");
  }

  // A barrier: element `index` (even) of a barrier array of this kernel (KernelBuilder::barrier_array).
  void check_mbarrier(const Memory* m, Expr index, const char* what) {
    if (!m || !memories_.count(m) || !m->barriers || m->space != Space::shared || m->type != Type::i32 || m->size % 2) {
      problem(std::string(what) + "'s barrier is not in a barrier array of this kernel (KernelBuilder::barrier_array)");
      return;
    }
    check_expr(index, "barrier index");
    if (index && index.type() != Type::i32) problem(std::string(what) + "'s barrier index is not i32");
    if (index && index->op == Op::const_int && (index->ival < 0 || index->ival % 2 || index->ival >= m->size))
      problem(std::string(what) + "'s barrier index " + std::to_string(index->ival) + " is not an even element of " + m->name);
  }

  void check_bulk(const Stmt& s, bool in_threads) {
    check_memory(s, in_threads);
    if (s.cond) problem("copy_bulk has no mask");
    if (s.memory && s.memory->space != Space::shared) problem("copy_bulk writes work-group memory only");
    if (!s.source || !memories_.count(s.source) || s.source->space != Space::global) {
      problem("copy_bulk reads something that is not a global buffer of this kernel");
      return;
    }
    if (s.memory && s.memory->type != s.source->type) problem("copy_bulk between memories of different types");
    if (s.memory && (s.extent < 1 || s.extent * type_bytes(s.memory->type) % 16))
      problem("copy_bulk moves a positive multiple of 16 bytes, not " + std::to_string(s.extent) + " elements");
    check_expr(s.source_index, "source index");
    if (s.source_index && s.source_index.type() != Type::i32) problem("source index is not i32");
    check_mbarrier(s.mbarrier, s.value, "copy_bulk");
  }

  void check_mbarrier_stmt(const Stmt& s, bool in_threads) {
    const char* what = stmt_kind_name(s.kind);
    if (!in_threads) problem(std::string(what) + " outside a thread region");
    if (s.cond) problem(std::string(what) + " has no mask");
    check_mbarrier(s.memory, s.index, what);
    if (s.kind == StmtKind::mbarrier_init && (s.extent < 1 || s.extent >= (1 << 20)))
      problem("mbarrier_init's arrivals must be 1 to 2^20 - 1, not " + std::to_string(s.extent));
    if (s.kind == StmtKind::mbarrier_expect && (s.extent < 0 || s.extent >= (1 << 20)))
      problem("mbarrier_expect's bytes must be 0 to 2^20 - 1, not " + std::to_string(s.extent));
    if (s.kind == StmtKind::mbarrier_wait) {
      check_expr(s.value, "parity");
      if (s.value && s.value.type() != Type::i32) problem("mbarrier_wait's parity is not i32");
    }
  }

  // Warps with roles: directly in a thread region (every thread reaches it), producers whole warps
  // and fewer than the work-group, two role loops of the same steps. No barrier can stand inside
  // (a barrier stands between thread regions), so the roles meet only at mbarriers.
  void check_roles(const Stmt& s, bool in_threads) {
    if (!in_threads) problem("roles belongs in a thread region");
    if (nest_ > 0) problem("roles stands directly in its thread region, not inside a loop or a branch");
    if (in_roles_) problem("roles cannot nest");
    if (producer_threads_ && producer_threads_ != s.producer_threads)
      problem("every roles statement of a kernel has the same producers (" + std::to_string(producer_threads_) +
              " threads), not " + std::to_string(s.producer_threads));
    producer_threads_ = s.producer_threads;
    const int threads = k_.threads_per_group;
    if (s.producer_threads < 32 || s.producer_threads % 32 || s.producer_threads >= threads)
      problem("the producers must be whole warps and fewer than the work-group's " + std::to_string(threads) +
              " threads, not " + std::to_string(s.producer_threads));
    if (threads % 32) problem("the consumers must be whole warps: the work-group has " + std::to_string(threads) + " threads");
    if (s.stages < 1) problem("roles' stages must be >= 1, not " + std::to_string(s.stages));
    check_role_registers(s);
    if (s.extent < 1) problem("roles' steps must be >= 1, not " + std::to_string(s.extent));
    const bool two = s.body.size() == 2 && s.body[0]->kind == StmtKind::role && s.body[1]->kind == StmtKind::role;
    if (!two) problem("roles holds two role statements, the producers' then the consumers'");
    in_roles_ = true;
    ++nest_;
    for (const StmtPtr& r : s.body) {
      if (r->kind != StmtKind::role) continue;
      if (r->extent != s.extent) problem("a role runs the roles' " + std::to_string(s.extent) + " steps, not " + std::to_string(r->extent));
      defined_.emplace_back();
      define(r->var);
      block(r->body, true);
      defined_.pop_back();
      where_ = "roles: ";
    }
    --nest_;
    in_roles_ = false;
  }

  // setmaxnreg: both roles or neither, whole warpgroups, multiples of 8 in [24, 256], the producers
  // giving some up and the consumers taking more, all of them within what the work-group was
  // given at launch (a consumer's setmaxnreg.inc waits for registers the producers' .dec gave
  // back: asking for more than that, it waits forever; H100, session 65).
  void check_role_registers(const Stmt& s) {
    const auto [producers, consumers] = s.role_registers;
    if (producers == 0 && consumers == 0) return;
    const int threads = k_.threads_per_group, p = s.producer_threads;
    for (int r : {producers, consumers})
      if (r < 24 || r > 256 || r % 8)
        problem("a role's registers must be a multiple of 8 in [24, 256], not " + std::to_string(r));
    const int launch = launch_registers(k_);  // (setmaxnreg.dec lowers the count, .inc raises it)
    if (producers > launch || consumers < launch)
      problem("the producers keep at most the " + std::to_string(launch) + " registers a thread has at launch and " +
              "the consumers at least as many, not " + std::to_string(producers) + " and " + std::to_string(consumers));
    if (p % 128 || threads % 128) problem("roles that set their registers are whole warpgroups (128 threads)");
    const int64_t given = int64_t{threads} * launch;
    if (int64_t{p} * producers + int64_t{threads - p} * consumers > given)
      problem("the roles' registers (" + std::to_string(p) + " x " + std::to_string(producers) + " + " +
              std::to_string(threads - p) + " x " + std::to_string(consumers) + ") are more than the " +
              std::to_string(given) + " the work-group has at launch (" + std::to_string(threads) + " x " +
              std::to_string(launch) + ")");
  }

  void block(const Block& b, bool in_threads) {
    defined_.emplace_back();
    for (const StmtPtr& sp : b) {
      const Stmt& s = *sp;
      where_ = std::string(stmt_kind_name(s.kind)) + ": ";
      switch (s.kind) {
        case StmtKind::let:
          check_expr(s.value, "value", branches_ == 0);
          if (s.value && s.var && s.value.type() != s.var.type()) problem("type mismatch");
          define(s.var);
          break;
        case StmtKind::load:
          check_memory(s, in_threads);
          if (s.memory && s.var && s.var.type().element() != value_type(s.memory->type)) problem("load type mismatch");
          if (s.var) check_lanes(s, s.var.type());
          if (s.var && s.memory && !s.var.type().is_vector()) loaded_from_[s.var.node()] = s.memory;
          if (s.aligned && s.var && !s.var.type().is_vector()) problem("an aligned load of a scalar");
          define(s.var);
          break;
        case StmtKind::store:
          check_memory(s, in_threads);
          check_expr(s.value, "value");
          if (s.memory && s.memory->read_only) problem("store to read-only buffer " + s.memory->name);
          if (s.memory && s.value && s.value.type().element() != value_type(s.memory->type))
            problem("stored value type differs from " + s.memory->name);
          if (s.value) check_lanes(s, s.value.type());
          if (s.aligned && s.value && !s.value.type().is_vector()) problem("an aligned store of a scalar");
          if (s.memory && s.accumulate && value_type(s.memory->type) != s.memory->type)
            problem("accumulating store into " + std::string(type_name(s.memory->type)) + " memory " +
                    s.memory->name);
          break;
        case StmtKind::loop:
          if (s.extent < 1) problem("loop extent must be >= 1");
          defined_.emplace_back();
          define(s.var);
          ++nest_;
          block(s.body, in_threads);
          --nest_;
          defined_.pop_back();
          break;
        case StmtKind::if_then:
          check_expr(s.cond, "condition");
          if (s.cond && s.cond.type() != Type::boolean) problem("condition is not boolean");
          branches_ += in_threads;  // (outside thread regions every thread takes the same way)
          ++nest_;
          block(s.body, in_threads);
          --nest_;
          branches_ -= in_threads;
          break;
        case StmtKind::roles: check_roles(s, in_threads); break;
        case StmtKind::role: problem("a role stands only in a roles statement, as one of its two"); break;
        case StmtKind::threads:
          if (in_threads) problem("thread regions cannot nest");
          defined_.emplace_back();
          defined_.back().insert(k_.thread_id.node());
          {
            const int outside = nest_;  // (work-group loops around the region do not count)
            nest_ = 0;
            block(s.body, true);
            nest_ = outside;
          }
          defined_.pop_back();
          break;
        case StmtKind::barrier:
          if (in_threads) problem("barrier inside a thread region (put it between regions)");
          break;
        case StmtKind::comment:
          break;
        case StmtKind::mma: check_mma(s, in_threads); break;
        case StmtKind::copy_async: check_copy(s, in_threads); break;
        case StmtKind::copy_bulk: check_bulk(s, in_threads); break;
        case StmtKind::mbarrier_init:
        case StmtKind::mbarrier_expect:
        case StmtKind::mbarrier_arrive:
        case StmtKind::mbarrier_wait: check_mbarrier_stmt(s, in_threads); break;
        case StmtKind::load_matrix: check_load_matrix(s, in_threads); break;
        case StmtKind::copy_commit:
        case StmtKind::copy_wait:
        case StmtKind::mma_async_commit:
        case StmtKind::mma_async_wait:
          if (!in_threads) problem(std::string(stmt_kind_name(s.kind)) + " belongs in a thread region");
          if (s.extent < 0) problem(std::string(stmt_kind_name(s.kind)) + "'s groups left must be >= 0");
          break;
        case StmtKind::mma_async: check_mma_async(s, in_threads); break;
      }
    }
    defined_.pop_back();
  }

  void define(Expr v) {
    if (!v || v->op != Op::var) {
      problem("defines something that is not a variable");
      return;
    }
    if (!all_defined_.insert(v.node()).second) problem("variable '" + v->name + "' defined twice");
    defined_.back().insert(v.node());
  }

  const Kernel& k_;
  std::unordered_set<const Memory*> memories_;
  std::unordered_map<const Node*, const Memory*> loaded_from_;  // scalar load variables: their memory
  std::vector<std::unordered_set<const Node*>> defined_;
  std::unordered_set<const Node*> all_defined_;
  std::vector<std::string> problems_;
  std::string where_;
  int branches_ = 0;  // if_then bodies of a thread region around the statement
};

}  // namespace

std::vector<std::string> verify(const Kernel& kernel) { return Verifier(kernel).run(); }

void verify_or_throw(const Kernel& kernel) {
  std::vector<std::string> problems = verify(kernel);
  if (problems.empty()) return;
  std::string msg = "IR verifier rejected kernel " + kernel.name + ":";
  for (const std::string& p : problems) msg += "\n  " + p;
  throw Error(msg);
}

}  // namespace wino::ir

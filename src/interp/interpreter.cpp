// The statements of the machine (see machine.h): work-group level statements run once, a thread
// region runs its statements one at a time on all active threads in lockstep. For a kernel with
// no race this is what running the threads one after the other computes, and the race detector
// (per element: the phase and thread of the last write and of the reads) flags a pair of threads
// touching one element with no barrier between whichever order they run in. When several threads
// would fail, the error is the first one met in this order: the first failing thread of the
// first statement (and step of it: index, bounds, value, access) that fails.
#include "interp/interpreter.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "interp/analysis.h"
#include "interp/machine.h"

namespace wino::interp {

namespace detail {

using namespace ir;

namespace {

constexpr size_t kFlushChunks = 64;  // 16 MiB of memoized lanes

}  // namespace

void Machine::run(int64_t max_groups) {
  Analysis(*this).run();
  Slot& gid = slots_[k_.group_id->id];
  const int64_t groups = max_groups < 0 ? k_.num_groups : std::min(k_.num_groups, max_groups);
  for (int64_t g = 0; g < groups; ++g) {
    group_ = g;
    for (Cells& c : cells_) std::fill(c.written.begin(), c.written.end(), 0);
    group_phase_ = ++phase_;
    gid.value = static_cast<double>(g);
    assign(k_.group_id.node());
    start_copies();
    block(k_.body);
    finish_copies();
    finish_async();
  }
}

void Machine::block(const Block& b) {
  for (const StmtPtr& s : b) {
    if (node_arena_.chunks() > kFlushChunks) flush();  // no lanes are in use between statements
    stmt(*s);
  }
}

void Machine::stmt(const Stmt& s) {
  switch (s.kind) {
    case StmtKind::let: return let(s);
    case StmtKind::load: return load(s);
    case StmtKind::store: return in_region_ ? store(s) : store_uniform(s);
    case StmtKind::loop: {
      Slot& var = slots_[s.var->id];
      for (int64_t i = 0; i < s.extent; ++i) {
        var.value = static_cast<double>(i);
        assign(s.var.node());
        block(s.body);
      }
      return;
    }
    case StmtKind::if_then: return if_then(s);
    case StmtKind::threads: return threads(s);
    case StmtKind::barrier:
      if (in_region_) fail("a barrier inside a thread region");
      ++phase_;
      return;
    case StmtKind::comment: return;
    case StmtKind::mma: return mma(s);
    case StmtKind::copy_async: return copy_async(s);
    case StmtKind::copy_commit: return copy_commit();
    case StmtKind::copy_wait: return copy_wait(s);
    case StmtKind::copy_bulk: return copy_bulk(s);
    case StmtKind::mbarrier_init: return mbarrier_init(s);
    case StmtKind::mbarrier_expect: return mbarrier_arrive(s);
    case StmtKind::mbarrier_wait: return mbarrier_wait(s);
    case StmtKind::load_matrix: return load_matrix(s);
    case StmtKind::mma_async: return mma_async(s);
    case StmtKind::mma_async_commit: return mma_async_commit();
    case StmtKind::mma_async_wait: return mma_async_wait(s);
    case StmtKind::mbarrier_arrive: return mbarrier_arrive(s);
    case StmtKind::roles: return roles(s);
    case StmtKind::role: fail("a role outside a roles statement");
  }
}

void Machine::let(const Stmt& s) {
  Slot& var = slots_[s.var->id];
  if (var.varying) {
    const double* v = veval(s.value.node());
    double* out = var_lanes(var);
    for (int i = 0; i < var.width * threads_; i += threads_)  // each element of a vector
      each(top(), [&](int l) { out[i + l] = v[i + l]; });
  } else {
    var.value = ueval(s.value.node());
  }
  assign(s.var.node());
}

void Machine::if_then(const Stmt& s) {
  if (!in_region_) {
    if (ueval(s.cond.node()) != 0) block(s.body);
    return;
  }
  const int how = narrow(s.cond.node());
  if (how == kNone) return;
  enter(how);
  block(s.body);
  leave();
}

void Machine::threads(const Stmt& s) {
  if (in_region_) fail("a thread region inside a thread region");
  if (threads_ < 1) return;
  Mask& root = masks_[0];
  if (root.id != kRootMask) {
    root.id = kRootMask;
    root.set_dense(0, threads_);
  }
  root.same = 0;
  depth_ = 0;
  in_region_ = true;
  block(s.body);
  in_region_ = false;
}

void Machine::load(const Stmt& s) {
  Slot& var = slots_[s.var->id];
  if (!var.varying) return load_uniform(s, var);
  double* out = var_lanes(var);
  const int how = s.cond ? narrow(s.cond.node()) : kAll;
  if (how != kAll)  // masked off: 0
    for (int i = 0; i < var.width; ++i) each(top(), [&](int l) { out[i * threads_ + l] = 0; });
  if (how != kNone) {
    enter(how);
    Cells& c = cell_of(s.memory);
    if (s.aligned) check_aligned(c, s.index.node(), var.width, "load of", "from");
    for (int i = 0; i < var.width; ++i) {  // a vector: its elements one after the other
      const int64_t base = element_lanes(c, s, "load from", i);
      if (counts_ && (i == 0 || !s.aligned)) count_shared(s, c, s.aligned ? var.width : 1);
      read_lanes(c, base, out + i * threads_);
    }
    leave();
  }
  assign(s.var.node());
}

void Machine::load_uniform(const Stmt& s, Slot& var) {
  float v = 0;
  if (!s.cond || ueval(s.cond.node()) != 0) {
    Cells& c = cell_of(s.memory);
    const double index = ueval(s.index.node());
    const int64_t e = element(c, index, "load from", current_lane());  // a scalar
    if (!in_region_ || c.mem->space == Space::global) {
      v = read(c, e, current_lane());
    } else {  // every thread reads the element (and is recorded as a reader)
      each(top(), [&](int l) { v = read(c, e, l); });
    }
  }
  var.value = v;
  assign(s.var.node());
}

void Machine::store(const Stmt& s) {
  const int how = s.cond ? narrow(s.cond.node()) : kAll;
  if (how == kNone) return;
  enter(how);
  Cells& c = cell_of(s.memory);
  const Node* value = s.value.node();
  const int width = slots_[value->id].width;
  if (s.aligned) check_aligned(c, s.index.node(), width, "store of", "to");
  int64_t base = element_lanes(c, s, "store to", 0);
  const double* v = slots_[value->id].varying ? veval(value) : spread(ueval(value), scratch_.data());
  for (int i = 0; i < width; ++i) {  // a vector: its elements one after the other
    if (i > 0) base = element_lanes(c, s, "store to", i);
    if (counts_ && (i == 0 || !s.aligned)) count_shared(s, c, s.aligned ? width : 1);
    write_lanes(c, base, v + i * threads_, s.accumulate);
  }
  leave();
}

void Machine::check_aligned(const Cells& c, const Node* index, int width, const char* what, const char* to) {
  auto check = [&](double i, int lane) {
    if (std::fmod(i, width) != 0)
      fail_at(lane, std::string("an aligned ") + what + " " + std::to_string(width) + " elements " + to + " '" +
                        c.mem->name + "' at element " +
                        std::to_string(static_cast<int64_t>(i)) + ", not a multiple of " + std::to_string(width) +
                        " (misaligned)");
  };
  if (!slots_[index->id].varying) return check(ueval(index), current_lane());
  const double* v = veval(index);
  each(top(), [&](int l) { check(v[l], l); });
}

void Machine::store_uniform(const Stmt& s) {
  if (s.cond && ueval(s.cond.node()) == 0) return;
  Cells& c = cell_of(s.memory);
  const int64_t e = element(c, ueval(s.index.node()), "store to", -1);
  const float v = static_cast<float>(ueval(s.value.node()));
  write(c, e, s.accumulate ? read(c, e, -1) + v : v, -1);
}

const Mask& Machine::require_whole_warps(const char* what, int unit) {
  if (!in_region_) fail(std::string(what) + " outside a thread region");
  const Mask& m = top();
  // Whole warps (warpgroups) run it, the others may not: a role's, or those a branch on the thread
  // id keeps (a kernel's regions outside its roles: KernelBuilder::set_region_threads).
  if (threads_ % kWarp || !m.dense || m.lo % unit != 0 || m.hi % unit != 0)
    fail(std::string(what) + " with some threads inactive (every thread of a " + (unit == kWarp ? "warp" : "warpgroup") +
         " must run it together)");
  return m;
}

// Warp by warp: gather the lanes' fragments into A, B and C (ir/mma.h), D = C + A x B with the
// products of the rounded operands (mma_product) summed exactly and rounded to float once.
void Machine::mma(const Stmt& s) {
  const Mask& m = require_whole_warps("an mma");
  const MmaKind kind = s.mma;
  const int depth = mma_depth(kind), na = mma_a_values(kind), nb = mma_b_values(kind);
  std::vector<const double*> args;
  std::vector<std::vector<double>> uniform;  // operands every lane shares, spread over the lanes
  for (Expr e : s.args) {
    if (slots_[e->id].varying) {
      args.push_back(veval(e.node()));
    } else {
      uniform.emplace_back(threads_, ueval(e.node()));
      args.push_back(uniform.back().data());
    }
  }
  for (size_t i = 0; i < args.size(); ++i)
    if (s.operands_rounded[mma_side(kind, i)])
      each(m, [&](int l) {
        const float v = static_cast<float>(args[i][l]);
        if (mma_round_operand(kind, v) != v && !std::isnan(v))
          fail_at(l, "an mma with operands rounded got " + std::to_string(v) + ", not a " + mma_operand_name(kind) +
                         " value, as operand " + std::to_string(i) + " (store it rounded, or let the mma convert it)");
      });
  Cells& c = cell_of(s.memory);
  std::vector<double> a(kMmaRows * depth), b(depth * kMmaCols);
  for (int w = m.lo; w < m.hi; w += kWarp) {
    double cm[kMmaRows][kMmaCols];
    for (int l = 0; l < kWarp; ++l) {
      for (int i = 0; i < na; ++i) {
        const MmaPos p = mma_a_pos(kind, l, i);
        a[p.row * depth + p.col] = args[i][w + l];
      }
      for (int i = 0; i < nb; ++i) {
        const MmaPos p = mma_b_pos(kind, l, i);
        b[p.row * kMmaCols + p.col] = args[na + i][w + l];
      }
      for (int i = 0; i < 4; ++i) {
        const MmaPos p = mma_c_pos(l, i);
        cm[p.row][p.col] = read(c, s.slots[i] * threads_ + w + l, w + l);
      }
    }
    for (int l = 0; l < kWarp; ++l)
      for (int i = 0; i < 4; ++i) {
        const MmaPos p = mma_c_pos(l, i);
        double sum = cm[p.row][p.col];
        for (int k = 0; k < depth; ++k)
          sum += mma_product(kind, static_cast<float>(a[p.row * depth + k]), static_cast<float>(b[k * kMmaCols + p.col]));
        write(c, s.slots[i] * threads_ + w + l, static_cast<float>(sum), w + l);
      }
  }
}

// Warp by warp: lanes 8 j .. 8 j + 7 give the rows of matrix j (16-byte aligned runs of 8), and
// lane 4 g + t gets row g's columns 2 t and 2 t + 1 of each matrix (transposed: column g's rows).
void Machine::load_matrix(const Stmt& s) {
  const Mask& m = require_whole_warps("a load_matrix");
  Cells& c = cell_of(s.memory);
  const Node* index = s.index.node();
  std::vector<double> rows(static_cast<size_t>(threads_));
  if (slots_[index->id].varying) std::copy(veval(index) + m.lo, veval(index) + m.hi, rows.begin() + m.lo);
  else std::fill(rows.begin(), rows.end(), ueval(index));
  for (int l = m.lo; l < m.hi; ++l)
    if (l % kWarp < 8 * s.extent && std::fmod(rows[l], 8) != 0)
      fail_at(l, "a load_matrix row of '" + c.mem->name + "' at element " + std::to_string(static_cast<int64_t>(rows[l])) +
                     ", not a multiple of 8 (each row is 16 aligned bytes)");
  if (counts_) {  // each lane 8 j + i gives the start of row i of matrix j: 16 bytes
    each(top(), [&](int l) { elements_[l] = l % kWarp < 8 * s.extent ? static_cast<int64_t>(rows[l]) : -1; });
    count_shared(s, c, 16 / type_bytes(c.mem->type));
  }
  std::vector<double*> out;
  for (Expr v : s.vars) out.push_back(var_lanes(slots_[v->id]));
  for (int w = m.lo; w < m.hi; w += kWarp)
    for (int l = 0; l < kWarp; ++l)
      for (int j = 0; j < s.extent; ++j)
        for (int h = 0; h < 2; ++h) {
          const int g = l / 4, t = l % 4;
          const int row = s.transposed ? 2 * t + h : g, col = s.transposed ? g : 2 * t + h;
          const int from = w + 8 * j + row;  // the lane whose address starts the row
          out[2 * j + h][w + l] = read(c, element(c, rows[from] + col, "load_matrix from", from), w + l);
        }
  for (Expr v : s.vars) assign(v.node());
}

}  // namespace detail

void interpret(const ir::Kernel& kernel, const std::vector<void*>& buffers, const InterpretOptions& options) {
  detail::Machine machine(kernel, buffers);
  machine.count_shared_accesses(options.shared_accesses);
  machine.run(options.max_groups);
}

}  // namespace wino::interp

#include "planner/kernel_stats.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <set>
#include <unordered_set>
#include <vector>

#include "common/shared_banks.h"
#include "ir/mma.h"
#include "ir/values.h"
#include "planner/warp_values.h"

namespace wino::planner {

using namespace ir;

namespace {

// Registers a value takes: one per lane (32-bit lanes); predicates are not counted.
int registers(Type t) { return t == Type::boolean ? 0 : t.lanes; }
// Float operations that are arithmetic (select, broadcast, extract, interleave, slice move values only).
bool is_flop(const Node* n) {
  return n->op != Op::select && n->op != Op::broadcast && n->op != Op::extract && n->op != Op::interleave &&
         n->op != Op::slice && n->op != Op::round_tf32;  // round_tf32: integer bit operations
}

// A live interval [def, last] in statement positions, and its width in registers.
struct Interval {
  int64_t def = 0, last = 0;
  int width = 1;
};

class Analyzer {
 public:
  explicit Analyzer(const Kernel& k) : k_(k), plan_(plan_values(k)) {}

  KernelStats run() {
    stats_.ssa_values = plan_.ssa_values;
    scopes_.emplace_back();
    define(k_.group_id.node(), 0);
    define(k_.thread_id.node(), 0);
    block(k_.body, 1);
    scopes_.pop_back();
    close_arrays();
    if (stats_.mma_async_shared_bytes > 0) stats_.peak_mma_tf32_flops = warp_mma_tf32_flops_;
    stats_.max_live = max_live();
    int pointers = 0;
    for (const auto& b : k_.buffers) pointers += b->size > 0 ? 2 : 0;  // 64-bit addresses
    stats_.pred_regs = stats_.max_live + pointers + 2;  // + thread/group ids
    for (size_t r = 0; r < role_spans_.size(); ++r) {  // (several roles statements: the most)
      int& regs = stats_.role_pred_regs[r % 2];
      regs = std::max(regs, max_live(role_spans_[r].first, role_spans_[r].second) + pointers + 2);
    }
    return stats_;
  }

 private:
  // The value a node currently names: the innermost visible definition.
  int value_of(const Node* n) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (auto f = it->find(n); f != it->end()) return f->second;
    return -1;
  }

  void define(const Node* n, int width) {
    scopes_.back()[n] = static_cast<int>(intervals_.size());
    intervals_.push_back({pos_, pos_, width});
  }

  void use_value(int v) {
    if (v < 0) return;
    // A value loaded from a per-thread array is that array's register: keep the array alive.
    if (auto a = alias_.find(v); a != alias_.end()) {
      array_access(a->second);
      return;
    }
    Interval& iv = intervals_[v];
    int64_t last = pos_;
    // A value defined outside a loop and used inside stays live for the whole loop.
    for (const auto& [start, end] : open_loops_)
      if (iv.def < start) {
        last = std::max(last, end);
        break;  // open_loops_ is outermost first
      }
    iv.last = std::max(iv.last, last);
  }

  // Uses the operands of an expression: named values directly, inline nodes through their args.
  void use(const Node* n, std::unordered_set<const Node*>& counted, int64_t mult) {
    if (n->op == Op::const_int || n->op == Op::const_float) return;
    int v = value_of(n);
    if (v >= 0) {
      use_value(v);
      return;
    }
    if (n->op == Op::var) return;
    if (n->type.scalar == Scalar::f32 && is_flop(n) && counted.insert(n).second) add_flops(mult * n->type.lanes, n->type);
    for (int i = 0; i < n->nargs; ++i) use(n->args[i], counted, mult);
  }

  void add_flops(int64_t n, Type t) {
    stats_.flops += n;
    if (t.is_vector()) stats_.vector_flops += n;
  }

  void array_access(const Memory* m, Expr index = {}) {
    if (m->space != Space::per_thread) return;
    if (index && index->op != Op::const_int) indexed_.insert(m);
    auto [it, fresh] = arrays_.try_emplace(m, Interval{pos_, pos_, static_cast<int>(m->size)});
    int64_t last = pos_;
    for (const auto& [start, end] : open_loops_)
      if (it->second.def < start) {
        last = std::max(last, end);
        break;
      }
    it->second.last = std::max(it->second.last, last);
    (void)fresh;
  }

  using Binding = WarpValues::Binding;

  // A loop (or the thread region) whose variable branches may narrow.
  struct Frame {
    const Node* var;
    int64_t extent;
    std::vector<const Node*> conds;  // the branches open on it
    int64_t first = 0;  // the variable takes [first, extent): the thread frame in a role, its threads
  };
  // Which of the 32 values of the frame's variable from `first` take its open branches (and
  // `extra`), each evaluated alone: nothing where one depends on something else (`strict`), else
  // such a branch is taken.
  std::optional<WarpValues::Lanes> taking(const Frame& f, int64_t first, const Node* extra, bool strict) const {
    WarpValues values(let_values_, {}, f.var, first, f.first, f.extent);
    WarpValues::Lanes all;
    for (int l = 0; l < kWarp; ++l) all[l] = first + l < f.extent;
    for (const Node* c : f.conds)
      if (!take(values, c, all) && strict) return std::nullopt;
    if (extra && !take(values, extra, all) && strict) return std::nullopt;
    return all;
  }
  // The values of the frame's variable its open branches (and `extra`) all take; nothing where one
  // depends on something else.
  std::optional<int64_t> iterations(const Frame& f, const Node* extra) const {
    int64_t n = 0;
    for (int64_t first = f.first; first < f.extent; first += kWarp) {
      const std::optional<WarpValues::Lanes> all = taking(f, first, extra, true);
      if (!all) return std::nullopt;
      n += std::count(all->begin(), all->end(), 1);
    }
    return n;
  }
  // Clears the lanes of `all` where `c` is false; false where it cannot be evaluated.
  static bool take(WarpValues& values, const Node* c, WarpValues::Lanes& all) {
    const std::optional<WarpValues::Lanes> x = values.of(c);
    if (!x) return false;
    for (int l = 0; l < kWarp; ++l) all[l] = all[l] && (*x)[l] != 0;
    return true;
  }
  // The executions of an if_then's body among `mult`, those of the statement: where its condition
  // depends on an enclosing loop's variable alone (the innermost such), the share of the
  // iterations that take it and every branch on that variable it lies in (a ring's copies ahead of the last chunk are never
  // issued: counting them charged a ring of S stages S - 1 chunks too many, which ranked chunks of
  // 32 channels below 16, session 52); a condition `==` on the thread alone (the thread that issues
  // a bulk copy), the share of the threads; else all of them. `mult` counts the iterations the
  // frame's open branches take (`before`): the new branch keeps `after` of them. Returns the frame
  // the body narrows (pushing the condition on it; frames_ is a deque, so the pointer stays good
  // while the body opens loops), or null.
  Frame* narrow(const Stmt& s, int64_t& mult) {
    if (!s.cond) return nullptr;
    std::vector<Frame*> frames;  // innermost first, then the threads
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) frames.push_back(&*it);
    if (in_threads_ && s.cond->op == Op::eq) frames.push_back(&thread_frame_);
    for (Frame* f : frames) {
      const std::optional<int64_t> before = iterations(*f, nullptr), after = iterations(*f, s.cond.node());
      if (!before || !after) continue;
      mult = *before ? mult / *before * *after : 0;
      f->conds.push_back(s.cond.node());
      return f;
    }
    return nullptr;
  }

  // The work-group memory bytes `s` moves for `mult` executions by threads, `bytes` each: its
  // warps' passes through the banks (common/shared_banks.h) at 128 bytes a pass, where lanes that
  // read one word share it. Counted by bytes, the FMA GEMMs' loads of one row by a warp's lanes
  // put the fused ring's F(4,3) work-group memory at twice what the interpreter counts
  // (17,664 passes a work-group on vgg16.1_2.b8) and the ring at 1.7x its H100 time, session 68.
  // Each warp of the first work-group is evaluated with the enclosing loops at their first
  // iteration that takes every branch open on them (so a branch on the group or on a loop that
  // narrow() could not count is taken once, by the first group's or iteration's lanes); where an
  // index cannot be evaluated, the bytes. Unlike the interpreter's counts, a load every lane makes
  // of one word takes its pass (the interpreter leaves such uniform loads out), and an
  // accumulating store its read's too (the caller's).
  int64_t shared_traffic(const Stmt& s, int64_t bytes, int64_t mult) const {
    if (!in_threads_ || mult == 0) return bytes * mult;
    std::vector<Binding> env{{k_.group_id.node(), 0}};  // (a branch on the group: the first group's, once)
    for (const Frame& f : frames_) env.push_back({f.var, first_taken(f)});
    const std::optional<int64_t> counted = iterations(thread_frame_, nullptr);  // the threads `mult` counts
    if (!counted || *counted == 0) return bytes * mult;
    const int element = type_bytes(s.memory->type);
    const int lanes = s.kind == StmtKind::load ? s.var.type().lanes : s.value.type().lanes;
    const int width = s.aligned ? lanes : 1;  // unaligned vectors go element by element
    const int phase = access_phase_lanes(s.kind == StmtKind::load, element * width);
    int64_t passes = 0;
    for (int64_t w = thread_frame_.first / kWarp * kWarp; w < thread_frame_.extent; w += kWarp) {
      WarpValues values(let_values_, env, thread_frame_.var, w, thread_frame_.first, thread_frame_.extent);
      WarpValues::Lanes active;
      for (int l = 0; l < kWarp; ++l) active[l] = w + l >= thread_frame_.first && w + l < thread_frame_.extent;
      for (const Node* c : branches_) take(values, c, active);  // (one that cannot be evaluated: taken)
      if (s.cond) take(values, s.cond.node(), active);
      const std::optional<WarpValues::Lanes> index = values.of(s.index.node());
      if (!index) return bytes * mult;
      int64_t start[kWarp];
      for (int l = 0; l < kWarp; ++l) start[l] = active[l] ? (*index)[l] * element : -1;
      passes += bank_passes(start, element * width, phase).wavefronts;
    }
    return static_cast<int64_t>(static_cast<double>(mult) / static_cast<double>(*counted) * static_cast<double>(passes) *
                                kBankPassBytes * (lanes / width));
  }
  // The first value of a loop's variable that takes every branch open on it (evaluated alone; one
  // that cannot be: taken).
  int64_t first_taken(const Frame& f) const {
    for (int64_t first = f.first; first < f.extent; first += kWarp) {
      const WarpValues::Lanes all = *taking(f, first, nullptr, false);
      if (const auto it = std::find(all.begin(), all.end(), 1); it != all.end()) return first + (it - all.begin());
    }
    return f.first;
  }

  // Loop end positions are needed when a use inside is seen: measure the loop first.
  int64_t measure(const Block& b) {
    int64_t n = 0;
    for (const StmtPtr& s : b) {
      if (auto it = plan_.defs_before.find(s.get()); it != plan_.defs_before.end())
        n += static_cast<int64_t>(it->second.size());
      n += 1 + measure(s->body);
    }
    return n;
  }

  // A run of consecutive mma statements converts each distinct operand once (cvt to tf32: one
  // register per value, two for 3xtf32's big and small parts; f16 and bf16: one per pair), and
  // the converted fragments stay live through the run, beside the f32 values.
  // Its accumulators (array, first slot) are the chains of dependent mmas the run interleaves.
  struct MmaRun {
    int64_t first = -1, last = -1;
    std::unordered_set<const Node*> operands;
    std::set<std::pair<const Memory*, int64_t>> accumulators;
    double regs_per_value = 0;
  };
  void close_mma_run(MmaRun& run) {
    if (run.first >= 0) {
      intervals_.push_back({run.first, run.last, static_cast<int>(run.operands.size() * run.regs_per_value + 0.5)});
      stats_.mma_chains = std::max<int64_t>(stats_.mma_chains, static_cast<int64_t>(run.accumulators.size()));
    }
    run = MmaRun{};
  }

  // A loop's variable and body, the body run `mult` times (per-thread counts over the launch).
  void loop(const Stmt& s, int64_t mult) {
    int64_t start = pos_;
    open_loops_.emplace_back(start, start + measure(s.body));
    scopes_.emplace_back();
    define(s.var.node(), 1);
    frames_.push_back({s.var.node(), s.extent, {}});
    block(s.body, mult);
    frames_.pop_back();
    scopes_.pop_back();
    open_loops_.pop_back();
  }

  void block(const Block& b, int64_t mult) {
    scopes_.emplace_back();
    MmaRun run;
    for (const StmtPtr& sp : b) {
      const Stmt& s = *sp;
      if (s.kind != StmtKind::mma && s.kind != StmtKind::mma_async) close_mma_run(run);
      if (auto it = plan_.defs_before.find(&s); it != plan_.defs_before.end())
        for (const Node* n : it->second) {
          ++pos_;
          std::unordered_set<const Node*> counted;
          if (n->type.scalar == Scalar::f32 && is_flop(n)) add_flops(mult * n->type.lanes, n->type);
          for (int i = 0; i < n->nargs; ++i) use(n->args[i], counted, mult);
          define(n, registers(n->type));
        }
      ++pos_;
      std::unordered_set<const Node*> counted;
      for (Expr e : stmt_operands(s)) use(e.node(), counted, mult);
      const int64_t per_thread = mult;
      switch (s.kind) {
        case StmtKind::let:
          let_values_[s.var.node()] = s.value.node();
          define(s.var.node(), registers(s.var.type()));
          break;
        case StmtKind::load:
          array_access(s.memory, s.index);
          if (s.memory->space == Space::global) stats_.bytes += type_bytes(s.memory->type.with_lanes(s.var.type().lanes)) * per_thread;
          if (s.memory->space == Space::shared)
            stats_.shared_bytes += shared_traffic(s, type_bytes(s.memory->type.with_lanes(s.var.type().lanes)), per_thread);
          if (s.memory->space == Space::per_thread && s.index->op == Op::const_int) {
            define(s.var.node(), 0);
            alias_[static_cast<int>(intervals_.size()) - 1] = s.memory;
          } else {
            define(s.var.node(), registers(s.var.type()));
          }
          break;
        case StmtKind::store:
          array_access(s.memory, s.index);
          if (s.memory->space == Space::global) {
            const int64_t stored = type_bytes(s.memory->type.with_lanes(s.value.type().lanes)) * per_thread;
            stats_.bytes += (s.accumulate ? 2 : 1) * stored;
            stats_.stored_bytes += stored;
          }
          if (s.memory->space == Space::shared)
            stats_.shared_bytes += (s.accumulate ? 2 : 1) *
                                   shared_traffic(s, type_bytes(s.memory->type.with_lanes(s.value.type().lanes)), per_thread);
          if (s.accumulate && s.memory->type == Type::f32) add_flops(per_thread * s.value.type().lanes, s.value.type());
          break;
        case StmtKind::loop: loop(s, mult * s.extent); break;
        case StmtKind::roles:  // the roles' values are live in their own threads: never both at once
          roles_ = &s;
          block(s.body, mult);
          roles_ = nullptr;
          break;
        case StmtKind::role: {  // a loop that only its role's threads run
          const int64_t threads = k_.threads_per_group, producers = roles_ ? roles_->producer_threads : 0;
          const bool producing = roles_ && &s == roles_->body.front().get();  // (the producers: the last threads)
          const int64_t first = pos_;
          const Frame outside = thread_frame_;  // (a branch on the thread id narrows among the role's threads)
          thread_frame_.first = producing ? threads - producers : 0;
          thread_frame_.extent = producing ? threads : threads - producers;
          loop(s, mult * s.extent / threads * (thread_frame_.extent - thread_frame_.first));
          thread_frame_ = outside;
          role_spans_.push_back({first, pos_});
          break;
        }
        case StmtKind::if_then:
          {
            int64_t taken = mult;
            Frame* f = narrow(s, taken);
            branches_.push_back(s.cond.node());
            block(s.body, taken);
            branches_.pop_back();
            if (f) f->conds.pop_back();
          }
          break;
        case StmtKind::threads:
          in_threads_ = true;
          thread_frame_ = {k_.thread_id.node(), k_.threads_per_group, {}};
          block(s.body, mult * k_.threads_per_group * k_.num_groups);
          in_threads_ = false;
          break;
        case StmtKind::barrier:
          stats_.barriers += mult;  // outside the thread regions: mult counts its executions
          break;
        case StmtKind::comment:
          break;
        case StmtKind::copy_async: {  // memory to memory: no register holds the values
          const int64_t bytes = s.extent * type_bytes(s.memory->type) * per_thread;
          stats_.bytes += bytes;
          stats_.shared_bytes += bytes;
          break;
        }
        case StmtKind::copy_bulk: {  // one thread's copy (its branch counts the threads that run it)
          const int64_t bytes = s.extent * type_bytes(s.memory->type) * per_thread;
          stats_.bytes += bytes;
          stats_.shared_bytes += bytes;
          break;
        }
        case StmtKind::mma_async: {  // a warpgroup's 2 x 64 x n x depth flops from A and B in work-group memory
          array_access(s.memory);
          // A warp's part: n / 8 tiles of 16 x 8 accumulators, each a chain of a run as the warp's mmas' are.
          if (run.first < 0) run.first = pos_;
          run.last = pos_;
          for (size_t j = 0; j < s.slots.size(); j += 4) run.accumulators.insert({s.memory, s.slots[j]});
          const int64_t depth = mma_depth(s.mma), bytes = type_bytes(s.matrices[0].memory->type);
          const int64_t f = per_thread * 2 * kMmaAsyncRows * s.extent * depth / kWarpGroup;
          stats_.flops += f;
          stats_.mma_flops += f;
          stats_.mma_tf32_flops += mma_is_tf32(s.mma) ? f : f / 2;
          const int64_t operands = per_thread * (kMmaAsyncRows + s.extent) * depth * bytes / kWarpGroup;
          stats_.shared_bytes += operands;
          stats_.mma_async_shared_bytes += operands;
          break;
        }
        case StmtKind::mma_async_commit:
        case StmtKind::mma_async_wait:
        case StmtKind::copy_commit:
        case StmtKind::copy_wait:
        case StmtKind::mbarrier_init:
        case StmtKind::mbarrier_expect:
        case StmtKind::mbarrier_arrive:
        case StmtKind::mbarrier_wait:
          break;
        case StmtKind::load_matrix:  // two 16-bit values of each matrix per lane, a register per pair
          array_access(s.memory, s.index);
          stats_.shared_bytes += int64_t{2} * s.extent * type_bytes(s.memory->type) * per_thread;
          for (size_t i = 0; i < s.vars.size(); ++i) define(s.vars[i].node(), i % 2 ? 0 : 1);
          break;
        case StmtKind::mma: {  // a warp's 2 x 16 x 8 x depth flops, a 32nd per thread
          array_access(s.memory);
          if (run.first < 0) run.first = pos_;
          run.last = pos_;
          run.regs_per_value = s.mma == MmaKind::tf32x3_m16n8k8 ? 2 : mma_is_tf32(s.mma) ? 1 : 0.5;
          for (Expr e : s.args) run.operands.insert(e.node());
          run.accumulators.insert({s.memory, s.slots.empty() ? 0 : s.slots.front()});
          const int64_t f = per_thread * 2 * kMmaRows * kMmaCols * mma_depth(s.mma) / kWarp;
          stats_.flops += f;
          stats_.mma_flops += f;
          const int64_t tf32 = s.mma == MmaKind::tf32x3_m16n8k8 ? 3 * f : mma_is_tf32(s.mma) ? f : f / 2;
          stats_.mma_tf32_flops += tf32;
          warp_mma_tf32_flops_ += tf32;
          break;
        }
      }
    }
    close_mma_run(run);
    scopes_.pop_back();
  }

  void close_arrays() {
    for (const auto& [m, iv] : arrays_) {
      if (indexed_.count(m)) stats_.local_bytes += m->size * type_bytes(m->type);
      else intervals_.push_back(iv);
    }
  }

  /// The most values live at once at the positions [first, last].
  int max_live(int64_t first = INT64_MIN, int64_t last = INT64_MAX) const {
    std::map<int64_t, int> delta;
    for (const Interval& iv : intervals_) {
      if (iv.width == 0) continue;
      delta[iv.def] += iv.width;
      delta[iv.last + 1] -= iv.width;
    }
    int live = 0, best = 0;
    bool entered = false;
    for (const auto& [p, d] : delta) {
      if (p > last) break;
      if (p > first && !entered) best = live, entered = true;  // (the values live at `first`)
      live += d;
      if (p > first) best = std::max(best, live);
    }
    return entered ? best : live;
  }

  const Kernel& k_;
  ValuePlan plan_;
  KernelStats stats_;
  int64_t warp_mma_tf32_flops_ = 0;  // mma statements' share of stats_.mma_tf32_flops
  int64_t pos_ = 0;
  std::vector<std::unordered_map<const Node*, int>> scopes_;
  std::vector<Interval> intervals_;
  std::vector<std::pair<int64_t, int64_t>> open_loops_;
  std::unordered_map<const Memory*, Interval> arrays_;
  std::unordered_set<const Memory*> indexed_;  // per-thread arrays indexed at run time: memory
  std::unordered_map<int, const Memory*> alias_;  // value -> the per-thread array it reads
  std::unordered_map<const Node*, const Node*> let_values_;  // let variable -> its value
  bool in_threads_ = false;
  const Stmt* roles_ = nullptr;  // the roles statement whose role loops are measured
  std::vector<std::pair<int64_t, int64_t>> role_spans_;  // the role loops' positions, first to last
  std::deque<Frame> frames_;  // the enclosing loops, outermost first (narrow() keeps pointers: a deque)
  Frame thread_frame_{};       // the thread region's
  std::vector<const Node*> branches_;  // the conditions of the enclosing if_then statements
};

}  // namespace

KernelStats analyze(const Kernel& kernel) { return Analyzer(kernel).run(); }

}  // namespace wino::planner

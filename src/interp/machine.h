// The interpreter's machine (internal to src/interp). It runs the threads of a thread region in
// lockstep, SIMT-style: one statement at a time, each statement applied to every active lane in a
// tight loop. `if_then`, `select` and access masks narrow the active lanes (a stack of masks);
// nothing is ever evaluated for an inactive lane, so inactive lanes raise no error.
//
// Values are doubles (i32 and booleans exactly, f32 already rounded to float). A static analysis
// (analysis.cpp) splits the nodes into uniform ones (one value for every thread: they depend on no
// thread id, and on no variable that a thread region defines per thread) and varying ones (one
// value per lane); it also bounds the integer values (bounds.cpp), which skips the checks that
// cannot fail and makes constants of the nodes that can take one value only. Every computed
// node is memoized until a variable it depends on is reassigned:
// in a kernel whose variables are used only in their scope, the dependency defined last in program
// order (the node's `key`) is also the one assigned last, so one comparison of clocks decides.
// Varying values are also valid only for the lanes they were computed on: the mask they were
// computed under must still be on the mask stack.
//
// A vector value (a type with lanes > 1; "lanes" elsewhere here are threads) is always varying:
// its element c of thread l is at lanes[c * threads + l], and it runs element by element.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "interp/arena.h"
#include "interp/interpreter.h"
#include "ir/kernel.h"

namespace wino::interp::detail {

/// One memory the kernel touches. Work-group and per-thread arrays carry the bookkeeping that
/// finds uninitialized reads and races; global buffers are the caller's.
struct Cells {
  const ir::Memory* mem = nullptr;
  float* data = nullptr;         // f32 memory
  uint16_t* bits = nullptr;      // f16 and bf16 buffers
  int64_t size = 0;              // elements of one copy (per-thread arrays: one thread's)
  std::vector<float> storage;    // shared: size; per-thread: threads x size
  std::vector<uint8_t> written;  // per-thread: written since the work-group started
  // Shared memory only, by element: the phase (barrier interval) and thread of the last write and
  // read (written since the work-group started: a write in one of its phases).
  struct Track {
    uint64_t write_phase = 0, read_phase = 0;
    int32_t writer = -1, reader = -1;
  };
  std::vector<Track> track;
  // Shared memory that asynchronous copies write (copies.cpp), by element: whether a copy into it
  // is in flight; empty until the first copy.
  std::vector<uint8_t> in_flight;
  bool landing(int64_t e) const { return !in_flight.empty() && in_flight[e] != 0; }
  // By element: which landing of bulk copies (Machine::landings_) wrote it; empty until the first.
  std::vector<int32_t> landed_by;
  // By element: the mma_asyncs not yet retired that read it (work-group arrays) or write it (a
  // thread's accumulators; async_mma.cpp); empty until the first. No thread may write such an
  // element, and none may read an accumulator, until the mma_async_wait that retires them.
  std::vector<uint16_t> async_uses;
  int64_t async_live = 0;  // elements with a use
  // Work-group arrays: how many of the first elements lie over the bytes of the other kind (a
  // reusing array's, Memory::reuses, or the others'), as CUDA places them (ir::shared_array_offsets;
  // the other kind's 16-byte padding counted too: a bound from above, never one element short).
  // Only those take part in the reuse checks (Machine::use_kind); an array none of whose elements
  // do (a kept one, or one past the reusing array's end) is of neither kind.
  int64_t overlapped = 0;
  bool async_use(int64_t e) const { return async_live != 0 && async_uses[e] != 0; }
  // Work-group arrays of a kernel with warps with roles (roles.cpp), by element: when (Machine's
  // sync clock) it was last written and read, and by which roles it was read in the barrier
  // interval (bit r: role r).
  struct Sync {
    uint64_t write_time = 0, read_time = 0;
    uint8_t read_roles = 0;
  };
  std::vector<Sync> sync;
};

constexpr int32_t kManyReaders = -2;
// The writer of elements a bulk copy landed (copies.cpp): in the barrier interval they landed in,
// a thread may touch them once it has waited on the copy's barrier phase (Machine::landed_for).
constexpr int32_t kLandedWriter = -3;
inline bool written_by_other(const Cells::Track& t, uint64_t phase, int lane) {
  return t.write_phase == phase && t.writer != lane;
}

inline bool is_f32(ir::Type t) { return t.scalar == ir::Scalar::f32; }
constexpr int kNone = 0, kAll = 1, kSome = 2;  // what narrow() found
constexpr uint64_t kRootMask = 1;              // the id of every thread region's full mask

/// What the machine keeps for one node (by Node::id).
struct Slot {
  uint64_t time = 0;        // the clock when the value was computed (0: never)
  uint64_t mask = 0;        // varying nodes: the id of the mask it was computed under
  double value = 0;         // uniform nodes and variables: the value; constants: the constant
  double* lanes = nullptr;  // varying nodes and variables: one value per lane
  uint32_t key = 0;         // the id whose assignment clock invalidates the value
  uint32_t cap = 0;         // lanes[0, cap) exist (allocated for the largest lane computed)
  int32_t lo = 0, hi = -1;  // i32 nodes: every value is an integer in [lo, hi] (hi < lo: unknown)
  uint32_t depth = 0;       // varying nodes: the depth of `mask` on the mask stack
  uint8_t width = 1;        // the type's lanes: a vector's lane c of thread l is lanes[c * threads + l]
  bool varying = false;
  bool in_range = false;    // i32 add, sub, mul whose every result fits 32 bits (no check)
};

/// A set of active lanes: `lanes` ascending; `dense` when they are exactly [lo, hi).
struct Mask {
  uint64_t id = 0;
  int same = 0;  // pushes of this very lane set on top of it (no new level)
  bool dense = false;
  int lo = 0, hi = 0;
  std::vector<uint32_t> lanes;
  void set_dense(int l, int h);
  void finish();  // sets dense, lo and hi from lanes
};

/// Runs `f(lane)` for every lane of `m`.
template <class F>
inline void each(const Mask& m, F&& f) {
  if (m.dense) {
    for (int l = m.lo; l < m.hi; ++l) f(l);
  } else {
    for (const uint32_t l : m.lanes) f(static_cast<int>(l));
  }
}

/// What a machine borrows from its thread for a launch and gives back: launch after launch then
/// reuses the same pages instead of having fresh ones zeroed by the system.
struct Workspace {
  std::vector<Slot> slots;
  std::vector<uint64_t> vtime;
  Chunks chunks;  // spare lane storage
};

class Machine {
 public:
  Machine(const ir::Kernel& k, const std::vector<void*>& buffers);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  /// Counts the work-group memory accesses into `counts` from now on (null: stops counting).
  void count_shared_accesses(std::vector<SharedAccessCount>* counts) {
    counts_ = counts;
    count_of_.clear();  // positions in the previous vector
  }
  /// Runs the first `max_groups` work-groups (-1: all).
  void run(int64_t max_groups = -1);

 private:
  friend class Analysis;
  // Errors (memory.cpp). `lane` -1: at work-group level.
  [[noreturn]] void fail_at(int lane, const std::string& what) const;
  [[noreturn]] void fail(const std::string& what) const { fail_at(current_lane(), what); }
  int current_lane() const { return in_region_ ? masks_[depth_].lanes[0] : -1; }
  // "<verb> shared 'm' element e <other> with no barrier between (a race)".
  [[noreturn]] void race(int lane, const Cells& c, int64_t e, const char* verb, const std::string& other) const;
  // "<verb> shared 'm' element e while an asynchronous copy into it is in flight".
  [[noreturn]] void in_flight(int lane, const Cells& c, int64_t e, const char* verb) const;

  // Memory (memory.cpp).
  Cells& cell_of(const ir::Memory* m);
  // A kernel with work-group arrays that reuse the others' bytes (Memory::reuses): `c`, shared,
  // used now; fails where the other kind was used since the last barrier, and leaves the other
  // kind's elements under its bytes (Cells::overlapped) unwritten where the kernel switches kinds.
  // `element` (a copy landing): none of this where it lies past the other kind's bytes.
  void use_kind(const Cells& c, int64_t element = -1);
  void mark_overlaps(const ir::Kernel& k);  // Cells::overlapped of each work-group array
  int64_t element(const Cells& c, double index, const char* what, int lane) const;
  float read(Cells& c, int64_t e, int lane);
  void write(Cells& c, int64_t e, float v, int lane);
  // The same on the active lanes, at the elements of element_lanes(): out[l] = read(...), and
  // write(..., v[l] rounded to float), or read + v[l] when accumulating. `base` >= 0: the
  // elements are base + lane (see element_lanes).
  void read_lanes(Cells& c, int64_t base, double* out);
  void write_lanes(Cells& c, int64_t base, const double* v, bool accumulate);
  void check_written(Cells& c, int64_t base);
  bool written(const Cells& c, int64_t e) const {
    return c.track.empty() ? c.written[e] != 0 : c.track[e].write_phase >= group_phase_;
  }
  /// Evaluates the index of `s` (plus `offset`: the element of a vector access) on the active
  /// lanes and checks it. Per-thread arrays are laid out lane-minor (element i of thread l at
  /// i * threads + l): at an index every thread shares, it returns i * threads; otherwise -1, and
  /// the elements are in elements_.
  int64_t element_lanes(const Cells& c, const ir::Stmt& s, const char* what, int offset);
  int64_t element_lanes(const Cells& c, const ir::Node* index, const char* what, int offset);

  // Expressions (eval.cpp).
  double ueval(const ir::Node* n);
  double ucompute(const ir::Node* n);
  const double* veval(const ir::Node* n);
  void vcompute(const ir::Node* n, double* out);
  void vselect(const ir::Node* n, double* out);
  void vbranch(const ir::Node* branch, double* out);
  void vvector(const ir::Node* n, double* out);  // broadcast, extract, vector arithmetic
  // The operations on a set of lanes L (one value, or the lanes of a mask): out[i] = op(a[i], b[i])
  // for each index i of L, an error naming L's lane of i. An operand is lanes or one value (ops.h).
  template <class L>
  void unary_op(const ir::Node* n, double* out, const double* a, const L& lanes) const;
  template <class L, class A, class B>
  void binary_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const;
  template <class L, class A, class B>
  void int_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const;
  template <class L, class A, class B>
  void float_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const;
  const double* spread(double v, double* scratch) const;
  double cast(const ir::Node* n, double a, int lane) const;
  [[noreturn]] void overflow(const ir::Node* n, int64_t v, int lane) const;

  // Masks (eval.cpp).
  const Mask& top() const { return masks_[depth_]; }
  Mask& next_mask();  // the level above the top, to fill before enter(kSome)
  /// Which active lanes `cond` holds on: kNone, kAll (the top's lanes) or kSome (then they are
  /// in next_mask()).
  int narrow(const ir::Node* cond);
  void enter(int how);  // makes the lanes narrow() found the top (kAll or kSome)
  void leave();
  bool alive(const Slot& s) const {
    return s.depth <= static_cast<uint32_t>(depth_) && masks_[s.depth].id == s.mask;
  }

  // Statements (interpreter.cpp).
  void block(const ir::Block& b);
  void stmt(const ir::Stmt& s);
  void let(const ir::Stmt& s);
  void load(const ir::Stmt& s);
  void load_uniform(const ir::Stmt& s, Slot& var);
  void store(const ir::Stmt& s);
  void if_then(const ir::Stmt& s);
  void threads(const ir::Stmt& s);
  // Fails unless whole warps (of `unit` threads: warpgroups for mma_async) run `what` together,
  // every thread of each; the mask.
  const Mask& require_whole_warps(const char* what, int unit = ir::kWarp);
  void mma(const ir::Stmt& s);
  void load_matrix(const ir::Stmt& s);
  // Asynchronous copies (copies.cpp): values read at issue, written at the copy_wait that retires
  // their group.
  void copy_async(const ir::Stmt& s);
  void copy_commit();
  void copy_wait(const ir::Stmt& s);
  // Bulk copies and their barriers (copies.cpp): a copy's values are read at issue and land at
  // the first mbarrier_wait that sees the barrier's phase it was counted in complete.
  void copy_bulk(const ir::Stmt& s);
  // Warpgroup matrix multiplies (async_mma.cpp): each computed when issued, its accumulators and
  // the work-group memory it reads in use until the mma_async_wait that retires its group.
  // Whether warpgroup wg's threads have the mma_async add to their accumulators (its `value`; all alike).
  bool accumulates(const ir::Stmt& s, int wg);
  void mma_async(const ir::Stmt& s);
  void mma_async_commit();
  void mma_async_wait(const ir::Stmt& s);
  // A read of shared element e by an mma_async of the warpgroup led by `lane` (the checks of read()
  // and one more: the tensor cores read through another path, so not in the barrier interval of
  // the write); marks it in use.
  float async_read(Cells& c, int64_t e, int lane);
  void async_mark(Cells& c, int64_t e, int lane);
  void finish_async();  // a work-group ends: every mma_async must have been retired
  // "<verb> ... element e while an mma_async that uses it is in flight".
  [[noreturn]] void async_in_use(int lane, const Cells& c, int64_t e, const char* verb) const;
  // Whether element e of `c` landed by a bulk copy whose barrier phase `lane` has waited for.
  bool landed_for(const Cells& c, int64_t e, int lane) const;
  // "written by thread N", or by a bulk copy whose wait the thread has not seen.
  std::string writer_name(const Cells::Track& t) const;
  void mbarrier_init(const ir::Stmt& s);
  void mbarrier_arrive(const ir::Stmt& s);  // mbarrier_arrive and mbarrier_expect
  void mbarrier_wait(const ir::Stmt& s);
  struct Mbarrier {
    int64_t arrivals = 0, pending = 0, bytes = 0;  // a phase's arrivals; arrivals and bytes still due
    uint64_t phase = 0;                            // the phase in progress (from 0)
    uint64_t init_phase = 0;                       // the barrier interval of its init
    int init_lane = 0;
    std::vector<uint64_t> seen;  // by lane: the phase in progress at its last wait (those before it complete)
    // Kernels with roles: the vector clocks (see clocks_) its arrivals carry, joined: of the phase
    // in progress, and of the phases complete (what a wait acquires).
    std::vector<uint64_t> arriving, released;
  };
  using BarrierKey = std::pair<const Cells*, int64_t>;
  struct Landing {  // the copies a wait landed: their barrier and phase
    BarrierKey barrier;
    uint64_t phase;
  };
  std::vector<Landing> landings_;
  // The barrier at element `e` of `c` as `lane` uses it: it must have been initialized, by this
  // lane or before a barrier.
  Mbarrier& mbarrier(const Cells& c, int64_t e, int lane, const char* what);
  void complete_phase(Mbarrier& m);

  // Warps with roles (roles.cpp). Each thread carries a vector clock: clocks_[b * threads + a] is
  // the latest sync time of thread a that thread b knows of, through the barrier phases b waited
  // for (and the arrivals their arrivers had waited for before, transitively). An access of thread
  // a at time t is ordered before thread b's later access when clocks_[b][a] > t: a arrived after
  // it on a phase b waited for. Only the kernels with a roles statement keep clocks.
  void roles(const ir::Stmt& s);
  void run_role(const ir::Stmt& role, int64_t step, int lo, int hi);
  int role_of(int lane) const { return lane >= threads_ - producers_ ? 0 : 1; }  // (0: producers, the last threads)
  void arrive(Mbarrier& m, int lane);         // an arrival of `lane` on m's phase in progress
  void acquire(const Mbarrier& m, int lane);  // `lane` waited for m's complete phases
  // Whether the write (the reads) of shared element e in this barrier interval is ordered before
  // `lane`'s access now by barrier phases it waited for. Reads by many threads are ordered when
  // every other thread of each role that read arrived after the last read.
  bool write_published(const Cells& c, int64_t e, int lane) const;
  bool read_published(const Cells& c, int64_t e, int lane) const;
  // Shared element e written (by `writer`: a thread, or kLandedWriter) or read by `lane` now, in
  // this barrier interval: its Track, and where the kernel has roles the time and the reader's role.
  void note_write(Cells& c, int64_t e, int32_t writer) {
    Cells::Track& t = c.track[e];
    t.write_phase = phase_;  // also marks it written
    t.writer = writer;
    if (roles_) c.sync[e].write_time = sync_clock_;
  }
  void note_read(Cells& c, int64_t e, int lane) {
    Cells::Track& t = c.track[e];
    const bool first = t.read_phase != phase_;
    if (first) t.read_phase = phase_, t.reader = lane;
    else if (t.reader != lane) t.reader = kManyReaders;
    note_read_time(c, e, lane, first);
  }
  void note_read_time(Cells& c, int64_t e, int lane, bool first_in_interval) {
    if (!roles_ || lane < 0) return;
    Cells::Sync& y = c.sync[e];
    y.read_time = sync_clock_;
    y.read_roles = static_cast<uint8_t>((first_in_interval ? 0 : y.read_roles) | (1 << role_of(lane)));
  }
  void start_roles();  // a work-group starts: every clock 0
  void find_roles(const ir::Block& b);  // sets roles_ and producers_
  bool roles_ = false;           // the kernel has a roles statement (with producers_ producers)
  bool in_roles_ = false;        // running one
  int producers_ = 0;
  uint64_t sync_clock_ = 0;      // advanced by every arrival
  std::vector<uint64_t> clocks_;        // threads x threads
  std::vector<uint64_t> known_min_;     // threads x 2: min over role r's threads but b of clocks_[b][.]
  void start_copies();   // a work-group starts: no copies in flight
  void finish_copies();  // a work-group ends: every copy must have been retired
  void assign(const ir::Node* var) { vtime_[var->id] = ++clock_; }
  void store_uniform(const ir::Stmt& s);
  // Adds statement s's access of `c` by the active lanes to counts_ when `c` is work-group memory
  // (shared_counts.cpp): each lane `width` elements from its element in elements_ (-1: no part).
  void count_shared(const ir::Stmt& s, const Cells& c, int width);
  // Fails unless each active lane's `index` is a multiple of `width` (Stmt::aligned).
  void check_aligned(const Cells& c, const ir::Node* index, int width, const char* what, const char* to);
  /// The lanes of variable `s`, grown to hold every lane of the top mask (dropping its values).
  double* var_lanes(Slot& s) {
    if (s.cap < lanes_needed(s)) s.cap = lanes_needed(s), s.lanes = var_arena_.take(size_t{s.cap} * s.width);
    return s.lanes;
  }
  /// The same for node `id`, whose values flush() may drop.
  double* node_lanes(Slot& s, uint32_t id) {
    if (s.cap < lanes_needed(s)) {
      s.cap = lanes_needed(s), s.lanes = node_arena_.take(size_t{s.cap} * s.width);
      owners_.push_back(id);
    }
    return s.lanes;
  }
  /// Scalars: the lanes up to the top mask's last; vectors: every lane (their stride).
  uint32_t lanes_needed(const Slot& s) const {
    return static_cast<uint32_t>(s.width > 1 ? threads_ : top().hi);
  }
  /// Forgets the memoized lanes of every node, to reuse their storage (between statements).
  void flush();

  const ir::Kernel& k_;
  const int threads_;
  std::vector<Slot> slots_;       // by node id
  std::vector<uint64_t> vtime_;   // by node id: variables' assignment clock (1: never)
  uint64_t clock_ = 1, phase_ = 0, next_mask_id_ = 1;
  uint64_t group_phase_ = 0;  // the first phase of the running work-group
  // Memory::reuses: whether the kernel has such arrays, the kind of shared array used last (1:
  // reusing; -1: none yet) and the phase each kind was last used in.
  bool reuse_ = false;
  int kind_ = -1;
  uint64_t kind_phase_[2] = {0, 0};
  int64_t group_ = 0;
  bool in_region_ = false;
  // Every memory holds floats, so every i32 value is an integer (a load from an i32 memory may
  // give a fraction, which i32 operations truncate).
  bool integral_ = true;
  std::deque<Mask> masks_;        // the mask stack, masks_[0..depth_]; kept allocated
  int depth_ = 0;
  std::vector<Cells> cells_;      // a handful: a linear search beats hashing
  Chunks spare_;                   // from the workspace; before the arenas, which use it
  LaneArena var_arena_{spare_};    // variables' lanes
  LaneArena node_arena_{spare_};   // nodes' lanes: a cache, flushed when it grows too large
  std::vector<uint32_t> owners_;   // the nodes with lanes in node_arena_
  std::vector<double> scratch_;                  // a uniform value spread over the lanes
  std::vector<int64_t> elements_;                // by lane: the element a statement accesses
  struct PendingCopy {
    int lane;
    int64_t group;  // the thread's commit count when it was issued
    Cells* cells;
    int64_t element;
    float value;
  };
  std::vector<PendingCopy> copies_;  // in flight, in issue order
  struct PendingBulk {
    const Cells* barrier_cells;
    int64_t barrier;  // its element
    uint64_t phase;   // the barrier's phase the copy counts in
    Cells* cells;
    int64_t element;
    float value;
  };
  std::vector<PendingBulk> bulk_;  // bulk copies not landed
  std::map<BarrierKey, Mbarrier> mbarriers_;
  std::vector<int64_t> commits_;     // by lane: groups committed in this work-group
  struct PendingAsync {  // an element an mma_async uses, until its group retires
    int lane;             // the thread whose wait retires it (a matrix's: the warpgroup's first)
    int64_t group;        // the thread's mma_async commit count when it was issued
    Cells* cells;
    int64_t element;
  };
  std::vector<PendingAsync> async_;
  std::vector<int64_t> async_commits_;  // by lane: mma_async groups committed in this work-group
  std::vector<double> copy_values_;  // a copy_async's values, element-major by lane
  std::vector<SharedAccessCount>* counts_ = nullptr;  // InterpretOptions::shared_accesses
  std::map<const ir::Stmt*, size_t> count_of_;         // a statement's entry in counts_
};

}  // namespace wino::interp::detail

// Warps with roles (ir::StmtKind::roles): producer and consumer threads that run their own loops
// and meet only at mbarriers. Run in lockstep, a producer waiting for a consumer's later arrival
// would never go on, so the machine runs the statement's schedule instead: produce(0 .. stages -
// 1), then consume(i) before produce(i + stages), each role in lockstep over its own threads. Every
// mbarrier wait must be complete when the schedule meets it (mbarrier_wait fails otherwise).
//
// The race checks (memory.cpp, copies.cpp) then learn a second edge besides the work-group
// barrier: vector clocks carried by arrivals. A thread's arrival takes its clock (what it knows of
// every thread's sync time) to the barrier's phase; a thread that waits for the phase joins it.
// So a consumer may read what a producer wrote once the producer arrived after the write on a
// phase the consumer waited for, and a producer may write a stage again once every consumer that
// read it arrived after its reads on a phase the producer waited for (directly, or through
// threads that waited on them). Each arrival and wait costs O(threads), a step of a roles statement
// O(threads^2): about 1.5 million operations at 640 threads, well under a step's own work.
#include <algorithm>

#include "interp/machine.h"

namespace wino::interp::detail {

using namespace ir;

void Machine::find_roles(const Block& b) {
  for (const StmtPtr& s : b) {
    if (s->kind == StmtKind::roles) {
      if (roles_ && producers_ != s->producer_threads)
        fail_at(-1, "two roles statements with different producers (" + std::to_string(producers_) + " and " +
                        std::to_string(s->producer_threads) + " threads)");
      roles_ = true;
      producers_ = s->producer_threads;
    }
    find_roles(s->body);
  }
}

void Machine::start_roles() {
  const size_t t = static_cast<size_t>(threads_);
  clocks_.assign(t * t, 0);
  known_min_.assign(t * 2, 0);
}

void Machine::roles(const Stmt& s) {
  if (!in_region_) fail("roles outside a thread region");
  if (in_roles_) fail("roles inside roles");
  if (depth_ != 0 || static_cast<int>(top().lanes.size()) != threads_)
    fail("roles where not every thread of the work-group runs it");
  const Stmt& produce = *s.body.at(0);
  const Stmt& consume = *s.body.at(1);
  const int consumers = threads_ - s.producer_threads;  // (the producers are the last threads)
  in_roles_ = true;
  for (int64_t i = 0; i < std::min(s.stages, s.extent); ++i) run_role(produce, i, consumers, threads_);
  for (int64_t i = 0; i < s.extent; ++i) {
    run_role(consume, i, 0, consumers);
    if (i + s.stages < s.extent) run_role(produce, i + s.stages, consumers, threads_);
  }
  in_roles_ = false;
}

void Machine::run_role(const Stmt& role, int64_t step, int lo, int hi) {
  Slot& var = slots_[role.var->id];
  var.value = static_cast<double>(step);
  assign(role.var.node());
  Mask& next = next_mask();
  next.lanes.clear();
  each(top(), [&](int l) {
    if (l >= lo && l < hi) next.lanes.push_back(static_cast<uint32_t>(l));
  });
  next.finish();
  enter(kSome);
  block(role.body);
  leave();
}

void Machine::arrive(Mbarrier& m, int lane) {
  if (!roles_) return;
  const size_t t = static_cast<size_t>(threads_);
  uint64_t* mine = &clocks_[static_cast<size_t>(lane) * t];
  mine[lane] = ++sync_clock_;  // what the thread did before now is ordered before the arrival
  for (size_t a = 0; a < t; ++a) m.arriving[a] = std::max(m.arriving[a], mine[a]);
}

void Machine::acquire(const Mbarrier& m, int lane) {
  if (!roles_) return;
  const size_t t = static_cast<size_t>(threads_);
  uint64_t* mine = &clocks_[static_cast<size_t>(lane) * t];
  uint64_t low[2] = {~uint64_t{0}, ~uint64_t{0}};
  for (size_t a = 0; a < t; ++a) {
    mine[a] = std::max(mine[a], m.released[a]);
    if (a == static_cast<size_t>(lane)) continue;  // (its own reads are before its write in its order)
    uint64_t& l = low[role_of(static_cast<int>(a))];
    l = std::min(l, mine[a]);
  }
  known_min_[static_cast<size_t>(lane) * 2] = low[0];
  known_min_[static_cast<size_t>(lane) * 2 + 1] = low[1];
}

bool Machine::write_published(const Cells& c, int64_t e, int lane) const {
  if (!roles_ || lane < 0) return false;  // (-1: at work-group level, where only a barrier orders)
  const Cells::Track& t = c.track[e];
  const Cells::Sync& y = c.sync[e];
  if (t.writer >= 0) return y.write_time < clocks_[static_cast<size_t>(lane) * static_cast<size_t>(threads_) + t.writer];
  // Landed by a bulk copy: ordered through a read of what landed (its reader saw it land) that is.
  return t.writer == kLandedWriter && t.read_phase == phase_ && y.read_time >= y.write_time && read_published(c, e, lane);
}

bool Machine::read_published(const Cells& c, int64_t e, int lane) const {
  if (!roles_ || lane < 0) return false;
  const Cells::Track& t = c.track[e];
  const Cells::Sync& y = c.sync[e];
  if (t.reader >= 0) return y.read_time < clocks_[static_cast<size_t>(lane) * static_cast<size_t>(threads_) + t.reader];
  // Many readers, which are not kept: every other thread of each role that read arrived after the last read.
  for (int r : {0, 1})
    if ((y.read_roles & (1 << r)) && !(y.read_time < known_min_[static_cast<size_t>(lane) * 2 + static_cast<size_t>(r)]))
      return false;
  return true;
}

}  // namespace wino::interp::detail

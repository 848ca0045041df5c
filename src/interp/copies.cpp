// Asynchronous copies global -> work-group memory (ir::StmtKind::copy_async, CUDA's cp.async).
// A copy reads its source when it is issued (sources are global buffers the kernel does not write
// while copies are in flight) and writes its destination when the thread's copy_wait retires its
// group. Hardware may land it at any moment in between, so from issue to retirement the element
// is in flight: any read or write of it by any thread is an error (memory.cpp), and so is a read
// by another thread earlier in the issuing barrier interval (the copy may land at once). A run of
// n elements starts at a multiple of n in both memories (cp.async's alignment).
#include <algorithm>

#include "interp/machine.h"

namespace wino::interp::detail {

using namespace ir;

void Machine::start_copies() {
  copies_.clear();
  bulk_.clear();
  mbarriers_.clear();
  landings_.clear();
  for (Cells& c : cells_) std::fill(c.landed_by.begin(), c.landed_by.end(), -1);
  for (Cells& c : cells_) std::fill(c.in_flight.begin(), c.in_flight.end(), 0);
  commits_.assign(static_cast<size_t>(std::max(threads_, 1)), 0);
  if (roles_) start_roles();
  async_.clear();
  for (Cells& c : cells_) std::fill(c.async_uses.begin(), c.async_uses.end(), 0), c.async_live = 0;
  async_commits_.assign(static_cast<size_t>(std::max(threads_, 1)), 0);
}

void Machine::finish_copies() {
  if (!bulk_.empty())
    fail_at(-1, "a copy_bulk into '" + bulk_.front().cells->mem->name + "' element " + std::to_string(bulk_.front().element) +
                    " never landed: no mbarrier_wait saw its phase of '" + bulk_.front().barrier_cells->mem->name +
                    "' complete before the work-group ended");
  if (!copies_.empty())
    fail_at(copies_.front().lane, "a copy_async into '" + copies_.front().cells->mem->name +
                                      "' was never retired by a copy_wait before the work-group ended");
}

void Machine::copy_async(const Stmt& s) {
  if (!in_region_) fail("a copy_async outside a thread region");
  Cells& dst = cell_of(s.memory);
  Cells& src = cell_of(s.source);
  const int n = static_cast<int>(s.extent);
  auto aligned = [&](const Cells& c, const char* what) {
    if (n == 1) return;
    each(top(), [&](int l) {
      if (elements_[l] % n) fail_at(l, std::string("a copy_async of ") + std::to_string(n) + " elements " + what + " '" +
                                          c.mem->name + "' at element " + std::to_string(elements_[l]) +
                                          ", not a multiple of " + std::to_string(n) + " (misaligned)");
    });
  };
  if (dst.in_flight.empty()) dst.in_flight.assign(dst.track.size(), 0);
  copy_values_.assign(static_cast<size_t>(n) * threads_, 0.0);  // zero where the mask is false
  if (s.source_in_bounds && s.cond)  // the plan's promise: its index is an element where the mask is false too
    for (int i = 0; i < n; ++i) element_lanes(src, s.source_index.node(), "copy from (masked, index promised in bounds)", i);
  const int how = s.cond ? narrow(s.cond.node()) : kAll;
  if (how != kNone) {
    enter(how);
    for (int i = 0; i < n; ++i) {
      element_lanes(src, s.source_index.node(), "copy from", i);
      if (i == 0) aligned(src, "from");
      each(top(), [&](int l) { copy_values_[size_t(i) * threads_ + l] = read(src, elements_[l], l); });
    }
    leave();
  }
  for (int i = 0; i < n; ++i) {
    element_lanes(dst, s.index.node(), "copy to", i);
    if (i == 0) aligned(dst, "to");
    if (i == 0 && counts_) count_shared(s, dst, n);
    each(top(), [&](int l) {
      const int64_t e = elements_[l];
      const Cells::Track& t = dst.track[e];
      if (t.read_phase == phase_ && t.reader != l && !read_published(dst, e, l))
        race(l, dst, e, "copies to", "that another thread read");
      if (dst.in_flight[e]) in_flight(l, dst, e, "copies to");  // two copies racing to land
      if (dst.async_use(e)) async_in_use(l, dst, e, "copies to");  // it may land while the tensor cores read
      ++dst.in_flight[e];
      copies_.push_back({l, commits_[l], &dst, e, static_cast<float>(copy_values_[size_t(i) * threads_ + l])});
    });
  }
}

void Machine::copy_commit() {
  if (!in_region_) fail("a copy_commit outside a thread region");
  each(top(), [&](int l) { ++commits_[l]; });
}

void Machine::copy_wait(const Stmt& s) {
  if (!in_region_) fail("a copy_wait outside a thread region");
  std::vector<uint8_t> waiting(static_cast<size_t>(threads_), 0);
  each(top(), [&](int l) { waiting[l] = 1; });
  auto retired = [&](const PendingCopy& c) { return waiting[c.lane] && c.group < commits_[c.lane] - s.extent; };
  for (const PendingCopy& c : copies_)
    if (retired(c)) {
      if (reuse_) use_kind(*c.cells, c.element);  // a copy landing uses its array's bytes now
      --c.cells->in_flight[c.element];
      write(*c.cells, c.element, c.value, c.lane);
    }
  copies_.erase(std::remove_if(copies_.begin(), copies_.end(), retired), copies_.end());
}

// Bulk copies (sm_90 cp.async.bulk) and their barriers (mbarrier). One thread inits a barrier
// for a number of arrivals a phase; a phase completes once they arrived (mbarrier_expect, which also
// expects bytes) and the copies counted in it delivered those bytes. Its copies land at the first
// mbarrier_wait that sees it complete; in that barrier interval a thread may touch what landed only
// once its own wait saw the phase (landed_for). Here copies deliver their bytes when issued, so a
// wait on a phase not complete would wait forever on a GPU (or, where it meant the phase before,
// not wait at all).

namespace {
std::string barrier_name(const Cells& c, int64_t e) { return "barrier '" + c.mem->name + "' element " + std::to_string(e); }
std::string odd_element(const char* what, const Cells& c, int64_t e) {
  return std::string(what) + " '" + c.mem->name + "' element " + std::to_string(e) + ", not a barrier's first (even) element";
}
}  // namespace

bool Machine::landed_for(const Cells& c, int64_t e, int lane) const {
  if (c.track[e].writer != kLandedWriter || c.landed_by.empty() || c.landed_by[e] < 0) return false;
  const Landing& l = landings_[static_cast<size_t>(c.landed_by[e])];
  const Mbarrier& m = mbarriers_.at(l.barrier);
  return m.seen[static_cast<size_t>(lane)] > l.phase;
}

std::string Machine::writer_name(const Cells::Track& t) const {
  return t.writer == kLandedWriter ? "landed by a bulk copy whose mbarrier_wait this thread has not seen"
                                   : "written by thread " + std::to_string(t.writer);
}

Machine::Mbarrier& Machine::mbarrier(const Cells& c, int64_t e, int lane, const char* what) {
  if (e % 2) fail_at(lane, odd_element(what, c, e));
  auto it = mbarriers_.find({&c, e});
  if (it == mbarriers_.end()) fail_at(lane, std::string(what) + " on " + barrier_name(c, e) + " that no mbarrier_init set up");
  if (it->second.init_phase == phase_ && it->second.init_lane != lane)
    fail_at(lane, std::string(what) + " on " + barrier_name(c, e) + ", set up by thread " +
                      std::to_string(it->second.init_lane) + " with no barrier between (a race)");
  return it->second;
}

void Machine::complete_phase(Mbarrier& m) {
  if (m.pending == 0 && m.bytes == 0) {
    ++m.phase;
    m.pending = m.arrivals;
    for (size_t a = 0; a < m.arriving.size(); ++a) m.released[a] = std::max(m.released[a], m.arriving[a]);
  }
}

void Machine::mbarrier_init(const Stmt& s) {
  if (!in_region_) fail("an mbarrier_init outside a thread region");
  Cells& c = cell_of(s.memory);
  element_lanes(c, s.index.node(), "mbarrier_init of", 0);
  each(top(), [&](int l) {
    const int64_t e = elements_[l];
    if (e % 2) fail_at(l, odd_element("mbarrier_init of", c, e));
    auto [it, fresh] = mbarriers_.try_emplace({&c, e});
    if (!fresh && it->second.init_phase == phase_)
      fail_at(l, "mbarrier_init of " + barrier_name(c, e) + " by threads " + std::to_string(it->second.init_lane) + " and " +
                     std::to_string(l) + " (one thread sets up a barrier)");
    for (const PendingBulk& b : bulk_)
      if (b.barrier_cells == &c && b.barrier == e)
        fail_at(l, "mbarrier_init of " + barrier_name(c, e) + " while a copy_bulk counts on it");
    it->second = {s.extent, s.extent, 0, 0, phase_, l, std::vector<uint64_t>(static_cast<size_t>(threads_), 0), {}, {}};
    if (roles_) it->second.arriving.assign(static_cast<size_t>(threads_), 0), it->second.released = it->second.arriving;
  });
}

// An arrival on each thread's barrier: mbarrier_arrive, or mbarrier_expect, which also expects
// `extent` more bytes of copies this phase.
void Machine::mbarrier_arrive(const Stmt& s) {
  const char* what = stmt_kind_name(s.kind);
  if (!in_region_) fail(std::string("an ") + what + " outside a thread region");
  Cells& c = cell_of(s.memory);
  element_lanes(c, s.index.node(), (std::string(what) + " on").c_str(), 0);
  each(top(), [&](int l) {
    Mbarrier& m = mbarrier(c, elements_[l], l, what);
    if (m.pending == 0)
      fail_at(l, std::string(what) + " on " + barrier_name(c, elements_[l]) + ": more arrivals than its phase takes (" +
                     std::to_string(m.arrivals) + ")");
    --m.pending;
    if (s.kind == StmtKind::mbarrier_expect) m.bytes += s.extent;
    arrive(m, l);
    complete_phase(m);
  });
}

void Machine::copy_bulk(const Stmt& s) {
  if (!in_region_) fail("a copy_bulk outside a thread region");
  Cells& dst = cell_of(s.memory);
  Cells& src = cell_of(s.source);
  Cells& bars = cell_of(s.mbarrier);
  const int64_t n = s.extent, bytes = n * type_bytes(s.memory->type);
  std::vector<int64_t> to(static_cast<size_t>(threads_)), from(to), bar(to);
  auto starts = [&](Cells& c, const Node* index, const char* what, std::vector<int64_t>& out) {
    element_lanes(c, index, what, static_cast<int>(n - 1));  // the last element, for its bounds
    element_lanes(c, index, what, 0);
    each(top(), [&](int l) {
      out[l] = elements_[l];
      if (out[l] * type_bytes(c.mem->type) % 16)
        fail_at(l, std::string("a copy_bulk ") + what + " '" + c.mem->name + "' at element " + std::to_string(out[l]) +
                       ", not on 16 bytes (misaligned)");
    });
  };
  starts(dst, s.index.node(), "to", to);
  starts(src, s.source_index.node(), "from", from);
  element_lanes(bars, s.value.node(), "copy_bulk's barrier in", 0);
  each(top(), [&](int l) { bar[l] = elements_[l]; });
  if (dst.in_flight.empty()) dst.in_flight.assign(dst.track.size(), 0);
  each(top(), [&](int l) {
    Mbarrier& m = mbarrier(bars, bar[l], l, "copy_bulk");
    for (int64_t i = 0; i < n; ++i) {
      const int64_t e = to[l] + i;
      const Cells::Track& t = dst.track[e];
      if (t.read_phase == phase_ && t.reader != l && !read_published(dst, e, l))
        race(l, dst, e, "copies to", "that another thread read");
      if (written_by_other(t, phase_, l) && !landed_for(dst, e, l) && !write_published(dst, e, l))
        race(l, dst, e, "copies to", writer_name(t));
      if (dst.in_flight[e]) in_flight(l, dst, e, "copies to");
      if (dst.async_use(e)) async_in_use(l, dst, e, "copies to");
      ++dst.in_flight[e];
      bulk_.push_back({&bars, bar[l], m.phase, &dst, e, read(src, from[l] + i, l)});
    }
    m.bytes -= bytes;
    complete_phase(m);
  });
}

void Machine::mbarrier_wait(const Stmt& s) {
  if (!in_region_) fail("an mbarrier_wait outside a thread region");
  Cells& c = cell_of(s.memory);
  element_lanes(c, s.index.node(), "mbarrier_wait on", 0);
  const bool varying = slots_[s.value->id].varying;
  const double* parity = varying ? veval(s.value.node()) : nullptr;
  const double uniform = varying ? 0.0 : ueval(s.value.node());
  std::vector<BarrierKey> waited;
  each(top(), [&](int l) {
    const int64_t e = elements_[l];
    Mbarrier& m = mbarrier(c, e, l, "mbarrier_wait");
    const int64_t p = static_cast<int64_t>(varying ? parity[l] : uniform);
    if (p != 0 && p != 1)
      fail_at(l, "mbarrier_wait on " + barrier_name(c, e) + " with parity " + std::to_string(p) + " (0 or 1)");
    if (static_cast<int64_t>(m.phase & 1) == p) {
      const std::string due = std::to_string(m.pending) + " arrivals and " +
                              (m.bytes >= 0 ? std::to_string(m.bytes) + " bytes still due"
                                            : std::to_string(-m.bytes) + " bytes more than expected delivered");
      fail_at(l, "mbarrier_wait on " + barrier_name(c, e) + " for parity " + std::to_string(p) + ", but its phase " +
                     std::to_string(m.phase) + " (that parity) is not complete: " + due +
                     (in_roles_ ? " when the roles' schedule meets the wait (produce(0 .. stages - 1), then consume(i) "
                                  "before produce(i + stages)): the producers would run more steps ahead, or the "
                                  "consumers wait for a step not produced"
                                : " (a GPU would wait forever, or not wait at all where the parity meant the phase before)"));
    }
    m.seen[static_cast<size_t>(l)] = m.phase;
    acquire(m, l);
    if (waited.empty() || waited.back() != BarrierKey{&c, e}) waited.push_back({&c, e});
  });
  // The copies of the phases the wait saw complete land now, once.
  for (const BarrierKey& key : waited) {
    const uint64_t done = mbarriers_.at(key).phase;
    auto landed = [&](const PendingBulk& b) { return BarrierKey{b.barrier_cells, b.barrier} == key && b.phase < done; };
    int32_t landing = -1;
    for (const PendingBulk& b : bulk_) {
      if (!landed(b)) continue;
      if (landing < 0 || landings_[static_cast<size_t>(landing)].phase != b.phase) {
        landing = static_cast<int32_t>(landings_.size());
        landings_.push_back({key, b.phase});
      }
      if (reuse_) use_kind(*b.cells, b.element);
      if (b.cells->landed_by.empty()) b.cells->landed_by.assign(b.cells->track.size(), -1);
      --b.cells->in_flight[b.element];
      note_write(*b.cells, b.element, kLandedWriter);
      b.cells->landed_by[b.element] = landing;
      b.cells->data[b.element] = b.value;
    }
    bulk_.erase(std::remove_if(bulk_.begin(), bulk_.end(), landed), bulk_.end());
  }
}

}  // namespace wino::interp::detail

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
  for (Cells& c : cells_) std::fill(c.in_flight.begin(), c.in_flight.end(), 0);
  commits_.assign(static_cast<size_t>(std::max(threads_, 1)), 0);
}

void Machine::finish_copies() {
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
    each(top(), [&](int l) {
      const int64_t e = elements_[l];
      const Cells::Track& t = dst.track[e];
      if (t.read_phase == phase_ && t.reader != l) race(l, dst, e, "copies to", "that another thread read");
      if (dst.in_flight[e]) in_flight(l, dst, e, "copies to");  // two copies racing to land
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
      if (reuse_) use_kind(*c.cells);  // a copy landing uses its array's bytes now
      --c.cells->in_flight[c.element];
      write(*c.cells, c.element, c.value, c.lane);
    }
  copies_.erase(std::remove_if(copies_.begin(), copies_.end(), retired), copies_.end());
}

}  // namespace wino::interp::detail

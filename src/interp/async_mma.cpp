// Warpgroup matrix multiplies from work-group memory (ir::StmtKind::mma_async, CUDA's wgmma). An
// mma_async is computed when it is issued, from what its matrices hold then, and its product is
// written to the accumulators at once; on a GPU the tensor cores read the matrices and write the
// accumulators at any moment until the mma_async_wait that retires the group. So from issue to
// retirement the accumulators are the tensor cores' (a thread that reads or writes one fails, an
// mma_async that chains on them does not) and the matrices' elements may be read by anyone but
// written by no one. The tensor cores read work-group memory through another path than the
// threads' loads (PTX's async proxy), so what a thread wrote needs a barrier before an mma_async
// reads it; what a bulk copy landed needs only the wait on its barrier.
#include <algorithm>
#include <cmath>
#include <string>

#include "interp/machine.h"

namespace wino::interp::detail {

using namespace ir;

void Machine::async_in_use(int lane, const Cells& c, int64_t e, const char* verb) const {
  const bool own = c.mem->space == Space::per_thread;
  fail_at(lane, std::string(verb) + " " + space_name(c.mem->space) + " '" + c.mem->name + "' element " +
                    std::to_string(own ? e / threads_ : e) + " while an mma_async that " +
                    (own ? "accumulates into" : "reads") + " it is in flight (retire it first: mma_async_commit, " +
                    "mma_async_wait" + (own ? "" : " and a barrier") + ")");
}

void Machine::async_mark(Cells& c, int64_t e, int lane) {
  if (c.async_uses.empty()) c.async_uses.assign(static_cast<size_t>(c.mem->space == Space::per_thread ? c.size * threads_ : c.size), 0);
  if (c.async_uses[e]++ == 0) ++c.async_live;
  const int64_t group = async_commits_[static_cast<size_t>(lane)];
  async_.push_back({lane, group, &c, e});
}

float Machine::async_read(Cells& c, int64_t e, int lane) {
  if (c.landing(e)) in_flight(lane, c, e, "an mma_async reads");
  const Cells::Track& t = c.track[e];
  if (!written(c, e))
    fail_at(lane, "an mma_async reads shared '" + c.mem->name + "' element " + std::to_string(e) +
                      " that nothing wrote (an uninitialized read)");
  // (In a role the writer's arrival orders it: CUDA puts a proxy fence before the arrivals of a
  // role that writes what mma_asyncs read.)
  if (t.write_phase == phase_ && !landed_for(c, e, lane) && !write_published(c, e, lane))
    fail_at(lane, "an mma_async reads shared '" + c.mem->name + "' element " + std::to_string(e) + " " +
                      writer_name(t) + " in this barrier interval (the tensor cores read work-group memory " +
                      "apart from the threads' stores: put a barrier between" +
                      (roles_ ? ", or a wait for a later arrival of the writer)" : ")"));
  note_read(c, e, lane);  // a later write in this interval races with the read
  async_mark(c, e, lane);
  return c.data[e];
}

bool Machine::accumulates(const Stmt& s, int wg) {
  if (!s.value) return true;
  const Node* n = s.value.node();
  const double* lanes = slots_[n->id].varying ? veval(n) : nullptr;
  const double first = lanes ? lanes[wg] : ueval(n);
  if (lanes)
    for (int l = wg; l < wg + kWarpGroup; ++l)
      if ((lanes[l] != 0) != (first != 0))
        fail_at(l, std::string("an mma_async that ") + (lanes[l] != 0 ? "accumulates" : "overwrites its accumulators") +
                       " here and " + (first != 0 ? "accumulates" : "overwrites them") + " in thread " +
                       std::to_string(wg) + " (a warpgroup's threads give one choice)");
  return first != 0;
}

void Machine::mma_async(const Stmt& s) {
  const Mask& running = require_whole_warps("an mma_async", kWarpGroup);
  const int n = static_cast<int>(s.extent), depth = mma_depth(s.mma);
  const int per = 16 / type_bytes(mma_storage_type(s.mma));
  Cells& acc = cell_of(s.memory);
  for (int wg = running.lo; wg < running.hi; wg += kWarpGroup) {
    const bool accumulate = accumulates(s, wg);
    // The warpgroup's A (64 x depth) and B (n x depth), read as the tensor cores read them.
    std::vector<float> mat[2];
    for (int side = 0; side < 2; ++side) {
      const SharedMatrix& m = s.matrices[side];
      Cells& c = cell_of(m.memory);
      const Node* at = m.start.node();
      const double* lanes = slots_[at->id].varying ? veval(at) : nullptr;
      const double start = lanes ? lanes[wg] : ueval(at);
      if (lanes)
        for (int l = wg; l < wg + kWarpGroup; ++l)
          if (lanes[l] != start)
            fail_at(l, "an mma_async whose " + std::string(side ? "B" : "A") + " starts at element " +
                           std::to_string(static_cast<int64_t>(lanes[l])) + " of '" + c.mem->name + "' here and at " +
                           std::to_string(static_cast<int64_t>(start)) + " in thread " + std::to_string(wg) +
                           " (a warpgroup's threads give one matrix)");
      if (std::fmod(start, per) != 0)
        fail_at(wg, "an mma_async's matrix at element " + std::to_string(static_cast<int64_t>(start)) + " of '" +
                        c.mem->name + "', not on 16 bytes");
      const int rows = side ? n : kMmaAsyncRows;
      mat[side].resize(static_cast<size_t>(rows) * depth);
      for (int row = 0; row < rows; ++row)
        for (int kk = 0; kk < depth; ++kk) {
          const double i = static_cast<double>(m.element(static_cast<int64_t>(start), row, kk, 16 / per));
          const int64_t e = element(c, i, "an mma_async reads", wg);
          const float v = async_read(c, e, wg);
          if (mma_is_tf32(s.mma) && round_tf32(v) != v && !std::isnan(v))  // the tensor cores take tf32's bits as they are
            fail_at(wg, "an mma_async.tf32 reads " + std::to_string(v) + " from shared '" + c.mem->name + "' element " +
                            std::to_string(e) + ", not a tf32 value (store its operands rounded to tf32)");
          mat[side][static_cast<size_t>(row) * depth + kk] = v;
        }
    }
    for (int l = 0; l < kWarpGroup; ++l)
      for (int i = 0; i < n / 2; ++i) {
        const MmaPos p = mma_async_c_pos(l, i);
        const int64_t e = s.slots[static_cast<size_t>(i)] * threads_ + wg + l;
        if (accumulate && !acc.written[e])
          fail_at(wg + l, "an mma_async accumulates into thread '" + acc.mem->name + "' element " +
                              std::to_string(s.slots[static_cast<size_t>(i)]) + " that nothing wrote (an uninitialized read)");
        acc.written[e] = 1;
        double sum = accumulate ? acc.data[e] : 0.0;
        for (int kk = 0; kk < depth; ++kk)
          sum += mma_product(s.mma, mat[0][static_cast<size_t>(p.row) * depth + kk], mat[1][static_cast<size_t>(p.col) * depth + kk]);
        acc.data[e] = static_cast<float>(sum);
        async_mark(acc, e, wg + l);
      }
  }
}

void Machine::mma_async_commit() {
  require_whole_warps("an mma_async_commit", kWarpGroup);
  each(top(), [&](int l) { ++async_commits_[static_cast<size_t>(l)]; });
}

void Machine::mma_async_wait(const Stmt& s) {
  require_whole_warps("an mma_async_wait", kWarpGroup);
  std::vector<uint8_t> waiting(static_cast<size_t>(threads_), 0);
  each(top(), [&](int l) { waiting[static_cast<size_t>(l)] = 1; });
  auto retired = [&](const PendingAsync& a) {
    return waiting[static_cast<size_t>(a.lane)] && a.group < async_commits_[static_cast<size_t>(a.lane)] - s.extent;
  };
  for (const PendingAsync& a : async_) {
    if (!retired(a)) continue;
    if (--a.cells->async_uses[a.element] == 0) --a.cells->async_live;
    // The tensor cores read work-group memory until the wait: that is when the read happened, for
    // the arrivals that order it before a later write (warps with roles).
    if (a.cells->mem->space == Space::shared) note_read_time(*a.cells, a.element, a.lane, false);
  }
  async_.erase(std::remove_if(async_.begin(), async_.end(), retired), async_.end());
}

void Machine::finish_async() {
  if (async_.empty()) return;
  const PendingAsync& a = async_.front();
  fail_at(a.lane, "an mma_async using '" + a.cells->mem->name + "' was never retired by an mma_async_wait before " +
                      "the work-group ended (commit its group, then wait for it)");
}

}  // namespace wino::interp::detail

// The machine's counts of work-group memory accesses (machine.h), by the bank model of
// common/shared_banks.h.
#include <algorithm>
#include <iterator>

#include "common/shared_banks.h"
#include "interp/machine.h"

namespace wino::interp::detail {

void Machine::count_shared(const ir::Stmt& s, const Cells& c, int width) {
  if (c.mem->space != ir::Space::shared) return;
  auto [it, added] = count_of_.try_emplace(&s, counts_->size());
  if (added) {
    const auto known = std::find_if(counts_->begin(), counts_->end(), [&](const SharedAccessCount& a) { return a.stmt == &s; });
    if (known != counts_->end()) it->second = static_cast<size_t>(known - counts_->begin());
    else counts_->push_back({&s, 0, 0, 0});
  }
  SharedAccessCount& count = (*counts_)[it->second];
  const int bytes = ir::type_bytes(c.mem->type);
  const int phase_lanes = access_phase_lanes(s.kind == ir::StmtKind::load, bytes * width);
  int64_t start[32];
  int warp = -1;
  auto flush_warp = [&] {
    if (warp < 0) return;
    const BankPasses p = bank_passes(start, bytes * width, phase_lanes);
    count.requests += 1;
    count.wavefronts += p.wavefronts;
    count.ideal += p.ideal;
  };
  each(top(), [&](int l) {  // ascending lanes: one warp after the other
    if (l / ir::kWarp != warp) {
      flush_warp();
      warp = l / ir::kWarp;
      std::fill(std::begin(start), std::end(start), int64_t{-1});
    }
    const int64_t e = elements_[l];
    start[l % ir::kWarp] = e < 0 ? -1 : e * bytes;
  });
  flush_warp();
}

}  // namespace wino::interp::detail

#include "common/shared_banks.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace wino {

namespace {

constexpr int kBanks = 32, kBankBytes = 4;

// The passes of one phase: lanes [lo, hi).
BankPasses phase_passes(const int64_t (&start)[32], int bytes, int lo, int hi) {
  int64_t words[32 * 17];  // a phase's lanes x their words: up to 32 lanes of 64 bytes, each misaligned
  int n = 0;
  for (int l = lo; l < hi; ++l) {
    if (start[l] < 0) continue;
    for (int64_t w = start[l] / kBankBytes; w <= (start[l] + bytes - 1) / kBankBytes; ++w) words[n++] = w;
  }
  if (n == 0) return {};
  std::sort(words, words + n);
  n = static_cast<int>(std::unique(words, words + n) - words);
  int per_bank[kBanks] = {};
  int most = 0;
  for (int i = 0; i < n; ++i) most = std::max(most, ++per_bank[words[i] % kBanks]);
  return {most, (n + kBanks - 1) / kBanks};
}

}  // namespace

BankPasses bank_passes(const int64_t (&start)[32], int bytes, int phase_lanes) {
  if (bytes < 1 || bytes > 64) throw Error("internal: a shared access of " + std::to_string(bytes) + " bytes a lane");
  if (phase_lanes < 0 || phase_lanes > 32 || (phase_lanes && 32 % phase_lanes))
    throw Error("internal: phases of " + std::to_string(phase_lanes) + " lanes");
  const int lanes = phase_lanes         ? phase_lanes
                    : bytes <= kBankBytes ? 32
                                          : std::max(1, kBanks * kBankBytes / bytes);  // a phase's lanes
  BankPasses total;
  for (int lo = 0; lo < 32; lo += lanes) {
    const BankPasses p = phase_passes(start, bytes, lo, lo + lanes);
    total.wavefronts += p.wavefronts;
    total.ideal += p.ideal;
  }
  return total;
}

}  // namespace wino

#include "common/shared_banks.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace wino {

namespace {

constexpr int kBanks = 32, kBankBytes = 4;

// The passes of one phase: lanes [lo, hi).
BankPasses phase_passes(const int64_t (&start)[32], int bytes, int lo, int hi) {
  int64_t words[kBanks * 8];  // a phase's lanes x their words: at most 128 bytes and the lanes' misalignment
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

BankPasses bank_passes(const int64_t (&start)[32], int bytes) {
  if (bytes < 1 || bytes > 64) throw Error("internal: a shared access of " + std::to_string(bytes) + " bytes a lane");
  const int lanes = bytes <= kBankBytes ? 32 : std::max(1, kBanks * kBankBytes / bytes);  // a phase's lanes
  BankPasses total;
  for (int lo = 0; lo < 32; lo += lanes) {
    const BankPasses p = phase_passes(start, bytes, lo, lo + lanes);
    total.wavefronts += p.wavefronts;
    total.ideal += p.ideal;
  }
  return total;
}

}  // namespace wino

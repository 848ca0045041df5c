// Tensor cores: how the GEMM core (gemm_core.cpp) lays a staged row of U or V out in work-group
// memory so that each lane reads its fragment values as float4 (or float2) loads.
//
// In a warp's tile of W = 8 n columns of a staged row, the lane with g = j % 8 (lane = 4 g + t)
// reads the n columns j = 8 s + g, s = 0..n-1 (U: rows g and g + 8 of each 16-row slice, s =
// 2 slice + half; V: column g of each 8-column slice, s = slice). Staging writes column j at
// g n + s instead, so the lane's n values sit side by side (its "run"); when the run is several
// chunks of 4, lane g's chunk c goes to slot (c + g + g / 4) mod chunks. Then the 8 lanes of a
// quarter-warp, which read rows t (or 2t) of the same chunk, hit 8 different groups of 4 banks,
// and so do a warp's 32 stores of consecutive columns when staging (tests/test_mma_runs.cpp
// counts the conflicts of both for every tile shape the planner offers).
//
// Templates over int64_t (tests) and ir::Expr (kernels): one definition of the layout.
#pragma once

#include <cstdint>

namespace wino::plans {

/// Values a lane reads from one staged row: rk of U (two per 16-row slice), rp / 2 of V.
inline int run_length(int rk_or_rp, bool is_u) { return is_u ? rk_or_rp : rk_or_rp / 2; }

/// Chunks of 4 a run of n values is read in (0: not a multiple of 4, read as pairs or singles).
inline int run_chunks(int n) { return n % 4 == 0 ? n / 4 : 0; }

/// Offset in lane g's run (from g n) of the chunk holding run values 4c..4c+3 (g * 0: the
/// constant in g's type; the IR folds it).
template <class T>
T run_chunk_offset(T g, int c, int n) {
  const int chunks = run_chunks(n);
  if (chunks <= 1) return g * 0 + int64_t{4} * c;
  return (g + g / 4 + int64_t{c}) % chunks * 4;
}

/// Where block column j of a staged row sits within the row (a permutation of 0..width-1).
template <class T>
T fragment_column(T j, int n) {
  const int64_t w = int64_t{8} * n;
  T g = j % 8, s = j % w / 8;
  T in_run = run_chunks(n) > 1 ? (s / 4 + g + g / 4) % run_chunks(n) * 4 + s % 4 : s;
  return j / w * w + g * n + in_run;
}

}  // namespace wino::plans

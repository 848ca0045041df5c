// The row pitch of the accumulator exchange after the GEMM (plans::exchange): the FMA core's
// threads store runs of 4 accumulators of a row as one 16-byte access each, and the pitch is
// padded where that spreads their stores over the banks. At a pitch of bp a warp's stores of one
// register row hit 4 or 8 banks (rows bp floats apart share their banks: 8-way conflicts on the
// fused ring's exchange, session 67); one pitch can rarely suit both the stores and the readers
// (a tile a thread, rows apart), so both are counted and the fewest passes win.

#include "common/shared_banks.h"
#include "plans/gemm_parts.h"
#include "plans/gemm_tiles.h"

namespace wino::plans {

namespace {

// The FMA core's block position of register element i of thread q (GemmCore::row and col).
int64_t spaced_at(int64_t q, int i, int reg, int block) {
  const int w = reg % 4 == 0 ? 4 : 1;
  return int64_t{i / w} * (block / (reg / w)) + i % w + q * w;
}

// Passes over the banks of the exchange's stores of slice 0 (rows rows) and of its readers'
// loads, at row pitch `pitch`, summed over the work-group's warps.
int64_t exchange_passes(const GemmTiles& g, int pitch, int64_t rows) {
  const int qk = g.bk / g.rk, qp = g.bp / g.rp, T = g.threads();
  const bool runs = exchange_stores_runs(g, pitch);
  const int step = runs ? 4 : 1;
  int64_t passes = 0;
  for (int warp = 0; warp * 32 < T; ++warp)
    for (int j = 0; j < g.ppt; ++j)
      for (int i = 0; i < g.rk; ++i)
        for (int jj = 0; jj < g.rp; jj += step) {
          int64_t start[32];
          for (int lane = 0; lane < 32; ++lane) {
            const int tid = warp * 32 + lane, q = tid % (qk * qp);
            const int64_t xi = int64_t{tid / (qk * qp)} * g.ppt + j, kl = spaced_at(q / qp, i, g.rk, g.bk);
            start[lane] = tid < T && kl < rows ? ((xi * rows + kl) * pitch + spaced_at(q % qp, jj, g.rp, g.bp)) * 4 : -1;
          }
          passes += bank_passes(start, 4 * step).wavefronts;
        }
  // Readers (transform_exchanged, a tile a thread): lane l of a pass reads row l / bp, tile l % bp
  // of each of the points' planes.
  const int64_t pairs = rows * g.bp;
  for (int64_t first = 0; first < pairs; first += 32) {
    int64_t start[32];
    for (int lane = 0; lane < 32; ++lane) {
      const int64_t pair = first + lane;
      start[lane] = pair < pairs ? (pair / g.bp * pitch + pair % g.bp) * 4 : -1;
    }
    passes += bank_passes(start, 4).wavefronts * g.points;
  }
  return passes;
}

}  // namespace

bool exchange_stores_runs(const GemmTiles& g, int pitch) {
  return !g.mma && g.lanes == 0 && g.rp % 4 == 0 && (g.bp / (g.rp / 4)) % 4 == 0 && pitch % 4 == 0;
}

int fma_exchange_pitch(const GemmTiles& g, const Tiling& t, int64_t floats) {
  if (rows_exchanged(g, t) || g.points == 1) return g.bp;
  int best = g.bp;
  int64_t best_passes = -1;
  for (int pad = 0; pad < 32; pad += 4) {
    const int pitch = g.bp + pad;
    int64_t rows = g.bk;  // as plans::exchange slices it
    while (rows > 1 && g.points * rows * pitch > floats) rows /= 2;
    if (g.points * rows * pitch > floats || g.bk % rows) continue;  // (plans::exchange refuses those)
    // More slices mean more barriers: a pitch that halves the slice must save passes per slice too.
    const int64_t passes = exchange_passes(g, pitch, rows) * (g.bk / rows);
    if (best_passes < 0 || passes < best_passes) best = pitch, best_passes = passes;
  }
  return best;
}

}  // namespace wino::plans

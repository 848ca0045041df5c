// The layout of the accumulator exchange after the GEMM (plans::exchange): the FMA core's
// threads store runs of 4 accumulators of a row as one 16-byte access each, and the rows are
// padded where that spreads their stores over the banks. At a pitch of bp a warp's stores of one
// register row hit 4 or 8 banks (rows bp floats apart share their banks: 8-way conflicts on the
// fused ring's exchange, session 67); one pitch can rarely suit both the stores and the readers
// (a tile a thread, rows apart): at 32 x 16 with 8 x 8 register tiles a quarter-warp stores 4
// rows 4 apart and a warp reads 2 neighbouring rows, which pitch 20 served in 2 passes each where
// rows of 16 with 4 floats after every 2 serve both in one. So both are counted, over pitches and
// groups' pads, and the fewest passes win.
#include "common/shared_banks.h"
#include "plans/gemm_parts.h"
#include "plans/gemm_tiles.h"

namespace wino::plans {

namespace {

// The FMA core's block position of register element i of thread q (plans::spacing, as GemmCore's
// rows and columns take it).
int64_t spaced_at(int64_t q, int i, int reg, int block) {
  const Spacing s = spacing(i, reg, block);
  return s.offset + q * s.run;
}

// Passes over the banks of the exchange's stores of slice 0 (rows rows) and of its readers'
// loads, in layout `l`, summed over the work-group's warps.
int64_t exchange_passes(const GemmTiles& g, const ExchangeLayout& l, int64_t rows) {
  const int qk = g.bk / g.rk, qp = g.bp / g.rp, T = g.threads();
  const bool runs = exchange_stores_runs(g, l);
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
            start[lane] = tid < T && kl < rows ? (l.row_start(xi, rows, kl) + spaced_at(q % qp, jj, g.rp, g.bp)) * 4 : -1;
          }
          passes += bank_passes(start, 4 * step).wavefronts;
        }
  // Readers (transform_exchanged, a tile a thread): lane l of a pass reads row l / bp, tile l % bp
  // of each of the points' planes (each plane's rows the same banks, turned alike).
  const int64_t pairs = rows * g.bp;
  for (int64_t first = 0; first < pairs; first += 32) {
    int64_t start[32];
    for (int lane = 0; lane < 32; ++lane) {
      const int64_t pair = first + lane;
      start[lane] = pair < pairs ? (l.row_start(0, rows, pair / g.bp) + pair % g.bp) * 4 : -1;
    }
    passes += bank_passes(start, 4).wavefronts * g.points;
  }
  return passes;
}

}  // namespace

int64_t ExchangeLayout::floats(int64_t planes, int64_t rows) const {
  return planes * (rows * pitch + (group ? rows / group * pad : 0));
}

int64_t ExchangeLayout::slice_rows(int64_t bk, int64_t planes, int64_t room) const {
  int64_t rows = bk;
  while (rows > 1 && floats(planes, rows) > room) rows /= 2;
  return floats(planes, rows) > room || bk % rows || (group && rows % group) ? 0 : rows;
}

int64_t ExchangeLayout::row_start(int64_t plane, int64_t rows, int64_t r) const {
  return (plane * rows + r) * pitch + (group ? (plane * (rows / group) + r / group) * pad : 0);
}

ir::Expr ExchangeLayout::row_start(ir::Expr plane, int64_t rows, ir::Expr r) const {
  ir::Expr at = (plane * rows + r) * pitch;
  return group ? at + (plane * (rows / group) + r / group) * pad : at;
}

bool exchange_stores_runs(const GemmTiles& g, const ExchangeLayout& l) {
  return !g.mma && g.lanes == 0 && g.rp % 4 == 0 && (g.bp / (g.rp / 4)) % 4 == 0 && l.pitch % 4 == 0 && l.pad % 4 == 0;
}

ExchangeLayout fma_exchange_layout(const GemmTiles& g, const Tiling& t, int64_t floats) {
  if (rows_exchanged(g, t) || g.points == 1 || g.rk <= 0 || g.rp <= 0 || g.bk < g.rk || g.bp < g.rp) return {g.bp};
  ExchangeLayout best{g.bp};
  int64_t best_passes = -1;
  // The plainest layouts first: a tie keeps them.
  for (int group : {0, 2, 4, 8})
    for (int pad = 0; pad < 32; pad += 4)
      for (int group_pad = group ? 4 : 0; group_pad <= (group ? 28 : 0); group_pad += 4) {
        const ExchangeLayout l{g.bp + pad, group, group_pad};
        const int64_t rows = l.slice_rows(g.bk, g.points, floats);  // as plans::exchange slices it
        if (!rows) continue;
        // More slices mean more barriers: a layout that halves the slice must save passes per slice too.
        const int64_t passes = exchange_passes(g, l, rows) * (g.bk / rows);
        if (best_passes < 0 || passes < best_passes) best = l, best_passes = passes;
      }
  return best;
}

}  // namespace wino::plans

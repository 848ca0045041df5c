// The sinks of the GEMM core: where the accumulators go after the last channel chunk.
#include "ir/transform_code.h"
#include "plans/gemm_parts.h"
#include "plans/patch_region.h"

namespace wino::plans {

using namespace ir;

// A run of columns (column_runs: consecutive accumulators, starting at a multiple of its length)
// goes out as one aligned vector store where P is a multiple of the run's length too: then the
// run's index is a multiple of it (M, an intermediate, starts 16-byte aligned), and the run is
// inside the tensor or outside it as a whole.
void store_m_from_registers(KernelBuilder& b, const GemmCore& core, const Memory* mm) {
  const GemmTiles& g = core.g;
  const int64_t K = core.d->k, P = core.t->tiles;
  b.threads([&](Expr tid) {
    ThreadTile tt = core.tile(b, tid);
    for (int i = 0; i < g.rk; ++i) {
      Expr k = b.let("k", core.kb * g.bk + core.row(b, tt, i));
      for (const std::vector<int>& run : core.column_runs()) {
        const int n = static_cast<int>(run.size());
        const bool whole = n > 1 && P % n == 0;
        for (int r = 0; r < n; r += whole ? n : 1) {
          Expr p = b.let("p", core.pb * g.bp + core.col(b, tt, run[r]));
          Expr m = b.load("m", core.acc, b.i32(core.acc_index(0, i, run[r])), {}, whole ? n : 1);
          Expr at = (core.xi0 * K + k) * P + p, ok = logical_and(lt(k, b.i32(K)), lt(p, b.i32(P)));
          if (whole) b.aligned_store(mm, at, m, ok);
          else b.store(mm, at, m, ok);
        }
      }
    }
  });
}

bool output_by_channels(const ConvDesc& d, const GemmTiles& g) { return d.layout == Layout::nhwc && g.mma; }

// All alpha^2 points of a bk x bp block rarely fit work-group memory, so the exchange goes a
// slice of `rows` output channels at a time: the threads holding the slice's accumulators write
// Ms[xi][row][pitch], then every thread consumes whole tiles of the slice (storing straight from
// the accumulators needs an address per value and spills).
void exchange(KernelBuilder& b, const GemmCore& core, const std::function<void(Expr lo, int64_t rows)>& consume,
              const RationalMatrix* row_transform) {
  const GemmTiles& g = core.g;
  const ExchangeLayout& layout = core.exchange;
  const int m = row_transform ? row_transform->rows : 0;  // a row's values after the transform
  const int64_t planes = row_transform ? int64_t{g.ppt} * m : g.points;
  if (static_cast<bool>(row_transform) != rows_exchanged(g, *core.t))  // (exchange_planes sized it so)
    throw Error("internal: GEMM tiles " + g.str() + ": rows are exchanged transformed exactly where a thread's points are one row");
  const int64_t rows = layout.slice_rows(g.bk, planes, core.smem_size);
  if (!rows) throw Error("GEMM tiles " + g.str() + ": the accumulator exchange does not fit work-group memory");
  const int64_t slices = g.bk / rows;
  // On tensor cores a register row's rows over a warp's lanes lie in one slice or none: a
  // warp-uniform branch skips the others' stores (else every store issues, predicated off).
  const bool by_warp = g.mma && rows % core.row_group_size() == 0;
  if (by_warp && (8 * g.rk) % core.row_group_size())  // a warp's first row, a multiple of 8 rk, starts a group
    throw Error("internal: GEMM tiles " + g.str() + ": a warp's rows do not start a group of " +
                std::to_string(core.row_group_size()) + " (the exchange's branch by warps)");
  b.loop("slice", slices, LoopKind::serial, [&](Expr slice) {
    Expr lo = b.let("lo", slice * rows);
    b.threads([&](Expr tid) {
      ThreadTile tt = core.tile(b, tid);
      // Point j's accumulators as they are, or (row_transform) the thread's row of points
      // transformed: value j of its m into plane (row m + j).
      auto store_rows = [&](int i, Expr kl, Expr ok) {
        for (int jj = 0; jj < g.rp; ++jj) {
          std::vector<Expr> row;
          for (int c = 0; c < g.ppt; ++c) row.push_back(b.load("acc", core.acc, b.i32(core.acc_index(c, i, jj))));
          const std::vector<Expr> z = apply_transform(b.ctx(), *row_transform, row);
          for (int j = 0; j < m; ++j)
            b.store(core.smem, layout.row_start(tt.group * m + b.i32(j), rows, kl) + core.col(b, tt, jj), z[static_cast<size_t>(j)], ok);
        }
      };
      const bool runs = exchange_stores_runs(g, layout);
      auto store_point = [&](Expr xi, int j, int i, Expr kl, Expr ok) {
        for (int jj = 0; jj < g.rp; jj += runs ? 4 : 1) {
          Expr at = layout.row_start(xi, rows, kl) + core.col(b, tt, jj);
          Expr value = b.load("acc", core.acc, b.i32(core.acc_index(j, i, jj)), {}, runs ? 4 : 1);
          if (runs) b.aligned_store(core.smem, at, value, ok);
          else b.store(core.smem, at, value, ok);
        }
      };
      for (int j = 0; j < (row_transform ? 1 : g.ppt); ++j) {
        Expr xi = row_transform ? Expr{} : b.let("xi", core.point(b, tt, j));
        for (int i = 0; i < g.rk; ++i) {
          Expr kl = b.let("kl", core.row(b, tt, i) - lo);
          auto store = [&](Expr ok) { row_transform ? store_rows(i, kl, ok) : store_point(xi, j, i, kl, ok); };
          if (slices == 1) store(Expr{});  // every row is in the one slice
          else if (by_warp) b.if_then(in_range(core.row_group(b, tt, i) - lo, 0, rows), [&] { store(Expr{}); });
          else store(in_range(kl, 0, rows));
        }
      }
    });
    b.barrier();
    consume(lo, rows);
    if (slices > 1) b.barrier();  // the next slice overwrites what this one read
  });
}

void store_m_exchanged(KernelBuilder& b, const GemmCore& core, const Memory* mm) {
  const GemmTiles& g = core.g;
  const int64_t K = core.d->k, P = core.t->tiles, T = g.threads();
  // The exchanged rows are read back as one run (element e), so they must not be padded.
  if (core.exchange.pitch != g.bp || core.exchange.group)
    throw Error("internal: GEMM tiles " + g.str() + ": M is stored from an exchange of unpadded rows only");
  exchange(b, core, [&](Expr lo, int64_t rows) {
    const int64_t n = g.points * rows * g.bp;
    b.threads([&](Expr tid) {
      b.loop("mi", ceil_div(n, T), LoopKind::serial, [&](Expr mi) {
        Expr e = b.let("e", mi * T + tid);
        Expr xi = b.let("xi", core.xi0 + e / (rows * g.bp)), kl = b.let("kl", (e / g.bp) % rows);
        Expr pl = b.let("pl", e % g.bp);
        Expr k = b.let("k", core.kb * g.bk + kl + lo), p = b.let("p", core.pb * g.bp + pl);
        Expr ok = logical_and(lt(e, b.i32(n)), logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
        b.store(mm, (xi * K + k) * P + p, b.load("m", core.smem, e), ok);
      });
    });
  });
}

namespace {
// Channels first, a warp reads `rows` exchanged rows (bp + 1 floats apart) of 32 / rows tiles each:
// the bank of row kl, tile pl is kl + pl, so neighbouring tiles collide (4-way for 8 rows). The
// tile ordinals q of a warp (n = 32 / rows consecutive ones) are spread `rows` apart within each
// run of 32 tiles, which puts the warp's reads on 32 distinct banks; the output's stores stay
// runs of a pixel's channels.
Expr spread_tiles(Expr q, int64_t rows, int bp) {
  if (rows >= 32 || 32 % rows || bp % 32) return q;
  const int64_t n = 32 / rows;
  return q % n * rows + q / n % rows + q / 32 * 32;
}
}  // namespace

void transform_exchanged(KernelBuilder& b, const GemmCore& core, const OutputSink& y) {
  const GemmTiles& g = core.g;
  const ConvDesc& d = *core.d;
  const Tiling& t = *core.t;
  const int64_t K = d.k, T = g.threads();
  // Neighbouring threads on neighbouring channels (output_by_channels), else on neighbouring
  // tiles (runs of a row's pixels). (The FMA fused's channels-last y keeps the order it was timed
  // with, sessions 35-40.)
  const bool channels_first = output_by_channels(d, g);
  // Where a thread's points are a row of the grid, it sends its row transformed (M AT^T, m of its
  // alpha values: half the exchange at F(2,3)); the reader then transforms the columns.
  const RationalMatrix* rows_first = rows_exchanged(g, t) ? &t.t.AT : nullptr;
  const int m = t.t.AT.rows, alpha = t.alpha;
  exchange(b, core, [&](Expr lo, int64_t rows) {
    // A pair's fast index (its channel, channels first; else its tile) and slow one. Where the fast
    // one's range divides T, a pass moves each thread's pair by whole runs of it: the fast index
    // stays the thread's, computed once, and the slow one steps by T / range (no division a pass).
    const int64_t range = channels_first ? rows : g.bp, pairs = rows * g.bp;
    const bool steps = T % range == 0;
    b.threads([&](Expr tid) {
      Expr fast0 = steps ? b.let("f0", tid % range) : Expr{}, slow0 = steps ? b.let("s0", tid / range) : Expr{};
      b.loop("oi", ceil_div(pairs, T), LoopKind::serial, [&](Expr oi) {
        Expr pair = !steps || pairs % T ? b.let("pair", oi * T + tid) : Expr{};
        Expr fast = steps ? fast0 : b.let("f", pair % range);
        Expr slow = steps ? b.let("s", slow0 + oi * (T / range)) : b.let("s", pair / range);
        Expr kl = channels_first ? fast : slow;
        Expr pl = channels_first ? b.let("pl", spread_tiles(slow, rows, g.bp)) : fast;
        Expr k = b.let("k", core.kb * g.bk + kl + lo);
        const BlockTile tile = block_tile(b, g, t, core.pb, pl);
        // Bounds left out where the shape guarantees them: the passes cover the pairs exactly
        // (pairs % T == 0), the blocks cover K (K % bk == 0).
        Expr inside = both(pairs % T ? lt(pair, b.i32(pairs)) : Expr{}, K % g.bk ? lt(k, b.i32(K)) : Expr{});
        Expr ok = both(inside, tile.valid);
        auto body = [&] {
          std::vector<Expr> values;
          for (int xi = 0; xi < (rows_first ? alpha * m : g.points); ++xi)
            values.push_back(b.load("m", core.smem, core.exchange.row_start(b.i32(xi), rows, kl) + pl));
          store_output_tile(b, y, d, t, tile.at, k,
                            rows_first ? transform_columns(b.ctx(), t.t.AT, values) : transform_2d(b.ctx(), t.t.AT, values));
        };
        if (ok) b.if_then(ok, body);
        else body();
      });
    });
  }, rows_first);
}

void transform_in_registers(KernelBuilder& b, const GemmCore& core, const OutputSink& y) {
  const GemmTiles& g = core.g;
  const ConvDesc& d = *core.d;
  const Tiling& t = *core.t;
  const int64_t K = d.k, P = t.tiles;
  b.threads([&](Expr tid) {
    ThreadTile tt = core.tile(b, tid);
    for (int i = 0; i < g.rk; ++i)
      for (int j = 0; j < g.rp; ++j) {
        Expr k = b.let("k", core.kb * g.bk + core.row(b, tt, i)), p = b.let("p", core.pb * g.bp + core.col(b, tt, j));
        b.if_then(logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))), [&] {
          std::vector<Expr> tile;
          for (int xi = 0; xi < g.points; ++xi) tile.push_back(b.load("m", core.acc, b.i32(core.acc_index(xi, i, j))));
          store_output_tile(b, y, d, t, tile_coords(b, p, t), k, transform_2d(b.ctx(), t.t.AT, tile));
        });
      }
  });
}

}  // namespace wino::plans

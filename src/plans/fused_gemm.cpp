#include "plans/fused_gemm.h"

#include "common/error.h"
#include "ir/transform_code.h"

namespace wino::plans {

using namespace ir;

std::string FusedTiles::str() const {
  return "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" + std::to_string(rk) + "x" +
         std::to_string(rp) + "_c" + std::to_string(cc) + "_p" + std::to_string(ppt);
}

namespace {

constexpr int64_t kSharedLimit = 48 * 1024 / 4;  // floats of static work-group memory

int64_t stage_size(int a2, const FusedTiles& f) { return int64_t{a2} * f.cc * (f.bk + f.bp); }

/// The largest divisor of alpha^2 that is at most `target`: every point group is then whole, so
/// every Winograd point is computed (odd alpha has no divisor 4, 8 or 9: alpha^2 = 25 takes 5).
int points_per_thread(int a2, int target) {
  int ppt = 1;
  for (int p = 1; p <= target; ++p)
    if (a2 % p == 0) ppt = p;
  return ppt;
}

}  // namespace

FusedTiles choose_fused_tiles(const Tiling& t, const PlanOptions& o, bool all_points_per_thread) {
  const int a2 = t.alpha * t.alpha;
  FusedTiles f;
  // Register budget (measured with ptxas on the benchmark layers): the accumulators stay live
  // across the chunk's input transform (alpha^2 inputs and outputs per thread), so 256 threads
  // with up to 144 accumulators fit under 255 registers; more threads cap registers lower and
  // spill (384 threads: 168 registers; 512: 128, less than the 8x8 transform alone needs).
  if (all_points_per_thread) {
    f = {16, 16, 1, 1, a2 <= 36 ? 8 : 4, a2, 0};
  } else if (a2 <= 16) {
    f = {32, 32, 4, 4, 4, points_per_thread(a2, 4), 0};   // 4 groups x 64 threads, 64 accumulators
  } else if (a2 <= 36) {
    f = {32, 32, 4, 4, 4, points_per_thread(a2, 9), 0};   // 4 groups x 64 threads, 144 accumulators
  } else {
    f = {16, 32, 4, 4, 4, points_per_thread(a2, 8), 0};   // 8 groups x 32 threads, 128 accumulators
  }
  if (o.block_k) f.bk = o.block_k;
  if (o.block_tiles) f.bp = o.block_tiles;
  if (o.reg_k) f.rk = o.reg_k;
  if (o.reg_tiles) f.rp = o.reg_tiles;
  if (o.chunk_c) f.cc = o.chunk_c;
  if (f.bk % f.rk || f.bp % f.rp)
    throw Error("plan " + o.plan + ": fused tiles: block sizes (" + std::to_string(f.bk) + ", " + std::to_string(f.bp) +
                ") must be multiples of the register tile (" + std::to_string(f.rk) + ", " +
                std::to_string(f.rp) + ")");
  if (f.rp % 4 && f.rp > 1 && !all_points_per_thread)
    throw Error("plan " + o.plan + ": fused tiles " + f.str() + ": the register tile's tile count must be 1 or a multiple of 4");
  if (f.ppt < 1 || a2 % f.ppt)
    throw Error("plan " + o.plan + ": fused tiles " + f.str() + ": " + std::to_string(f.ppt) + " points per thread must divide alpha^2 = " +
                std::to_string(a2));
  const int64_t threads = int64_t{a2 / f.ppt} * (f.bk / f.rk) * (f.bp / f.rp);
  if (threads > 1024)
    throw Error("plan " + o.plan + ": fused tiles " + f.str() + " need " + std::to_string(threads) +
                " threads per work-group for F(" + std::to_string(t.m) + "," + std::to_string(t.r) +
                "); the limit is 1024: use smaller blocks");
  if (stage_size(a2, f) > kSharedLimit)
    throw Error("plan " + o.plan + ": fused tiles " + f.str() + " need " + std::to_string(stage_size(a2, f) * 4) +
                " bytes of work-group memory; the limit is 49152: use smaller blocks or chunks");
  f.threads = static_cast<int>(threads);
  return f;
}

int64_t fused_groups(const ConvDesc& d, const Tiling& t, const FusedTiles& ft) {
  return ceil_div(d.k, ft.bk) * ceil_div(t.tiles, ft.bp);
}

ThreadTile FusedGemm::tile(KernelBuilder& b, Expr tid) const {
  const int qk = ft.bk / ft.rk, qp = ft.bp / ft.rp;
  Expr q = b.let("q", tid % (qk * qp));
  return {b.let("grp", tid / (qk * qp)), b.let("kq", q / qp), b.let("pq", q % qp)};
}
Expr FusedGemm::point(KernelBuilder& b, const ThreadTile& tt, int j) const {
  return tt.group * ft.ppt + b.i32(j);
}
Expr FusedGemm::row(KernelBuilder& b, const ThreadTile& tt, int i) const {
  return tt.kq * ft.rk + b.i32(i);  // a contiguous run: vector reads when rk is a multiple of 4
}
Expr FusedGemm::col(KernelBuilder& b, const ThreadTile& tt, int j) const {
  if (ft.rp % 4) return tt.pq + b.i32(int64_t{j} * (ft.bp / ft.rp));  // strided: conflict-free
  const int gp = ft.rp / 4;  // runs of 4, spaced so neighbouring threads read neighbouring runs
  return tt.pq * 4 + b.i32(int64_t{j / 4} * (ft.bp / gp) + j % 4);
}

FusedGemm build_fused_gemm(KernelBuilder& b, const ConvDesc& d, const Tiling& t,
                           const FusedTiles& ft, InputSource source, const Memory* input,
                           const Memory* u) {
  Context& ctx = b.ctx();
  const int a2 = t.alpha * t.alpha, T = ft.threads, bk = ft.bk, bp = ft.bp, cc = ft.cc;
  const int64_t C = d.c, K = d.k, P = t.tiles, pblocks = ceil_div(P, bp);
  FusedGemm g;
  g.ft = ft;
  // The plans reuse the area after the GEMM (exchanges), so it takes what static memory allows.
  g.smem_size = std::max(stage_size(a2, ft), std::min<int64_t>(kSharedLimit, int64_t{a2} * bk * bp));
  g.smem = b.shared_array("smem", g.smem_size);
  g.acc = b.thread_array("acc", ft.ppt * ft.rk * ft.rp);
  const int64_t us_offset = int64_t{a2} * cc * bp;  // Vs[xi][cc][bp] then Us[xi][cc][bk]
  g.pb = b.let("pb", b.group_id() % pblocks);
  g.kb = b.let("kb", b.group_id() / pblocks);

  b.threads([&](Expr) {
    for (int i = 0; i < ft.ppt * ft.rk * ft.rp; ++i) b.store(g.acc, b.i32(i), b.f32(0));
  });
  b.loop("chunk", ceil_div(C, cc), LoopKind::serial, [&](Expr chunk) {
    Expr c0 = b.let("c0", chunk * cc);
    b.threads([&](Expr tid) {
      b.comment("stage the chunk's transformed inputs Vs[xi][cc][bp] in work-group memory");
      b.loop("vi", ceil_div(int64_t{cc} * bp, T), LoopKind::serial, [&](Expr vi) {
        Expr pair = b.let("pair", vi * T + tid);
        b.if_then(lt(pair, b.i32(int64_t{cc} * bp)), [&] {
          Expr ci = b.let("ci", pair / bp), pl = b.let("pl", pair % bp);
          Expr c = b.let("c", c0 + ci), p = b.let("p", g.pb * bp + pl);
          Expr valid = b.let("valid", logical_and(lt(c, b.i32(C)), lt(p, b.i32(P))));
          std::vector<Expr> v;
          if (source == InputSource::image) {
            std::vector<Expr> tile = load_input_tile(b, input, d, t, tile_coords(b, p, t), c, valid);
            v = transform_2d(ctx, t.t.BT, tile);
          } else {
            for (int xi = 0; xi < a2; ++xi)
              v.push_back(b.load("v", input, (b.i32(xi) * C + c) * P + p, valid));
          }
          for (int xi = 0; xi < a2; ++xi) b.store(g.smem, (b.i32(xi) * cc + ci) * bp + pl, v[xi]);
        });
      });
      b.comment("stage the chunk's weights Us[xi][cc][bk] (U is [xi][c][k]: coalesced in k)");
      const int64_t ucount = int64_t{a2} * cc * bk;
      b.loop("ui", ceil_div(ucount, T), LoopKind::serial, [&](Expr ui) {
        Expr e = b.let("e", ui * T + tid);
        b.if_then(lt(e, b.i32(ucount)), [&] {
          Expr kl = b.let("kl", e % bk), ci = b.let("ci", (e / bk) % cc), xi = b.let("xi", e / (bk * cc));
          Expr k = b.let("k", g.kb * bk + kl), c = b.let("c", c0 + ci);
          Expr w = b.load("w", u, (xi * C + c) * K + k, logical_and(lt(k, b.i32(K)), lt(c, b.i32(C))));
          b.store(g.smem, b.i32(us_offset) + e, w);
        });
      });
    });
    b.barrier();
    b.threads([&](Expr tid) {
      ThreadTile tt = g.tile(b, tid);
      for (int j = 0; j < ft.ppt; ++j) {
        Expr xi = b.let("xi", g.point(b, tt, j));
        b.loop("ci", cc, LoopKind::unrolled, [&](Expr ci) {
          Expr row = b.let("row", xi * cc + ci);
          std::vector<Expr> us, vs;
          for (int i = 0; i < ft.rk; ++i)
            us.push_back(b.load("uk", g.smem, b.i32(us_offset) + row * bk + g.row(b, tt, i)));
          for (int jj = 0; jj < ft.rp; ++jj)
            vs.push_back(b.load("vp", g.smem, row * bp + g.col(b, tt, jj)));
          for (int i = 0; i < ft.rk; ++i)
            for (int jj = 0; jj < ft.rp; ++jj)
              b.accumulate(g.acc, b.i32(g.acc_index(j, i, jj)), us[i] * vs[jj]);
        });
      }
    });
    b.barrier();
  });
  return g;
}

}  // namespace wino::plans

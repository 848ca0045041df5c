#include "plans/fused_gemm.h"

#include "common/error.h"
#include "ir/transform_code.h"

namespace wino::plans {

using namespace ir;

std::string FusedTiles::str() const {
  return "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" + std::to_string(rk) + "x" +
         std::to_string(rp) + "_c" + std::to_string(cc);
}

FusedTiles choose_fused_tiles(const Tiling& t, const PlanOptions& o, bool all_points_per_thread) {
  const int a2 = t.alpha * t.alpha;
  FusedTiles f;
  if (all_points_per_thread) {  // fused-output: every thread keeps all alpha^2 points
    f = {16, 16, 1, 1, a2 <= 36 ? 8 : 4, 0};
  } else if (a2 <= 16) {
    f = {32, 16, 4, 2, 8, 0};
  } else if (a2 <= 36) {
    f = {16, 8, 4, 4, 8, 0};  // 288 threads: 576 would cap registers at 96 and spill
  } else {
    f = {8, 8, 4, 4, 4, 0};  // 256 threads: the 8x8 input transform needs > 128 registers
  }
  if (o.block_k) f.bk = o.block_k;
  if (o.block_tiles) f.bp = o.block_tiles;
  if (o.reg_k) f.rk = o.reg_k;
  if (o.reg_tiles) f.rp = o.reg_tiles;
  if (o.chunk_c) f.cc = o.chunk_c;
  if (f.bk % f.rk || f.bp % f.rp)
    throw Error("fused tiles: block sizes (" + std::to_string(f.bk) + ", " + std::to_string(f.bp) +
                ") must be multiples of the register tile (" + std::to_string(f.rk) + ", " +
                std::to_string(f.rp) + ")");
  const int64_t per_point = (f.bk / f.rk) * (f.bp / f.rp);
  const int64_t threads = all_points_per_thread ? per_point : per_point * a2;
  const int64_t stage = int64_t{a2} * f.cc * (f.bk + f.bp), exchange = int64_t{a2} * f.bk * f.bp;
  const int64_t smem = all_points_per_thread ? stage : std::max(stage, exchange);
  if (threads > 1024)
    throw Error("fused tiles " + f.str() + " need " + std::to_string(threads) +
                " threads per work-group for F(" + std::to_string(t.m) + "," + std::to_string(t.r) +
                "); the limit is 1024: use smaller blocks");
  if (smem * 4 > 48 * 1024)
    throw Error("fused tiles " + f.str() + " need " + std::to_string(smem * 4) +
                " bytes of work-group memory; the limit is 49152: use smaller blocks or chunks");
  f.threads = static_cast<int>(threads);
  return f;
}

int64_t fused_groups(const ConvDesc& d, const Tiling& t, const FusedTiles& ft) {
  return ceil_div(d.k, ft.bk) * ceil_div(t.tiles, ft.bp);
}

FusedGemm build_fused_gemm(KernelBuilder& b, const ConvDesc& d, const Tiling& t,
                           const FusedTiles& ft, InputSource source, const Memory* input,
                           const Memory* u) {
  Context& ctx = b.ctx();
  const int a2 = t.alpha * t.alpha, T = ft.threads, bk = ft.bk, bp = ft.bp, cc = ft.cc;
  const int64_t C = d.c, K = d.k, P = t.tiles, pblocks = ceil_div(P, bp);
  const int64_t stage = int64_t{a2} * cc * (bk + bp), exchange = int64_t{a2} * bk * bp;
  const bool per_point = T > (bk / ft.rk) * (bp / ft.rp);
  FusedGemm g;
  g.smem = b.shared_array("smem", per_point ? std::max(stage, exchange) : stage);
  const int acc_size = per_point ? ft.rk * ft.rp : a2 * ft.rk * ft.rp;
  g.acc = b.thread_array("acc", acc_size);
  const int64_t us_offset = int64_t{a2} * cc * bp;  // Vs[xi][cc][bp] then Us[xi][cc][bk]
  g.pb = b.let("pb", b.group_id() % pblocks);
  g.kb = b.let("kb", b.group_id() / pblocks);

  b.threads([&](Expr) {
    for (int i = 0; i < acc_size; ++i) b.store(g.acc, b.i32(i), b.f32(0));
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
      const int qk = bk / ft.rk, qp = bp / ft.rp;
      Expr q = per_point ? tid % (qk * qp) : tid;
      Expr kq = b.let("kq", q / qp), pq = b.let("pq", q % qp);
      auto gemm_point = [&](Expr xi, int acc0) {
        b.loop("ci", cc, LoopKind::unrolled, [&](Expr ci) {
          Expr row = b.let("row", xi * cc + ci);
          std::vector<Expr> us, vs;
          for (int i = 0; i < ft.rk; ++i)
            us.push_back(b.load("uk", g.smem, b.i32(us_offset) + row * bk + kq * ft.rk + i));
          for (int j = 0; j < ft.rp; ++j)  // strided: neighbouring threads read neighbouring words
            vs.push_back(b.load("vp", g.smem, row * bp + pq + j * qp));
          for (int i = 0; i < ft.rk; ++i)
            for (int j = 0; j < ft.rp; ++j)
              b.accumulate(g.acc, b.i32(acc0 + i * ft.rp + j), us[i] * vs[j]);
        });
      };
      if (per_point) {
        gemm_point(b.let("xi", tid / (qk * qp)), 0);
      } else {
        for (int xi = 0; xi < a2; ++xi) gemm_point(b.i32(xi), xi * ft.rk * ft.rp);
      }
    });
    b.barrier();
  });
  return g;
}

}  // namespace wino::plans

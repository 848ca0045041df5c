// Plans `fused` and `fused-input`: the input transform inside the GEMM kernel (tiles transformed
// into work-group memory chunk by chunk). `fused` also applies the output transform in the same
// kernel, after an exchange of the accumulators through work-group memory; `fused-input` writes
// M[xi][k][p] and leaves the output transform to a second kernel.
#include <optional>

#include "ir/transform_code.h"
#include "plans/fused_gemm.h"

namespace wino::plans {

using namespace ir;

namespace {

Program fused_program(const ConvDesc& d, const PlanOptions& o, bool with_output) {
  const std::string plan = with_output ? "fused" : "fused-input";
  Tiling t = make_tiling(d, o.m);
  require_alpha_at_most(plan, t, 8, ": use a smaller m or the unfused plan");
  FusedTiles ft = choose_fused_tiles(t, o, false);
  const int a2 = t.alpha * t.alpha;
  const int64_t K = d.k, P = t.tiles;
  ProgramBuilder prog(d, plan, t.m, t.r);
  BufferHandle u_buf = transformed_weights(prog, t);
  BufferHandle mm_buf = with_output ? BufferHandle{} : prog.scratch("mm", a2 * K * P);

  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, with_output ? "all" : "input_gemm", t.m, t.r, ft.str()),
                  fused_groups(d, t, ft), ft.threads);
  b.info() = {plan, with_output ? "fused" : "input_transform+gemm", t.m, t.r};
  const Memory* x = prog.param(b, prog.input());
  const Memory* u = prog.param(b, u_buf);
  std::optional<OutputSink> y;  // fused: y with the epilogue; fused-input: M
  const Memory* mm = nullptr;
  if (with_output) y.emplace(prog, b); else mm = prog.param(b, mm_buf, true);
  FusedGemm g = build_fused_gemm(b, d, t, ft, InputSource::image, x, u);
  // Exchange through work-group memory, a slice of `rows` output channels at a time (all
  // alpha^2 points of a bk x bp block rarely fit): the threads holding the slice's accumulators
  // write Ms[xi][row][bp], then every thread output-transforms whole tiles of the slice
  // (fused), or writes M[xi][k][p] with neighbouring threads on neighbouring tiles (fused-input;
  // storing straight from the accumulators needs an address per value and spills).
  int64_t rows = ft.bk;
  while (rows > 1 && int64_t{a2} * rows * ft.bp > g.smem_size) rows /= 2;
  if (ft.bk % rows || int64_t{a2} * rows * ft.bp > g.smem_size)
    throw Error("plan " + plan + ": fused tiles " + ft.str() + ": the accumulator exchange does not fit work-group memory");
  b.loop("slice", ft.bk / rows, LoopKind::serial, [&](Expr slice) {
    Expr lo = b.let("lo", slice * rows);
    b.threads([&](Expr tid) {
      ThreadTile tt = g.tile(b, tid);
      for (int j = 0; j < ft.ppt; ++j) {
        Expr xi = b.let("xi", g.point(b, tt, j));
        for (int i = 0; i < ft.rk; ++i) {
          Expr kl = b.let("kl", g.row(b, tt, i) - lo);
          for (int jj = 0; jj < ft.rp; ++jj)
            b.store(g.smem, (xi * rows + kl) * ft.bp + g.col(b, tt, jj),
                    b.load("acc", g.acc, b.i32(g.acc_index(j, i, jj))), in_range(kl, 0, rows));
        }
      }
    });
    b.barrier();
    const int64_t pairs = rows * ft.bp;
    if (!with_output) {
      b.threads([&](Expr tid) {
        b.loop("mi", ceil_div(a2 * pairs, ft.threads), LoopKind::serial, [&](Expr mi) {
          Expr e = b.let("e", mi * ft.threads + tid);
          Expr xi = b.let("xi", e / pairs), kl = b.let("kl", (e / ft.bp) % rows), pl = b.let("pl", e % ft.bp);
          Expr k = b.let("k", g.kb * ft.bk + kl + lo), p = b.let("p", g.pb * ft.bp + pl);
          Expr ok = logical_and(lt(e, b.i32(a2 * pairs)), logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
          b.store(mm, (xi * K + k) * P + p, b.load("m", g.smem, e), ok);
        });
      });
      b.barrier();
      return;
    }
    b.threads([&](Expr tid) {
      b.loop("oi", ceil_div(pairs, ft.threads), LoopKind::serial, [&](Expr oi) {
        Expr pair = b.let("pair", oi * ft.threads + tid);
        Expr kl = b.let("kl", pair / ft.bp), pl = b.let("pl", pair % ft.bp);
        Expr k = b.let("k", g.kb * ft.bk + kl + lo), p = b.let("p", g.pb * ft.bp + pl);
        b.if_then(logical_and(lt(pair, b.i32(pairs)), logical_and(lt(k, b.i32(K)), lt(p, b.i32(P)))), [&] {
          std::vector<Expr> tile;
          for (int xi = 0; xi < a2; ++xi)
            tile.push_back(b.load("m", g.smem, (b.i32(xi) * rows + kl) * ft.bp + pl));
          store_output_tile(b, *y, d, t, tile_coords(b, p, t), k, transform_2d(*ctx, t.t.AT, tile));
        });
      });
    });
    b.barrier();
  });
  prog.add(b.finish());
  if (!with_output) prog.add(output_transform_kernel(prog, t, o.threads > 0 ? o.threads : 128, mm_buf));
  return prog.finish();
}

}  // namespace

Program build_fused(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, true); }
Program build_fused_input(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, false); }

}  // namespace wino::plans

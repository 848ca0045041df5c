// Plans `fused` and `fused-input`: the input transform inside the GEMM kernel (tiles transformed
// into work-group memory chunk by chunk). `fused` also applies the output transform in the same
// kernel, after an exchange of the accumulators through work-group memory; `fused-input` writes
// M[xi][k][p] and leaves the output transform to a second kernel.
#include "ir/transform_code.h"
#include "plans/fused_gemm.h"

namespace wino::plans {

using namespace ir;

namespace {

// The (xi, kq, pq) a thread of the per-point GEMM accumulated.
struct PointCoords {
  Expr xi, kq, pq;
};
PointCoords point_coords(KernelBuilder& b, Expr tid, const FusedTiles& ft) {
  const int qk = ft.bk / ft.rk, qp = ft.bp / ft.rp;
  Expr q = tid % (qk * qp);
  return {b.let("xi", tid / (qk * qp)), b.let("kq", q / qp), b.let("pq", q % qp)};
}

Program fused_program(const ConvDesc& d, const PlanOptions& o, bool with_output) {
  const std::string plan = with_output ? "fused" : "fused-input";
  Tiling t = make_tiling(d, o.m);
  if (t.alpha > 8)
    throw Error("plan " + plan + " supports alpha = m + r - 1 <= 8, got " + std::to_string(t.alpha) +
                ": use a smaller m or the unfused plan");
  FusedTiles ft = choose_fused_tiles(t, o, false);
  const int a2 = t.alpha * t.alpha;
  const int64_t K = d.k, P = t.tiles, msize = a2 * K * P;
  for (int64_t e : {msize, a2 * d.c * K, d.n * d.c * d.h * d.w, d.n * K * d.out_h() * d.out_w()})
    check_index_range(plan, e);

  Program prog;
  prog.plan = plan;
  prog.m = t.m;
  prog.r = t.r;
  prog.buffers = {{"x", d.n * d.c * d.h * d.w, BufferRole::input},
                  {"u", a2 * K * d.c, BufferRole::weights},
                  {"y", d.n * K * d.out_h() * d.out_w(), BufferRole::output}};
  prog.prepare_weights = [d, t](const float* kcrs) {
    return transform_weights(d, t, kcrs, WeightLayout::xi_c_k);
  };

  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, with_output ? "all" : "input_gemm", t.m, t.r, ft.str()),
                  fused_groups(d, t, ft), ft.threads);
  b.info() = {plan, with_output ? "fused" : "input_transform+gemm", t.m, t.r};
  const Memory* x = b.buffer("x", d.n * d.c * d.h * d.w, true);
  const Memory* u = b.buffer("u", a2 * K * d.c, true);
  const Memory* out = with_output ? b.buffer("y", d.n * K * d.out_h() * d.out_w(), false)
                                  : b.buffer("mm", msize, false);
  FusedGemm g = build_fused_gemm(b, d, t, ft, InputSource::image, x, u);
  const int qp = ft.bp / ft.rp;
  if (!with_output) {
    b.threads([&](Expr tid) {
      PointCoords pc = point_coords(b, tid, ft);
      for (int i = 0; i < ft.rk; ++i)
        for (int j = 0; j < ft.rp; ++j) {
          Expr k = g.kb * ft.bk + pc.kq * ft.rk + i, p = g.pb * ft.bp + pc.pq + j * qp;
          b.store(out, (pc.xi * K + k) * P + p, b.load("acc", g.acc, b.i32(i * ft.rp + j)),
                  logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
        }
    });
    prog.kernels.push_back(b.finish());
    prog.kernels.push_back(output_transform_kernel(d, t, o.threads > 0 ? o.threads : 128, plan));
    prog.buffers.push_back({"mm", msize, BufferRole::scratch});
    prog.launches = {{0, {kInput, kWeights, 3}}, {1, {3, kOutput}}};
    return prog;
  }
  // Exchange: Ms[xi][bk][bp] in work-group memory (reusing the staging area), then each thread
  // transforms whole tiles.
  b.threads([&](Expr tid) {
    PointCoords pc = point_coords(b, tid, ft);
    for (int i = 0; i < ft.rk; ++i)
      for (int j = 0; j < ft.rp; ++j)
        b.store(g.smem, (pc.xi * ft.bk + pc.kq * ft.rk + i) * ft.bp + pc.pq + j * qp,
                b.load("acc", g.acc, b.i32(i * ft.rp + j)));
  });
  b.barrier();
  const int64_t pairs = int64_t{ft.bk} * ft.bp;
  b.threads([&](Expr tid) {
    b.loop("oi", ceil_div(pairs, ft.threads), LoopKind::serial, [&](Expr oi) {
      Expr pair = b.let("pair", oi * ft.threads + tid);
      Expr kl = b.let("kl", pair / ft.bp), pl = b.let("pl", pair % ft.bp);
      Expr k = b.let("k", g.kb * ft.bk + kl), p = b.let("p", g.pb * ft.bp + pl);
      b.if_then(logical_and(lt(pair, b.i32(pairs)), logical_and(lt(k, b.i32(K)), lt(p, b.i32(P)))), [&] {
        std::vector<Expr> tile;
        for (int xi = 0; xi < a2; ++xi)
          tile.push_back(b.load("m", g.smem, (b.i32(xi) * ft.bk + kl) * ft.bp + pl));
        store_output_tile(b, out, d, t, tile_coords(b, p, t), k, transform_2d(*ctx, t.t.AT, tile));
      });
    });
  });
  prog.kernels.push_back(b.finish());
  prog.launches = {{0, {kInput, kWeights, kOutput}}};
  return prog;
}

}  // namespace

Program build_fused(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, true); }
Program build_fused_input(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, false); }

}  // namespace wino::plans

// Plan `fused-output`: the seed's Option 2 done right. A separate kernel writes V = BT d B; the
// GEMM kernel keeps all alpha^2 accumulators of its tiles in registers (computed once) and
// applies Y = AT M A to them in its epilogue, so M never goes to memory.
#include "ir/transform_code.h"
#include "plans/fused_gemm.h"

namespace wino::plans {

using namespace ir;

Program build_fused_output(const ConvDesc& d, const PlanOptions& o) {
  const std::string plan = "fused-output";
  Tiling t = make_tiling(d, o.m);
  if (t.alpha > 8)
    throw Error("plan fused-output supports alpha = m + r - 1 <= 8, got " +
                std::to_string(t.alpha) + ": use a smaller m or the unfused plan");
  FusedTiles ft = choose_fused_tiles(t, o, true);
  const int a2 = t.alpha * t.alpha;
  const int64_t K = d.k, P = t.tiles, vsize = a2 * d.c * P;
  for (int64_t e : {vsize, a2 * d.c * K, d.n * d.c * d.h * d.w, d.n * K * d.out_h() * d.out_w()})
    check_index_range(plan, d, e);

  Program prog;
  prog.plan = plan;
  prog.m = t.m;
  prog.r = t.r;
  prog.buffers = {{"x", d.n * d.c * d.h * d.w, BufferRole::input},
                  {"u", a2 * K * d.c, BufferRole::weights},
                  {"y", d.n * K * d.out_h() * d.out_w(), BufferRole::output},
                  {"v", vsize, BufferRole::scratch}};
  prog.prepare_weights = [d, t](const float* kcrs) {
    return transform_weights(d, t, kcrs, WeightLayout::xi_c_k);
  };
  prog.kernels.push_back(input_transform_kernel(d, t, o.threads > 0 ? o.threads : 128, plan));

  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, "gemm_output", t.m, t.r, ft.str()), fused_groups(d, t, ft),
                  ft.threads);
  b.info() = {plan, "gemm+output_transform", t.m, t.r};
  const Memory* u = b.buffer("u", a2 * K * d.c, true);
  const Memory* v = b.buffer("v", vsize, true);
  const Memory* y = b.buffer("y", d.n * K * d.out_h() * d.out_w(), false);
  FusedGemm g = build_fused_gemm(b, d, t, ft, InputSource::transformed, v, u);
  b.threads([&](Expr tid) {
    ThreadTile tt = g.tile(b, tid);
    for (int i = 0; i < ft.rk; ++i)
      for (int j = 0; j < ft.rp; ++j) {
        Expr k = b.let("k", g.kb * ft.bk + g.row(b, tt, i)), p = b.let("p", g.pb * ft.bp + g.col(b, tt, j));
        b.if_then(logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))), [&] {
          std::vector<Expr> tile;
          for (int xi = 0; xi < a2; ++xi) tile.push_back(b.load("m", g.acc, b.i32(g.acc_index(xi, i, j))));
          store_output_tile(b, y, d, t, tile_coords(b, p, t), k, transform_2d(*ctx, t.t.AT, tile));
        });
      }
  });
  prog.kernels.push_back(b.finish());
  prog.launches = {{0, {kInput, 3}}, {1, {kWeights, 3, kOutput}}};
  return prog;
}

}  // namespace wino::plans

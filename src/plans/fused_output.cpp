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
  require_alpha_at_most(plan, t, 8, ": use a smaller m or the unfused plan");
  FusedTiles ft = choose_fused_tiles(t, o, true);
  const int a2 = t.alpha * t.alpha;
  const int64_t K = d.k, P = t.tiles;
  ProgramBuilder prog(d, plan, t.m, t.r);
  BufferHandle u_buf = transformed_weights(prog, t), v_buf = prog.scratch("v", a2 * d.c * P);
  prog.add(input_transform_kernel(prog, t, o.threads > 0 ? o.threads : 128, v_buf));

  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, "gemm_output", t.m, t.r, ft.str()), fused_groups(d, t, ft),
                  ft.threads);
  b.info() = {plan, "gemm+output_transform", t.m, t.r};
  const Memory* u = prog.param(b, u_buf);
  const Memory* v = prog.param(b, v_buf);
  const OutputSink y(prog, b);
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
  prog.add(b.finish());
  return prog.finish();
}

}  // namespace wino::plans

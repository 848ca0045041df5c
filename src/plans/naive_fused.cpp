// Plan `naive-fused`: the seed's failure mode, kept on purpose so the report can show it. One
// kernel, and every output element re-derives its own channel reduction: the input transform and
// the Hadamard product are inlined into each of the m x m outputs, with expression sharing
// switched off (as in the compiler that produced the seed). Correct, and visibly bloated.
#include "ir/transform_code.h"
#include "plans/plan_common.h"

namespace wino::plans {

using namespace ir;

Program build_naive_fused(const ConvDesc& d, const PlanOptions& o) {
  // Its size grows as about alpha^5 on purpose: the planner keeps alpha <= 8 (planner::max_alpha;
  // past that, building the IR alone takes seconds to minutes and gigabytes, found by the fuzzer).
  Tiling t = make_tiling(d, o.m);
  const int a = t.alpha, m = t.m;
  const int64_t K = d.k, C = d.c, P = t.tiles, total = K * P;
  const int threads = o.threads > 0 ? o.threads : 128;
  check_index_range("naive-fused", d, total);
  ProgramBuilder prog(d, "naive-fused", m, t.r);
  BufferHandle u_buf = transformed_weights(prog, t);

  auto ctx = std::make_shared<Context>();
  ctx->set_sharing(false);
  KernelBuilder b(ctx, kernel_name("naive-fused", "all", m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {"naive-fused", "fused", m, t.r};
  const Memory* x = prog.param(b, prog.input());
  const Memory* u = prog.param(b, u_buf);
  const OutputSink y(prog, b);
  const Memory* acc = b.thread_array("acc", m * m);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr k = b.let("k", idx / P), p = b.let("p", idx % P);
      TileCoords tc = tile_coords(b, p, t);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) {
          b.comment("output (" + std::to_string(i) + ", " + std::to_string(j) +
                    "): the whole channel reduction again");
          b.store(acc, b.i32(i * m + j), b.f32(0));
          b.loop("c", C, LoopKind::serial, [&](Expr c) {
            std::vector<Expr> tile = load_input_tile(b, x, d, t, tc, c);
            std::vector<Expr> v = transform_2d(*ctx, t.t.BT, tile);
            Expr sum;
            for (int xa = 0; xa < a; ++xa)
              for (int xb = 0; xb < a; ++xb) {
                Rational coef = t.t.AT.at(i, xa) * t.t.AT.at(j, xb);
                if (coef.is_zero()) continue;
                const int xi = xa * a + xb;
                Expr w = b.load("w", u, (b.i32(xi) * C + c) * K + k);
                Expr term = ctx->f32(coef.to_double()) * (w * v[xi]);
                sum = sum ? sum + term : term;
              }
            b.accumulate(acc, b.i32(i * m + j), sum);
          });
        }
      std::vector<Expr> out;
      for (int i = 0; i < m * m; ++i) out.push_back(b.load("y", acc, b.i32(i)));
      store_output_tile(b, y, d, t, tc, k, out);
    });
  });
  prog.add(b.finish());
  return prog.finish();
}

}  // namespace wino::plans

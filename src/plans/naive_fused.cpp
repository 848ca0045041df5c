// Plan `naive-fused`: the seed's failure mode, kept on purpose so the report can show it. One
// kernel, and every output element re-derives its own channel reduction: the input transform and
// the Hadamard product are inlined into each of the m x m outputs, with expression sharing
// switched off (as in the compiler that produced the seed). Correct, and visibly bloated.
#include "ir/transform_code.h"
#include "plans/plan_common.h"

namespace wino::plans {

using namespace ir;

Program build_naive_fused(const ConvDesc& d, const PlanOptions& o) {
  Tiling t = make_tiling(d, o.m);
  // Its size grows as about alpha^5 on purpose; past alpha 8 (the seed's F(6, 3)) building the IR
  // alone takes seconds to minutes and gigabytes (found by the conv_cli fuzzer), and the C
  // compiler would take far longer.
  if (t.alpha > 8)
    throw Error("plan naive-fused supports alpha = m + r - 1 <= 8, got " + std::to_string(t.alpha) +
                " (it exists to show the unshared kernel's blow-up, which grows as alpha^5): use a "
                "smaller m or another plan");
  const int a = t.alpha, a2 = a * a, m = t.m;
  const int64_t K = d.k, C = d.c, P = t.tiles, total = K * P;
  const int threads = o.threads > 0 ? o.threads : 128;
  for (int64_t e : {total, a2 * C * K, d.n * C * d.h * d.w, d.n * K * d.out_h() * d.out_w()})
    check_index_range("naive-fused", d, e);

  Program prog;
  prog.plan = "naive-fused";
  prog.m = m;
  prog.r = t.r;
  prog.buffers = {{"x", d.n * C * d.h * d.w, BufferRole::input},
                  {"u", a2 * K * C, BufferRole::weights},
                  {"y", d.n * K * d.out_h() * d.out_w(), BufferRole::output}};
  prog.prepare_weights = [d, t](const float* kcrs) {
    return transform_weights(d, t, kcrs, WeightLayout::xi_c_k);
  };

  auto ctx = std::make_shared<Context>();
  ctx->set_sharing(false);
  KernelBuilder b(ctx, kernel_name("naive-fused", "all", m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {"naive-fused", "fused", m, t.r};
  const Memory* x = b.buffer("x", d.n * C * d.h * d.w, true);
  const Memory* u = b.buffer("u", a2 * K * C, true);
  const Memory* y = b.buffer("y", d.n * K * d.out_h() * d.out_w(), false);
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
  prog.kernels.push_back(b.finish());
  prog.launches = {{0, {kInput, kWeights, kOutput}}};
  return prog;
}

}  // namespace wino::plans

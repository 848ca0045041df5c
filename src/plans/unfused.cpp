// Plan `unfused`: input transform, batched GEMM and output transform as three kernels with the
// intermediates V = BT d B and M = U V in device memory. Weights are transformed on the host.
//
// Layouts: V[xi][c][p] and M[xi][k][p] (xi = Winograd point, p = tile index, contiguous so that
// neighbouring threads touch neighbouring addresses), U[xi][c][k] (see batched_gemm.h).
#include "ir/transform_code.h"
#include "plans/batched_gemm.h"

namespace wino::plans {

using namespace ir;

std::unique_ptr<Kernel> input_transform_kernel(const ConvDesc& d, const Tiling& t, int threads,
                                               const std::string& plan) {
  const int a = t.alpha;
  const int64_t C = d.c, P = t.tiles, H = d.h, W = d.w, total = C * P;
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, "input", t.m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {plan, "input_transform", t.m, t.r};
  const Memory* x = b.buffer("x", d.n * C * H * W, true);
  const Memory* v = b.buffer("v", a * a * total, false);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr p = b.let("p", idx % P), c = b.let("c", idx / P);
      std::vector<Expr> tile = load_input_tile(b, x, d, t, tile_coords(b, p, t), c);
      std::vector<Expr> vt = transform_2d(*ctx, t.t.BT, tile);
      for (int xi = 0; xi < a * a; ++xi) b.store(v, (b.i32(xi) * C + c) * P + p, vt[xi]);
    });
  });
  return b.finish();
}

std::unique_ptr<Kernel> output_transform_kernel(const ConvDesc& d, const Tiling& t, int threads,
                                                const std::string& plan) {
  const int a = t.alpha, m = t.m;
  const int64_t K = d.k, P = t.tiles, OH = d.out_h(), OW = d.out_w(), total = K * P;
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, "output", m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {plan, "output_transform", m, t.r};
  const Memory* mm = b.buffer("mm", a * a * total, true);
  const Memory* y = b.buffer("y", d.n * K * OH * OW, false);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr p = b.let("p", idx % P), k = b.let("k", idx / P);
      TileCoords tc = tile_coords(b, p, t);
      std::vector<Expr> tile;
      for (int xi = 0; xi < a * a; ++xi) tile.push_back(b.load("m", mm, (b.i32(xi) * K + k) * P + p));
      store_output_tile(b, y, d, t, tc, k, transform_2d(*ctx, t.t.AT, tile));
    });
  });
  return b.finish();
}

Program build_unfused(const ConvDesc& d, const PlanOptions& o) {
  Tiling t = make_tiling(d, o.m);
  const int a = t.alpha;
  const int threads = o.threads > 0 ? o.threads : 128;
  const int64_t vsize = a * a * d.c * t.tiles, msize = a * a * d.k * t.tiles;
  for (int64_t e : {vsize, msize, d.n * d.c * d.h * d.w, d.n * d.k * d.out_h() * d.out_w()})
    check_index_range("unfused", d, e);

  Program p;
  p.plan = "unfused";
  p.m = t.m;
  p.r = t.r;
  p.buffers = {{"x", d.n * d.c * d.h * d.w, BufferRole::input},
               {"u", a * a * d.k * d.c, BufferRole::weights},
               {"y", d.n * d.k * d.out_h() * d.out_w(), BufferRole::output},
               {"v", vsize, BufferRole::scratch},
               {"mm", msize, BufferRole::scratch}};
  p.prepare_weights = [d, t](const float* kcrs) {
    return transform_weights(d, t, kcrs, WeightLayout::xi_c_k);
  };
  p.kernels.push_back(input_transform_kernel(d, t, threads, "unfused"));
  p.kernels.push_back(batched_gemm_kernel(d, t, choose_gemm_tiles(d.k, t.tiles, o), "unfused"));
  p.kernels.push_back(output_transform_kernel(d, t, threads, "unfused"));
  p.launches = {{0, {kInput, 3}}, {1, {kWeights, 3, 4}}, {2, {4, kOutput}}};
  return p;
}

}  // namespace wino::plans

// Plan `unfused`: input transform, batched GEMM and output transform as three kernels with the
// intermediates V = BT d B and M = U V in device memory. Weights are transformed on the host.
//
// Layouts: V[xi][c][p] and M[xi][k][p] (xi = Winograd point, p = tile index, contiguous so that
// neighbouring threads touch neighbouring addresses), U[xi][k][c].
#include "ir/transform_code.h"
#include "plans/plan_common.h"

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

namespace {

std::unique_ptr<Kernel> batched_gemm(const ConvDesc& d, const Tiling& t, const PlanOptions& o) {
  const int a = t.alpha;
  const int64_t C = d.c, K = d.k, P = t.tiles;
  const int rk = o.reg_k > 0 ? o.reg_k : 4, rp = o.reg_tiles > 0 ? o.reg_tiles : 4;
  const int bk = o.block_k > 0 ? o.block_k : 32, bp = o.block_tiles > 0 ? o.block_tiles : 64;
  const int tk = bk / rk, tp = bp / rp, threads = tk * tp;
  const int64_t kblocks = ceil_div(K, bk), pblocks = ceil_div(P, bp);
  auto ctx = std::make_shared<Context>();
  std::string tiles = "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" +
                      std::to_string(rk) + "x" + std::to_string(rp);
  KernelBuilder b(ctx, kernel_name(o.plan, "gemm", t.m, t.r, tiles), a * a * kblocks * pblocks,
                  threads);
  b.info() = {o.plan, "gemm", t.m, t.r};
  const Memory* u = b.buffer("u", a * a * K * C, true);
  const Memory* v = b.buffer("v", a * a * C * P, true);
  const Memory* mm = b.buffer("mm", a * a * K * P, false);
  const Memory* acc = b.thread_array("acc", rk * rp);
  b.threads([&](Expr tid) {
    Expr g = b.group_id();
    Expr pb = b.let("pb", g % pblocks), kb = b.let("kb", (g / pblocks) % kblocks);
    Expr xi = b.let("xi", g / (pblocks * kblocks));
    // Threads along p are adjacent, so loads of V and stores of M are coalesced.
    Expr k0 = b.let("k0", kb * bk + (tid / tp) * rk), p0 = b.let("p0", pb * bp + tid % tp);
    for (int i = 0; i < rk * rp; ++i) b.store(acc, b.i32(i), b.f32(0));
    b.loop("c", C, LoopKind::serial, [&](Expr c) {
      std::vector<Expr> us, vs;
      for (int i = 0; i < rk; ++i) {
        Expr k = k0 + i;
        us.push_back(b.load("u", u, (xi * K + k) * C + c, lt(k, b.i32(K))));
      }
      for (int j = 0; j < rp; ++j) {
        Expr p = p0 + j * tp;
        vs.push_back(b.load("v", v, (xi * C + c) * P + p, lt(p, b.i32(P))));
      }
      for (int i = 0; i < rk; ++i)
        for (int j = 0; j < rp; ++j) b.accumulate(acc, b.i32(i * rp + j), us[i] * vs[j]);
    });
    for (int i = 0; i < rk; ++i)
      for (int j = 0; j < rp; ++j) {
        Expr k = k0 + i, p = p0 + j * tp;
        b.store(mm, (xi * K + k) * P + p, b.load("m", acc, b.i32(i * rp + j)),
                logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
      }
  });
  return b.finish();
}

}  // namespace

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
    check_index_range("unfused", e);

  Program p;
  p.plan = "unfused";
  p.m = t.m;
  p.r = t.r;
  p.buffers = {{"x", d.n * d.c * d.h * d.w, BufferRole::input},
               {"u", a * a * d.k * d.c, BufferRole::weights},
               {"y", d.n * d.k * d.out_h() * d.out_w(), BufferRole::output},
               {"v", vsize, BufferRole::scratch},
               {"mm", msize, BufferRole::scratch}};
  p.prepare_weights = [d, t](const float* kcrs) { return transform_weights(d, t, kcrs); };
  p.kernels.push_back(input_transform_kernel(d, t, threads, "unfused"));
  p.kernels.push_back(batched_gemm(d, t, o));
  p.kernels.push_back(output_transform_kernel(d, t, threads, "unfused"));
  p.launches = {{0, {kInput, 3}}, {1, {kWeights, 3, 4}}, {2, {4, kOutput}}};
  return p;
}

}  // namespace wino::plans

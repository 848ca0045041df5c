// The CPU unfused plan's GEMM by rows of points (GemmTiles::points == alpha): U's values made as
// the GEMM goes from H = G g, the weights transformed along one axis, which are r / alpha of U's
// bytes (half at F(4,3)). Where the tiles are few (resnet50.c5 at batch 1: 4 tiles of F(4,3),
// C = K = 512) each U value serves a handful of FMAs and the stored-U GEMM streams its 37.7 MB
// from memory; H's 18.9 MB is read once. The plan runs with_integer_filter_rows' transforms, so
// U's row i, j = 0 .. alpha - 1, is G's integer rows applied to H's row i: additions and a few
// multiplications by small integers (as additions: integer_combination) per alpha x bp FMAs.
#include "plans/cpu_unfused.h"

#include <cstdlib>

#include "common/error.h"
#include "ir/transform_code.h"

namespace wino::plans {

using namespace ir;

// H[i][k / lanes][c][b][k % lanes] = sum_a G[i][a] g[k][c][a][b]: per row i of points and vector
// of output channels, one contiguous panel over the channels, as the GEMM walks it.
BufferHandle filter_row_weights(ProgramBuilder& prog, const Tiling& t, int64_t k_pitch, int lanes) {
  const ConvDesc& d = prog.desc();
  const int threads = 128, r = t.r;
  const int64_t K = k_pitch, C = d.c, total = K * C, kvecs = K / lanes;
  BufferHandle h_buf = prog.prepared_weights("h", int64_t{t.alpha} * r * C * K);
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(prog.plan(), "weights_rows", t.m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {prog.plan(), "weight_transform", t.m, t.r};
  const Memory* w = prog.param(b, prog.weights());
  const Memory* h = prog.param(b, h_buf, true);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr k = b.let("k", idx % K), c = b.let("c", idx / K);
      Expr base = b.let("wbase", (k * C + c) * (r * r));
      Expr real = K > d.k ? lt(k, b.i32(d.k)) : Expr{};  // the padding channels are zeros
      Expr kv = b.let("kv", k / lanes), lane = b.let("lane", k % lanes);
      for (int col = 0; col < r; ++col) {
        std::vector<Expr> column;
        for (int a = 0; a < r; ++a) column.push_back(b.load("g", w, base + a * r + col, real));
        const std::vector<Expr> rows = apply_transform(*ctx, t.t.G, column);
        for (int i = 0; i < t.alpha; ++i)
          b.store(h, (((b.i32(i) * kvecs + kv) * C + c) * r + col) * lanes + lane, rows[i]);
      }
    });
  });
  prog.add_preparation(b.finish());
  return h_buf;
}

// Row `row` of the integer matrix L against x by additions alone: Horner's rule over the bits of
// the coefficients (each step doubles the sum, then adds the values whose coefficient has that
// bit). x + x is exact, and on Zen 4 additions issue beside the FMAs, on pipes of their own:
// multiplications by G's 2 and 4 took FMA slots, and the prototype ran 1.2x slower with them.
Expr integer_combination(const RationalMatrix& L, int row, const std::vector<Expr>& x) {
  int bits = 0;
  for (int t = 0; t < L.cols; ++t) {
    const Rational& c = L.at(row, t);
    if (c.den() != 1) throw Error("internal: rows of points need integer rows of G (with_integer_filter_rows)");
    while ((std::abs(c.num()) >> bits) > 1) ++bits;
  }
  Expr sum;
  for (int bit = bits; bit >= 0; --bit) {
    if (sum) sum = sum + sum;
    for (int t = 0; t < L.cols; ++t) {
      const int64_t c = L.at(row, t).num();
      if (!((std::abs(c) >> bit) & 1)) continue;
      sum = !sum ? (c > 0 ? x[t] : -x[t]) : c > 0 ? sum + x[t] : sum - x[t];
    }
  }
  if (!sum) throw Error("internal: a zero row of G");
  return sum;
}

// Work-group (row i, vector kb of output channels, block pb of bp tiles): alpha x bp vectors of
// accumulators, M's points (i, 0 .. alpha - 1). Per channel: r vectors of H, G's rows on them make
// the alpha vectors of U, each multiplied by bp broadcasts of V. Groups with the same (i, kb) are
// neighbours, so the threads' contiguous shares of groups reuse each H panel from L2.
std::unique_ptr<Kernel> cpu_gemm_rows_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                             const CpuShapes& s, BufferHandle h_buf, const CpuBuffers& buf) {
  const int A = t.alpha, r = t.r, L = g.lanes;
  const int64_t C = prog.desc().c, kvecs = s.kp / L, pblocks = s.pp / g.bp;
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "gemm", t.m, t.r, g.str()),
                  A * kvecs * pblocks, 1);
  b.info() = {prog.plan(), "gemm", t.m, t.r};
  const Memory* h = prog.param(b, h_buf);
  const Memory* v = prog.param(b, buf.v);
  const Memory* mm = prog.param(b, buf.mm, true);
  const Memory* acc = b.thread_array("acc", int64_t{A} * g.bp * L);
  auto slot = [&](int j, int p) { return b.i32((int64_t{j} * g.bp + p) * L); };
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    Expr pb = b.let("pb", gid % pblocks), kb = b.let("kb", (gid / pblocks) % kvecs);
    Expr i = b.let("i", gid / (pblocks * kvecs));
    Expr p0 = b.let("p0", pb * g.bp);
    Expr hpanel = b.let("hpanel", (i * kvecs + kb) * C * (r * L));
    Expr vrow0 = b.let("vrow0", i * (A * s.vplane) + p0 * s.cp);
    for (int j = 0; j < A; ++j)
      for (int p = 0; p < g.bp; ++p) b.store(acc, slot(j, p), broadcast(b.f32(0), L));
    b.loop("c", C, LoopKind::serial, [&](Expr c) {
      Expr hrow = b.let("hrow", hpanel + c * (r * L));
      std::vector<Expr> hh;
      for (int col = 0; col < r; ++col) hh.push_back(b.register_load("h", h, hrow + col * L, L));
      for (int j = 0; j < A; ++j) {
        Expr uj = b.let("u", integer_combination(t.t.G, j, hh));
        for (int p = 0; p < g.bp; ++p) {
          Expr vb = broadcast(b.load("v", v, vrow0 + (int64_t{j} * s.vplane + int64_t{p} * s.cp) + c), L);
          b.accumulate(acc, slot(j, p), vb * uj);
        }
      }
    });
    Expr mrow0 = b.let("mrow0", i * (A * s.mplane) + p0 * s.kp + kb * L);
    for (int j = 0; j < A; ++j)
      for (int p = 0; p < g.bp; ++p)
        b.store(mm, mrow0 + (int64_t{j} * s.mplane + int64_t{p} * s.kp), b.load("m", acc, slot(j, p), {}, L));
  });
  return b.finish();
}

}  // namespace wino::plans

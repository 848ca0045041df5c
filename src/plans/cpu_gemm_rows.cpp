// The CPU unfused plan's GEMM by rows of points (GemmTiles::points == alpha): U's values made as
// the GEMM goes from the weights themselves, r^2 / alpha^2 of U's bytes (a quarter at F(4,3)).
// Where the tiles are few (resnet50.c5 at batch 1: 4 tiles of F(4,3), C = K = 512) each value of
// U serves a handful of FMAs, and the stored-U GEMM streams U's 37.7 MB from L3 or memory, at the
// mercy of whatever else shares them; the weights' 9.4 MB are read once. The plan runs
// with_integer_filter_rows' transforms, so G's rows take additions alone (integer_combination):
// per input channel and row of points about 20 additions beside alpha x bp FMAs, which Zen 4
// issues on pipes of their own.
#include "ir/transform_code.h"
#include "plans/cpu_unfused.h"

namespace wino::plans {

using namespace ir;

// W[k / lanes][c][a][b][k % lanes] = g[k][c][a][b]: the weights as given, a vector of output
// channels per (c, tap), one contiguous panel per vector of output channels, as the GEMM walks it.
BufferHandle packed_filter_weights(ProgramBuilder& prog, const Tiling& t, int64_t k_pitch, int lanes) {
  const int rr = t.r * t.r;
  const int64_t C = prog.desc().c;
  BufferHandle w_buf = prog.prepared_weights("wp", int64_t{rr} * C * k_pitch);
  auto pack = [&](KernelBuilder& b, const Memory* wp, Expr k, Expr c, const std::vector<Expr>& g) {
    Expr to = b.let("to", ((k / lanes) * C + c) * (rr * lanes) + k % lanes);
    for (int tap = 0; tap < rr; ++tap) b.store(wp, to + tap * lanes, g[tap]);
  };
  prog.add_preparation(filter_kernel(prog, t, "weights_packed", k_pitch, w_buf, pack));
  return w_buf;
}

// Work-group (vector kb of output channels, block pb of bp tiles): row after row of points i, each
// with alpha x bp vectors of accumulators, M's points (i, 0 .. alpha - 1), the panel of W read
// alpha times from L2. Per input channel: the taps of W that G's row i needs, then H's row i (G's
// row i on each column of taps), then G's rows on it for the alpha vectors of U, each multiplied
// by bp broadcasts of V.
std::unique_ptr<Kernel> cpu_gemm_rows_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                             const CpuShapes& s, BufferHandle w_buf, const CpuBuffers& buf) {
  const int A = t.alpha, r = t.r, L = g.lanes;
  const int64_t C = prog.desc().c, kvecs = s.kp / L, pblocks = s.pp / g.bp;
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "gemm", t.m, t.r, g.str()),
                  kvecs * pblocks, 1);
  b.info() = {prog.plan(), "gemm", t.m, t.r};
  const Memory* wp = prog.param(b, w_buf);
  const Memory* v = prog.param(b, buf.v);
  const Memory* mm = prog.param(b, buf.mm, true);
  const Memory* acc = b.thread_array("acc", int64_t{A} * g.bp * L);
  auto slot = [&](int j, int p) { return b.i32((int64_t{j} * g.bp + p) * L); };
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    Expr pb = b.let("pb", gid % pblocks), kb = b.let("kb", gid / pblocks);
    Expr p0 = b.let("p0", pb * g.bp);
    Expr panel = b.let("panel", kb * C * (r * r * L));
    for (int i = 0; i < A; ++i) {
      for (int j = 0; j < A; ++j)
        for (int p = 0; p < g.bp; ++p) b.store(acc, slot(j, p), broadcast(b.f32(0), L));
      Expr vrow0 = b.let("vrow0", p0 * s.cp + int64_t{i} * A * s.vplane);
      b.loop("c", C, LoopKind::serial, [&](Expr c) {
        Expr taps = b.let("taps", panel + c * (r * r * L));
        std::vector<Expr> hh;
        for (int col = 0; col < r; ++col) {
          std::vector<Expr> column(r);
          for (int a = 0; a < r; ++a)
            if (!t.t.G.at(i, a).is_zero()) column[a] = b.load("w", wp, taps + (a * r + col) * L, {}, L);
          hh.push_back(b.let("h", integer_combination(t.t.G, i, column)));
        }
        for (int j = 0; j < A; ++j) {
          Expr uj = b.let("u", integer_combination(t.t.G, j, hh));
          for (int p = 0; p < g.bp; ++p) {
            Expr vb = broadcast(b.load("v", v, vrow0 + (int64_t{j} * s.vplane + int64_t{p} * s.cp) + c), L);
            b.accumulate(acc, slot(j, p), vb * uj);
          }
        }
      });
      Expr mrow0 = b.let("mrow0", p0 * s.kp + kb * L + int64_t{i} * A * s.mplane);
      for (int j = 0; j < A; ++j)
        for (int p = 0; p < g.bp; ++p)
          b.store(mm, mrow0 + (int64_t{j} * s.mplane + int64_t{p} * s.kp), b.load("m", acc, slot(j, p), {}, L));
    }
  });
  return b.finish();
}

}  // namespace wino::plans

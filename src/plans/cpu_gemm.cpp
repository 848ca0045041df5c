// The GEMM of plan `unfused` shaped for a CPU core (GemmTiles::lanes > 0): one thread per
// work-group (a task on a core) multiplies a bk x bp block of M for one Winograd point over every
// input channel, with the block's accumulators in vector registers: bk rows of bp / lanes vectors.
// Per channel it loads bp / lanes vectors of V and broadcasts bk values of U, the register-blocked
// micro-kernel of BLIS, oneDNN and ncnn. V and M rows are padded to whole blocks (`pitch`), so the
// vector loads and stores never run past a row; rows past K are masked.
#include "plans/gemm_core.h"

namespace wino::plans {

using namespace ir;

std::unique_ptr<Kernel> cpu_gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                        const GemmStages& s, int64_t pitch) {
  const ConvDesc& d = prog.desc();
  const int a2 = t.alpha * t.alpha, L = g.lanes, nv = g.bp / g.lanes;
  const int64_t K = d.k, C = d.c, kblocks = ceil_div(K, g.bk), pblocks = pitch / g.bp;
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "gemm", t.m, t.r, g.str()),
                  a2 * kblocks * pblocks, 1);
  b.info() = {prog.plan(), "gemm", t.m, t.r};
  const Memory* u = prog.param(b, s.u);
  const Memory* v = prog.param(b, s.input);
  const Memory* mm = prog.param(b, s.mm, true);
  const Memory* acc = b.thread_array("acc", int64_t{g.bk} * g.bp);
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    Expr pb = b.let("pb", gid % pblocks), kb = b.let("kb", (gid / pblocks) % kblocks);
    Expr xi = b.let("xi", gid / (pblocks * kblocks));
    Expr k0 = b.let("k0", kb * g.bk), p0 = b.let("p0", pb * g.bp);
    for (int i = 0; i < g.bk * nv; ++i) b.store(acc, b.i32(int64_t{i} * L), broadcast(b.f32(0), L));
    b.loop("c", C, LoopKind::serial, [&](Expr c) {
      Expr vrow = b.let("vrow", (xi * C + c) * pitch + p0), urow = b.let("urow", (xi * C + c) * K + k0);
      std::vector<Expr> vv;
      for (int j = 0; j < nv; ++j) vv.push_back(b.load("v", v, vrow + j * L, {}, L));
      for (int i = 0; i < g.bk; ++i) {
        Expr ui = b.load("u", u, urow + i, K % g.bk ? lt(k0 + i, b.i32(K)) : Expr{});
        Expr ub = b.let("ub", broadcast(ui, L));
        for (int j = 0; j < nv; ++j) b.accumulate(acc, b.i32((int64_t{i} * nv + j) * L), ub * vv[j]);
      }
    });
    for (int i = 0; i < g.bk; ++i) {
      Expr k = b.let("k", k0 + i);
      for (int j = 0; j < nv; ++j)
        b.store(mm, (xi * K + k) * pitch + p0 + j * L, b.load("m", acc, b.i32((int64_t{i} * nv + j) * L), {}, L),
                K % g.bk ? lt(k, b.i32(K)) : Expr{});
    }
  });
  return b.finish();
}

}  // namespace wino::plans

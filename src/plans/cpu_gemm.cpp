// The GEMM of the CPU-shaped plans (GemmTiles::lanes > 0): the kernel of unfused, the block that
// fused and (with the image for V) direct also run. One thread per work-group (a task on a core)
// multiplies a bp x bk block of M[xi][p][k] for one Winograd point over every input channel, with
// the block's accumulators in vector registers: bp rows (tiles) of bk / lanes vectors (output
// channels). Per channel it loads bk / lanes vectors of U and broadcasts bp values of V, the
// register-blocked micro-kernel of BLIS, oneDNN and ncnn. Rows and columns are padded to whole
// blocks (cpu_unfused.h), so no load or store needs a mask.
#include "plans/cpu_unfused.h"

namespace wino::plans {

using namespace ir;

void cpu_gemm_block(KernelBuilder& b, const GemmTiles& g, int64_t channels, const Memory* u, Expr u_panel,
                    const Memory* v, Expr v_row0, int64_t v_stride, const Memory* mm, Expr m_row0, int64_t m_stride,
                    const Memory* acc) {
  const int L = g.lanes, nv = g.bk / g.lanes;
  auto slot = [&](int i, int j) { return b.i32((int64_t{i} * nv + j) * L); };
  // U's vectors in registers where they fit: else compilers re-read U at each FMA, and on AVX2
  // the loads, 16 per 12 FMAs, cap the micro-kernel at 55-65% of the FMA pipes (measured on a
  // Zen 3: 52-61 GFLOP/s a core against 81 with U in registers, of a 95 GFLOP/s peak).
  const bool pin_u = g.cpu_u_in_registers();
  for (int i = 0; i < g.bp; ++i)
    for (int j = 0; j < nv; ++j) b.store(acc, slot(i, j), broadcast(b.f32(0), L));
  b.loop("c", channels, LoopKind::serial, [&](Expr c) {
    Expr urow = b.let("urow", u_panel + c * g.bk);
    std::vector<Expr> uu;
    for (int j = 0; j < nv; ++j)
      uu.push_back(pin_u ? b.register_load("u", u, urow + j * L, L) : b.load("u", u, urow + j * L, {}, L));
    for (int i = 0; i < g.bp; ++i) {
      Expr vb = b.let("vb", broadcast(b.load("v", v, v_row0 + int64_t{i} * v_stride + c), L));
      for (int j = 0; j < nv; ++j) b.accumulate(acc, slot(i, j), vb * uu[j]);
    }
  });
  for (int i = 0; i < g.bp; ++i) {
    Expr mrow = b.let("mrow", m_row0 + int64_t{i} * m_stride);
    for (int j = 0; j < nv; ++j) b.store(mm, mrow + j * L, b.load("m", acc, slot(i, j), {}, L));
  }
}

std::unique_ptr<Kernel> cpu_gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                        const CpuShapes& s, const CpuBuffers& buf) {
  const int a2 = t.alpha * t.alpha;
  const int64_t C = prog.desc().c, kblocks = s.kp / g.bk, pblocks = s.pp / g.bp;
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "gemm", t.m, t.r, g.str()),
                  a2 * kblocks * pblocks, 1);
  b.info() = {prog.plan(), "gemm", t.m, t.r};
  const Memory* u = prog.param(b, buf.u);
  const Memory* v = prog.param(b, buf.v);
  const Memory* mm = prog.param(b, buf.mm, true);
  const Memory* acc = b.thread_array("acc", int64_t{g.bp} * g.bk);
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    Expr pb = b.let("pb", gid % pblocks), kb = b.let("kb", (gid / pblocks) % kblocks);
    Expr xi = b.let("xi", gid / (pblocks * kblocks));
    Expr p0 = b.let("p0", pb * g.bp);
    cpu_gemm_block(b, g, C, u, b.let("upanel", (xi * kblocks + kb) * C * g.bk), v,
                   b.let("vrow0", xi * s.vplane + p0 * s.cp), s.cp, mm,
                   b.let("mrow0", xi * s.mplane + p0 * s.kp + kb * g.bk), s.kp, acc);
  });
  return b.finish();
}

}  // namespace wino::plans

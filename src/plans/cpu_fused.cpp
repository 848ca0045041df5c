// Plan `fused` shaped for a CPU (GemmTiles::lanes > 0): each work-group carries a group of tiles
// through the input transform, the alpha^2 GEMMs and the output transform, with its V and M in
// arrays of its own thread sized to stay in L2 (planner: cpu_group_tiles). Against the unfused
// plan, V and M never travel to memory and three launches become one; the price is reading all
// of U once per group of tiles, so it wins where the weights are small next to the image.
// Layouts and stages as in cpu_unfused.h, with the work-group's tiles for rows.
#include "plans/cpu_unfused.h"

#include "common/error.h"

namespace wino::plans {

using namespace ir;

namespace {

// V and M of a group live on the stack of the thread that runs it (8 MiB on Linux; the calling
// thread runs groups too). The planner sizes groups to half of L2, but one GEMM block of tiles
// can need more on very wide layers: those are refused rather than overflowing the stack.
constexpr int64_t kStackArrayBytes = int64_t{2} << 20;

std::unique_ptr<Kernel> cpu_pipeline_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                            const CpuShapes& s, const CpuBuffers& buf) {
  const int L = s.lanes, a2 = t.alpha * t.alpha;
  const int64_t C = prog.desc().c, PB = g.group_tiles, groups = ceil_div(t.tiles, PB);
  const int64_t cblocks = s.cp / L, kblocks = s.kp / g.bk;
  const int64_t vplane = CpuShapes::plane(PB * s.cp), mplane = CpuShapes::plane(PB * s.kp);
  if (PB < g.bp || PB % g.bp) throw Error("internal: CPU fused tiles " + g.str() + " without whole blocks per group");
  if (const int64_t bytes = (a2 * (vplane + mplane) + int64_t{g.bp} * g.bk) * 4; bytes > kStackArrayBytes)
    throw Error("plan fused on a CPU: a group of " + std::to_string(PB) + " tiles keeps " +
                std::to_string(bytes >> 10) + " KiB of V and M on the thread's stack, over " +
                std::to_string(kStackArrayBytes >> 10) + " KiB: use plan unfused or a smaller m");
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "pipeline", t.m, t.r, g.str()), groups, 1);
  b.info() = {prog.plan(), "fused", t.m, t.r};
  const Memory* src = prog.param(b, s.padded_input ? buf.xp : prog.input());
  const Memory* u = prog.param(b, buf.u);
  const OutputSink y(prog, b);
  const Memory* vb = b.thread_array("vb", a2 * vplane);
  const Memory* mb = b.thread_array("mb", a2 * mplane);
  const Memory* acc = b.thread_array("acc", int64_t{g.bp} * g.bk);
  b.threads([&](Expr) {
    Expr p0 = b.let("p0", b.group_id() * PB);
    auto valid = [&](Expr p) { return t.tiles % PB ? lt(p, b.i32(t.tiles)) : Expr{}; };  // the last group's tail
    b.loop("tb", PB, LoopKind::serial, [&](Expr tb) {
      b.loop("cb", cblocks, LoopKind::serial, [&](Expr cb) {
        Expr p = b.let("p", p0 + tb);
        const std::vector<Expr> vt = cpu_input_tile(b, t, s, src, p, cb, valid(p));
        for (int xi = 0; xi < a2; ++xi) b.store(vb, b.i32(xi * vplane) + tb * s.cp + cb * L, vt[xi]);
      });
    });
    b.loop("xi", a2, LoopKind::serial, [&](Expr xi) {
      b.loop("kb", kblocks, LoopKind::serial, [&](Expr kb) {
        b.loop("pb", PB / g.bp, LoopKind::serial, [&](Expr pb) {
          cpu_gemm_block(b, g, C, u, b.let("upanel", (xi * kblocks + kb) * C * g.bk), vb,
                         b.let("vrow0", xi * vplane + pb * (g.bp * s.cp)), s.cp, mb,
                         b.let("mrow0", xi * mplane + pb * (g.bp * s.kp) + kb * g.bk), s.kp, acc);
        });
      });
    });
    b.loop("tb", PB, LoopKind::serial, [&](Expr tb) {
      b.loop("kl", s.kp / L, LoopKind::serial, [&](Expr kl) {
        Expr p = b.let("p", p0 + tb);
        std::vector<Expr> products;
        for (int xi = 0; xi < a2; ++xi) products.push_back(b.load("m", mb, b.i32(xi * mplane) + tb * s.kp + kl * L, {}, L));
        cpu_output_tile(b, t, s, y, p, kl, products, valid(p));
      });
    });
  });
  return b.finish();
}

}  // namespace

Program build_cpu_fused(const ConvDesc& d, const Tiling& t, const GemmTiles& g) {
  const CpuShapes s = cpu_shapes(d, t, g);
  check_padded_offsets("fused", d, s);
  ProgramBuilder prog(d, "fused", t.m, t.r);
  CpuBuffers buf;
  buf.u = transformed_weights(prog, t, s.kp, g.bk);
  if (s.padded_input) {
    buf.xp = prog.scratch("xp", d.n * s.hp * s.wp * s.cp);
    prog.add(cpu_pad_kernel(prog, s, buf.xp));
  }
  prog.add(cpu_pipeline_kernel(prog, t, g, s, buf));
  return prog.finish();
}

}  // namespace wino::plans

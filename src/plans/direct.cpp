// Plan `direct`: direct convolution, one thread per output element, the baseline every other
// plan is measured against. Supports groups, stride and dilation. On a CPU (vector lanes, one
// group) the register-blocked kernel of cpu_direct.cpp instead.
#include "plans/cpu_unfused.h"

namespace wino::plans {

using namespace ir;

Program build_direct(const ConvDesc& d, const PlanOptions& o) {
  if (o.gemm && o.gemm->lanes) return build_cpu_direct(d, *o.gemm);
  const int64_t N = d.n, C = d.c, H = d.h, W = d.w, K = d.k, R = d.r, S = d.s;
  const int64_t OH = d.out_h(), OW = d.out_w(), Cg = C / d.groups, Kg = K / d.groups;
  const int64_t total = N * K * OH * OW;
  const int threads = o.threads > 0 ? o.threads : 128;
  ProgramBuilder prog(d, "direct");
  BufferHandle w_buf = prog.weights();

  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name("direct", "conv", 0, 0, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {"direct", "direct", 0, 0};
  const Memory* x = prog.param(b, prog.input());
  const Memory* w = prog.param(b, w_buf);
  const OutputSink y(prog, b);
  const Memory* acc = b.thread_array("acc", 1);
  // Input position of an output position's first tap (stride 1 keeps the kernel unchanged).
  auto step = [&](Expr o) { return d.stride == 1 ? o : o * d.stride; };
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      // idx runs in the output's memory order: (n, k, oh, ow) for NCHW, (n, oh, ow, k) for NHWC.
      const bool nhwc = d.layout == Layout::nhwc;
      Expr ow = b.let("ow", nhwc ? (idx / K) % OW : idx % OW);
      Expr oh = b.let("oh", nhwc ? (idx / (K * OW)) % OH : (idx / OW) % OH);
      Expr k = b.let("k", nhwc ? idx % K : (idx / (OW * OH)) % K);
      Expr n = b.let("n", idx / (OW * OH * K));
      Expr c0 = b.let("c0", (k / Kg) * Cg);  // first input channel of k's group
      b.store(acc, b.i32(0), b.f32(0));
      b.loop("c", Cg, LoopKind::serial, [&](Expr c) {
        Expr xbase = b.let("xbase", image_base(d.layout, n, c0 + c, C, H * W));
        Expr wbase = b.let("wbase", (k * Cg + c) * R * S);
        for (int64_t r = 0; r < R; ++r) {
          Expr ih = step(oh) + (r * d.dilation - d.pad.top);
          for (int64_t s = 0; s < S; ++s) {
            Expr iw = step(ow) + (s * d.dilation - d.pad.left);
            Expr mask = logical_and(in_range(ih, 0, H), in_range(iw, 0, W));
            Expr xv = b.load("xv", x, xbase + (ih * W + iw) * pixel_step(d.layout, C), mask);
            Expr wv = b.load("wv", w, wbase + (r * S + s));
            b.accumulate(acc, b.i32(0), xv * wv);
          }
        }
      });
      y.store(b, idx, b.load("sum", acc, b.i32(0)), y.channel_bias(b, k));
    });
  });
  prog.add(b.finish());
  return prog.finish();
}

}  // namespace wino::plans

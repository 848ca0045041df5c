// Plan `direct` shaped for a CPU (PlanOptions::vector_lanes > 0, one group of channels): for the
// shapes Winograd does not serve (strides, 1x1, 7x7 first layers). A work-group computes bp
// consecutive output pixels of one row for bk output channels, its accumulators bp rows of
// bk / lanes vectors in registers; per tap (r, s) and input channel it broadcasts bp input values
// and loads bk / lanes vectors of weights, the GEMM micro-kernel of cpu_gemm.cpp with the image
// read in place. Weights are prepared once into panels W'[k / bk][r][s][c][k % bk] (zeros past K);
// reads past the image are masked (the zero padding), the masks made once per tap.
#include "plans/cpu_unfused.h"

namespace wino::plans {

using namespace ir;

namespace {

// W'[kb][r][s][c][j] = w[kb * bk + j][c][r][s], zeros past K: one thread per element.
std::unique_ptr<Kernel> weight_panel_kernel(const ProgramBuilder& prog, int bk, int64_t kp, BufferHandle w_buf,
                                            BufferHandle panel) {
  const ConvDesc& d = prog.desc();
  const int threads = 128;
  const int64_t C = d.c, RS = d.r * d.s, total = kp * RS * C;
  KernelBuilder b(std::make_shared<Context>(), kernel_name("direct", "weights", 0, 0, "b" + std::to_string(bk)),
                  ceil_div(total, threads), threads);
  b.info() = {"direct", "weight_panels", 0, 0};
  const Memory* w = prog.param(b, w_buf);
  const Memory* out = prog.param(b, panel, true);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr j = b.let("j", idx % bk), c = b.let("c", (idx / bk) % C), tap = b.let("tap", (idx / (bk * C)) % RS);
      Expr k = b.let("k", (idx / (bk * C * RS)) * bk + j);
      b.store(out, idx, b.load("w", w, (k * C + c) * RS + tap, lt(k, b.i32(d.k))));
    });
  });
  return b.finish();
}

}  // namespace

Program build_cpu_direct(const ConvDesc& d, const GemmTiles& g) {
  const int L = g.lanes, nv = g.bk / L;
  const int64_t C = d.c, H = d.h, W = d.w, R = d.r, S = d.s, OH = d.out_h(), OW = d.out_w();
  const int64_t kp = ceil_div(d.k, g.bk) * g.bk, kblocks = kp / g.bk, wblocks = ceil_div(OW, g.bp);
  check_index_range("direct", d, kp * R * S * C);
  ProgramBuilder prog(d, "direct");
  BufferHandle panel = prog.prepared_weights("wpanel", kp * R * S * C);
  prog.add_preparation(weight_panel_kernel(prog, g.bk, kp, prog.weights(), panel));
  // Pixel blocks fastest: a panel of weights (taps x C x bk) is reused from cache by every block.
  KernelBuilder b(std::make_shared<Context>(), kernel_name("direct", "conv", 0, 0, g.str()),
                  kblocks * d.n * OH * wblocks, 1);
  b.info() = {"direct", "direct", 0, 0};
  const Memory* x = prog.param(b, prog.input());
  const Memory* wp = prog.param(b, panel);
  const OutputSink y(prog, b);
  const Memory* acc = b.thread_array("acc", int64_t{g.bp} * g.bk);
  auto slot = [&](int i, int j) { return b.i32((int64_t{i} * nv + j) * L); };
  const int64_t cstep = d.layout == Layout::nchw ? H * W : 1;  // from one input channel to the next
  // Without padding every tap of an output pixel is inside the image: no masks, and the pixels
  // past the row's end (a partial last block) read the row's last one, their sums dropped. With
  // padding, only blocks touching the edge need masks.
  const bool unpadded = d.pad.top == 0 && d.pad.bottom == 0 && d.pad.left == 0 && d.pad.right == 0;
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    Expr wb = b.let("wb", gid % wblocks), oh = b.let("oh", (gid / wblocks) % OH);
    Expr n = b.let("n", (gid / (wblocks * OH)) % d.n), kb = b.let("kb", gid / (wblocks * OH * d.n));
    Expr ow0 = b.let("ow0", wb * g.bp), xbase = b.let("xbase", image_base(d.layout, n, b.i32(0), C, H * W));
    for (int i = 0; i < g.bp; ++i)
      for (int j = 0; j < nv; ++j) b.store(acc, slot(i, j), broadcast(b.f32(0), L));
    // The taps of the block, with masks at the image's edges or (`masked` false) without.
    auto taps = [&](bool masked) {
      b.loop("r", R, LoopKind::serial, [&](Expr r) {
        Expr ih = b.let("ih", oh * d.stride + r * d.dilation - d.pad.top);
        Expr row_in = masked ? b.let("row_in", in_range(ih, 0, H)) : Expr{};
        b.loop("s", S, LoopKind::serial, [&](Expr s) {
          std::vector<Expr> at, inside;
          for (int i = 0; i < g.bp; ++i) {
            Expr ow = unpadded && OW % g.bp ? min(ow0 + i, b.i32(OW - 1)) : ow0 + i;
            Expr iw = b.let("iw", ow * d.stride + s * d.dilation - d.pad.left);
            inside.push_back(masked ? b.let("in", logical_and(row_in, in_range(iw, 0, W))) : Expr{});
            at.push_back(b.let("at", xbase + (ih * W + iw) * pixel_step(d.layout, C)));
          }
          Expr wrow0 = b.let("wrow0", ((kb * R + r) * S + s) * (C * g.bk));
          b.loop("c", C, LoopKind::serial, [&](Expr c) {
            std::vector<Expr> wv;
            for (int j = 0; j < nv; ++j) wv.push_back(b.load("wv", wp, wrow0 + c * g.bk + j * L, {}, L));
            for (int i = 0; i < g.bp; ++i) {
              Expr xb = b.let("xb", broadcast(b.load("x", x, at[i] + c * cstep, inside[i]), L));
              for (int j = 0; j < nv; ++j) b.accumulate(acc, slot(i, j), xb * wv[j]);
            }
          });
        });
      });
    };
    if (unpadded) {
      taps(false);
    } else {  // most blocks lie inside the image: they take the taps without masks
      Expr top = oh * d.stride - d.pad.top, left = ow0 * d.stride - d.pad.left;
      Expr interior = b.let("interior", logical_and(logical_and(le(b.i32(0), top), lt(top + (R - 1) * d.dilation, b.i32(H))),
                                                    logical_and(le(b.i32(0), left),
                                                                lt(left + ((g.bp - 1) * d.stride + (S - 1) * d.dilation), b.i32(W)))));
      b.if_then(interior, [&] { taps(false); });
      b.if_then(b.ctx().unary(Op::logical_not, interior), [&] { taps(true); });
    }
    for (int j = 0; j < nv; ++j) {
      std::vector<CpuPixel> pixels;
      std::vector<Expr> values;
      for (int i = 0; i < g.bp; ++i) {
        Expr ow = ow0 + i;
        pixels.push_back({oh, ow, OW % g.bp ? lt(ow, b.i32(OW)) : Expr{}});
        values.push_back(b.load("sum", acc, slot(i, j), {}, L));
      }
      cpu_store_channels(b, d, y, n, kb * g.bk + j * L, kp, pixels, values);
    }
  });
  prog.add(b.finish());
  return prog.finish();
}

}  // namespace wino::plans

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

// One work-group's block: bp output pixels from (n, oh, ow0), channels [kb * bk, (kb + 1) * bk).
struct DirectBlock {
  ir::Expr n, oh, ow0, kb, xbase;
};

// The kernel's buffers and accumulators.
struct DirectArgs {
  const ConvDesc& d;
  const GemmTiles& g;
  const ir::Memory *x, *wp, *acc;
  // Without padding every tap of an output pixel is inside the image: no masks, and the pixels
  // past the row's end (a partial last block) read the row's last one, their sums dropped.
  bool unpadded;
};

// acc += the block's taps (r, s) over every input channel: per channel bk / lanes vectors of
// weights and bp broadcasts of the image, masked at the image's edges when `masked`.
void accumulate_taps(ir::KernelBuilder& b, const DirectArgs& a, const DirectBlock& blk, bool masked) {
  const ConvDesc& d = a.d;
  const GemmTiles& g = a.g;
  const int L = g.lanes, nv = g.bk / L;
  const int64_t OW = d.out_w(), cstep = channel_step(d.layout, d.h * d.w);
  b.loop("r", d.r, LoopKind::serial, [&](Expr r) {
    Expr ih = b.let("ih", blk.oh * d.stride + r * d.dilation - d.pad.top);
    Expr row_in = masked ? b.let("row_in", in_range(ih, 0, d.h)) : Expr{};
    b.loop("s", d.s, LoopKind::serial, [&](Expr s) {
      std::vector<Expr> at, inside;
      for (int i = 0; i < g.bp; ++i) {
        Expr ow = a.unpadded && OW % g.bp ? min(blk.ow0 + i, b.i32(OW - 1)) : blk.ow0 + i;
        Expr iw = b.let("iw", ow * d.stride + s * d.dilation - d.pad.left);
        inside.push_back(masked ? b.let("in", logical_and(row_in, in_range(iw, 0, d.w))) : Expr{});
        at.push_back(b.let("at", blk.xbase + (ih * d.w + iw) * pixel_step(d.layout, d.c)));
      }
      Expr wrow0 = b.let("wrow0", ((blk.kb * d.r + r) * d.s + s) * (d.c * g.bk));
      b.loop("c", d.c, LoopKind::serial, [&](Expr c) {
        std::vector<Expr> wv;
        for (int j = 0; j < nv; ++j) wv.push_back(b.load("wv", a.wp, wrow0 + c * g.bk + j * L, {}, L));
        for (int i = 0; i < g.bp; ++i) {
          Expr xb = b.let("xb", broadcast(b.load("x", a.x, at[i] + c * cstep, inside[i]), L));
          for (int j = 0; j < nv; ++j) b.accumulate(a.acc, b.i32((int64_t{i} * nv + j) * L), xb * wv[j]);
        }
      });
    });
  });
}

// Whether every tap of the block lies inside the image (then it needs no masks).
Expr block_inside(ir::KernelBuilder& b, const ConvDesc& d, const GemmTiles& g, const DirectBlock& blk) {
  Expr top = blk.oh * d.stride - d.pad.top, left = blk.ow0 * d.stride - d.pad.left;
  Expr rows = logical_and(le(b.i32(0), top), lt(top + (d.r - 1) * d.dilation, b.i32(d.h)));
  Expr cols = logical_and(le(b.i32(0), left), lt(left + ((g.bp - 1) * d.stride + (d.s - 1) * d.dilation), b.i32(d.w)));
  return b.let("interior", logical_and(rows, cols));
}

// Pixel blocks fastest: a panel of weights (taps x C x bk) is reused from cache by every block.
std::unique_ptr<Kernel> direct_kernel(const ProgramBuilder& prog, const GemmTiles& g, int64_t kp, BufferHandle panel) {
  const ConvDesc& d = prog.desc();
  const int L = g.lanes, nv = g.bk / L;
  const int64_t OH = d.out_h(), OW = d.out_w(), wblocks = ceil_div(OW, g.bp);
  KernelBuilder b(std::make_shared<Context>(), kernel_name("direct", "conv", 0, 0, g.str()),
                  (kp / g.bk) * d.n * OH * wblocks, 1);
  b.info() = {"direct", "direct", 0, 0};
  const Memory* x = prog.param(b, prog.input());
  const Memory* wp = prog.param(b, panel);
  const OutputSink y(prog, b);
  const DirectArgs args{d, g, x, wp, b.thread_array("acc", int64_t{g.bp} * g.bk),
                        d.pad.top == 0 && d.pad.bottom == 0 && d.pad.left == 0 && d.pad.right == 0};
  b.threads([&](Expr) {
    Expr gid = b.group_id();
    DirectBlock blk;
    blk.oh = b.let("oh", (gid / wblocks) % OH);
    blk.n = b.let("n", (gid / (wblocks * OH)) % d.n);
    blk.kb = b.let("kb", gid / (wblocks * OH * d.n));
    blk.ow0 = b.let("ow0", (gid % wblocks) * g.bp);
    blk.xbase = b.let("xbase", image_base(d.layout, blk.n, b.i32(0), d.c, d.h * d.w));
    for (int i = 0; i < g.bp * nv; ++i) b.store(args.acc, b.i32(int64_t{i} * L), broadcast(b.f32(0), L));
    if (args.unpadded) {
      accumulate_taps(b, args, blk, false);
    } else {  // most blocks lie inside the image: they take the taps without masks
      Expr inside = block_inside(b, d, g, blk);
      b.if_then(inside, [&] { accumulate_taps(b, args, blk, false); });
      b.if_then(b.ctx().unary(Op::logical_not, inside), [&] { accumulate_taps(b, args, blk, true); });
    }
    for (int j = 0; j < nv; ++j) {
      std::vector<CpuPixel> pixels;
      std::vector<Expr> values;
      for (int i = 0; i < g.bp; ++i) {
        Expr ow = blk.ow0 + i;
        pixels.push_back({blk.oh, ow, OW % g.bp ? lt(ow, b.i32(OW)) : Expr{}});
        values.push_back(b.load("sum", args.acc, b.i32((int64_t{i} * nv + j) * L), {}, L));
      }
      cpu_store_channels(b, d, y, blk.n, blk.kb * g.bk + j * L, kp, pixels, values);
    }
  });
  return b.finish();
}

}  // namespace

Program build_cpu_direct(const ConvDesc& d, const GemmTiles& g) {
  const int64_t kp = ceil_div(d.k, g.bk) * g.bk;
  // Masked lanes compute offsets past K in y and past the last row's end in x.
  check_index_range("direct", d, d.n * kp * d.out_h() * d.out_w());
  check_index_range("direct", d, (d.n + 1) * d.c * d.h * d.w);
  ProgramBuilder prog(d, "direct");
  BufferHandle panel = prog.prepared_weights("wpanel", kp * d.r * d.s * d.c);
  prog.add_preparation(weight_panel_kernel(prog, g.bk, kp, prog.weights(), panel));
  prog.add(direct_kernel(prog, g, kp, panel));
  return prog.finish();
}

}  // namespace wino::plans

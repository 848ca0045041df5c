// Plan `unfused` shaped for a CPU: the pad, input-transform and output-transform kernels and the
// program that joins them to the GEMM (cpu_gemm.cpp). Layouts in cpu_unfused.h.
#include "plans/cpu_unfused.h"

#include <algorithm>

#include "ir/transform_code.h"
#include "plans/output_sink.h"

namespace wino::plans {

using namespace ir;

// Masked lanes still compute their offsets: channels up to kp in y, the padding tiles' patches one
// image past the input. Those offsets must fit the kernels' 32-bit arithmetic too.
void check_padded_offsets(const std::string& plan, const ConvDesc& d, const CpuShapes& s) {
  check_index_range(plan, d, d.n * s.kp * d.out_h() * d.out_w());
  check_index_range(plan, d, (d.n + 1) * (s.padded_input ? s.hp * s.wp * s.cp : d.h * d.w * d.c));
}

CpuShapes cpu_shapes(const ConvDesc& d, const Tiling& t, const GemmTiles& g) {
  CpuShapes s;
  s.desc = &d;
  s.lanes = g.lanes;
  s.cp = ceil_div(d.c, g.lanes) * g.lanes;
  s.kp = ceil_div(d.k, g.bk) * g.bk;
  s.pp = ceil_div(t.tiles, g.bp) * g.bp;
  s.hp = (t.tiles_h - 1) * t.m + t.alpha;
  s.wp = (t.tiles_w - 1) * t.m + t.alpha;
  s.vplane = CpuShapes::plane(s.pp * s.cp);
  s.mplane = CpuShapes::plane(s.pp * s.kp);
  s.padded_input = !(d.layout == Layout::nhwc && d.c % g.lanes == 0 && d.dtype == DType::f32);
  return s;
}

namespace {

// Lanes of the transposed NCHW copy: the widest power of two up to the vector width that one
// image row holds (0: rows narrower than 4 pixels, copied element by element).
int pad_transpose_lanes(const ConvDesc& d, int lanes) {
  if (d.layout != Layout::nchw || d.dtype != DType::f32) return 0;
  int t = lanes;
  while (t > d.w) t /= 2;
  return t >= 4 ? t : 0;
}

// One image row of channels [c0, c0 + lanes) into xp, T channels by T pixels at a time: T vector
// loads along the row (one per channel), a lane transpose, T vector stores of T channels (one per
// pixel). A row whose width is not a multiple of T ends with a block that overlaps the one before
// it. Channels past C (up to xp's whole vectors) load zeros, which fills xp's padding.
void pad_row_transposed(KernelBuilder& b, const CpuShapes& s, const Memory* x, const Memory* xp, Expr n, Expr c0,
                        Expr ih, Expr row, int T) {
  const ConvDesc& d = *s.desc;
  auto block = [&](Expr cb, Expr w0) {
    std::vector<Expr> rows;
    for (int r = 0; r < T; ++r) {
      Expr c = b.let("c", c0 + cb * T + r);
      Expr mask = s.cp > d.c ? lt(c, b.i32(d.c)) : Expr{};  // xp's padding channels: zeros
      rows.push_back(b.load("x", x, image_base(d.layout, n, c, d.c, d.h * d.w) + ih * d.w + w0, mask, T));
    }
    const std::vector<Expr> pixels = transpose_lanes(rows);
    for (int j = 0; j < T; ++j) b.store(xp, (row * s.wp + w0 + j + d.pad.left) * s.cp + c0 + cb * T, pixels[j]);
  };
  b.loop("cb", s.lanes / T, LoopKind::serial, [&](Expr cb) {
    b.loop("wb", d.w / T, LoopKind::serial, [&](Expr wb) { block(cb, wb * T); });
    if (d.w % T != 0) block(cb, b.i32(d.w - T));
  });
}

// One image row of channels [c0, c0 + lanes) into xp element by element (channels innermost, so
// the stores are contiguous; the compiler gathers the reads), zeros in the padding channels.
void pad_row_elementwise(KernelBuilder& b, const CpuShapes& s, const Memory* x, const Memory* xp, Expr n, Expr c0,
                         Expr ih, Expr row) {
  const ConvDesc& d = *s.desc;
  b.loop("w", d.w, LoopKind::serial, [&](Expr w) {
    Expr from = b.let("from", image_base(d.layout, n, b.i32(0), d.c, d.h * d.w) + (ih * d.w + w) * pixel_step(d.layout, d.c));
    Expr to = b.let("to", (row * s.wp + w + d.pad.left) * s.cp + c0);
    b.loop("c", s.lanes, LoopKind::serial, [&](Expr c) {
      Expr inside = s.cp > d.c ? lt(c0 + c, b.i32(d.c)) : Expr{};  // xp's padding channels: zeros
      b.store(xp, to + c, b.load("x", x, from + (c0 + c) * channel_step(d.layout, d.h * d.w), inside));
    });
  });
}

}  // namespace

// A vector of channels of one image per work-group, row after row of xp: the image row
// (transposed to channels-last in vector blocks where the layout allows), then zeros in the border
// columns, or in the whole row above or below the image. Each work-group reads `lanes` channel
// planes of x front to back: streams the prefetchers follow (a work-group per row read every
// channel's row, hundreds of short streams: vgg16.3_2's pad took 220-290 us for 3.2 MB). Images
// of few channels split their rows into blocks, for at least kPadGroups work-groups to share out.
constexpr int64_t kPadGroups = 16;

std::unique_ptr<Kernel> cpu_pad_kernel(const ProgramBuilder& prog, const CpuShapes& s, BufferHandle xp_buf) {
  const ConvDesc& d = prog.desc();
  const int L = s.lanes, T = pad_transpose_lanes(d, L);
  const int64_t cblocks = s.cp / L;
  const int64_t row_blocks = std::min(s.hp, ceil_div(kPadGroups, d.n * cblocks)), rows = ceil_div(s.hp, row_blocks);
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), "pad", 0, 0, "v" + std::to_string(L)),
                  d.n * cblocks * ceil_div(s.hp, rows), 1);
  b.info() = {prog.plan(), "pad", 0, 0};
  const Memory* x = prog.param(b, prog.input());
  const Memory* xp = prog.param(b, xp_buf, true);
  const Expr zeros = broadcast(b.f32(0), L);
  b.threads([&](Expr) {
    Expr image_block = b.let("ib", b.group_id() / ceil_div(s.hp, rows));
    Expr n = b.let("n", image_block / cblocks), c0 = b.let("c0", (image_block % cblocks) * L);
    Expr row0 = b.let("row0", (b.group_id() % ceil_div(s.hp, rows)) * rows);
    b.loop("hr", rows, LoopKind::serial, [&](Expr r) {
      Expr hr = b.let("hr", row0 + r);
      Expr row = b.let("row", n * s.hp + hr), ih = b.let("ih", hr - d.pad.top);
      auto zero_columns = [&](int64_t from, int64_t count) {
        if (count > 0)
          b.loop("w", count, LoopKind::serial, [&](Expr w) { b.store(xp, (row * s.wp + w + from) * s.cp + c0, zeros); });
      };
      b.if_then(in_range(ih, 0, d.h), [&] {
        if (T) pad_row_transposed(b, s, x, xp, n, c0, ih, row, T);
        else pad_row_elementwise(b, s, x, xp, n, c0, ih, row);
        zero_columns(0, d.pad.left);
        zero_columns(d.pad.left + d.w, s.wp - d.pad.left - d.w);
      });
      b.if_then(logical_and(lt(hr, b.i32(s.hp)), logical_or(lt(ih, b.i32(0)), le(b.i32(d.h), ih))),
                [&] { zero_columns(0, s.wp); });  // the last block may end past xp's rows
    });
  });
  return b.finish();
}

std::vector<Expr> cpu_input_tile(KernelBuilder& b, const Tiling& t, const CpuShapes& s, const Memory* src, Expr p,
                                 Expr cb, Expr valid) {
  const ConvDesc& d = *s.desc;
  // xp holds every patch whole; x (NHWC) needs the image-edge masks.
  const int64_t rows = s.padded_input ? s.hp : d.h, cols = s.padded_input ? s.wp : d.w;
  const int64_t top = s.padded_input ? 0 : d.pad.top, left = s.padded_input ? 0 : d.pad.left;
  TileCoords tc = tile_coords(b, p, t);
  Expr ih0 = b.let("ih0", tc.th * t.m - top), iw0 = b.let("iw0", tc.tw * t.m - left);
  Expr base = b.let("xbase", tc.n * (rows * cols * s.cp) + cb * s.lanes);
  std::vector<Expr> tile;
  for (int i = 0; i < t.alpha; ++i)
    for (int j = 0; j < t.alpha; ++j) {
      Expr ih = ih0 + i, iw = iw0 + j, mask = valid;
      if (!s.padded_input) {
        Expr inside = logical_and(in_range(ih, 0, d.h), in_range(iw, 0, d.w));
        mask = mask ? logical_and(mask, inside) : inside;
      }
      tile.push_back(b.load("d", src, base + (ih * cols + iw) * s.cp, mask, s.lanes));
    }
  return transform_2d(b.ctx(), t.t.BT, tile);
}

namespace {

// A transform kernel of the CPU plan: one thread per work-group.
KernelBuilder transform_kernel(const ProgramBuilder& prog, const Tiling& t, int lanes, const std::string& stage,
                               int64_t groups) {
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), stage, t.m, t.r, "v" + std::to_string(lanes)),
                  groups, 1);
  b.info() = {prog.plan(), stage + "_transform", t.m, t.r};
  return b;
}

}  // namespace

std::unique_ptr<Kernel> cpu_input_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                         const CpuBuffers& buf) {
  const int L = s.lanes;
  const int64_t cblocks = s.cp / L;
  KernelBuilder b = transform_kernel(prog, t, L, "input", s.pp * cblocks);
  const Memory* src = prog.param(b, s.padded_input ? buf.xp : prog.input());
  const Memory* v = prog.param(b, buf.v, true);
  b.threads([&](Expr) {
    Expr cb = b.let("cb", b.group_id() % cblocks), p = b.let("p", b.group_id() / cblocks);
    Expr valid = s.pp > t.tiles ? lt(p, b.i32(t.tiles)) : Expr{};  // padding rows of V are zeros
    const std::vector<Expr> vt = cpu_input_tile(b, t, s, src, p, cb, valid);
    for (int xi = 0; xi < t.alpha * t.alpha; ++xi) b.store(v, b.i32(xi * s.vplane) + p * s.cp + cb * L, vt[xi]);
  });
  return b.finish();
}

std::unique_ptr<Kernel> cpu_output_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                          const CpuBuffers& buf) {
  const int L = s.lanes;
  const int64_t kblocks = s.kp / L;
  KernelBuilder b = transform_kernel(prog, t, L, "output", t.tiles * kblocks);
  const Memory* mm = prog.param(b, buf.mm);
  const OutputSink y(prog, b);
  b.threads([&](Expr) {
    Expr kb = b.let("kb", b.group_id() % kblocks), p = b.let("p", b.group_id() / kblocks);
    std::vector<Expr> products;
    for (int xi = 0; xi < t.alpha * t.alpha; ++xi)
      products.push_back(b.load("m", mm, b.i32(xi * s.mplane) + p * s.kp + kb * L, {}, L));
    cpu_output_tile(b, t, s, y, p, kb, products, {});
  });
  return b.finish();
}

Program build_cpu_unfused(const ConvDesc& d, const Tiling& given, const GemmTiles& g) {
  const bool rows = g.points == given.alpha && g.points > 1;
  Tiling t = given;
  if (rows) t.t = with_integer_filter_rows(given.t);
  const CpuShapes s = cpu_shapes(d, t, g);
  check_padded_offsets("unfused", d, s);
  const int64_t a2 = int64_t{t.alpha} * t.alpha;
  ProgramBuilder prog(d, "unfused", t.m, t.r);
  CpuBuffers buf;
  BufferHandle w;
  if (rows) w = packed_filter_weights(prog, t, s.kp, g.lanes);
  else buf.u = transformed_weights(prog, t, s.kp, g.bk);
  if (s.padded_input) buf.xp = prog.scratch("xp", d.n * s.hp * s.wp * s.cp);
  buf.v = prog.scratch("v", a2 * s.vplane);
  buf.mm = prog.scratch("mm", a2 * s.mplane);
  if (s.padded_input) prog.add(cpu_pad_kernel(prog, s, buf.xp));
  prog.add(cpu_input_kernel(prog, t, s, buf));
  prog.add(rows ? cpu_gemm_rows_kernel(prog, t, g, s, w, buf) : cpu_gemm_kernel(prog, t, g, s, buf));
  prog.add(cpu_output_kernel(prog, t, s, buf));
  return prog.finish();
}

}  // namespace wino::plans

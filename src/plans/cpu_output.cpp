// How the CPU plans store the output: vectors of output channels (the lanes) from the output
// transform go to y lane by lane, or, for NCHW rows, transposed so that each vector holds one
// channel's pixels and a tile's row is one or two vector stores.
#include <algorithm>
#include <bit>

#include "ir/transform_code.h"
#include "plans/cpu_unfused.h"
#include "plans/output_sink.h"

namespace wino::plans {

using namespace ir;

namespace {

// The output channels [k0, k0 + L) one vector covers: which to store, and under which mask.
struct ChannelLanes {
  int count = 0;               // lanes that may hold a channel < K
  std::vector<Expr> k, kmask;  // per lane: the channel, and k < K where that is not known
};

ChannelLanes channel_lanes(KernelBuilder& b, const ConvDesc& d, Expr k0, int64_t k_extent, int L) {
  // A lane whose channel is known to be past K (one block of channels) has nothing to store.
  const bool one_block = k_extent == L;
  ChannelLanes c;
  c.count = one_block ? static_cast<int>(std::min<int64_t>(L, d.k)) : L;
  c.k.resize(L);
  c.kmask.resize(L);
  for (int l = 0; l < c.count; ++l) {
    c.k[l] = b.let("k", k0 + l);
    if (!one_block && k_extent > d.k) c.kmask[l] = b.let("kin", lt(c.k[l], b.i32(d.k)));
  }
  return c;
}

// Pixels of an NCHW output row per vector lane group: a tile row of m pixels padded to P lanes.
// Zero when the tile's rows cannot be stored as vectors (NHWC, an activation, m = 1, or rows wider
// than a vector).
int padded_row_lanes(const ConvDesc& d, const OutputSink& y, int m, int L) {
  const int P = static_cast<int>(std::bit_ceil(static_cast<unsigned>(m)));
  return d.layout == Layout::nchw && y.takes_vectors() && m >= 2 && P <= L ? P : 0;
}

// Where one tile's output goes: image n, its first row and column, and the output channels from
// k0 (k_extent as in cpu_store_channels).
struct TileOrigin {
  Expr n, oh0, ow0, k0;
  int64_t k_extent;
};

// One channel's rows [first_row, first_row + rows) of a tile, from the lanes of `pixels` (each row
// padded to P lanes), stored as power-of-two pieces: 4 and 2 for m = 6.
void store_channel_rows(KernelBuilder& b, const ConvDesc& d, const OutputSink& y, const TileOrigin& at, int m, int P,
                        Expr pixels, int first_row, int rows, Expr base, Expr bias, Expr mask) {
  const int64_t OH = d.out_h(), OW = d.out_w();
  for (int r = 0; r < rows && first_row + r < m; ++r) {
    Expr oh = at.oh0 + (first_row + r);
    Expr row_mask = OH % m ? both(mask, lt(oh, b.i32(OH))) : mask;
    for (int j0 = 0; j0 < m;) {
      const int w = static_cast<int>(std::bit_floor(static_cast<unsigned>(m - j0)));
      y.store(b, base + oh * OW + at.ow0 + j0, slice(pixels, r * P + j0, w), bias, row_mask);
      j0 += w;
    }
  }
}

// The m x m pixel vectors of one tile (lanes: channels [k0, k0 + L)) stored row by row: each row
// padded to P pixels, blocks of T pixels transposed against slices of T channels, so that each
// vector holds T / P rows of one channel. The tile lies inside the image horizontally.
void store_tile_rows(KernelBuilder& b, const ConvDesc& d, const OutputSink& y, const TileOrigin& at, int m, int P,
                     const std::vector<Expr>& values, Expr valid) {
  const int L = values.at(0).type().lanes, pixels_padded = m * P;
  const int T = std::min(L, static_cast<int>(std::bit_ceil(static_cast<unsigned>(pixels_padded))));
  const ChannelLanes ch = channel_lanes(b, d, at.k0, at.k_extent, L);
  std::vector<Expr> bias(L), base(L);
  for (int l = 0; l < ch.count; ++l) {
    bias[l] = y.channel_bias(b, ch.k[l], ch.kmask[l]);
    base[l] = image_base(d.layout, at.n, ch.k[l], d.k, d.out_h() * d.out_w());
  }
  const Expr zero = broadcast(b.f32(0), T);
  for (int first = 0; first < pixels_padded; first += T)  // a block of T / P rows
    for (int cs = 0; cs * T < ch.count; ++cs) {            // channels [cs * T, (cs + 1) * T)
      std::vector<Expr> block;
      for (int q = first; q < first + T; ++q) {
        const int i = q / P, j = q % P;
        block.push_back(i < m && j < m ? slice(values[i * m + j], cs * T, T) : zero);
      }
      const std::vector<Expr> channels = transpose_lanes(block);
      for (int l = 0; l < T && cs * T + l < ch.count; ++l) {
        const int lane = cs * T + l;
        store_channel_rows(b, d, y, at, m, P, channels[l], first / P, T / P, base[lane], bias[lane],
                           both(valid, ch.kmask[lane]));
      }
    }
}

}  // namespace

void cpu_store_channels(KernelBuilder& b, const ConvDesc& d, const OutputSink& y, Expr n, Expr k0, int64_t k_extent,
                        const std::vector<CpuPixel>& pixels, const std::vector<Expr>& values) {
  const int L = values.at(0).type().lanes;
  const int64_t OH = d.out_h(), OW = d.out_w();
  // NHWC with whole vectors of channels: a pixel's channels are one vector store (lane by lane,
  // 16 scalar stores a pixel, resnet50.c3's F(6,3) output transform took 47 us against 28 for NCHW).
  if (d.layout == Layout::nhwc && y.takes_vectors() && d.k % L == 0) {
    Expr bias = y.channel_biases(b, k0, L);
    for (size_t px = 0; px < pixels.size(); ++px) {
      const CpuPixel& at = pixels[px];
      y.store(b, image_base(d.layout, n, k0, d.k, OH * OW) + (at.oh * OW + at.ow) * d.k, values[px], bias, at.mask);
    }
    return;
  }
  const ChannelLanes ch = channel_lanes(b, d, k0, k_extent, L);
  std::vector<Expr> bias(L);
  for (int l = 0; l < ch.count; ++l) bias[l] = y.channel_bias(b, ch.k[l], ch.kmask[l]);
  auto store = [&](int l, size_t px) {
    const CpuPixel& at = pixels[px];
    Expr index = image_base(d.layout, n, ch.k[l], d.k, OH * OW) + (at.oh * OW + at.ow) * pixel_step(d.layout, d.k);
    y.store(b, index, extract(values[px], l), bias[l], both(at.mask, ch.kmask[l]));
  };
  // Lanes are output channels: innermost for NHWC, outermost for NCHW (contiguous stores).
  const bool nhwc = d.layout == Layout::nhwc;
  for (size_t outer = 0; outer < (nhwc ? pixels.size() : size_t(ch.count)); ++outer)
    for (size_t inner = 0; inner < (nhwc ? size_t(ch.count) : pixels.size()); ++inner)
      store(static_cast<int>(nhwc ? inner : outer), nhwc ? outer : inner);
}

void cpu_output_tile(KernelBuilder& b, const Tiling& t, const CpuShapes& s, const OutputSink& y, Expr p, Expr kb,
                     const std::vector<Expr>& products, Expr valid) {
  const ConvDesc& d = *s.desc;
  const int m = t.m;
  const int64_t OH = d.out_h(), OW = d.out_w();
  const std::vector<Expr> out = transform_2d(b.ctx(), t.t.AT, products);
  TileCoords tc = tile_coords(b, p, t);
  Expr oh0 = b.let("oh0", tc.th * m), ow0 = b.let("ow0", tc.tw * m);
  auto lane_by_lane = [&] {
    std::vector<CpuPixel> pixels;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        Expr oh = oh0 + i, ow = ow0 + j, mask = valid;
        for (Expr c : {OH % m ? lt(oh, b.i32(OH)) : Expr{}, OW % m ? lt(ow, b.i32(OW)) : Expr{}}) mask = both(mask, c);
        pixels.push_back({oh, ow, mask});
      }
    cpu_store_channels(b, d, y, tc.n, kb * s.lanes, s.kp, pixels, out);
  };
  const int P = padded_row_lanes(d, y, m, s.lanes);
  if (!P) return lane_by_lane();
  auto rows = [&] { store_tile_rows(b, d, y, TileOrigin{tc.n, oh0, ow0, kb * s.lanes, s.kp}, m, P, out, valid); };
  if (OW % m == 0) return rows();
  // The last tile of a row reaches past the image: lane by lane there.
  Expr inside = b.let("inside", lt(ow0 + (m - 1), b.i32(OW)));
  b.if_then(inside, rows);
  b.if_then(b.ctx().unary(Op::logical_not, inside), lane_by_lane);
}

}  // namespace wino::plans

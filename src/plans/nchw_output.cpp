// The NCHW output transform on a GPU with its stores in runs: a work-group transforms `threads`
// consecutive tiles of one output channel, one tile per thread, into work-group memory, then
// writes them out row by row of the image, neighbouring threads on neighbouring pixels. Stored
// straight from each thread, an m x m tile's row of m floats lands m * 4 bytes away from the next
// thread's, so a warp's store touches m times the sectors it fills (the transform measured about
// half the bandwidth of the input transform for the same bytes).
#include <numeric>

#include "ir/transform_code.h"
#include "plans/output_sink.h"
#include "plans/plan_common.h"

namespace wino::plans {

using namespace ir;

namespace {

// Tile pl's row i in work-group memory: m floats at i * row_floats + pl * m + pl / group (odd m:
// no padding). The threads' stores of one element of their tiles are m floats apart, which for
// even m meets only 32 / gcd(m, 32) banks: one float of padding after every `group` tiles moves
// the next ones to the banks between. The pads fall every lcm(m, 32) floats of a row, a multiple
// of 32, and a warp reads 32 neighbouring floats from a multiple of 32: never across a pad. (Tiles
// m + 1 floats apart spread the stores too, but a warp's reads then spanned more than 32 floats:
// 1.9 passes a read at m = 6.)
struct TurnedLayout {
  int m = 0, group = 0;
  int64_t row_floats = 0;
  TurnedLayout(int m_, int threads) : m(m_), group(32 / std::gcd(m_, 32)) {
    row_floats = int64_t{threads} * m + (m % 2 ? 0 : threads / group);
  }
  int64_t floats() const { return m * row_floats; }
  Expr at(Expr i, Expr pl, Expr j) const {
    return m % 2 ? i * row_floats + pl * m + j : i * row_floats + pl * m + pl / group + j;
  }
};

int64_t turned_floats(const Tiling& t, int threads) { return TurnedLayout(t.m, threads).floats(); }

}  // namespace

// Within the smallest work-group memory of Wino's targets (32 KiB: Metal, generic OpenCL), and
// only with a work-group's worth of tiles per channel (fewer would leave most threads idle).
bool turned_output_fits(const Tiling& t, int threads) {
  return turned_floats(t, threads) <= 32 * 1024 / 4 && t.tiles >= threads;
}

std::unique_ptr<Kernel> output_transform_turned_kernel(const ProgramBuilder& prog, const Tiling& t, int threads,
                                                       BufferHandle mm_buf) {
  const ConvDesc& d = prog.desc();
  const int a = t.alpha, m = t.m;
  const TurnedLayout turned(m, threads);
  const int64_t K = d.k, P = t.tiles, OH = d.out_h(), OW = d.out_w(), pblocks = ceil_div(P, threads);
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(prog.plan(), "output", m, t.r, "t" + std::to_string(threads) + "_rows"),
                  K * pblocks, threads);
  b.info() = {prog.plan(), "output_transform", m, t.r};
  const Memory* mm = prog.param(b, mm_buf);
  const OutputSink y(prog, b);
  // Tile pl's row i at turned.at(i, pl, j), so that the writes below read runs.
  const Memory* ys = b.shared_array("ys", turned.floats());
  Expr k = b.let("k", b.group_id() / pblocks), p0 = b.let("p0", b.group_id() % pblocks * threads);
  b.threads([&](Expr tid) {
    Expr p = b.let("p", p0 + tid);
    b.if_then(lt(p, b.i32(P)), [&] {
      std::vector<Expr> tile;
      for (int xi = 0; xi < a * a; ++xi) tile.push_back(b.load("m", mm, (b.i32(xi) * K + k) * P + p));
      std::vector<Expr> out = transform_2d(*ctx, t.t.AT, tile);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) b.store(ys, turned.at(b.i32(i), tid, b.i32(j)), out[i * m + j]);
    });
  });
  b.barrier();
  b.comment("write the tiles out a row of the image at a time, neighbouring threads on neighbouring pixels");
  b.threads([&](Expr tid) {
    Expr bias = y.channel_bias(b, k);
    b.loop("it", int64_t{m} * m, LoopKind::serial, [&](Expr it) {
      Expr e = b.let("e", it * threads + tid);  // (i, pl, j) with j fastest
      Expr i = b.let("i", e / (int64_t{threads} * m)), pl = b.let("pl", e / m % threads), j = b.let("j", e % m);
      Expr p = b.let("p", p0 + pl);
      TileCoords tc = tile_coords(b, p, t);
      Expr oh = b.let("oh", tc.th * m + i), ow = b.let("ow", tc.tw * m + j);
      Expr ok = b.let("ok", logical_and(lt(p, b.i32(P)), logical_and(lt(oh, b.i32(OH)), lt(ow, b.i32(OW)))));
      b.if_then(ok, [&] {
        Expr value = b.load("yv", ys, turned.at(i, pl, j));
        y.store(b, image_base(d.layout, tc.n, k, K, OH * OW) + oh * OW + ow, value, bias);
      });
    });
  });
  return b.finish();
}

}  // namespace wino::plans

// The channels-last output transform from an M in f16 or bf16 (the tensor-core GEMM's, tiles a
// multiple of 8; CUDA): a work-group takes 16 output channels x 32 tiles, copies all of their
// points into work-group memory at once by 16-byte asynchronous copies (8 tiles of a channel;
// rows of 32 tiles padded to 40 halves, so that a matrix's 8 rows hit distinct banks), and reads
// them back with `ldmatrix`: warp w takes channels 8 (w % 2) .. + 7 and tiles 8 (w / 2) .. + 7, and
// lane 4 g + t gets channel g's tiles 2 t and 2 t + 1 of 4 points per instruction. Each thread then
// transforms and stores its two tiles. (A 2-byte read per thread, tile and point, 36 of them per
// tile at F(4,3), queued on work-group memory: `mio_throttle` stalls, session 32's profile.)
#include "ir/transform_code.h"
#include "plans/output_sink.h"
#include "plans/plan_common.h"

namespace wino::plans {

using namespace ir;

namespace {

constexpr int kChannels = 16, kTiles = 32, kThreads = 256, kPitch = kTiles + 8, kRun = 8;

// Every point of the block's M into smem[point][channel][kPitch], zeros past K (P is a multiple
// of 8: a run of 8 tiles is whole or out).
void copy_block(KernelBuilder& b, const Memory* smem, const Memory* mm, Expr c0, Expr p0, int points, int64_t K,
                int64_t P) {
  constexpr int runs = kChannels * (kTiles / kRun);  // per point: 64, a quarter of the threads
  b.threads([&](Expr tid) {
    Expr cl = b.let("cl", tid / (kTiles / kRun) % kChannels), tl = b.let("tl", tid % (kTiles / kRun) * kRun);
    Expr k = b.let("k", c0 + cl), p = b.let("p", p0 + tl);
    Expr ok = b.let("ok", logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
    Expr first = b.let("xi", tid / runs);
    for (int pass = 0; pass < ceil_div(points, kThreads / runs); ++pass) {
      Expr xi = first + b.i32(pass * (kThreads / runs));
      auto copy = [&] {
        b.copy_async(smem, (xi * kChannels + cl) * kPitch + tl, mm, (xi * K + k) * P + p, kRun, ok);
      };
      if ((pass + 1) * (kThreads / runs) <= points) copy();
      else b.if_then(lt(xi, b.i32(points)), copy);
    }
    b.copy_commit();
    b.copy_wait(0);
  });
  b.barrier();
}

// The thread's values of every point, [point][tile of its two]: 4 points per `ldmatrix` where 4
// are left, then 2, then 1 (lanes 8 j .. 8 j + 7 give point j's 8 channel rows).
std::vector<std::array<Expr, 2>> read_block(KernelBuilder& b, const Memory* smem, Expr warp, Expr lane, int points) {
  Expr row = b.let("row", (warp % 2 * 8 + lane % 8) * kPitch + warp / 2 * 8);  // point 0's
  Expr j = b.let("j", lane / 8);
  std::vector<std::array<Expr, 2>> values;
  for (int xi = 0; xi < points;) {
    const int n = points - xi >= 4 ? 4 : points - xi >= 2 ? 2 : 1;
    Expr at = (j % n + b.i32(xi)) * (kChannels * kPitch) + row;
    const std::vector<Expr> v = b.load_matrix("m", smem, at, n, false);
    for (int i = 0; i < n; ++i) values.push_back({v[2 * i], v[2 * i + 1]});
    xi += n;
  }
  return values;
}

}  // namespace

std::unique_ptr<Kernel> output_transform_nhwc_half_kernel(const ProgramBuilder& prog, const Tiling& t,
                                                         BufferHandle mm_buf) {
  const ConvDesc& d = prog.desc();
  const Type half = prog.buffer_type(mm_buf);
  const int points = t.alpha * t.alpha;
  const int64_t cblocks = ceil_div(d.k, kChannels);
  KernelBuilder b(std::make_shared<Context>(),
                  kernel_name(prog.plan(), "output", t.m, t.r, "nhwc_lm_t" + std::to_string(kThreads) + "_m" + type_name(half)),
                  cblocks * ceil_div(t.tiles, kTiles), kThreads);
  b.info() = {prog.plan(), "output_transform", t.m, t.r};
  // The two tiles' values take alpha^2 registers (pairs of halves) beside the transform's: two
  // work-groups per SM (128 registers) up to alpha 6; ptxas spilled alpha 8 so.
  b.set_min_groups_per_multiprocessor(t.alpha <= 6 ? 2 : 1);
  const Memory* mm = prog.param(b, mm_buf);
  const OutputSink y(prog, b);
  const Memory* smem = b.shared_array("smem", int64_t{points} * kChannels * kPitch, half);
  Expr c0 = b.let("c0", b.group_id() % cblocks * kChannels), p0 = b.let("p0", b.group_id() / cblocks * kTiles);
  copy_block(b, smem, mm, c0, p0, points, d.k, t.tiles);
  b.threads([&](Expr tid) {
    Expr warp = b.let("warp", tid / 32), lane = b.let("lane", tid % 32);
    const std::vector<std::array<Expr, 2>> values = read_block(b, smem, warp, lane, points);
    Expr k = b.let("k", c0 + warp % 2 * 8 + lane / 4);
    for (int h = 0; h < 2; ++h) {
      Expr p = b.let("p", p0 + warp / 2 * 8 + lane % 4 * 2 + h);
      b.if_then(logical_and(lt(k, b.i32(d.k)), lt(p, b.i32(t.tiles))), [&] {
        std::vector<Expr> tile;
        for (const auto& v : values) tile.push_back(v[h]);
        store_output_tile(b, y, d, t, tile_coords(b, p, t), k, transform_2d(b.ctx(), t.t.AT, tile));
      });
    }
  });
  return b.finish();
}

}  // namespace wino::plans

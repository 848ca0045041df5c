// The unfused plan's transform kernels for NHWC (channels-last) tensors on GPUs. x and y keep
// channels innermost, V and M keep tiles innermost (V[xi][c][p], M[xi][k][p], what the GEMM
// reads), so each kernel turns a block of 16 channels x 16 tiles around in work-group memory: x
// (or y) moves in runs of 16 neighbouring channels of a pixel, V (or M) in runs of 16 tiles, each
// run one 32-byte sector or more (aligned where C and the tiles are multiples of 16). On the H200
// 16 x 16 moved f16 NHWC fastest of 16 x 8, 16 x 16, 8 x 32, 16 x 32 and 32 x 8 (the output
// transform 15-37% faster than 16 x 8; bench/results/h200_nhwc_block_shapes.txt). Half V and M
// (tensor cores) move wider: V in aligned runs of 4 tiles, M by 16-byte copies of 8 (session 32),
// where V is not stored by tiles (unfused.cpp). (A half M read back by ldmatrix, 16 channels x 32
// tiles a work-group, two tiles a thread, was 0.92x the copies' speed on the H100: 80 registers,
// fewer warps in flight; session 43, bench/results/h100_tensor_ab_session43.txt.)
#include "ir/transform_code.h"
#include "plans/output_sink.h"
#include "plans/plan_common.h"

namespace wino::plans {

using namespace ir;

namespace {

constexpr int kChannels = 16, kTiles = 16, kThreads = kChannels * kTiles;
constexpr int kPitch = kTiles + 1;  // a padded row: a warp's channels of one point spread over the banks
constexpr int64_t kSharedBytes = 32 * 1024;  // within every GPU's work-group memory (Apple's 32 KiB);
                                              // a half M copied whole takes up to 48 KiB (CUDA only)

// Winograd points per round through work-group memory: all of them where they fit (then no
// thread holds its values across a barrier), else equal shares.
int chunk_points(int points) {
  const int64_t per_point = int64_t{kChannels} * kPitch * 4;
  const int64_t rounds = ceil_div(points * per_point, kSharedBytes);
  return static_cast<int>(ceil_div(points, rounds));
}

// One work-group's block: channels [c0, c0 + 16) x tiles [p0, p0 + width); a thread's own pairs
// are its channel with tiles tid / 16 + 16 s, one for each s below width / 16.
struct TileBlock {
  Expr c0, p0;
  int64_t channels, tiles;
  int width = kTiles;

  Expr channel(KernelBuilder& b, Expr tid) const { return b.let("c", c0 + tid % kChannels); }
  Expr tile(KernelBuilder& b, Expr tid, int s = 0) const { return b.let("p", p0 + tid / kChannels + s * kTiles); }
  Expr inside(KernelBuilder& b, Expr c, Expr p) const {
    return logical_and(lt(c, b.i32(channels)), lt(p, b.i32(tiles)));
  }
};

int64_t block_count(int64_t channels, int64_t tiles, int width) {
  return ceil_div(channels, kChannels) * ceil_div(tiles, width);
}

TileBlock block_of(KernelBuilder& b, int64_t channels, int64_t tiles, int width) {
  const int64_t cblocks = ceil_div(channels, kChannels);
  return {b.let("c0", b.group_id() % cblocks * kChannels), b.let("p0", b.group_id() / cblocks * width), channels,
          tiles, width};
}

// Work-group memory of one round: [point][channel][tile], rows padded.
Expr staged(Expr point, Expr channel, Expr tile) { return (point * kChannels + channel) * kPitch + tile; }

// Thread tid's share of moving `count` points of the block between work-group memory (rows of
// `pitch`, point 0 first) and plane (V or M, from point first_point): runs of `run` tiles of one
// channel, tiles fastest, a pass of kThreads runs after another. kThreads is a multiple of a
// point's runs, so a thread's channel and run are the same in every pass and only the point moves:
// the index work is done once, and each pass adds constants (per copy, it was 25 integer
// instructions of signed division). `move(at, s, in)`: the run's index in the plane and in
// work-group memory, and whether it is inside the layer.
void for_each_run(KernelBuilder& b, const TileBlock& blk, Expr tid, int run, int pitch, int first_point, int count,
                  const std::function<void(Expr at, Expr s, Expr in)>& move) {
  const int per_row = blk.width / run, runs_per_point = kChannels * per_row, pass = kThreads / runs_per_point;
  if (pass < 1 || kThreads % runs_per_point)
    throw Error("internal: NHWC transform blocks of " + std::to_string(blk.width) + " tiles in runs of " +
                std::to_string(run) + ": a pass of the work-group's threads must move whole points");
  // (With one pass, tid / per_row is already below kChannels, and the point is 0.)
  Expr pl = b.let("pl", tid % per_row * run);
  Expr cl = b.let("cl", pass > 1 ? tid / per_row % kChannels : tid / per_row);
  Expr i0 = pass > 1 ? b.let("i0", tid / runs_per_point) : b.i32(0);
  Expr c = b.let("c", blk.c0 + cl), p = b.let("p", blk.p0 + pl);
  Expr in = b.let("in", blk.inside(b, c, p));
  Expr at0 = b.let("at", ((i0 + first_point) * blk.channels + c) * blk.tiles + p);
  Expr s0 = b.let("s0", (i0 * kChannels + cl) * pitch + pl);
  for (int64_t i = 0; i < count; i += pass) {
    auto one = [&] { move(at0 + b.i32(i * blk.channels * blk.tiles), s0 + b.i32(i * kChannels * pitch), in); };
    if (i + pass <= count) one();
    else b.if_then(lt(i0, b.i32(count - i)), one);  // the last pass: the threads of points past count wait
  }
}

// The points [xi0, xi0 + count) of the block between mine (a per-thread array, one value per point
// for the thread's own pair) and plane (V or M, [xi][c][p]), through smem: `to_plane` stores, else loads;
// the `last` round ends without a barrier (nothing after it reuses smem).
void move_chunk(KernelBuilder& b, const TileBlock& blk, const Memory* mine, const Memory* smem, const Memory* plane,
                int xi0, int count, bool to_plane, bool last) {
  auto own = [&](Expr tid, const std::function<void(int, Expr)>& f) {
    for (int i = 0; i < count; ++i) f(i, staged(b.i32(i), tid % kChannels, tid / kChannels));
  };
  // One element per thread and point, tiles fastest.
  auto cooperative = [&](Expr tid) {
    for_each_run(b, blk, tid, 1, kPitch, xi0, count, [&](Expr at, Expr s, Expr in) {
      if (to_plane) b.store(plane, at, b.load("s", smem, s), in);
      else b.store(smem, s, b.load("v", plane, at, in));
    });
  };
  // V in f16 or bf16 (tiles a multiple of 8: v_storage_type) leaves in runs of 4 tiles, each one
  // aligned 8-byte store (a 2-byte store per element moved too few bytes per instruction).
  auto cooperative_runs = [&](Expr tid) {
    constexpr int kRun = 4;
    for_each_run(b, blk, tid, kRun, kPitch, xi0, count,
                 [&](Expr at, Expr s, Expr in) { b.aligned_store(plane, at, b.load("s", smem, s, {}, kRun), in); });
  };
  if (to_plane) {
    b.threads([&](Expr tid) { own(tid, [&](int i, Expr at) { b.store(smem, at, b.load("v", mine, b.i32(xi0 + i))); }); });
    b.barrier();
    if (plane->type == Type::f32) b.threads(cooperative);
    else b.threads(cooperative_runs);
  } else {
    b.threads(cooperative);
    b.barrier();
    b.threads([&](Expr tid) { own(tid, [&](int i, Expr at) { b.store(mine, b.i32(xi0 + i), b.load("s", smem, at)); }); });
  }
  if (!last) b.barrier();  // the next round overwrites smem
}

// M in f16 or bf16 (the tensor-core GEMM's, tiles a multiple of 8: m_storage_type): every point
// of the block lands in work-group memory at once by 16-byte asynchronous copies, 8 tiles of one
// channel each (a load of 2 bytes per thread and point moved too few bytes per instruction to keep
// the memory busy), rows padded by 8 halves so that each stays 16-byte aligned. The block is the
// widest of 64, 32 or 16 tiles whose points fit the static 48 KiB (half_width): each channel's
// run of a point is then 128 bytes at F(2,3), whole cache lines. Runs of 16 tiles (32 bytes,
// a line's quarter) kept the H100's L2 88% busy at 2.05 TB/s on vgg16.3_2.b8 (ncu, session 49).
constexpr int kHalfRun = 8, kHalfPad = 8;
constexpr int64_t kStaticSharedBytes = 48 * 1024;

int64_t half_plane_bytes(int points, int width) { return int64_t{points} * kChannels * (width + kHalfPad) * 2; }

// The widest block whose half M fits; 0 where not even 16 tiles do (past alpha 8, whose 16 tiles
// take exactly 48 KiB: then by floats in chunks).
int half_width(int points) {
  for (int width : {64, 32, 16})
    if (half_plane_bytes(points, width) <= kStaticSharedBytes) return width;
  return 0;
}

void copy_half_plane(KernelBuilder& b, const TileBlock& blk, const Memory* smem, const Memory* plane, int points) {
  const int pitch = blk.width + kHalfPad;
  b.threads([&](Expr tid) {
    for_each_run(b, blk, tid, kHalfRun, pitch, 0, points,
                 [&](Expr at, Expr s, Expr in) { b.copy_async(smem, s, plane, at, kHalfRun, in); });
    b.copy_commit();
    b.copy_wait(0);
  });
  b.barrier();
}

// What both kernels turn around through: work-group memory for a chunk of points (all of them in
// halves for a half M: nhwc_kernel), the thread's own value of every point, and the work-group's block.
struct TurnAround {
  const Memory* smem;
  const Memory* mine;
  TileBlock blk;
  int points, chunk;

  bool half() const { return smem->type != Type::f32; }

  // Every point between `mine` and plane, chunk by chunk; a half M whole into smem.
  void move(KernelBuilder& b, const Memory* plane, bool to_plane) const {
    if (half()) return copy_half_plane(b, blk, smem, plane, points);
    for (int xi0 = 0; xi0 < points; xi0 += chunk)
      move_chunk(b, blk, mine, smem, plane, xi0, std::min(chunk, points - xi0), to_plane, xi0 + chunk >= points);
  }

  // After move() to the threads: every point's value of the thread's pair s (a half M: from smem).
  std::vector<Expr> point_values(KernelBuilder& b, Expr tid, int s) const {
    std::vector<Expr> values;
    for (int xi = 0; xi < points; ++xi)
      values.push_back(half() ? b.load("m", smem, (b.i32(xi) * kChannels + tid % kChannels) * (blk.width + kHalfPad) +
                                                      tid / kChannels + s * kTiles)
                              : b.load("m", mine, b.i32(xi)));
    return values;
  }
};

// The kernel of one stage over `channels` (C or K) x the tiles, and what it turns around through;
// `plane` is the type V or M is stored in (a half one is named: _vf16, _mbf16, ...). A half M is
// copied whole into work-group memory where all its points fit (half_width: up to alpha 8), in
// blocks of that width (named _w64, _w32).
std::pair<KernelBuilder, TurnAround> nhwc_kernel(const ProgramBuilder& prog, const Tiling& t, const std::string& stage,
                                                 int64_t channels, Type plane) {
  const int points = t.alpha * t.alpha, chunk = chunk_points(points);
  const int width = stage == "output" && plane != Type::f32 ? half_width(points) : 0;
  const int block = width ? width : kTiles;
  const std::string type = (plane == Type::f32 ? "" : (stage == "input" ? "_v" : "_m") + type_name(plane)) +
                           (block != kTiles ? "_w" + std::to_string(block) : "");
  KernelBuilder b(std::make_shared<Context>(),
                  kernel_name(prog.plan(), stage, t.m, t.r, "nhwc_t" + std::to_string(kThreads) + type),
                  block_count(channels, t.tiles, block), kThreads);
  b.info() = {prog.plan(), stage + "_transform", t.m, t.r};
  b.set_min_groups_per_multiprocessor(transform_groups_per_multiprocessor(t, kThreads));
  const Memory* smem = width ? b.shared_array("smem", half_plane_bytes(points, width) / 2, plane)
                             : b.shared_array("smem", int64_t{chunk} * kChannels * kPitch);
  const Memory* mine = width ? nullptr : b.thread_array("mine", points);
  const TileBlock blk = block_of(b, channels, t.tiles, block);
  return {std::move(b), TurnAround{smem, mine, blk, points, chunk}};
}

}  // namespace

std::unique_ptr<Kernel> input_transform_nhwc_kernel(const ProgramBuilder& prog, const Tiling& t, BufferHandle v_buf,
                                                    StoredValues values) {
  const ConvDesc& d = prog.desc();
  auto [b, turn] = nhwc_kernel(prog, t, "input", d.c, prog.buffer_type(v_buf));
  const Memory* x = prog.param(b, prog.input());
  const Memory* v = prog.param(b, v_buf, true);
  b.threads([&](Expr tid) {
    Expr c = turn.blk.channel(b, tid), p = turn.blk.tile(b, tid);
    // Pairs outside the layer transform a clamped tile of zeros: every thread reaches the barriers.
    Expr in = b.let("in", turn.blk.inside(b, c, p));
    Expr ps = b.let("ps", min(p, b.i32(t.tiles - 1)));
    const std::vector<Expr> tile = load_input_tile(b, x, d, t, tile_coords(b, ps, t), min(c, b.i32(d.c - 1)), in);
    const std::vector<Expr> vt = transform_2d(b.ctx(), t.t.BT, tile);
    for (int xi = 0; xi < turn.points; ++xi) b.store(turn.mine, b.i32(xi), as_gemm_operand(vt[xi], values));
  });
  turn.move(b, v, true);
  return b.finish();
}

std::unique_ptr<Kernel> output_transform_nhwc_kernel(const ProgramBuilder& prog, const Tiling& t, BufferHandle mm_buf) {
  const ConvDesc& d = prog.desc();
  auto [b, turn] = nhwc_kernel(prog, t, "output", d.k, prog.buffer_type(mm_buf));
  const Memory* mm = prog.param(b, mm_buf);
  const OutputSink y(prog, b);
  turn.move(b, mm, false);
  for (int s = 0; s < turn.blk.width / kTiles; ++s)
    b.threads([&](Expr tid) {
      Expr k = turn.blk.channel(b, tid), p = turn.blk.tile(b, tid, s);
      b.if_then(turn.blk.inside(b, k, p), [&] {
        const std::vector<Expr> tile = turn.point_values(b, tid, s);
        store_output_tile(b, y, d, t, tile_coords(b, p, t), k, transform_2d(b.ctx(), t.t.AT, tile));
      });
    });
  return b.finish();
}

}  // namespace wino::plans

#include "planner/tile_choice.h"

#include <cstdlib>
#include <optional>

#include "common/error.h"
#include "plans/gemm_tiles.h"
#include "plans/patch_region.h"
#include "plans/plan_common.h"

namespace wino::planner {

namespace {

using plans::GemmTiles;

// The smallest power of two >= n, clamped to [lo, hi].
int pow2_at_least(int64_t n, int lo, int hi) {
  int v = lo;
  while (v < n && v < hi) v *= 2;
  return v;
}

/// The largest divisor of alpha^2 that is at most `target`: every point group is then whole, so
/// every Winograd point is computed (odd alpha has no divisor 4, 8 or 9: alpha^2 = 25 takes 5).
int points_per_thread(int a2, int target) {
  int ppt = 1;
  for (int p = 1; p <= target; ++p)
    if (a2 % p == 0) ppt = p;
  return ppt;
}

bool tiles_given(const plans::PlanOptions& o) {
  return o.block_k || o.block_tiles || o.reg_k || o.reg_tiles || o.chunk_c || o.points_per_thread;
}

void apply_overrides(GemmTiles& g, const plans::PlanOptions& o) {
  if (o.block_k) g.bk = o.block_k;
  if (o.block_tiles) g.bp = o.block_tiles;
  if (o.reg_k) g.rk = o.reg_k;
  if (o.reg_tiles) g.rp = o.reg_tiles;
  if (o.chunk_c) g.cc = o.chunk_c;
  if (o.points_per_thread) g.ppt = o.points_per_thread;
}

// One GEMM per Winograd point (plan unfused): blocks as large as K and the tiles allow (up to
// 128; up to 64 with asynchronous copies, below), 8x8 register tiles on blocks of 64 or more,
// double-buffered chunks of 8 channels.
GemmTiles point_gemm_tiles(const plans::Tiling& t, int64_t K, bool async_copies) {
  GemmTiles g;
  const int64_t most = async_copies ? 64 : 128;
  g.bk = pow2_at_least(std::min(K, most), 32, 128);
  g.bp = pow2_at_least(std::min(t.tiles, most), 32, 128);
  g.rk = g.bk >= 64 ? 8 : 4;
  g.rp = g.bp >= 64 ? 8 : 4;
  g.cc = 8;
  g.prefetch = true;
  return g;
}

// Tensor cores (plan unfused): 8 x 8 accumulators per thread, so a warp multiplies a 64 x 32
// slice of the block as 4 x 4 mmas, on chunks of 16 channels, in blocks of 64 x 64 (2 warps).
// With asynchronous copies (4 stages, use_async_copies below) small work-groups won: on the H200
// (2026-12-03, 9 vgg16 and resnet50 layers at batch >= 8) 64 x 64 was the fastest block for 3xtf32
// on 8 layers and for tf32 on 5, within 3% elsewhere, against 128 x 128, 128 x 64, 64 x 128 and
// warps of 64 x 64; 14 warps of 136-142 registers share an SM. So it is for the FMA GEMM (above).
// fp16 and bf16 on layers of 512 tiles or more take blocks of 64 output channels (128 rows padded
// K = 64 to twice its work) and chunks of 32 channels, of 64 tiles where K <= 64 (2 warps of
// 8 x 8) and 128 tiles above (2 warps of 8 x 16), U and V staged in halves (a ring of 4 in 36 and
// 52 KiB). On the H200 (2026-12-04, F(4,3) NHWC, bench/results/h200_half_gemm_tiles_session31.txt)
// against the 128 x 128 blocks of 4 warps of 64 x 64 and chunks of 16 they had before: GEMM
// 146.9 -> 128.5 us on vgg16.1_2.b8, 42.6 -> 38.2 on resnet50.c2.b32, 89.8 -> 78.0 on
// vgg16.2_2.b8, 62.2 -> 59.7 on vgg16.3_2.b8, within 2% on resnet50.c3.b32 and c4.b32; below 512
// tiles 64 x 64 blocks with chunks of 16 stay (chunks of 32 and 128 x 128 blocks were 1-15% slower
// there). Where the device has bulk copies and K has two whole blocks of 128 or more (C whole
// chunks of 32), 128 x 128 blocks of 4 warps with 16 x 8 tiles on chunks of 32, which V by bulk
// copies and use_three_groups fit three to a multiprocessor: on the H100 (session 53)
// their GEMM took 22.6-23.3 us on resnet50.c4.b32 and 48.0-48.5 on vgg16.4_2.b8 against 23.1-24.6
// and 54.5-56.0 for 64 x 128 (bench/results/h100_gemm_groups3_session53.txt,
// h100_unfused_bulk_v_ab_session53.txt), where the model, counting 8 warps for the full rate,
// ranked the 4 work-groups of 64 x 128 ahead. On sm_90, channels-last layers of K >= 512 and 256
// to 512 tiles (few work-groups, the most mmas a tile) take one warpgroup's mmas (wgmma) on blocks
// of 64 x 256 and chunks of 64: on the H100 (session 58, bench/results/h100_unfused_wgmma_tiles_session58.txt)
// the GEMM took 17.4 us against 18.9 on resnet50.c5.b32 (512 tiles) and 17.6 against 21.6 on
// vgg16.5_2.b8 (392); with more tiles it lost (vgg16.4_2.b8, 1568: 49.3 against 46.2; vgg16.3_2.b8
// 67.8 against 53.2), where those GEMMs are bound by V's and M's bytes, which 64 output channels
// a block read more often.
GemmTiles mma_point_tiles(ir::MmaKind kind, int64_t tiles, int64_t k, int64_t c, bool bulk_copies, bool warpgroups,
                          bool nhwc, bool roles) {
  GemmTiles g;
  // (V stored by tiles in halves, so by bulk copies, so the warpgroup mmas: channels last, whole
  // groups of 8 tiles; plans::choose_half_operands, takes_bulk_v, takes_async_mma.)
  const bool by_tiles = nhwc && tiles % 8 == 0;
  // With roles (PlanOptions::gemm_roles), two warpgroups over 128 output channels and up to 256
  // tiles, as few blocks of tiles as that allows, each a multiple of 32 tiles (bulk_v's groups).
  if (roles && warpgroups && bulk_copies && by_tiles && !ir::mma_is_tf32(kind) && tiles >= 256 && k % 128 == 0 &&
      c % 64 == 0) {
    const int64_t blocks = plans::ceil_div(tiles, 256);
    g.bk = 128, g.bp = static_cast<int>(plans::ceil_div(plans::ceil_div(tiles, blocks), 32) * 32);
    g.rk = 2, g.rp = g.bp / 4, g.cc = 64;
    g.prefetch = true;
    g.mma = kind;
    return g;
  }
  if (warpgroups && bulk_copies && by_tiles && !ir::mma_is_tf32(kind) && tiles >= 256 && tiles <= 512 && k >= 512 &&
      k % 64 == 0 && c % 64 == 0) {
    g.bk = 64, g.bp = 256, g.rk = 2, g.rp = 64, g.cc = 64;  // one warpgroup's mmas (plans::takes_async_mma)
    g.prefetch = true;
    g.mma = kind;
    return g;
  }
  const bool wide = !ir::mma_is_tf32(kind) && tiles >= 512, narrow_k = k <= 64;
  if (wide && bulk_copies && k >= 256 && k % 128 == 0 && c % 32 == 0) {
    g.bk = 128, g.bp = 128, g.rk = 16, g.rp = 8, g.cc = 32;
    g.prefetch = true;
    g.mma = kind;
    return g;
  }
  g.bk = 64;
  g.bp = wide && !narrow_k ? 128 : 64;
  g.rk = 8;
  g.rp = wide && !narrow_k ? 16 : 8;
  g.cc = wide ? 32 : 16;
  g.prefetch = true;
  g.mma = kind;
  return g;
}

// GEMMs on CUDA sm_80+ stage their chunks with asynchronous copies (cp.async): as many copies of the
// chunk as fit in the 96 KiB those GPUs let a kernel take (or `limit_floats`: the GEMM in roles),
// up to 4; the registers that prefetched the next chunk are free for more warps.
void use_async_copies(GemmTiles& g, int64_t limit_floats) {
  const int64_t fit = limit_floats / g.chunk_floats();
  if (fit < 2) return;
  g.prefetch = false;
  g.stages = static_cast<int>(std::min<int64_t>(fit, 4));
}

// Vector registers the CPU GEMM's accumulators may take: 28 of AVX-512's 32, 12 of AVX2's 16.
int cpu_accumulators(int lanes) { return lanes >= 16 ? 28 : 12; }

// A plan's L1 for its blocking: the machine's (PlanOptions from the device's caps), else 32 KiB.
int64_t l1_of(const plans::PlanOptions& p) { return p.l1_bytes > 0 ? p.l1_bytes : 32 * 1024; }

// The CPU-shaped GEMM (plans unfused and fused on a CPU, plans/cpu_unfused.h; direct with output
// pixels for tiles and taps x channels for channels): bp rows (tiles) of bk / lanes vectors
// (output channels) of accumulators, at most 28 of AVX-512's 32 vector registers (12 of AVX2's
// 16), the rest for the U vectors and a broadcast (GemmTiles::cpu_u_in_registers). Of the blocks
// that fit, the one with the least work counting the padding of the tiles and channels to whole
// blocks, where each FMA also pays for its share of the loads (bp broadcasts and bk / lanes
// vectors per channel), and more when the block's panel of U (c x bk) outgrows three quarters of
// L1 and is read again from L2 for each block of tiles; the GEMM runs at the FMA pipes' rate, so
// padding is time lost. Where a core issues two vector loads per FMA (Zen 4) loads, from L1 or
// L2, hardly count: there 25 x 1 vectors ran resnet50.c3's F(6,3) GEMM (25 tiles) in 230-231 us
// against 237 us for 13 x 2 (one padding tile), at 228-231 GFLOP/s each, and on vgg16.3_2 (C 256,
// panels of 32 KiB) 32 x 14 ran as fast as 16 x 28 (205-212 GFLOP/s against 196-203).
// Every CPU GEMM block shape (bp tiles x nv vectors) that keeps U in registers, with the cost of
// `tiles` tiles in it (the work counting the padding, each FMA paying for its share of the loads).
template <class Visit>
void cpu_blocks(int lanes, int64_t c, int64_t k, int64_t tiles, int64_t l1_bytes, int loads_per_fma, Visit visit) {
  const int accumulators = cpu_accumulators(lanes);
  const double load_cost = loads_per_fma >= 2 ? 0.05 : 0.5;
  for (int nv = 1; nv <= 4 && (nv == 1 || (nv - 1) * lanes < k); ++nv)
    for (int bp = 1; bp * nv <= accumulators && (bp == 1 || bp - 1 < tiles); ++bp) {
      GemmTiles g;
      g.lanes = lanes, g.bk = g.rk = nv * lanes, g.bp = g.rp = bp;
      if (!g.cpu_u_in_registers()) continue;
      const bool panel_from_l2 = tiles > bp && c * nv * lanes * 4 > l1_bytes * 3 / 4;
      const double per_tile = static_cast<double>((k + nv * lanes - 1) / (nv * lanes) * nv) *
                              (1.0 + load_cost * (bp + nv) / (bp * nv) + (panel_from_l2 ? 4.0 * load_cost / bp : 0.0));
      visit(g, per_tile);
    }
}

GemmTiles cpu_point_tiles(int lanes, int64_t c, int64_t k, int64_t tiles, int64_t l1_bytes, int loads_per_fma) {
  GemmTiles best;
  double best_cost = 0;
  cpu_blocks(lanes, c, k, tiles, l1_bytes, loads_per_fma, [&](const GemmTiles& g, double per_tile) {
    const double cost = static_cast<double>((tiles + g.bp - 1) / g.bp * g.bp) * per_tile;
    if (best.lanes == 0 || cost < best_cost) best_cost = cost, best = g;
  });
  return best;
}

// The CPU unfused GEMM by rows of points (plans/cpu_gemm_rows.cpp): one vector of output channels
// x bp tiles for each of alpha points, alpha x bp accumulators within the registers that
// cpu_blocks allows. Per row of points and input channel, G's rows cost about 3.5 x alpha
// additions (21 at F(4,3)) whatever bp is, so the block that does the least work counting them
// and the padding of the tiles: resnet50.c3's 25 tiles at F(6,3) take 3 (27 padded) over 1.
GemmTiles cpu_row_tiles(int lanes, const plans::Tiling& t) {
  const int accumulators = cpu_accumulators(lanes);
  GemmTiles g;
  g.lanes = lanes, g.bk = g.rk = lanes, g.points = g.ppt = t.alpha;
  double best = -1;
  for (int bp = 1; bp * t.alpha <= accumulators || bp == 1; ++bp) {
    const double work = static_cast<double>((t.tiles + bp - 1) / bp * bp) * (1.0 + 3.5 / bp);
    if (best < 0 || work < best) best = work, g.bp = g.rp = bp;
    if (bp >= t.tiles) break;
  }
  return g;
}

// The CPU fused plan's tiles per work-group: as many whole blocks of bp as keep the work-group's
// V and M (alpha^2 x tiles x channels each) within half of L2, and at most a quarter of the
// tiles (at least 4 groups); then down to half as many where that makes the groups a
// multiple of the threads, which each take an even share of them (cpu_launch). A thread with one
// group more waits for the others: on resnet50.c2 (Zen 4, 2 threads) F(4,3)'s 7 groups of 28
// tiles ran the pipeline in 347-349 us, 10 groups of 20 in 313-333; F(6,3)'s 7 groups of 15
// 374-393, 10 of 10 315-356.
int cpu_group_tiles(const GemmTiles& g, const plans::Tiling& t, const ConvDesc& d, int64_t l2_bytes, int threads) {
  const int64_t lanes = g.lanes, cp = (d.c + lanes - 1) / lanes * lanes, kp = (d.k + g.bk - 1) / g.bk * g.bk;
  const int64_t per_block = int64_t{t.alpha} * t.alpha * g.bp * (cp + kp) * 4;
  const int64_t fit = (l2_bytes / 2) / per_block, share = (t.tiles + 4 * g.bp - 1) / (4 * g.bp);
  const int64_t most = std::max<int64_t>(1, std::min(fit, share)), blocks = (t.tiles + g.bp - 1) / g.bp;
  for (int64_t j = most; threads > 1 && 2 * j >= most; --j)
    if (((blocks + j - 1) / j) % threads == 0) return g.bp * static_cast<int>(j);
  return g.bp * static_cast<int>(most);
}

// The tiles of the busiest thread of `threads` under the CPU fused plan: cpu_launch gives each an
// even share of the groups of g.group_tiles (the last group holds the rest).
int64_t busiest_thread_tiles(const GemmTiles& g, int64_t tiles, int threads) {
  const int64_t blocks = (tiles + g.bp - 1) / g.bp, per_group = std::max(1, g.group_tiles / g.bp);
  const int64_t groups = (blocks + per_group - 1) / per_group, chunks = std::min<int64_t>(threads, groups);
  int64_t most = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t g0 = groups * c / chunks, g1 = groups * (c + 1) / chunks;
    most = std::max(most, std::min(blocks, g1 * per_group) - g0 * per_group);
  }
  return most * g.bp;
}

// The CPU fused plan's GEMM block and groups: the unfused plan's block (cpu_point_tiles), unless
// its groups leave one thread 10% more than an even share of the tiles; then the block whose
// busiest thread has the least work. resnet50.c3 at F(6,3) (25 tiles): blocks of 5 made 5 groups,
// 15 tiles for one thread and 10 for the other, pipeline 321-322 us; blocks of 13, one group
// each, 283-290 us.
GemmTiles cpu_fused_tiles(int lanes, const plans::Tiling& t, const ConvDesc& d, int64_t l1_bytes, int loads_per_fma,
                          int64_t l2_bytes, int threads) {
  GemmTiles best = cpu_point_tiles(lanes, d.c, d.k, t.tiles, l1_bytes, loads_per_fma);
  best.group_tiles = cpu_group_tiles(best, t, d, l2_bytes, threads);
  const double even = static_cast<double>((t.tiles + best.bp - 1) / best.bp * best.bp) / threads;
  if (threads <= 1 || busiest_thread_tiles(best, t.tiles, threads) <= 1.1 * even) return best;
  double best_cost = -1;
  cpu_blocks(lanes, d.c, d.k, t.tiles, l1_bytes, loads_per_fma, [&](GemmTiles g, double per_tile) {
    g.group_tiles = cpu_group_tiles(g, t, d, l2_bytes, threads);
    const double cost = static_cast<double>(busiest_thread_tiles(g, t.tiles, threads)) * per_tile;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best = g;
  });
  return best;
}

ir::MmaKind mma_kind(Precision p) {
  switch (p) {
    case Precision::tf32x3: return ir::MmaKind::tf32x3_m16n8k8;
    case Precision::tf32: return ir::MmaKind::tf32_m16n8k8;
    case Precision::fp16: return ir::MmaKind::f16_m16n8k16;
    default: return ir::MmaKind::bf16_m16n8k16;
  }
}

// --tiles' sixth value where a plan would ignore it or could not divide its points by it.
void check_points_per_thread(const GemmTiles& g, const plans::PlanOptions& p, const plans::Tiling& t) {
  if (p.points_per_thread <= 1) return;
  const std::string what = "plan " + p.plan + ": " + std::to_string(p.points_per_thread) + " points per thread";
  if (g.lanes && !(p.plan == "unfused" && g.points == t.alpha))
    throw Error(what + ": the CPU-shaped plan has one thread per work-group, holding all its points; leave out "
                "--tiles' sixth value" + (p.plan == "unfused" ? " or give alpha = " + std::to_string(t.alpha) +
                " (a row of points per work-group, U made from the weights)" : std::string()) +
                ", or give RK and RP to run the GPU-shaped core");
  if (g.points == 1)
    throw Error(what + ": a work-group holds one Winograd point; the sixth value is for fused (a divisor of alpha^2 = " +
                std::to_string(t.alpha * t.alpha) + "), fused-input (of alpha = " + std::to_string(t.alpha) +
                ") and fused-output (alpha^2)");
  if (g.points % g.ppt)
    throw Error(what + " do not divide the work-group's " + std::to_string(g.points) + " points (alpha = " +
                std::to_string(t.alpha) + "): give a divisor of " + std::to_string(g.points));
}

// Plan fused with asynchronous copies: U and the input patches of the next chunks load while one
// chunk is transformed and multiplied (GemmTiles::patch_ring: 2 copies of U, the patches and V),
// where there is a next chunk, the threads are a multiple of the block's tiles (each copies one
// tile's patch rows) and the ring fits the 96 KiB (alpha 7 and 8, with chunks of 4, keep
// the direct staging). H200, fp32 F(4,3), session 35's first ring (3 copies of U and the patches,
// one of V) against direct staging: vgg16.1_2.b8 1230 -> 476 us, resnet50.c2.b32 385 -> 139,
// vgg16.3_2.b8 1745 -> 447 (bench/results/h200_fused_patch_ring_session35.txt); the seed's layer
// (one chunk) ran 7.6 -> 8.3 us with it. The ring of 2 copies each (session 36) is not yet timed.
// Where the blocks of K and the chunks of C are whole and two work-groups fit a multiprocessor's
// work-group memory with registers enough for each thread's accumulators and 60 more, the kernel
// asks CUDA for two per multiprocessor. ptxas (sm_90, NVRTC 13) without -> with the bound: F(2,3)'s
// 8 warps with 64 accumulators 151 -> 128 registers, F(4,3) 32 x 16 with 6 points a thread (6 warps,
// 96 accumulators) 179 -> 163, no spill (partial blocks, C = 9 and K = 37, spilled 8 bytes); not yet
// timed on a GPU. A ring whose work-group its registers keep alone on its multiprocessor (8 x 8
// register tiles a point a thread at alpha 6, given: 151 registers) may take past the 96 KiB what
// the device lets one work-group opt in to (227 KiB on sm_90; in chunks of 8 channels at F(4,3):
// 155 KiB, which ran it 1.08x faster than chunks of 4 on the H100, session 68); others keep the
// 96 KiB, which leaves room for more work-groups (alpha 7 and 8 with chunks of 4 stage directly,
// as timed).
void use_patch_ring(GemmTiles& g, const ConvDesc& d, const plans::PlanOptions& p) {
  // (Tiles that leave no thread, given ones the checks refuse later, take no ring.)
  const int threads = g.threads();
  const bool regs = threads > 0 && g.ppt * g.rk * g.rp + 60 <= p.regs_per_core / (2 * threads);  // two groups' worth
  const int64_t limit = regs ? plans::kAsyncSharedFloats : std::max(plans::kAsyncSharedFloats, p.shared_per_group / 4);
  g.stages = 2;
  if (threads <= 0 || g.points < 2 || d.c <= g.cc || g.stage_floats() > limit || threads % g.bp) {
    g.stages = 0;
    return;
  }
  if (g.stage_floats() > plans::kAsyncSharedFloats) g.shared_limit = limit;
  const bool whole = d.k % g.bk == 0 && d.c % g.cc == 0;
  const bool shared = 2 * g.stage_floats() * 4 <= p.shared_per_core;
  if (whole && regs && shared) g.groups_per_core = 2;
}

// The unfused warpgroup GEMM in warps with roles (PlanOptions::gemm_roles): a producer warpgroup
// issues each chunk's bulk copies of U and V into a ring of as many copies as the work-group's
// memory holds (up to 4; 48 KiB each at 128 x 256 on chunks of 64) and the GEMM's warpgroups only
// wait for them and multiply (plans/gemm_core.cpp: pipeline_chunks_in_roles). Its two warpgroups'
// shape takes that memory before the copies are sized (roles_memory).
bool two_warpgroup_shape(const GemmTiles& g) {
  return g.mma && !ir::mma_is_tf32(*g.mma) && g.points == 1 && g.bk == 128 && g.rk == 2 && g.bp == 4 * g.rp;
}

// Floats of work-group memory the GEMM in roles may stage: the work-group's own, but 1 KiB for
// the barriers (0 where roles are not asked or the shape is not theirs). (A shape of theirs that
// the warpgroup mmas do not take after all, V not stored by tiles, keeps the copies it fits so.)
int64_t roles_memory(const GemmTiles& g, const plans::PlanOptions& p) {
  return p.gemm_roles && two_warpgroup_shape(g) && p.shared_per_group > 0 ? (p.shared_per_group - 1024) / 4 : 0;
}

void use_gemm_roles(GemmTiles& g, const plans::PlanOptions& p) {
  if (!roles_memory(g, p) || !g.async_mma || g.threads() + plans::GemmTiles::kRoleProducers > p.max_threads) return;
  g.warp_roles = true;
  use_async_copies(g, g.shared_limit);  // the copies again, at V's and U's pitches for the warpgroup mmas
}

// The unfused half GEMM with V by bulk copies (unpadded: the four copies of its 128 x 128 blocks on
// chunks of 32 take 66 KiB) asks CUDA for three work-groups of 4 warps per multiprocessor where K
// has two blocks or more: with 16 x 8 tiles ptxas (sm_90) then fits its 128 accumulators a thread
// in 166 registers instead of 196, none spilled. On the H100 (session 53,
// bench/results/h100_gemm_groups3_session53.txt) that GEMM ran 1.00-1.12x faster on the five
// layers of K >= 256; with one block of K it was 0.88-0.90x on vgg16.2_2.b8, 0.95-1.06x on
// resnet50.c3.b32 and level on the two of K 64. (8 x 16 tiles on chunks of 16 fit too, 167, but
// were not timed so.)
void use_three_groups(GemmTiles& g, const ConvDesc& d, const plans::PlanOptions& p) {
  const bool half_tensors = d.dtype == DType::f16 || d.dtype == DType::bf16;  // as timed (f32 x stores M alike, untimed)
  const bool shape = g.bulk_v && half_tensors && g.bk == 128 && g.bp == 128 && g.rk == 16 && g.rp == 8 && g.cc == 32;
  // Three work-groups' staging (and the 1 KiB the driver keeps each; the barriers take 32 bytes of
  // the 27 KiB left) and 168 registers a thread (PlansNvrtc.ThreeGroupHalfGemmDoesNotSpill).
  const bool fits = 3 * (g.stage_floats() * 4 + 1024) <= p.shared_per_core &&
                    p.regs_per_core >= int64_t{3} * g.threads() * 168;
  if (shape && fits && d.k >= 2 * g.bk) g.groups_per_core = 3;
}

// Whether the tensor-core fused can copy its input patches through a ring
// (GemmTiles::tile_patch_ring): an f16 or bf16 channels-last x with C a multiple of 8 (16-byte runs
// of a pixel's channels) and more than one chunk (else nothing overlaps), V in halves, threads a
// multiple of bp x cc / 8 (a thread keeps one run of one tile), and two copies of the patches beside
// U and V within `limit` floats (by default 96 KiB: F(2,3)'s blocks; not F(4,3)'s 32 x 16).
bool tile_ring_fits(GemmTiles g, const ConvDesc& d, int64_t limit = plans::kAsyncSharedFloats) {
  const bool half = d.dtype == DType::f16 || d.dtype == DType::bf16;
  g.stages = 2;
  return half && d.layout == Layout::nhwc && d.c % 8 == 0 && d.c > g.cc && g.half_v && g.cc % 8 == 0 &&
         g.threads() % (g.bp * (g.cc / 8)) == 0 && g.tile_patch_ring() && g.stage_floats() <= limit;
}

// Bytes of a multiprocessor's work-group memory each of `groups` work-groups may take (the driver
// keeps 1 KiB a work-group).
int64_t group_share(const plans::PlanOptions& p, int groups) { return p.shared_per_core / groups - 1024; }

// Floats of one slice of the exchange after the GEMM: `rows` output channels of `planes` planes
// (every point, or plans::exchange_planes), rows padded by one (plans::exchange).
int64_t exchange_floats(const GemmTiles& g, int64_t rows, int64_t planes) { return planes * rows * (g.bp + 1); }
int64_t exchange_floats(const GemmTiles& g, int64_t rows) { return exchange_floats(g, rows, g.points); }

// Floats of work-group memory the tile ring takes with its exchange in slices of `rows`: where U
// and V are halves the exchange lies over the staging (plans::multiply_chunks), else beside it.
int64_t tile_ring_floats(const GemmTiles& g, int64_t rows) {
  const int64_t exchange = exchange_floats(g, rows);
  return g.exchange_over_staging() ? std::max(g.stage_floats(), exchange) : g.stage_floats() + exchange;
}

// The tile ring, where it fits. Two work-groups per SM where a thread has at most 64 accumulators
// in up to 8 warps (ptxas then fits 128 registers: F(2,3) at 32 x 32 took 127, none spilled; 1.21x
// on the H100, session 46) and, on a device whose memory is known, two fit it with exchange slices
// of 8 rows or more; the exchange then takes up to the work-groups' share (the driver keeps 1 KiB a
// work-group), at least the 96 KiB every sm_80+ device gives, over the staging or beside it
// (tile_ring_floats).
void use_tile_patch_ring(GemmTiles& g, const ConvDesc& d, const plans::PlanOptions& p) {
  if (!tile_ring_fits(g, d)) return;
  g.stages = 2;
  const bool regs = g.ppt * g.rk * g.rp <= 64 && g.threads() <= 256;
  if (p.shared_per_core <= 0 || p.shared_per_group <= 0) {
    g.groups_per_core = regs ? 2 : 0;
    return;
  }
  const int64_t two = group_share(p, 2);
  g.groups_per_core = regs && 4 * tile_ring_floats(g, 8) <= two ? 2 : 0;
  const int64_t share = group_share(p, g.groups_per_core == 2 ? 2 : 1);
  g.shared_limit = std::max(plans::kAsyncSharedFloats * 4, std::min(p.shared_per_group, share)) / 4;
}

// Whether the tile ring `w` (a warp a point) may run on warpgroup mmas in the warpgroup shape
// (plans::takes_async_mma with U by bulk copies, plans::takes_bulk_u): a whole number of groups
// of 4 points, f16 or bf16, K a multiple of the block and C of the chunk.
bool warpgroup_shaped(const GemmTiles& w, const ConvDesc& d, const plans::PlanOptions& p) {
  GemmTiles a = w;
  a.rk = 2, a.ppt = 4, a.bulk_u = true;
  return p.warpgroup_mma && p.bulk_copies && w.points % 4 == 0 && plans::takes_bulk_u(a, d) && plans::takes_async_mma(a);
}

// The tile ring where a work-group may take the whole multiprocessor's memory (sm_90: 227 KiB),
// up to 16 points and K of 64 or more: blocks of 64 output channels x 32 tiles with a warp per
// point (16 warps at F(2,3), 64 accumulators a thread, one work-group per SM) and the exchange in
// one slice. Each block transforms the input once per 64 output channels instead of 32: on the
// H200 (session 46) 1.16x faster than 32 x 32 blocks at two work-groups per SM over the 9 layers
// of batch >= 8, on 8 of them. Left as they are where the user set any tile.
void widen_tile_ring(GemmTiles& g, const ConvDesc& d, const plans::PlanOptions& p, const plans::Tiling& t) {
  if (!g.tile_patch_ring() || tiles_given(p) || g.points > 16 || d.k < 64 || p.shared_per_core <= 0) return;
  GemmTiles w = g;
  w.bk = 64, w.bp = 32, w.rk = 8, w.rp = 8, w.ppt = 1;
  plans::choose_half_operands(w, d, t);
  const int64_t limit = std::min(p.shared_per_group, group_share(p, 1));
  if (!tile_ring_fits(w, d) || w.threads() > p.max_threads) return;
  w.stages = 2;
  if (4 * tile_ring_floats(w, w.bk) > limit) return;
  // From 32 chunks of 16 channels on, two copies of U and V (pipeline_tile_patches: one barrier a
  // chunk); below, chunks of 32 channels with U and V staged once (half the barriers and copies a
  // channel; the ring's 16-byte copies of a pixel twice as long). Each where the exchange keeps
  // slices of 16 rows or more. On the H100 (session 47, against chunks of 16 staged once): two copies
  // 1.04-1.10x on 512 channels, chunks of 32 0.97-1.11x, 1.043x over the 9 layers of batch >= 8, and
  // 1.02-1.04x less than two copies on 512 channels.
  GemmTiles twice = w, wide_chunks = w;
  twice.double_operands = true;
  wide_chunks.cc = 32;
  if (plans::ceil_div(d.c, w.cc) >= 32 && 4 * tile_ring_floats(twice, 16) <= limit) w = twice;
  else if (tile_ring_fits(wide_chunks, d, limit / 4) && 4 * tile_ring_floats(wide_chunks, 16) <= limit) w = wide_chunks;
  w.groups_per_core = 0;
  w.shared_limit = limit / 4;
  // With warpgroup mmas (sm_90), each warpgroup's 4 warps hold the block for 4 points, 16 rows a
  // warp: the same 64 accumulators and threads. On the H100 (session 56) 1.01x the warp-a-point
  // ring over the 9 layers (0.92-1.08x), plan auto fp16 1.023x. Only where they will run.
  if (warpgroup_shaped(w, d, p)) w.rk = 2, w.ppt = 4;
  g = w;
}

// The warpgroup ring (GemmTiles::async_mma) with two copies of U and V where they fit beside the
// patches (plans/gemm_core.cpp: tile_ring_block_overlapped): chunk k's mmas run while the threads
// transform chunk k + 1, one barrier a chunk instead of two.
void overlap_warpgroup_ring(GemmTiles& g) {
  if (!g.async_mma || g.double_operands || !g.shared_limit) return;
  GemmTiles twice = g;
  twice.double_operands = true;
  if (twice.stage_floats() <= g.shared_limit) g = twice;
}

// The tile ring at one work-group a multiprocessor, U and V staged once (or twice on warpgroup
// mmas; in halves, U by bulk copies), runs its blocks in work-groups of several blocks each where they take more than one
// wave: one work-group's phases run in series (the wait for chunk 0's patches was a fifth of the
// ring's time on the H100, session 54), and the next block's first patches then land during the
// exchange and output transform. Where the patches kept apart from the exchange leave it room for
// slices of 16 rows or more.
void persist_tile_ring(GemmTiles& g, const ConvDesc& d, const plans::Tiling& t, const plans::PlanOptions& p) {
  g.persistent_groups = 0;
  if (!g.tile_patch_ring() || (g.double_operands && !g.async_mma) || !g.exchange_over_staging() || !g.bulk_u ||
      g.groups_per_core > 1 ||
      p.device_cores <= 0 || p.shared_per_core <= 0 || !g.shared_limit)
    return;
  const int64_t blocks = plans::tile_blocks(g, t) * plans::ceil_div(d.k, g.bk);
  // One work-group a multiprocessor: two do not fit its memory (the driver keeps 1 KiB each).
  const bool alone = 2 * (4 * g.stage_floats() + 1024) > p.shared_per_core;
  if (!alone || blocks <= p.device_cores || g.shared_limit - g.tile_patch_floats() - g.transform_table_floats() < exchange_floats(g, std::min(16, g.bk)))
    return;
  g.persistent_groups = p.device_cores;
  // Where every block has the same U and it fits the ring's copies, U stays: the blocks after the
  // first copy none of it (a chunk a step, 64 KiB at 64 output channels, from L2 and into
  // work-group memory), if the exchange still fits whole beside it.
  GemmTiles resident = g;
  resident.resident_u = true;
  const int64_t whole_exchange = exchange_floats(g, g.bk, plans::exchange_planes(g, t));
  const int64_t barriers = 2 * g.copies();  // U's barriers, 8 bytes each, past everything
  if (plans::takes_resident_u(resident, d) && g.shared_limit - resident.kept_floats() - barriers >= whole_exchange)
    g = resident;
}

// Bytes the tile ring reads from L2 for one chunk of channels of every block (the launch's bytes
// are proportional): each block's chunk of U (alpha^2 x bk halves a channel) and of its patches
// (alpha^2 halves a tile and channel, or the region's h x w), times the blocks (a 2D block past the
// image's tiles still runs whole).
int64_t tile_ring_l2_bytes(const GemmTiles& g, const plans::Tiling& t) {
  const int64_t patch = g.region.cols ? int64_t{g.region.h} * g.region.w : int64_t{g.points} * g.bp;
  return plans::tile_blocks(g, t) * (int64_t{g.points} * g.bk + patch) * g.cc * 2;
}

// The tile ring's tiles (GemmTiles::region): runs of bp consecutive tiles (cols -1), 2D blocks of
// `cols` tiles a row, or (0) the block whose region reads the fewest bytes from L2, among those
// that take no more waves of work-groups than runs do over the device's multiprocessors (unknown:
// at most 2% more work-groups). A block past the image's tiles multiplies and transforms tiles for
// nothing, which costs only where it adds a wave. On the H100 (session 50, F(2,3) fp16, blocks of
// 64 x 32): blocks that fit the tiles 1.06-1.08x faster (vgg16.1_2.b8, vgg16.2_2.b8), 8 x 4 on 7 x 7
// tiles in the one wave of runs 1.05x (vgg16.5_2.b8), blocks that add a wave 0.86-0.92x (vgg16.3_2,
// vgg16.4_2, resnet50.c3). candidate_plans offers the other way (other_tile_block) to the planner's model.
void choose_patch_region(GemmTiles& g, const plans::Tiling& t, int64_t K, int cores, int cols) {
  g.region = {};
  if (cols && !g.tile_patch_ring())
    throw Error("a tile block (--tile-block) applies to the tensor-core fused plan's ring of input patches only "
                "(precision fp16 or bf16, f16 or bf16 tensors channels last, C a multiple of 8 and more than one "
                "chunk of it; CUDA sm_80 or newer): leave it out here");
  if (!g.tile_patch_ring() || cols < 0) return;
  if (cols > 0) {
    if (g.bp % cols)
      throw Error("a tile block of " + std::to_string(cols) + " tiles a row must divide the " + std::to_string(g.bp) +
                  " tiles of GEMM tiles " + g.str());
    g.region = plans::patch_region(g, t, cols);
    return;
  }
  const int64_t per_wave = int64_t{cores} * std::max(g.groups_per_core, 1), kblocks = plans::ceil_div(K, g.bk);
  auto waves = [&](const GemmTiles& c) { return plans::ceil_div(plans::tile_blocks(c, t) * kblocks, per_wave); };
  const int64_t runs = plans::tile_blocks(g, t);
  GemmTiles best = g;
  for (int c = 2; c <= g.bp; ++c) {
    if (g.bp % c) continue;
    GemmTiles b = g;
    b.region = plans::patch_region(g, t, c);
    const bool no_more_work = cores > 0 ? waves(b) <= waves(g) : plans::tile_blocks(b, t) * 50 <= runs * 51;
    // (A region's padded rows could take more memory than the runs' patches the ring was sized with.)
    if (no_more_work && b.stage_floats() <= g.stage_floats() && tile_ring_l2_bytes(b, t) < tile_ring_l2_bytes(best, t))
      best = b;
  }
  g = best;
}

// A work-group holding all alpha^2 points (plans fused and fused-output; `patch_ring`: fused
// with asynchronous copies of float32 tensors, use_patch_ring).
GemmTiles all_points_tiles(const plans::Tiling& t, bool all_points_per_thread, int64_t C, int64_t K, int max_threads,
                           bool patch_ring, bool given, int device_cores) {
  const int a2 = t.alpha * t.alpha;
  // Register budget (measured with ptxas on the benchmark layers): the accumulators stay live
  // across the chunk's input transform (alpha^2 inputs and outputs per thread), so 256 threads
  // with up to 144 accumulators fit under 255 registers; more threads cap registers lower and
  // spill (384 threads: 168 registers; 512: 128, less than the 8x8 transform alone needs).
  if (all_points_per_thread) return {a2, 16, 16, 1, 1, a2 <= 36 ? 8 : 4, a2};
  // At most 8 output channels (the seed's layer): blocks of 32 would be three quarters padding and
  // leave a handful of work-groups, so one (channel, tile) pair per thread over 8 x 16 blocks (8 x 8
  // past alpha 4, where 16 tiles take too many threads), where the device allows that many threads.
  // H200, seed's layer, F(2,3): 7.2-7.7 us against 12.5-13.3 for 32 x 32 and 8.3-9.0 for direct;
  // 8 x 8: 7.9-8.2 (bench/results/h200_seed_fused_tiles_session32.txt).
  if (K <= 8) {
    const int ppt = points_per_thread(a2, a2 <= 16 ? 4 : a2 <= 36 ? 9 : 8);
    for (int bp : {16, 8})
      if ((bp == 8 || a2 <= 16) && (a2 / ppt) * 8 * bp <= max_threads) return {a2, 8, bp, 1, 1, 8, ppt};
  }
  // The ring at alpha 4 (F(2,3), F(3,2)): 8 x 8 register tiles, a point a thread (32 x 32 blocks,
  // 256 threads, two work-groups a multiprocessor): a thread's 8 + 8 loads feed 64 FMAs where 4 x
  // 4 tiles' 4 + 4 fed 16. H100, fused F(2,3) against 4 x 4 tiles 4 points a thread: vgg16.1_2.b8
  // 587.6 -> 522.3 us, resnet50.c2.b32 158.2 -> 138.6 (bench/results/h100_fused_ring_session68.txt).
  // At alpha 6 the same shape (32 x 16, 288 threads, one work-group a multiprocessor: 9 warps)
  // lost to 4 x 4 tiles 6 points a thread, 448.1 against 420.1 us and 127.3 against 116.5: its
  // warps wait at the chunks' barriers and for the copies with no other work-group to cover them
  // (Nsight Compute: 0.5 instructions issued a cycle a scheduler, 0.85 warps eligible). (Only
  // where the ring runs, more than one chunk of 4 channels, and no tile is given: a shape given in
  // part keeps the points a thread the rules below give it.)
  if (patch_ring && !given && C > 4 && K > 8 && a2 == 16) return {a2, 32, 32, 8, 8, 4, 1};
  if (a2 <= 16) return {a2, 32, 32, 4, 4, 4, points_per_thread(a2, 4)};  // 4 groups x 64 threads, 64 accumulators
  // With the ring, blocks of 16 tiles: 4 groups x 32 threads, two work-groups per SM (223
  // registers, 72 KiB each), so that one's barrier is the other's turn. H200, F(4,3), against 32 x 32
  // (session 35's ring; bench/results/h200_fused_tiles_session35.txt): resnet50.c5.b32 355 -> 192 us, vgg16.1_2.b8
  // 477 -> 432, resnet50.c2.b32 139 -> 129, within 3% elsewhere (resnet50.c4.b32 159 -> 164).
  // Where the layer has more than two such work-groups per multiprocessor, 6 points a thread (6
  // groups x 32 threads, 96 accumulators): H200, F(4,3), against 9 (bench/results/
  // h200_fused_ab_session39.txt): resnet50.c3.b32 (392 work-groups) 162 -> 135 us, resnet50.c2.b32
  // 135 -> 126, the vgg16 layers at batch 8 1-2.5% faster; with one work-group per multiprocessor or
  // fewer, 9 points keep a thread's run of FMAs longer: resnet50.c5.b32 (128) 185 against 202,
  // vgg16.5_2.b8 168 against 189; resnet50.c4.b32 (256) level.
  if (a2 <= 36 && a2 > 16 && patch_ring) {
    const int64_t groups = (t.tiles + 15) / 16 * ((K + 31) / 32);
    const bool many = device_cores > 0 && groups > 2 * int64_t{device_cores};
    return {a2, 32, 16, 4, 4, 4, points_per_thread(a2, many ? 6 : 9)};
  }
  if (a2 <= 36) return {a2, 32, 32, 4, 4, 4, points_per_thread(a2, 9)};  // 4 groups x 64 threads, 144 accumulators
  return {a2, 16, 32, 4, 4, 4, points_per_thread(a2, 8)};                 // 8 groups x 32 threads, 128 accumulators
}

// Tensor-core fused-output: each thread holds all alpha^2 points of a 2 x 2 register tile (a warp:
// 16 output channels x 8 tiles, one mma per point and k-step), 4 alpha^2 accumulators, up to 144
// at alpha 6 (beyond, the fp32 plan: a higher precision); 8 warps cover a 32 x 32 block. Chunks
// of 16 channels are staged about 4 points at a time (GemmTiles::stage_points) so that a ring of
// copies fits work-group memory.
GemmTiles mma_output_tiles(ir::MmaKind kind, const plans::Tiling& t) {
  const int a2 = t.alpha * t.alpha;
  GemmTiles g;
  g.points = g.ppt = a2;
  g.bk = g.bp = 32;
  g.rk = g.rp = 2;
  g.cc = 16;
  g.mma = kind;
  g.stage_points = 1;
  for (int q = 1; q <= 6; ++q)  // the divisor nearest 4
    if (a2 % q == 0 && std::abs(q - 4) <= std::abs(g.stage_points - 4)) g.stage_points = q;
  return g;
}

// Tensor-core fused: all alpha^2 points of a block in a work-group, split over its warps (a
// group of ppt points a warp, up to 9 warps), each warp covering the block for its points; the
// chunk's input tiles loaded into registers and transformed into work-group memory (in the mma's
// half type for f16 and bf16, else floats), U staged beside them, chunks of the mma's depth (16
// channels in f16 and bf16, 8 in tf32), the output transform after an exchange of the
// accumulators. The largest block whose staged chunk fits the 96 KiB with at most 64
// accumulators a thread, 32 in 3xtf32 (the H200's ptxas spilled F(4,3) with 64): in f16, bf16
// and tf32 32 x 32 up to alpha 4, 16 x 16 at alpha 5, 32 x 16 at alpha 6 (16 x 16 in f16 and
// bf16 where K is no multiple of 8: U staged as floats); in 3xtf32 32 x 32, 32 x 16, 16 x 8 and
// 16 x 16 at alpha 3 to 6.
GemmTiles mma_fused_tiles(ir::MmaKind kind, const plans::Tiling& t, const ConvDesc& d) {
  const int a2 = t.alpha * t.alpha;
  GemmTiles g;
  g.points = a2;
  g.mma = kind;
  g.cc = ir::mma_depth(kind);
  g.ppt = a2;
  for (int p = a2; p >= 1; --p)  // the fewest points a warp with at most 9 warps
    if (a2 % p == 0 && a2 / p <= 9) g.ppt = p;
  const int max_accumulators = kind == ir::MmaKind::tf32x3_m16n8k8 ? 32 : 64;
  for (const auto& [bk, bp] : {std::pair{32, 32}, {32, 16}, {16, 16}, {16, 8}}) {
    g.bk = bk, g.bp = bp, g.rk = bk / 8, g.rp = bp / 4;
    plans::choose_half_operands(g, d, t);  // halves take half the room
    if (g.chunk_floats() <= plans::kAsyncSharedFloats && g.ppt * g.rk * g.rp <= max_accumulators) break;
  }
  return g;
}

// fused-input: a work-group holds one row of alpha points, so it computes an alpha-th of each input
// tile's transform and keeps alpha x bk x bp accumulators: 8 x 8 register tiles over blocks of
// 64 (or 32) output channels x 32 tiles, one thread group of 32 (or 16) per point, chunks of 8
// channels (256 threads and 64 accumulators each at F(6,3)).
GemmTiles point_row_tiles(const plans::Tiling& t, int64_t K) {
  GemmTiles g;
  g.points = t.alpha;
  g.bk = K > 32 ? 64 : 32;
  g.bp = 32;
  g.rk = g.rp = 8;
  g.cc = 8;
  return g;
}

}  // namespace

bool tensor_core_plan(const std::string& plan, int alpha) {
  return plan == "unfused" || ((plan == "fused-output" || plan == "fused") && alpha <= 6);
}

int max_alpha(const std::string& plan) {
  // The fused kernels keep alpha^2 accumulators per tile group in registers; naive-fused grows as
  // alpha^5 (past alpha 8 building its IR alone takes seconds to minutes and gigabytes).
  return plan == "fused" || plan == "fused-input" || plan == "fused-output" || plan == "naive-fused" ? 8 : 0;
}

plans::PlanOptions resolve_plan(const ConvDesc& d, plans::PlanOptions p) {
  // Tensor cores take the unfused plan's GEMM, and fused-output's and fused's up to alpha 6; the
  // others compute in fp32 (a higher precision).
  if (p.plan != "unfused" && p.plan != "fused-output" && p.plan != "fused") p.precision = Precision::fp32;
  if (p.plan == "direct") {  // CPU-shaped for one group: blocks of output pixels of a row
    if (d.groups != 1) p.vector_lanes = 0;
    if (!p.vector_lanes) return p;
    GemmTiles g = cpu_point_tiles(p.vector_lanes, d.r * d.s * (d.c / d.groups), d.k, d.out_w(), l1_of(p), p.loads_per_fma);
    apply_overrides(g, p);
    g.rk = g.bk, g.rp = g.bp;
    plans::check_point_gemm_tiles(g, plans::Tiling{}, "direct");
    p.gemm = g;
    return p;
  }
  const bool gemm = p.plan == "unfused" || p.plan == "fused" || p.plan == "fused-input" || p.plan == "fused-output";
  if (!gemm && p.plan != "naive-fused") return p;
  const plans::Tiling t = plans::make_tiling(d, p.m);
  if (const int limit = max_alpha(p.plan); limit > 0 && t.alpha > limit)
    throw Error("plan " + p.plan + " supports alpha = m + r - 1 <= " + std::to_string(limit) + ", got " +
                std::to_string(t.alpha) +
                (p.plan == "naive-fused" ? " (it exists to show the unshared kernel's blow-up, which grows as alpha^5): "
                                           "use a smaller m or another plan"
                                         : ": use a smaller m or the unfused plan"));
  if (!gemm) return p;
  if (!tensor_core_plan(p.plan, t.alpha)) p.precision = Precision::fp32;
  // Operands rounded to 10 bits (tf32, fp16) or 7 (bf16), amplified by the transforms: past alpha
  // 8 the error is over every tolerance (interpreter, F(7,3): 1.75e-2 in tf32 and fp16, 0.17 in
  // bf16; F(10,3) fp16: 161), so such a plan is refused, not computed wrong. 3xtf32 keeps fp32's.
  const bool rounded = p.precision == Precision::tf32 || p.precision == Precision::fp16 || p.precision == Precision::bf16;
  if (rounded && t.alpha > 8)
    throw Error("precision " + std::string(precision_name(p.precision)) + " at F(" + std::to_string(t.m) + "," +
                std::to_string(t.r) + ") (alpha " + std::to_string(t.alpha) + "): operands rounded to " +
                (p.precision == Precision::bf16 ? "7" : "10") + " bits lose all accuracy past alpha 8: use a smaller "
                "m, or --precision 3xtf32 or fp32");
  std::optional<GemmTiles> mma_all_points;
  if (p.plan == "fused-output" && p.precision != Precision::fp32) mma_all_points = mma_output_tiles(mma_kind(p.precision), t);
  if (p.plan == "fused" && p.precision != Precision::fp32) mma_all_points = mma_fused_tiles(mma_kind(p.precision), t, d);
  if ((p.plan != "unfused" && p.plan != "fused") || p.precision != Precision::fp32) p.vector_lanes = 0;
  const bool patch_ring = p.async_copies && p.plan == "fused" && !p.vector_lanes && d.dtype == DType::f32 &&
                          p.precision == Precision::fp32;
  const int64_t l2 = p.l2_bytes > 0 ? p.l2_bytes : int64_t{1} << 20;
  const bool cpu_fused = p.vector_lanes > 0 && p.plan == "fused";
  const bool cpu_rows = p.vector_lanes > 0 && p.plan == "unfused" && p.points_per_thread == t.alpha;
  GemmTiles g = cpu_fused ? cpu_fused_tiles(p.vector_lanes, t, d, l1_of(p), p.loads_per_fma, l2, p.cpu_threads)
                : cpu_rows                        ? cpu_row_tiles(p.vector_lanes, t)
                : p.vector_lanes > 0              ? cpu_point_tiles(p.vector_lanes, d.c, d.k, t.tiles, l1_of(p), p.loads_per_fma)
                : p.plan == "fused-input"         ? point_row_tiles(t, d.k)
                : mma_all_points                  ? *mma_all_points
                : p.plan != "unfused"             ? all_points_tiles(t, p.plan == "fused-output", d.c, d.k, p.max_threads, patch_ring, tiles_given(p), p.device_cores)
                : p.precision == Precision::fp32 ? point_gemm_tiles(t, d.k, p.async_copies)
                                                 : mma_point_tiles(mma_kind(p.precision), t.tiles, d.k, d.c, p.bulk_copies,
                                                                   p.warpgroup_mma, d.layout == Layout::nhwc, p.gemm_roles);
  apply_overrides(g, p);
  check_points_per_thread(g, p, t);
  plans::choose_half_operands(g, d, t);  // before the ring is sized: halves take half the room
  // The tensor-core GEMM runs on CUDA only; the FMA one where the device has the copies.
  // (The tensor-core fused, points split over warps, stages each chunk directly or through its
  // ring of input patches.)
  if (const int64_t roles = roles_memory(g, p)) g.shared_limit = roles;  // the GEMM in roles: use_gemm_roles
  if ((g.mma && !g.points_split_over_warps()) || (p.async_copies && p.plan == "unfused" && !g.lanes))
    use_async_copies(g, std::max(g.shared_limit, plans::kAsyncSharedFloats));
  if (g.points_split_over_warps()) use_tile_patch_ring(g, d, p);
  if (g.points_split_over_warps()) widen_tile_ring(g, d, p, t);
  choose_patch_region(g, t, d.k, p.device_cores, p.tile_block_cols);
  // U's chunk by one bulk copy where the device has them (sm_90) and U may be stored as its copies:
  // every thread's 16-byte copies of U took a quarter of the tensor-core fused ring's time on the
  // H100's four layers where plan auto runs it, and 13-19% of the unfused fp16 GEMM's (session 52).
  g.bulk_u = p.bulk_copies && plans::takes_bulk_u(g, d);
  // A stored V's rows by tiles are staged by asynchronous copies only (the tensor-core fused
  // transforms its own).
  if (!g.stages && !g.points_split_over_warps()) g.v_tile_major = false;
  // And V's chunk on the same barrier, from V stored as the unfused GEMM's staged copies: its
  // 16-byte copies cost that GEMM 1.14-1.32x (H100, session 52).
  g.bulk_v = plans::takes_bulk_v(g, d);
  // The multiplies as warpgroup mmas (sm_90) where the tiles are shaped for them
  // (plans::takes_async_mma; widen_tile_ring shapes the ring's so).
  g.async_mma = p.warpgroup_mma && plans::takes_async_mma(g);
  // The ring's transform on the tensor cores, which reads its region by ldmatrix's rows: pitches
  // for those.
  g.mma_transform = p.mma_transform && g.async_mma;
  g.mma_transform = g.mma_transform && plans::takes_mma_transform(g, d, t);
  if (g.transforms_by_mma()) g.region = plans::patch_region(g, t, g.region.cols);
  overlap_warpgroup_ring(g);
  persist_tile_ring(g, d, t, p);
  // (The producers take the region's copies a run of 8 channels each: whole passes of them.)
  g.warp_roles = p.warp_roles && g.async_mma && g.tile_patch_ring() && g.double_operands && g.bulk_u &&
                 !g.transforms_by_mma() && g.region.cols && plans::GemmTiles::kRoleProducers % (g.cc / 8) == 0 &&
                 g.threads() + plans::GemmTiles::kRoleProducers <= p.max_threads;
  use_gemm_roles(g, p);
  use_three_groups(g, d, p);
  if (patch_ring) use_patch_ring(g, d, p);
  if (g.lanes) g.rk = g.bk, g.rp = g.bp;  // one thread holds the whole block
  if (g.lanes && p.plan == "fused" && (p.block_k || p.block_tiles)) g.group_tiles = cpu_group_tiles(g, t, d, l2, p.cpu_threads);
  p.gemm = g;
  return p;
}

}  // namespace wino::planner

#include "plans/gemm_tiles.h"

#include "common/error.h"

namespace wino::plans {

std::string GemmTiles::str() const {
  std::string s = "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" + std::to_string(rk) + "x" +
                  std::to_string(rp) + "_c" + std::to_string(cc);
  return points > 1 ? s + "_p" + std::to_string(ppt) : s;
}

namespace {

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

void apply_overrides(GemmTiles& g, const PlanOptions& o) {
  if (o.block_k) g.bk = o.block_k;
  if (o.block_tiles) g.bp = o.block_tiles;
  if (o.reg_k) g.rk = o.reg_k;
  if (o.reg_tiles) g.rp = o.reg_tiles;
  if (o.chunk_c) g.cc = o.chunk_c;
}

/// The limits every GEMM kernel obeys, with the advice of what to change.
void check_limits(const GemmTiles& g, const Tiling& t, const PlanOptions& o, int min_threads) {
  const std::string what = "plan " + o.plan + ": GEMM tiles " + g.str();
  if (g.threads() > 1024 || g.threads() < min_threads)
    throw Error(what + " need " + std::to_string(g.threads()) + " threads per work-group for F(" +
                std::to_string(t.m) + "," + std::to_string(t.r) + "); the limit is " +
                (g.threads() > 1024 ? "1024: use smaller blocks" : "at least " + std::to_string(min_threads) + ": use larger blocks"));
  if (g.stage_floats() > kSharedFloats)
    throw Error(what + " need " + std::to_string(g.stage_floats() * 4) +
                " bytes of work-group memory; the limit is 49152: use smaller blocks or chunks");
}

}  // namespace

GemmTiles choose_point_gemm_tiles(const Tiling& t, int64_t K, const PlanOptions& o) {
  GemmTiles g;
  g.bk = pow2_at_least(K, 32, 128);
  g.bp = pow2_at_least(t.tiles, 32, 128);
  g.rk = g.bk >= 64 ? 8 : 4;
  g.rp = g.bp >= 64 ? 8 : 4;
  g.cc = 8;
  g.prefetch = true;
  apply_overrides(g, o);
  if (g.rk < 1 || g.rp < 1 || g.cc < 1 || g.rk % 4 || g.rp % 4 || g.bk % g.rk || g.bp % g.rp)
    throw Error("plan " + o.plan + ": GEMM tiles " + g.str() +
                ": register tiles must be multiples of 4 dividing the block sizes");
  check_limits(g, t, o, 32);
  return g;
}

GemmTiles choose_all_points_tiles(const Tiling& t, const PlanOptions& o, bool all_points_per_thread) {
  const int a2 = t.alpha * t.alpha;
  GemmTiles g;
  // Register budget (measured with ptxas on the benchmark layers): the accumulators stay live
  // across the chunk's input transform (alpha^2 inputs and outputs per thread), so 256 threads
  // with up to 144 accumulators fit under 255 registers; more threads cap registers lower and
  // spill (384 threads: 168 registers; 512: 128, less than the 8x8 transform alone needs).
  if (all_points_per_thread)
    g = {a2, 16, 16, 1, 1, a2 <= 36 ? 8 : 4, a2};
  else if (a2 <= 16)
    g = {a2, 32, 32, 4, 4, 4, points_per_thread(a2, 4)};  // 4 groups x 64 threads, 64 accumulators
  else if (a2 <= 36)
    g = {a2, 32, 32, 4, 4, 4, points_per_thread(a2, 9)};  // 4 groups x 64 threads, 144 accumulators
  else
    g = {a2, 16, 32, 4, 4, 4, points_per_thread(a2, 8)};  // 8 groups x 32 threads, 128 accumulators
  apply_overrides(g, o);
  const std::string what = "plan " + o.plan + ": fused tiles " + g.str();
  if (g.rk < 1 || g.rp < 1 || g.cc < 1 || g.bk % g.rk || g.bp % g.rp)
    throw Error(what + ": block sizes (" + std::to_string(g.bk) + ", " + std::to_string(g.bp) +
                ") must be multiples of the register tile (" + std::to_string(g.rk) + ", " +
                std::to_string(g.rp) + ")");
  if (g.rp % 4 && g.rp > 1 && !all_points_per_thread)
    throw Error(what + ": the register tile's tile count must be 1 or a multiple of 4");
  check_limits(g, t, o, 1);
  return g;
}

}  // namespace wino::plans

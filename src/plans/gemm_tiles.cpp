#include "plans/gemm_tiles.h"

#include "common/error.h"
#include "plans/gemm_fragments.h"

namespace wino::plans {

std::string GemmTiles::str() const {
  std::string s = "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" + std::to_string(rk) + "x" +
                  std::to_string(rp) + "_c" + std::to_string(cc);
  if (points > 1) s += "_p" + std::to_string(ppt);
  if (lanes) s += "_v" + std::to_string(lanes);
  if (group_tiles) s += "_g" + std::to_string(group_tiles);
  if (stages) s += "_s" + std::to_string(stages);
  if (stage_points) s += "_q" + std::to_string(stage_points);
  if (double_operands && tile_patch_ring()) s += "_d2";
  if (region.cols && tile_patch_ring()) s += "_b" + std::to_string(region.rows) + "x" + std::to_string(region.cols);
  if (bulk_u) s += "_ub";
  if (bulk_v) s += "_vb";
  if (persistent_groups && tile_patch_ring()) s += "_n" + std::to_string(persistent_groups);
  if (resident_u) s += "_ur";
  if (async_mma) s += "_wg";
  if (transforms_by_mma()) s += "_tm";
  if (warp_roles) s += "_wr";
  return mma ? s + "_" + ir::mma_operand_name(*mma) : s;
}

bool takes_bulk_u(const GemmTiles& g, const ConvDesc& d) {
  const bool ring = g.tile_patch_ring() || (g.mma && g.stages && g.points == 1);
  // U's staged rows as staged_weights lays them out (halves padded by 8): floats only where pad()
  // is 8 too (tf32 and 3xtf32; fp16 or bf16 with a float U pad by 4)
  const bool rows = g.row_pitch(g.bk, g.half_u) == g.row_pitch(g.bk, true);
  return ring && rows && d.c % g.cc == 0 && d.k % g.bk == 0;
}

bool takes_async_mma(const GemmTiles& g) {
  const bool half = g.mma && !ir::mma_is_tf32(*g.mma) && g.half_u && g.half_v;
  // The unfused GEMM's one point: a warpgroup for each 64 of the block's bk rows (1 or 2), all
  // sharing V; the ring's points: a warpgroup's 64 rows for each of its ppt points.
  const bool unfused = g.points == 1 && g.stages && g.bulk_v;
  const bool rows = g.bk == 64 || (unfused && g.bk == 128);
  const bool warpgroups = rows && g.rk == 2 && g.bp == 4 * g.rp && ir::mma_async_n_ok(g.bp);
  // (The unfused GEMM's V rows may be 128 bytes too: chunks of 64, its own V stored swizzled.)
  const bool chunks = g.cc == 16 || g.cc == 32 || (unfused && g.cc == 64);
  return (g.tile_patch_ring() || unfused) && g.bulk_u && half && warpgroups && chunks;
}

ir::SharedMatrix u_async_matrix(const GemmTiles& g, const ir::Memory* us, ir::Expr u, int s) {
  const int64_t along = int64_t{s} * ir::mma_depth(*g.mma) / 8;  // core matrices of 8 channels before the k-step's
  return {us, u + along * g.bk * 8, 64, int64_t{g.bk} * 8};
}

ir::SharedMatrix v_async_matrix(const GemmTiles& g, const ir::Memory* vs, ir::Expr v, int s) {
  if (g.transforms_by_mma()) {  // V's bp rows in core matrices, as U's bk (core_matrix_offset)
    const int64_t along = int64_t{s} * ir::mma_depth(*g.mma) / 8;
    return {vs, v + along * g.bp * 8, 64, int64_t{g.bp} * 8};
  }
  return {vs, v + int64_t{s} * ir::mma_depth(*g.mma), int64_t{8} * g.cc, 0, 2 * g.cc};
}

ir::Expr swizzled_v_offset(ir::Expr row, ir::Expr ch, int cc) {
  const int bits = cc == 16 ? 1 : cc == 32 ? 2 : 3;  // of the row's cc / 8 units (16 to 64 channels)
  ir::Expr unit = ch / 8, pattern = row * cc / 64 % (cc / 8);
  return row * cc + ir::xor_low_bits(unit, pattern, bits) * 8 + ch % 8;
}

bool rows_exchanged(const GemmTiles& g, const Tiling& t) {
  return g.async_mma && g.ppt == t.alpha && g.points == t.alpha * t.alpha;
}

int64_t exchange_planes(const GemmTiles& g, const Tiling& t) {
  return rows_exchanged(g, t) ? int64_t{g.ppt} * t.t.AT.rows : g.points;
}

bool takes_resident_u(const GemmTiles& g, const ConvDesc& d) {
  const bool ring = g.persistent_groups && g.bulk_u && g.async_mma && g.double_operands && g.half_u;
  return ring && ceil_div(d.k, g.bk) == 1 && ceil_div(d.c, g.cc) <= g.copies();
}

std::array<int64_t, 2> mma_transform_unit(const GemmTiles& g, const PatchRegion& r, int m, int64_t unit) {
  const int groups = g.cc / 16;
  const int64_t row = unit / groups, ch = unit % groups * 16;
  const int64_t pl = tile_of_staged_row(staged_run(g, false), row);
  return {r.tile_offset(pl, m) + ch, core_matrix_offset(row, ch, g.bp)};
}

bool takes_mma_transform(const GemmTiles& g, const ConvDesc& d, const Tiling& t) {
  const bool half = d.dtype == DType::f16 || d.dtype == DType::bf16;
  if (!g.transforms_by_mma() || !half || ir::mma_storage_type(*g.mma) != (d.dtype == DType::f16 ? ir::Type::f16 : ir::Type::bf16))
    return false;
  const int64_t warps = g.threads() / 32, per_warp = int64_t{g.bp} * (g.cc / 16) / warps;
  auto place = [&](int64_t unit) { return mma_transform_unit(g, g.region, t.m, unit); };
  for (int64_t w = 0; w < warps; ++w)
    for (int64_t u = 0; u < per_warp; ++u)
      for (int i = 0; i < 2; ++i)
        if (place(w * per_warp + u)[i] - place(w * per_warp)[i] != place(u)[i] - place(0)[i]) return false;
  return true;
}

bool takes_bulk_v(const GemmTiles& g, const ConvDesc& d) {
  // ldmatrix's B fragments from rows by tiles; rows of 16-byte runs that 128 bytes hold whole.
  const bool rows = g.v_tile_major && g.half_v && g.b_matrix_loads() && g.cc % 8 == 0 && 64 % g.cc == 0;
  return g.bulk_u && g.points == 1 && rows && g.bp % 32 == 0 && d.c % g.cc == 0;
}

namespace {

/// The limits every GEMM kernel obeys, with the advice of what to change.
void check_limits(const GemmTiles& g, const Tiling& t, const std::string& plan, int min_threads) {
  const std::string what = "plan " + plan + ": GEMM tiles " + g.str();
  if (g.threads() > 1024 || g.threads() < min_threads)
    throw Error(what + " need " + std::to_string(g.threads()) + " threads per work-group for F(" +
                std::to_string(t.m) + "," + std::to_string(t.r) + "); the limit is " +
                (g.threads() > 1024 ? "1024: use smaller blocks" : "at least " + std::to_string(min_threads) + ": use larger blocks"));
  if (g.stage_floats() > g.stage_limit())
    throw Error(what + " need " + std::to_string(g.stage_floats() * 4) + " bytes of work-group memory; the limit is " +
                std::to_string(g.stage_limit() * 4) + ": use smaller blocks or chunks");
}

}  // namespace

const GemmTiles& given_tiles(const PlanOptions& o) {
  if (!o.gemm) throw Error("internal: plan " + o.plan + " was built without GEMM tiles (use planner::resolve_plan)");
  return *o.gemm;
}

void check_point_gemm_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan) {
  if (g.lanes) {
    if (!ir::valid_lanes(g.lanes) || g.bp < 1 || g.bk < g.lanes || g.bk % g.lanes || g.bp * (g.bk / g.lanes) > 32)
      throw Error("plan " + plan + ": CPU GEMM tiles " + g.str() + ": bk must be a multiple of the " +
                  std::to_string(g.lanes) + " lanes and the block at most 32 vectors of accumulators");
    if (g.points > 1 && (plan != "unfused" || g.points != t.alpha || g.ppt != g.points || g.bk != g.lanes ||
                         g.points * g.bp > 32))
      throw Error("plan " + plan + ": CPU GEMM tiles " + g.str() +
                  ": a row of points per work-group (U made from the weights as it goes) " +
                  (plan != "unfused" ? std::string("is for plan unfused only")
                                     : "takes alpha = " + std::to_string(t.alpha) + " points, one vector of " +
                                           std::to_string(g.lanes) + " output channels (bk) and at most " +
                                           std::to_string(32 / t.alpha) + " tiles (bp)"));
    if (g.group_tiles % g.bp)
      throw Error("plan " + plan + ": CPU tiles " + g.str() + ": the tiles of a work-group (" +
                  std::to_string(g.group_tiles) + ") must be a multiple of bp (" + std::to_string(g.bp) + ")");
    return;
  }
  if (g.stages && (g.stages < 2 || g.prefetch))
    throw Error("plan " + plan + ": GEMM tiles " + g.str() +
                ": asynchronous copies need a ring of at least 2 copies of the chunk, without prefetch");
  if (g.mma) {
    const int depth = ir::mma_depth(*g.mma);
    if (g.rk < 2 || g.rp < 2 || g.rk % 2 || g.rp % 2 || g.bk % (8 * g.rk) || g.bp % (4 * g.rp) || g.bk % 32 ||
        g.bp % 32 || g.cc % depth)
      throw Error("plan " + plan + ": tensor-core GEMM tiles " + g.str() +
                  ": register tiles must be even, a warp's 8 rk x 4 rp must divide the block, blocks must be "
                  "multiples of 32 and chunks multiples of " + std::to_string(depth) + " channels");
    return check_limits(g, t, plan, 32);
  }
  if (g.rk < 1 || g.rp < 1 || g.cc < 1 || g.rk % 4 || g.rp % 4 || g.bk % g.rk || g.bp % g.rp)
    throw Error("plan " + plan + ": GEMM tiles " + g.str() +
                ": register tiles must be multiples of 4 dividing the block sizes");
  check_limits(g, t, plan, 32);
}

void check_all_points_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan, bool all_points_per_thread) {
  const std::string what = "plan " + plan + ": fused tiles " + g.str();
  if (g.mma) {
    const int depth = ir::mma_depth(*g.mma);
    if ((all_points_per_thread != (g.ppt == g.points)) || g.rk < 2 || g.rp < 2 || g.rk % 2 || g.rp % 2 ||
        g.bk % (8 * g.rk) || g.bp % (4 * g.rp) || g.cc % depth)
      throw Error(what + ": tensor cores take all points in each thread (fused-output) or a group of them in each "
                  "warp (fused), even register tiles, a warp's 8 rk x 4 rp dividing the block and chunks of a "
                  "multiple of " + std::to_string(depth) + " channels");
    if (!all_points_per_thread) return check_limits(g, t, plan, 32);  // fused stages each chunk directly
    if (g.stages < 2)  // the planner sets as many copies as fit (use_async_copies)
      throw Error(what + " need " + std::to_string(2 * g.chunk_floats() * 4) + " bytes of work-group memory for two " +
                  "copies of a staged chunk; the limit is " + std::to_string(kAsyncSharedFloats * 4) +
                  ": use smaller blocks or chunks");
    return check_limits(g, t, plan, 32);
  }
  if (g.rk < 1 || g.rp < 1 || g.cc < 1 || g.bk % g.rk || g.bp % g.rp)
    throw Error(what + ": block sizes (" + std::to_string(g.bk) + ", " + std::to_string(g.bp) +
                ") must be multiples of the register tile (" + std::to_string(g.rk) + ", " +
                std::to_string(g.rp) + ")");
  if (g.rp % 4 && g.rp > 1 && !all_points_per_thread)
    throw Error(what + ": the register tile's tile count must be 1 or a multiple of 4");
  check_limits(g, t, plan, 1);
}

}  // namespace wino::plans

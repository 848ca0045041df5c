// Internal to the GEMM core (gemm_core.cpp): on tensor cores, where a lane stands in its warp
// and its warp in the block, which block row and column each mma row and column stands for, and
// where the lanes read their fragments in a staged copy of the chunk.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "plans/chunk_stager.h"
#include "plans/gemm_parts.h"

namespace wino::plans {

/// The lane's place in its warp and the warp's block of M (tensor cores).
struct WarpPlace {
  ir::Expr g, t, k0, p0;  // lane = 4 g + t; the warp's first row and column in the block
  // The warp's group of ppt points where a work-group's points are split over its warps (the
  // tensor-core fused: warps of a group cover the block; null where every warp has all points).
  ir::Expr group;
};
WarpPlace warp_place(ir::KernelBuilder& b, const GemmTiles& g, ir::Expr tid);

/// The offset of slice s's rows (or columns) in the warp's block, past lane g's g w, for runs of
/// w (gemm_fragments.cpp: which row of M an mma row stands for).
int run_offset(int s, int w);
/// The runs of A's register rows and of B's slices (1, 2 or 4).
int a_run(const GemmCore& core);
int b_run(const GemmCore& core);
int b_run(const GemmTiles& g, bool tf32_operands);

/// V staged by tiles (GemmTiles::v_tile_major) and read by load_matrix: the row tile `tile`
/// (block-local) is staged at, and the tile staged at row `row`. A matrix's 8 rows are the tiles
/// one mma column stands for over the lanes (warp_offset), b_run apart, and rows 2 or 4 apart
/// share banks (4-way at 4 with rows of 48 bytes), so within each group of 8 b_run tiles, tile
/// r b_run + s (lane column r of slice s) is staged at row 8 s + r, and a matrix reads 8
/// consecutive rows. One to one where b_run is 1 or B is not read by load_matrix from tiles.
ir::Expr staged_tile_row(const GemmCore& core, ir::Expr tile);
ir::Expr tile_of_staged_row(const GemmCore& core, ir::Expr row);
/// The run that staged_tile_row undoes (1: none) for a core's tiles and operands.
int staged_run(const GemmTiles& g, bool tf32_operands);
/// tile_of_staged_row for a run `w`, of an index (ir::Expr) or a known row (int).
template <class Index>
Index tile_of_staged_row(int w, Index row) {
  if (w == 1) return row;
  Index q = row % (8 * w);
  return row - q + q % 8 * w + q / 8;
}

/// staged_tile_row for a run `w`.
ir::Expr staged_tile_row(int w, ir::Expr tile);

/// GemmTiles::bulk_v: V[xi][p][c] stored as the GEMM's staged copies, so that a chunk is one bulk
/// copy: blocks of [bp][cc] halves ([xi][tile block][chunk]), each tile at its staged row
/// (staged_tile_row) and, without padding, each row's 16-byte runs rotated (bulk_v_run), or for
/// warpgroup mmas swizzled (swizzled_v_offset: the pattern restarts with each block). The index
/// of (xi, p, c); `tiles` and `channels` are V's P and C.
ir::Expr bulk_v_index(ir::KernelBuilder& b, const GemmTiles& g, int64_t tiles, int64_t channels, ir::Expr xi,
                      ir::Expr p, ir::Expr c);
/// The tiles V stored so holds: whole blocks (the input transform writes zeros past P).
int64_t bulk_v_tiles(const GemmTiles& g, int64_t tiles);
/// Where run `run` (8 channels) of staged row `row` lies in its row: rotated by one run for every
/// 128 bytes of rows, so the 8 consecutive rows of a load_matrix matrix (from a multiple of 8) hit
/// all 32 banks once, as the padding by 8 halves made them.
template <class Index>
Index bulk_v_run(const GemmTiles& g, Index row, Index run) {
  const int runs = g.cc / 8, rows_per_128_bytes = 64 / g.cc;
  return (run + row / rows_per_128_bytes) % runs;
}

/// Where a warp's lanes read their mma fragments in a staged copy of the chunk: by loads in runs
/// (each value of a fragment is a channel row and a register row or slice; the runs place them),
/// or by load_matrix where the operand is staged in halves (GemmCore::a_matrix_loads,
/// b_matrix_loads).
class FragmentLoader {
 public:
  FragmentLoader(ir::KernelBuilder& b, const GemmCore& core, const ChunkStager& st, ir::Expr tid, ir::Expr buf);
  /// The lane's first channel of k-step ks, for the loads in runs (null where both sides load matrices).
  ir::Expr channel(ir::Expr ks);
  /// A's fragments of each 16-row slice pair (rk / 2 of them) for point j of the copy, k-step ks.
  std::vector<std::vector<ir::Expr>> a(int j, ir::Expr ks, ir::Expr chan);
  /// B's fragments of each 8-column slice (rp / 2 of them) for point j of the copy, k-step ks.
  std::vector<std::vector<ir::Expr>> b(int j, ir::Expr ks, ir::Expr chan);

 private:
  ir::KernelBuilder& b_;
  const GemmCore& core_;
  const ChunkStager& st_;
  const GemmTiles& g_;
  const ir::MmaKind kind_;
  const WarpPlace w_;
  ir::Expr abase_, bbase_, alane_, blane_;
  ir::Expr brun_;  // GemmTiles::bulk_v: the lane's first run of a k-step, before the rotation's modulo
  /// The value of slice `slice` in the lane's run of `w` at channel row chan + `row` of `op`'s copy
  /// from `base` (before the lane's place): one aligned vector load a run of f32 values, shared by
  /// the run's slices (as scalar loads, a warp's reads of a run took w passes over the banks); a
  /// scalar load otherwise. `slices`: the fragment's slices (runs must not pass them).
  ir::Expr in_run(const std::string& hint, const StagedOperand& op, ir::Expr base, ir::Expr chan, int64_t row,
                  int slice, int w, int slices);
  std::map<std::pair<int64_t, int>, ir::Expr> runs_;  // a() or b()'s run loads, by row and run
};

}  // namespace wino::plans

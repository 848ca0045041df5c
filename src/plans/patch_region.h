// The tensor-core fused's 2D blocks of tiles (GemmTiles::region, PatchRegion): a work-group's bp
// tiles as rows x cols tiles of one image, whose input patches overlap (F(2,3): a 4 x 8 block reads
// 10 x 18 pixels, not 32 patches of 16), so its ring copies each chunk's region once.
#pragma once

#include <cstdint>

#include "ir/builder.h"
#include "plans/gemm_tile_shape.h"
#include "plans/plan_common.h"

namespace wino::plans {

/// The transform by mma's order of a 4 x 4 patch's pixels along the mma's depth k
/// (ChunkStager::transform_tile_patches_by_mma): k's halves are columns 0-1 and 2-3 of the four
/// rows, so that the 8 pixels one ldmatrix matrix reads span the four patch rows (with a pixel
/// pitch of 64 bytes, 32 channels, and a row pitch of 16 bytes past a multiple of 64, the 8 rows'
/// 16 bytes fall in distinct banks; patch_region picks the pitches).
template <class Index>
Index mma_patch_row(Index k) {
  return k % 8 / 2;
}
template <class Index>
Index mma_patch_col(Index k) {
  return k % 16 / 8 * 2 + k % 2;
}
/// Where lane `lane` of the transform by mma reads in a tile's patch of region `r`: the row of
/// ldmatrix it gives, pixel lane % 16's 8 channels from 8 (lane / 16) on.
template <class Index>
Index mma_lane_offset(const PatchRegion& r, Index lane) {
  return mma_patch_row(lane % 16) * r.row_pitch + mma_patch_col(lane % 16) * r.pixel_pitch + lane / 16 * 8;
}

/// The region of blocks of (bp / cols) x cols tiles at tiling t (cols divides bp), with the pitches
/// that give the transform's reads of each warp (32-bit, or by mma ldmatrix's rows of 16 bytes)
/// the fewest passes over the banks.
PatchRegion patch_region(const GemmTiles& g, const Tiling& t, int cols);

/// Work-groups along the tiles: blocks of bp consecutive tiles, or the region's blocks of each image.
int64_t tile_blocks(const GemmTiles& g, const Tiling& t);

/// Tile `pl` (work-group-local) of tile block `pb`: its coordinates and whether it exists (null:
/// always). Past the image's tiles the coordinates are clamped into them.
struct BlockTile {
  TileCoords at;
  ir::Expr valid;
};
BlockTile block_tile(ir::KernelBuilder& b, const GemmTiles& g, const Tiling& t, ir::Expr pb, ir::Expr pl);

/// The first (top left) tile of region block `pb` (GemmTiles::region set).
TileCoords region_origin(ir::KernelBuilder& b, const GemmTiles& g, const Tiling& t, ir::Expr pb);

}  // namespace wino::plans

#include "plans/patch_region.h"

#include "common/error.h"
#include "common/shared_banks.h"
#include "plans/gemm_fragments.h"
#include "plans/gemm_tiles.h"

namespace wino::plans {

using namespace ir;

namespace {

// Passes over the banks that the transform's first read of each pixel takes, summed over the
// warps (ChunkStager::transform_tile_patches: slot s is thread row s / (cc / 2), the staged row
// r.swapped_row of it, the channel pair s % (cc / 2); a row's tile is tile_of_staged_row's;
// 32-bit reads). The other pixels' reads are these moved by one offset: as many passes.
int64_t read_passes(const GemmTiles& g, const Tiling& t, const PatchRegion& r) {
  const int half = g.cc / 2, w = staged_run(g, false);
  const int64_t slots = std::min<int64_t>(g.threads(), int64_t{g.bp} * half);
  int64_t passes = 0;
  for (int64_t warp = 0; warp * 32 < slots; ++warp) {
    int64_t start[32];
    for (int64_t lane = 0; lane < 32; ++lane) {
      const int64_t s = warp * 32 + lane;
      if (s >= slots) {
        start[lane] = -1;
        continue;
      }
      const int64_t pl = tile_of_staged_row(w, r.swapped_row(s / half)), ch = s % half * 2;
      start[lane] = (r.tile_offset(pl, t.m) + ch) * 2;  // bytes
    }
    passes += bank_passes(start, 4).wavefronts;
  }
  return passes;
}

// The same for the transform by mma's ldmatrix reads (ChunkStager::transform_tile_patches_by_mma):
// each unit of the chunk at its place (mma_transform_unit), each lane at its row of 16 bytes
// (mma_lane_offset).
int64_t mma_read_passes(const GemmTiles& g, const Tiling& t, const PatchRegion& r) {
  int64_t passes = 0;
  for (int64_t unit = 0; unit < int64_t{g.bp} * (g.cc / 16); ++unit) {
    const int64_t at = mma_transform_unit(g, r, t.m, unit)[0];
    int64_t start[32];
    for (int64_t lane = 0; lane < 32; ++lane) start[lane] = (at + mma_lane_offset(r, lane)) * 2;
    passes += bank_passes(start, 16).wavefronts;
  }
  return passes;
}

// Passes of the region's copies (ChunkStager::issue_region_patches: copy i of a chunk is pixel i /
// runs of the region, row-major, and its run of 8 channels i % runs; 16 bytes each).
int64_t copy_passes(const GemmTiles& g, const PatchRegion& r) {
  const int runs = g.cc / 8;
  const int64_t copies = int64_t{r.h} * r.w * runs;
  int64_t passes = 0;
  for (int64_t first = 0; first < copies; first += 32) {
    int64_t start[32];
    for (int64_t lane = 0; lane < 32; ++lane) {
      const int64_t i = first + lane, pix = i / runs;
      start[lane] = i < copies ? (pix / r.w * r.row_pitch + pix % r.w * r.pixel_pitch + i % runs * 8) * 2 : -1;
    }
    passes += bank_passes(start, 16).wavefronts;
  }
  return passes;
}

}  // namespace

PatchRegion patch_region(const GemmTiles& g, const Tiling& t, int cols) {
  if (cols <= 0 || g.bp % cols || g.cc % 8)
    throw Error("internal: a region of " + std::to_string(cols) + " tiles a row for GEMM tiles " + g.str());
  PatchRegion best;
  int64_t best_passes = 0;
  // Pitches in multiples of 8 halves keep the 16-byte copies aligned. Swapping the threads' rows
  // lets tiles of other region rows share a warp (a 4 x 8 block's rows 0 and 1 are tiles 0 and
  // 4, 8 pixels apart: the same banks at any pitch). Ties go to fewer halves, then no swap.
  for (int swap_bit = 0; swap_bit == 0 || g.bp % (2 << swap_bit) == 0; ++swap_bit)  // rows stay below bp
    for (int pixel_pad = 0; pixel_pad <= 24; pixel_pad += 8)
      for (int row_pad = 0; row_pad <= 24; row_pad += 8) {
        PatchRegion r;
        r.cols = cols, r.rows = g.bp / cols, r.swap_bit = swap_bit;
        r.h = (r.rows - 1) * t.m + t.alpha, r.w = (cols - 1) * t.m + t.alpha;
        r.pixel_pitch = g.cc + pixel_pad, r.row_pitch = r.w * r.pixel_pitch + row_pad;
        // (By mma, the copies too: at 16 channels no pitch keeps both ldmatrix's rows and the
        // copies' 16-byte runs of a pixel in distinct banks.)
        const int64_t passes = g.transforms_by_mma() ? mma_read_passes(g, t, r) + copy_passes(g, r) : read_passes(g, t, r);
        if (!best.cols || passes < best_passes || (passes == best_passes && r.elements() < best.elements()))
          best = r, best_passes = passes;
      }
  return best;
}

int64_t tile_blocks(const GemmTiles& g, const Tiling& t) {
  const PatchRegion& r = g.region;
  if (!r.cols) return ceil_div(t.tiles, g.bp);
  return t.tiles / (t.tiles_h * t.tiles_w) * ceil_div(t.tiles_h, r.rows) * ceil_div(t.tiles_w, r.cols);
}

TileCoords region_origin(KernelBuilder& b, const GemmTiles& g, const Tiling& t, Expr pb) {
  const PatchRegion& r = g.region;
  const int64_t across = ceil_div(t.tiles_w, r.cols), down = ceil_div(t.tiles_h, r.rows);
  return {b.let("bn", pb / (across * down)), b.let("bth", pb / across % down * r.rows), b.let("btw", pb % across * r.cols)};
}

BlockTile block_tile(KernelBuilder& b, const GemmTiles& g, const Tiling& t, Expr pb, Expr pl) {
  const PatchRegion& r = g.region;
  if (!r.cols) {
    Expr p = b.let("p", pb * g.bp + pl);
    const bool partial = t.tiles % g.bp;
    return {tile_coords(b, partial ? min(p, b.i32(t.tiles - 1)) : p, t), partial ? lt(p, b.i32(t.tiles)) : Expr{}};
  }
  const TileCoords o = region_origin(b, g, t, pb);
  Expr th = b.let("th", o.th + pl / r.cols), tw = b.let("tw", o.tw + pl % r.cols);
  Expr down = t.tiles_h % r.rows ? lt(th, b.i32(t.tiles_h)) : Expr{};
  Expr across = t.tiles_w % r.cols ? lt(tw, b.i32(t.tiles_w)) : Expr{};
  Expr valid = !down ? across : !across ? down : logical_and(down, across);
  return {{o.n, down ? min(th, b.i32(t.tiles_h - 1)) : th, across ? min(tw, b.i32(t.tiles_w - 1)) : tw}, valid};
}

}  // namespace wino::plans

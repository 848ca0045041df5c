// The tensor-core fused's ring of raw input patches (GemmTiles::tile_patch_ring): a chunk's alpha
// x alpha patches land in work-group memory by asynchronous 16-byte copies of 8 channels of a
// pixel while the chunk before is transformed and multiplied, and are then transformed two
// channels a thread (or, GemmTiles::transforms_by_mma, on the tensor cores:
// mma_patch_transform.cpp). Loading each thread's tiles from memory as it transforms them (one 2-byte
// load per pixel and channel, its latency in series with the transform) took more instructions
// than the transform's additions (docs/performance.md, session 45's instruction budget).
#include <algorithm>

#include "common/error.h"
#include "ir/transform_code.h"
#include "plans/chunk_stager.h"
#include "plans/gemm_fragments.h"
#include "plans/patch_region.h"

namespace wino::plans {

using namespace ir;

void ChunkStager::issue_tile_patches(Expr tid, Expr c0, Expr buf, Expr pb) {
  if (!pb) pb = core_.pb;
  if (g_.region.cols) return issue_region_patches(tid, c0, buf, pb);
  const int T = workers(), A = t_.alpha, a2 = A * A, bp = g_.bp, cc = g_.cc, runs = cc / 8;
  b_.comment("copy the chunk's input patches [alpha^2][bp][cc] into the ring, 8 channels of a pixel a copy, zeros "
             "past the image");
  // T is a multiple of bp x runs (the constructor checks), so a thread keeps one run of one tile
  // and takes every (T / (bp runs))-th pixel of its patch. The tile's coordinates are clamped into
  // the image, so every copy's address lies inside x and needs no guard beside its mask.
  const int per_pass = T / (bp * runs);
  // Neighbouring threads take neighbouring runs of a patch row, so a warp's copies land in one
  // span of work-group memory (by tiles, the rows' order would scatter them over banks).
  Expr q = b_.let("q", tid % (bp * runs));
  Expr row = b_.let("row", q / runs), run = b_.let("run", q % runs * 8);  // V's row, the patch's too
  Expr pl = b_.let("pl", tile_of_staged_row(core_, row));
  const BlockTile tile = block_tile(b_, g_, t_, pb, pl);
  const TileCoords& tc = tile.at;
  Expr c = b_.let("c", c0 + run);
  Expr run_ok = both(tile.valid, d_.c % cc ? lt(c, b_.i32(d_.c)) : Expr{});
  Expr base = b_.let("base", image_base(Layout::nhwc, tc.n, d_.c % cc ? min(c, b_.i32(d_.c - 8)) : c, d_.c, d_.h * d_.w));
  Expr ih0 = b_.let("ih0", tc.th * t_.m - d_.pad.top), iw0 = b_.let("iw0", tc.tw * t_.m - d_.pad.left);
  Expr first = b_.let("pix0", tid / (bp * runs));
  for (int k = 0; k * per_pass < a2; ++k) {
    auto copy = [&] {
      Expr pix = b_.let("pix", first + k * per_pass);
      Expr ih = b_.let("ih", ih0 + pix / A), iw = b_.let("iw", iw0 + pix % A);
      Expr ok = both(run_ok, logical_and(in_range(ih, 0, d_.h), in_range(iw, 0, d_.w)));
      Expr at = base + (min(max(ih, b_.i32(0)), b_.i32(d_.h - 1)) * d_.w + min(max(iw, b_.i32(0)), b_.i32(d_.w - 1))) * d_.c;
      Expr dst = buf * g_.tile_patch_elements() + (pix * bp + row) * cc + run;
      b_.copy_async(patches_, dst, input_, at, 8, ok, true);
    };
    if ((k + 1) * per_pass > a2) b_.if_then(lt(first + k * per_pass, b_.i32(a2)), copy);
    else copy();
  }
}

void ChunkStager::issue_region_patches(Expr tid, Expr c0, Expr buf, Expr pb) {
  const PatchRegion& r = g_.region;
  const int T = workers(), cc = g_.cc, runs = cc / 8;
  const int64_t copies = int64_t{r.h} * r.w * runs;
  b_.comment("copy the chunk's input region [" + std::to_string(r.h) + "][" + std::to_string(r.w) + "][cc] of the block's " +
             std::to_string(r.rows) + " x " + std::to_string(r.cols) + " tiles into the ring, 8 channels of a pixel a copy, "
             "zeros past the image");
  // Neighbouring threads on neighbouring runs of a pixel, then neighbouring pixels of a row: a
  // warp's copies read whole runs of the image's rows. Coordinates are clamped into the image, so
  // every copy's address lies inside x and needs no guard beside its mask.
  const TileCoords o = region_origin(b_, g_, t_, pb);
  Expr ih0 = b_.let("ih0", o.th * t_.m - d_.pad.top), iw0 = b_.let("iw0", o.tw * t_.m - d_.pad.left);
  Expr run = b_.let("run", tid % runs * 8), c = b_.let("c", c0 + run);
  Expr c_ok = d_.c % cc ? lt(c, b_.i32(d_.c)) : Expr{};
  Expr base = b_.let("base", image_base(Layout::nhwc, o.n, d_.c % cc ? min(c, b_.i32(d_.c - 8)) : c, d_.c, d_.h * d_.w));
  const int per_pass = T / runs;  // T is a multiple of runs (bp x runs divides it; a ring's producers: the planner)
  for (int64_t k = 0; k * T < copies; ++k) {
    auto copy = [&] {
      Expr pix = b_.let("pix", tid / runs + k * per_pass);
      Expr ry = b_.let("ry", pix / r.w), rx = b_.let("rx", pix % r.w);
      Expr ih = b_.let("ih", ih0 + ry), iw = b_.let("iw", iw0 + rx);
      Expr ok = both(c_ok, logical_and(in_range(ih, 0, d_.h), in_range(iw, 0, d_.w)));
      Expr at = base + (min(max(ih, b_.i32(0)), b_.i32(d_.h - 1)) * d_.w + min(max(iw, b_.i32(0)), b_.i32(d_.w - 1))) * d_.c;
      Expr dst = buf * g_.tile_patch_elements() + ry * r.row_pitch + rx * r.pixel_pitch + run;
      b_.copy_async(patches_, dst, input_, at, 8, ok, true);
    };
    if ((k + 1) * T > copies) b_.if_then(lt(tid + k * T, b_.i32(copies)), copy);
    else copy();
  }
}

void ChunkStager::transform_tile_patches(Expr tid, Expr buf, Expr vbuf) {
  if (g_.transforms_by_mma()) return transform_tile_patches_by_mma(tid, buf, vbuf);
  const int A = t_.alpha, a2 = A * A, T = workers(), bp = g_.bp, cc = g_.cc, half = cc / 2;
  const int64_t pairs = int64_t{bp} * half;  // (tile, channel pair)s of the chunk
  const RationalMatrix& BT = t_.t.BT;
  // Where the work-group has more threads than the chunk has pairs, `parts` threads share a pair,
  // each computing a band of V's rows (as transform_patches does); so does each thread's pair in
  // turn where a whole patch and its transform (2 alpha^2 values) do not fit beside its
  // accumulators under its work-group's register cap (64 Ki / threads, with some for addresses:
  // on mma.sync, 40: 32-channel chunks at 64 x 32, 512 threads, whole patches took 128 registers
  // and spilled 144 bytes; in bands 121, none; the 32 x 32 blocks asked two to a multiprocessor,
  // 256 threads, kept whole patches at 125, none spilled, session 47). Warpgroup mmas hold no
  // fragments: whole patches at 64 x 32 took 121-127 registers, none spilled (every block shape
  // and chunk of the batch >= 8 layers, session 60), and two bands read 1.5 times a patch's pixels.
  // (A ring's producers, GemmTiles::warp_roles, hold no accumulators, and the work-group's every thread counts.)
  const int cap = 65536 / (workers_ ? g_.kernel_threads() : T), accumulators = workers_ ? 0 : g_.ppt * g_.rk * g_.rp;
  const int addresses = g_.async_mma ? 28 : 40;
  const int parts = std::max(band_parts(pairs), accumulators + 2 * a2 + addresses > cap ? 2 : 1);
  b_.comment("transform the chunk's patches into V: Vs[xi][bp][cc], two channels a thread, " + std::to_string(parts) +
             " thread(s) a pair");
  const StagedOperand& v = this->v();
  // The thread's pair `pair` and its band `part` (of `parts`): where one pass of the threads
  // covers slots of one part only (pairs a multiple of the threads), a pass's part is known here,
  // and the passes are written out one after another without a branch on it.
  auto transform_slot = [&](Expr pair, Expr part, int known_part) {
    // A thread's pair is a staged row (a tile's patch and V rows, staged_tile_row; in a region
    // swapped, PatchRegion::swap_bit) and two channels; neighbouring threads on neighbouring channel
    // pairs of a row: the patches' reads are consecutive words.
    const PatchRegion& r = g_.region;
    Expr row = b_.let("row", r.swapped_row(pair / half)), ch = b_.let("ch", pair % half * 2);
    // A tile's pixel k: in its own patch ([alpha^2][bp][cc]), or at its place in the region.
    Expr pl = r.cols ? b_.let("pl", tile_of_staged_row(core_, row)) : Expr{};
    Expr from = b_.let("from", buf * g_.tile_patch_elements() + (r.cols ? r.tile_offset(pl, t_.m) : row * cc) + ch);
    Expr in_point = g_.async_mma ? swizzled_v_offset(row, ch, cc) : row * v.pitch + ch;  // warpgroup mmas: swizzled rows
    Expr to = b_.let("to", b_.i32(v.base) + vbuf * v.copy + in_point);
    // transform_band builds a band's pixel loads before its first store into V, and the sink pass
    // keeps them there (passes::sink_to_first_use: a work-group load sinks past no such store).
    auto pixel = [&](int k) {
      const int64_t at = r.cols ? int64_t{k / A} * r.row_pitch + int64_t{k % A} * r.pixel_pitch : int64_t{k} * bp * cc;
      return b_.aligned_load("d", patches_, from + at, 2);
    };
    auto store = [&](int xi, Expr value) { b_.aligned_store(v.smem, to + int64_t{xi} * bp * v.pitch, value); };
    if (parts == 1) {
      std::vector<Expr> tile;
      for (int k = 0; k < a2; ++k) tile.push_back(pixel(k));
      const std::vector<Expr> out = transform_2d(b_.ctx(), BT, tile);
      for (int xi = 0; xi < a2; ++xi) store(xi, out[xi]);
      return;
    }
    auto band = [&](int h) { transform_band(h, parts, b_.ctx().broadcast(b_.f32(0), 2), pixel, store); };
    if (known_part >= 0) return band(known_part);
    for (int h = 0; h < parts; ++h) b_.if_then(eq(part, b_.i32(h)), [&, h] { band(h); });
  };
  const int64_t passes = ceil_div(pairs * parts, T);
  if (parts > 1 && pairs % T == 0) {
    for (int64_t vi = 0; vi < passes; ++vi)
      transform_slot(b_.let("pair", tid + vi * T % pairs), Expr{}, static_cast<int>(vi * T / pairs));
    return;
  }
  // Else the pass's slot; in one pass (slot = tid) a band depends on the thread alone, which the
  // kernel statistics count as the threads take it (planner/kernel_stats.cpp).
  auto transform_slots = [&](Expr slot) {
    auto body = [&] { transform_slot(b_.let("pair", slot % pairs), parts > 1 ? b_.let("part", slot / pairs) : Expr{}, -1); };
    if ((pairs * parts) % T) b_.if_then(lt(slot, b_.i32(pairs * parts)), body);
    else body();
  };
  if (passes == 1) return transform_slots(tid);
  b_.loop("vi", passes, LoopKind::serial, [&](Expr vi) { transform_slots(b_.let("slot", vi * T + tid)); });
}

}  // namespace wino::plans

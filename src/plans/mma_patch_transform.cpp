// The tensor-core fused ring's input transform on the tensor cores (GemmTiles::transforms_by_mma).
// A patch's transform is linear: its 16 points are (B^T (x) B^T) times its 16 pixels. With the
// pixels of 16 channels of one tile as an m16n8k16 mma's B (two mmas, 8 channels each) and that
// 16 x 16 matrix as its A, a warp transforms a tile's 16 channels in one ldmatrix and two mmas:
// the coefficients' products with halves are exact and the mma sums them in float32 (where the
// threads' transform adds in float32; a last bit may differ before the rounding to halves). The
// threads' transform took about 140 instructions a thread a chunk (16 loads, 32 conversions from
// halves, 64 additions, 16 packs, 16 stores; session 60's SASS), the largest share of a step's,
// and the ring's threads' instructions seemed to limit it (session 58's profile). Timed (session 63):
// correct, no faster, since a step's long path is its warpgroup mmas, under which the transform
// mostly hides (docs/performance.md); so plan auto does not take it.
#include <array>

#include "common/error.h"
#include "ir/mma.h"
#include "plans/chunk_stager.h"
#include "plans/gemm_fragments.h"
#include "plans/gemm_tiles.h"
#include "plans/patch_region.h"

namespace wino::plans {

using namespace ir;

namespace {

// values[index] for an index known to lie in [lo, hi): selects that halve the range, none where a
// range holds one value.
Expr table_value(Context& ctx, Expr index, const std::vector<double>& values, size_t lo, size_t hi) {
  bool one = true;
  for (size_t i = lo + 1; i < hi; ++i) one = one && values[i] == values[lo];
  if (one) return ctx.f32(values[lo]);
  const size_t mid = (lo + hi) / 2;
  return select(lt(index, ctx.i32(static_cast<int64_t>(mid))), table_value(ctx, index, values, lo, mid),
                table_value(ctx, index, values, mid, hi));
}

// Where entry (point, k) of the transform's matrix lies in work-group memory: each ldmatrix
// matrix (8 points x 8 pixels) 128 contiguous bytes, the four in A's order (points 0-7 and 8-15
// of pixels 0-7, then of pixels 8-15).
template <class Index>
Index table_offset(Index point, Index k) {
  return k / 8 * 128 + point * 8 + k % 8;
}

}  // namespace

void ChunkStager::init_transform(Expr tid) {
  if (!transform_table_) return;
  const RationalMatrix& BT = t_.t.BT;
  if (BT.rows != 4 || BT.cols != 4)
    throw Error("internal: GEMM tiles " + g_.str() + ": the transform by mma takes 4 x 4 patches, not alpha " +
                std::to_string(BT.cols));
  // The entry (i 4 + j, k) is B^T[i][row of k] B^T[j][column of k] (transform_2d's points): the
  // product of two entries of B^T (16 values), each picked by selects on its index.
  std::vector<double> bt(16);
  for (int i = 0; i < 16; ++i) bt[i] = BT.at(i / 4, i % 4).to_double();
  for (int point = 0; point < 16; ++point)
    for (int k = 0; k < 16; ++k) {
      const double v = bt[point / 4 * 4 + mma_patch_row(k)] * bt[point % 4 * 4 + mma_patch_col(k)];
      if (static_cast<double>(mma_round_operand(*g_.mma, static_cast<float>(v))) != v)
        throw Error("internal: GEMM tiles " + g_.str() + ": the transform's coefficient " + std::to_string(v) +
                    " is not exact in " + mma_operand_name(*g_.mma));
    }
  b_.comment("the input transform's matrix B^T (x) B^T for the mmas, 16 x 16 halves");
  const int T = g_.threads();
  for (int i = 0; i * T < 256; ++i) {
    auto store = [&] {
      Expr e = b_.let("e", tid + b_.i32(int64_t{i} * T));
      Expr point = b_.let("pt", e % 128 / 8), k = b_.let("k", e / 128 * 8 + e % 8);
      Expr v = table_value(b_.ctx(), point / 4 * 4 + mma_patch_row(k), bt, 0, 16) *
               table_value(b_.ctx(), point % 4 * 4 + mma_patch_col(k), bt, 0, 16);
      b_.store(transform_table_, table_offset(point, k), v);
    };
    if ((i + 1) * T > 256) b_.if_then(lt(tid + b_.i32(int64_t{i} * T), b_.i32(256)), store);
    else store();
  }
}

void ChunkStager::transform_tile_patches_by_mma(Expr tid, Expr buf, Expr vbuf) {
  const int T = g_.threads(), groups = g_.cc / 16;
  const int64_t per_warp = int64_t{g_.bp} * groups / (T / kWarp), rows = per_warp / groups;
  const MmaKind kind = *g_.mma;
  const PatchRegion& r = g_.region;
  const StagedOperand& v = this->v();
  const int64_t vpoint = g_.v_point_elements(true);
  b_.comment("transform the chunk's patches into V on the tensor cores, Vs[xi][bp][cc] in core matrices: " +
             std::to_string(per_warp) + " x 16 channels of a tile a warp");
  // Warp w takes the chunk's units w per_warp .. (w + 1) per_warp - 1 (mma_transform_unit), each
  // the warp's first moved by an offset the same in every warp (takes_mma_transform), a constant.
  auto place = [&](int64_t unit) { return mma_transform_unit(g_, r, t_.m, unit); };
  Expr lane = b_.let("lane", tid % kWarp), warp = b_.let("warp", tid / kWarp);
  // A: the matrix, points by pixels; lane l gives the row of its matrix l / 8 (table_offset).
  const std::vector<Expr> a = b_.load_matrix("bt", transform_table_, lane / 16 * 128 + lane % 16 * 8, 4, false);
  // B: lane l gives the row (8 channels) of pixel l % 16 of the unit's tile, channels 8 (l / 16)
  // on; transposed, lane 4 g + t gets pixels 2 t, 2 t + 1 (and 8 on) of channel g: matrices 0, 1
  // are the first mma's B, 2, 3 the second's.
  Expr from = b_.let("from", buf * g_.tile_patch_elements() + mma_lane_offset(r, lane));
  // D: lane 4 g + t holds points g and g + 8 of channels 2 t, 2 t + 1 (ir::mma_c_pos), each pair
  // one 32-bit store; a store's 8 points fall 16 bytes apart mod 128 (GemmTiles::point_stagger).
  Expr to = b_.let("to", b_.i32(v.base) + vbuf * v.copy + lane / 4 * vpoint + lane % 4 * 2);
  Expr row0 = warp * rows;  // the warp's first unit's staged row, channels 0
  Expr patch0 = b_.let("xw", from + r.tile_offset(tile_of_staged_row(core_, row0), t_.m));
  Expr v0 = b_.let("vw", to + core_matrix_offset(row0, b_.i32(0), g_.bp));
  for (int64_t u = 0; u < per_warp; ++u) {
    Expr patch_at = patch0 + (place(u)[0] - place(0)[0]), v_at = v0 + (place(u)[1] - place(0)[1]);
    const std::vector<Expr> d = b_.load_matrix("d", patches_, patch_at, 4, true);
    for (int j = 0; j < 2; ++j) {  // channels 8 j .. 8 j + 7 of the unit's 16
      std::vector<int64_t> slots;
      for (int i = 0; i < 4; ++i) {
        slots.push_back(4 * j + i);
        b_.store(transform_out_, b_.i32(4 * j + i), b_.f32(0));
      }
      b_.mma(kind, transform_out_, slots, a, {d[4 * j], d[4 * j + 1], d[4 * j + 2], d[4 * j + 3]}, {true, true});
      for (int h = 0; h < 2; ++h) {  // points g, then g + 8
        Expr x = b_.load("dv", transform_out_, b_.i32(4 * j + 2 * h)), y = b_.load("dv", transform_out_, b_.i32(4 * j + 2 * h + 1));
        b_.aligned_store(v.smem, v_at + (8 * h * vpoint + j * g_.bp * 8), interleave(broadcast(x, 2), broadcast(y, 2), 1, false));
      }
    }
  }
}

}  // namespace wino::plans

#include "plans/gemm_fragments.h"

namespace wino::plans {

using namespace ir;

WarpPlace warp_place(KernelBuilder& b, const GemmTiles& g, Expr tid) {
  const int warps_p = g.bp / (4 * g.rp), warps_block = warps_p * (g.bk / (8 * g.rk));
  Expr warp = b.let("warp", tid / kWarp), lane = b.let("lane", tid % kWarp);
  Expr group, in_block = warp;
  if (g.points_split_over_warps()) {
    group = b.let("grp", warp / warps_block);
    in_block = b.let("wb", warp % warps_block);
  }
  return {b.let("g", lane / 4), b.let("t", lane % 4), b.let("wk", in_block / warps_p * (8 * g.rk)),
          b.let("wp", in_block % warps_p * (4 * g.rp)), group};
}

// Which row of M an mma row stands for is the plan's choice (a bijection per warp, undone where
// the accumulators are stored): lane g holds row g of each 16 x 8 tile's two halves, so mma row g
// of slice s goes to warp row (s / w) 8 w + g w + s % w. A lane's n values of one channel row are
// then runs of w contiguous floats (16-byte reads for w = 4, a quarter of the load instructions),
// and lanes g and g + 1 read neighbouring runs (conflict-free with the rows' padding).
int run_offset(int s, int w) { return (s / w) * 8 * w + s % w; }  // of slice s, past lane g's g w

namespace {
int run_width(int n) { return n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1; }
Expr warp_offset(Expr g, int s, int w) { return g * w + run_offset(s, w); }
}  // namespace

// Runs of A's register rows and of B's slices. Where the loaded values are the mma's operand
// registers as they are (tf32 values stored rounded), the instruction wants A's rows g and g + 8
// of one channel side by side and B's two channels of a slice in a pair of registers, which
// longer runs would scatter (ptxas then spent 60 moves per k-step on a 64 x 64 block): runs of 2
// rows of A and single values of B. Converted operands (3xtf32's split, f16 and bf16 pairs) land
// in new registers anyway and take the longest runs. A's fragments by load_matrix take rows
// one to one (runs of 1).
int a_run(const GemmCore& core) {
  return core.a_matrix_loads() ? 1 : core.tf32_operands ? 2 : run_width(core.g.rk);
}
int b_run(const GemmCore& core) { return b_run(core.g, core.tf32_operands); }
int b_run(const GemmTiles& g, bool tf32_operands) { return tf32_operands ? 1 : run_width(g.rp / 2); }

int staged_run(const GemmTiles& g, bool tf32_operands) {
  return g.b_matrix_loads() && g.v_tile_major ? b_run(g, tf32_operands) : 1;
}

Expr staged_tile_row(int w, Expr tile) {
  if (w == 1) return tile;
  Expr q = tile % (8 * w);
  return tile - q + q % w * 8 + q / w;
}

Expr staged_tile_row(const GemmCore& core, Expr tile) {
  return staged_tile_row(staged_run(core.g, core.tf32_operands), tile);
}

int64_t bulk_v_tiles(const GemmTiles& g, int64_t tiles) { return ceil_div(tiles, g.bp) * g.bp; }

Expr bulk_v_index(KernelBuilder& b, const GemmTiles& g, int64_t tiles, int64_t channels, Expr xi, Expr p, Expr c) {
  const int64_t blocks = ceil_div(tiles, g.bp), chunks = channels / g.cc;
  Expr block = b.let("vblock", (xi * blocks + p / g.bp) * chunks + c / g.cc);
  Expr row = b.let("vrow", staged_tile_row(staged_run(g, false), p % g.bp));
  if (g.async_mma) return block * (int64_t{g.bp} * g.cc) + swizzled_v_offset(row, c % g.cc, g.cc);
  return (block * g.bp + row) * g.cc + bulk_v_run(g, row, c % g.cc / 8) * 8 + c % 8;
}

Expr tile_of_staged_row(const GemmCore& core, Expr row) {
  return tile_of_staged_row(staged_run(core.g, core.tf32_operands), row);
}

FragmentLoader::FragmentLoader(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf)
    : b_(b), core_(core), st_(st), g_(core.g), kind_(*core.g.mma), w_(warp_place(b, core.g, tid)) {
  // A warp of a point group starts at its group's first point's rows ([point][cc] rows; V by
  // tiles: [point][bp]).
  Expr arows = b.i32(st.a().base) + buf * st.a().copy, brows = b.i32(st.v().base) + buf * st.v().copy;
  if (w_.group) {
    arows = arows + w_.group * (int64_t{g_.ppt} * g_.cc * st.a().pitch);
    brows = brows + w_.group * (int64_t{g_.ppt} * (g_.v_tile_major ? g_.bp : g_.cc) * st.v().pitch);
  }
  abase_ = b.let("abase", arows + w_.k0);
  bbase_ = b.let("bbase", brows + w_.p0);
  // A (transposed, 4 matrices): lane 8 j + r gives channel row r of matrix j, whose 8 columns
  // are the slice's rows 0-7 (j even) or 8-15 (j odd) of the k-step's channels 0-7 (j < 2) or
  // 8-15; the lane then holds A's values 2 j, 2 j + 1 (mma_a_pos).
  if (core.a_matrix_loads())
    alane_ = b.let("alane", abase_ + (w_.g / 4 * 8 + w_.g % 2 * 4 + w_.t) * st.a().pitch + w_.g / 2 % 2 * 8);
  // B by channels (transposed, 2 matrices per slice): lane 8 j + r gives channel row 8 j + r of
  // the slice's 8 columns, and holds B's values 2 j, 2 j + 1 (mma_b_pos); lanes 16-31 idle. B
  // by tiles (GemmTiles::v_tile_major; 4 matrices per two slices, 2 for a last odd one): lane
  // 8 j + r gives the row of the tile that mma column r of slice j / 2 stands for (warp_offset),
  // at channel 8 (j % 2), and holds B's values 2 (j % 2), 2 (j % 2) + 1 of that slice. That
  // tile is staged at row p0 + 8 slice + r (staged_tile_row).
  if (core.b_matrix_loads() && !g_.v_tile_major)
    blane_ = b.let("blane", bbase_ + (w_.g / 2 % 2 * 8 + w_.g % 2 * 4 + w_.t) * st.v().pitch);
  if (core.b_matrix_loads() && g_.v_tile_major) {
    Expr r = b.let("lr", w_.g % 2 * 4 + w_.t), j = b.let("lj", w_.g / 2);
    blane_ = b.let("blane", brows + (w_.p0 + r + j / 2 * 8) * st.v().pitch + (g_.bulk_v ? b.i32(0) : j % 2 * 8));
    // Bulk V's rows are rotated by their row / (64 / cc) (bulk_v_run): the lane's rows are r past
    // a multiple of 8, whose rotation is 0.
    if (g_.bulk_v) brun_ = b.let("brun", bulk_v_run(g_, r, j % 2));
  }
}

Expr FragmentLoader::channel(Expr ks) {
  if (core_.a_matrix_loads() && core_.b_matrix_loads()) return {};
  return b_.let("chan", ks * mma_depth(kind_) + w_.t * mma_t_step(kind_));
}

std::vector<std::vector<Expr>> FragmentLoader::a(int j, Expr ks, Expr chan) {
  const int depth = mma_depth(kind_), pitch = st_.a().pitch;
  const int64_t row0 = int64_t{j} * g_.cc;  // the point's first channel row in the copy
  std::vector<std::vector<Expr>> out(g_.rk / 2);
  for (int mi = 0; mi < g_.rk / 2; ++mi) {
    if (core_.a_matrix_loads()) {
      out[mi] = b_.load_matrix("a", st_.a().smem, alane_ + ks * (depth * pitch) + b_.i32(row0 * pitch + 16 * mi), 4, true);
      continue;
    }
    for (int i = 0; i < mma_a_values(kind_); ++i) {  // lane 0's row is 0 or 8 (the half): warp_offset adds the g
      const MmaPos p = mma_a_pos(kind_, 0, i);  // row: output channel; column: input channel
      out[mi].push_back(in_run("a", st_.a(), abase_, chan, row0 + p.col, 2 * mi + p.row / 8, a_run(core_), g_.rk));
    }
  }
  runs_.clear();
  return out;
}

Expr FragmentLoader::in_run(const std::string& hint, const StagedOperand& op, Expr base, Expr chan, int64_t row,
                            int slice, int w, int slices) {
  Expr at = base + (chan + b_.i32(row)) * op.pitch;
  const bool vector = w > 1 && slices % w == 0 && op.smem->type == Type::f32 && op.pitch % w == 0 &&
                      op.base % w == 0 && op.copy % w == 0;
  if (!vector) return b_.load(hint, op.smem, at + warp_offset(w_.g, slice, w));
  const auto key = std::make_pair(row, slice / w);
  auto it = runs_.find(key);
  if (it == runs_.end())
    it = runs_.emplace(key, b_.aligned_load(hint, op.smem, at + warp_offset(w_.g, slice / w * w, w), w)).first;
  return extract(it->second, slice % w);
}

std::vector<std::vector<Expr>> FragmentLoader::b(int j, Expr ks, Expr chan) {
  const int depth = mma_depth(kind_), pitch = st_.v().pitch, tn = g_.rp / 2, wb = b_run(core_);
  const int64_t row0 = int64_t{j} * g_.cc;
  std::vector<std::vector<Expr>> out(tn);
  for (int ni = 0; ni < tn; ++ni) {
    if (core_.b_matrix_loads() && g_.v_tile_major) {  // the point's tile rows, the slice's first tile, the k-step's channels
      const int n = ni + 1 < tn ? 4 : 2;  // two slices at once where there are two
      // slice ni's rows (staged_tile_row); the k-step's channels, bulk V's rotated (bulk_v_run)
      Expr runs = g_.bulk_v ? (brun_ + ks * (depth / 8)) % (g_.cc / 8) * 8 : ks * depth;
      Expr at = blane_ + runs + b_.i32((int64_t{j} * g_.bp + 8 * ni) * pitch);
      std::vector<Expr> v = b_.load_matrix("b", st_.v().smem, at, n, false);
      out[ni].assign(v.begin(), v.begin() + 4);
      if (n == 4) out[++ni].assign(v.begin() + 4, v.end());
    } else if (core_.b_matrix_loads()) {
      out[ni] = b_.load_matrix("b", st_.v().smem, blane_ + ks * (depth * pitch) + b_.i32(row0 * pitch + 8 * ni), 2, true);
    } else {
      for (int i = 0; i < mma_b_values(kind_); ++i) {  // lane 0's column 0: warp_offset adds the g
        const MmaPos p = mma_b_pos(kind_, 0, i);  // row: input channel; column: tile
        out[ni].push_back(in_run("b", st_.v(), bbase_, chan, row0 + p.row, ni, wb, tn));
      }
    }
  }
  runs_.clear();
  return out;
}

}  // namespace wino::plans

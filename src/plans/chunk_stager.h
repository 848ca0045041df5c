// Internal to the GEMM core (gemm_core.cpp): how a chunk of cc input channels of U and V gets
// from memory into work-group memory, as [copy][point][cc][width] rows. Five ways: loads staged
// directly (stage), a prefetch through registers overlapped with the multiply (fetch, then stash),
// asynchronous copies into a ring of stages (issue_copies), for the fused plans input tiles
// transformed on the way (stage with GemmSource::image; on tensor cores with U's copies in
// flight meanwhile), or plan fused's ring of input patches (issue_patch_copies, then
// transform_patches; on tensor cores issue_tile_patches, then transform_tile_patches).
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "plans/gemm_parts.h"

namespace wino::plans {

/// One operand staged from memory into work-group memory: U[xi][c][k] or V[xi][c][p], chunk by
/// chunk, as [copy][point][cc][width] (copy: a stage, or the double buffer when prefetching).
struct StagedOperand {
  const ir::Memory* mem;
  const char* hint;
  const ir::Memory* smem;  // where it is staged: the core's f32 array, or the operand's own half array
  int width;       // bk or bp: columns of a row
  int64_t extent;  // K or P: columns of the tensor in memory
  ir::Expr col0;   // the block's first column (V: its first tile where the tiles are runs, not a 2D block;
                   // the work-group's first block: a persistent tile ring's copies of U and patches read
                   // the core's block when issued, issue_bulk_u and issue_tile_patches)
  int64_t base;    // offset in `smem`, in its elements
  int64_t copy;    // elements of one copy: points x cc x pitch (the patch ring's U: points x point_plane)
  int pitch;       // elements from one row to the next: width plus GemmTiles::pad() (a half operand: 8;
                   // V by bulk copies: none, GemmTiles::v_pitch; the patch ring's V: GemmTiles::ring_v_row)
  int first = 0;   // first slot in `next`
  int64_t elements = 0;  // of one chunk: points x cc x width
  int loads = 0;         // elements per thread per chunk
  bool channel_major = false;  // rows [cc][points] (the patch ring's V), else [points][cc]
  int64_t channel_plane = 0;   // channel_major: elements from one channel's rows to the next
  int64_t point_plane = 0;     // else elements from one point's rows to the next (0: cc rows; the patch ring's U)
  /// Where the staged row of point xl (work-group-local) and channel ci of the chunk starts in a copy.
  ir::Expr row_start(ir::Expr xl, ir::Expr ci, int cc) const {
    if (channel_major) return ci * channel_plane + xl * pitch;
    return point_plane ? xl * point_plane + ci * pitch : (xl * cc + ci) * pitch;
  }
  /// The same for row `row` of a [points][cc] copy's rows in order (not channel_major: its channels'
  /// planes are padded, which a row's number alone does not say).
  ir::Expr row_at(ir::Expr row, int cc) const { return point_plane ? row_start(row / cc, row % cc, cc) : row * pitch; }
};

/// Whether an operand is staged in an array of its own half type: an f16 or bf16 U from the
/// weight transform, or V from the input transform, copied as it is (the mma rounds its operands
/// to that type anyway).
bool stages_half(const ir::Memory* operand);
/// Whether V is staged in halves: V from memory in f16 or bf16, or (GemmSource::image) the tiles
/// the kernel transforms, in the mma's half type where GemmTiles::half_v says so.
bool stages_half_v(const GemmTiles& g, GemmSource source, const ir::Memory* input);
/// Floats of the core's f32 work-group array: the copies of the operands not staged in halves.
int64_t f32_stage_floats(const GemmTiles& g, bool half_u, bool half_v);
/// Floats' worth of the arrays staged in halves (ChunkStager's "us" and "vs", and the tile ring's "xs").
int64_t half_stage_floats(const GemmTiles& g, bool half_u, bool half_v);
/// The most floats an exchange of the accumulators may take: the f32 area it reuses after the
/// GEMM, or what static memory allows; on tensor cores what the 96 KiB (or GemmTiles::shared_limit)
/// leave beside the operands and patches staged in halves; the tile ring's, lying over the
/// staging, the whole limit less the arrays kept apart from it (GemmTiles::kept_floats).
int64_t exchange_room_floats(const GemmTiles& g, bool half_u, bool half_v);

class ChunkStager {
 public:
  ChunkStager(ir::KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g, GemmCore& core,
              GemmSource source, const ir::Memory* input, const ir::Memory* u);
  const GemmTiles& tiles() const { return g_; }
  /// The threads that share the stager's work from now on, their ids from 0 (0: the GEMM's,
  /// GemmTiles::threads(); the ring's producer warpgroup where it has roles).
  void set_workers(int n) { workers_ = n; }
  int workers() const { return workers_ ? workers_ : g_.threads(); }
  const StagedOperand& a() const { return ops_[0]; }
  const StagedOperand& v() const { return ops_[1]; }
  int next_slots() const { return ops_[0].loads + ops_[1].loads; }

  /// Global -> registers (prefetch): the chunk starting at channel c0 into `next`.
  void fetch(const ir::Memory* next, ir::Expr tid, ir::Expr c0);
  /// Registers -> work-group memory copy `buf` (prefetch).
  void stash(const ir::Memory* next, ir::Expr tid, ir::Expr buf);
  /// Global -> work-group memory copy `buf` asynchronously (stages): 16-byte runs (4 floats, 8
  /// halves) where the rows allow (the tensor's columns and the staged rows multiples of the run),
  /// else single floats; throws wino::Error for a half operand whose rows do not allow them. A
  /// copy holds GemmTiles::staged_points() points from the work-group's `first_point` on.
  void issue_copies(ir::Expr tid, ir::Expr c0, ir::Expr buf, int first_point = 0);
  /// Global -> work-group memory directly (no prefetch): V (or transformed image tiles), then U
  /// (the tensor-core fused: U by asynchronous copies, in flight while the tiles transform).
  void stage(ir::Expr tid, ir::Expr c0);
  /// GemmTiles::patch_ring: the chunk's input patches into the ring's copy `buf` as
  /// [cc][alpha][alpha][bp], a float per copy, zeros past the image, the channels and the tiles
  /// (issue_copies copies U only).
  void issue_patch_copies(ir::Expr tid, ir::Expr c0, ir::Expr buf);
  /// GemmTiles::patch_ring: the patches in copy `buf` transformed into V's copy `buf`,
  /// Vs[cc][xi][bp] (zeros stay zeros: the copies filled them past the image and the chunk).
  void transform_patches(ir::Expr tid, ir::Expr buf);
  /// GemmTiles::bulk_u: waits until U's copy `buf` (and V's, bulk_v) has landed, the copy's
  /// `use`-th (from 0) since the kernel began (its barrier's phase). Thread 0 issues the copies (issue_copies) and sets up
  /// the barriers at the kernel's start (init_bulk_u; a work-group barrier before any other thread waits).
  void wait_bulk_u(ir::Expr buf, ir::Expr use);
  void init_bulk_u(ir::Expr tid);
  /// GemmTiles::tile_patch_ring: the chunk's input patches into the ring's copy `buf` as
  /// [alpha^2][bp][cc], by 16-byte copies of 8 channels of a pixel, zeros past the image, the
  /// channels and the tiles (tile_patch_ring.cpp).
  /// `pb`: the block of tiles (null: the core's; GemmTiles::persistent_groups: the next block's).
  void issue_tile_patches(ir::Expr tid, ir::Expr c0, ir::Expr buf, ir::Expr pb = {});
  /// GemmTiles::tile_patch_ring: the patches in copy `buf` transformed into V's copy `vbuf`,
  /// Vs[xi][bp][cc], two channels a thread (one 32-bit access for each pixel and each point), or
  /// where GemmTiles::transforms_by_mma on the tensor cores (transform_tile_patches_by_mma).
  void transform_tile_patches(ir::Expr tid, ir::Expr buf, ir::Expr vbuf);
  /// GemmTiles::transforms_by_mma: the transform's matrix into work-group memory, at the kernel's
  /// start (a work-group barrier before the first transform; nothing otherwise).
  void init_transform(ir::Expr tid);

 private:
  // issue_tile_patches where the tiles are a 2D block (GemmTiles::region): the block's input region
  // once, [h][w][cc] at the region's pitches (tile_patch_ring.cpp).
  void issue_region_patches(ir::Expr tid, ir::Expr c0, ir::Expr buf, ir::Expr pb);
  // transform_tile_patches on the tensor cores (mma_patch_transform.cpp): V = (B^T (x) B^T) x the
  // patch's 16 pixels, a tile's 16 channels a warp at a time, in two m16n8k16 mmas.
  void transform_tile_patches_by_mma(ir::Expr tid, ir::Expr buf, ir::Expr vbuf);
  const ir::Memory* transform_table_ = nullptr;  // GemmTiles::transforms_by_mma: B^T (x) B^T, kept
  const ir::Memory* transform_out_ = nullptr;    // and each lane's 8 values of the two mmas' D
  struct Element {
    ir::Expr row, col, ok;  // row in [points x cc]; ok: inside the chunk (null: always)
  };
  // Element e = i*T + tid of a chunk is (row e / width, column e % width), so neighbouring
  // threads read neighbouring addresses.
  Element element(const StagedOperand& op, int i, ir::Expr tid);
  /// The index of op[xi][c0 + ci][col0 + col] for element `el`, and whether it is inside the
  /// chunk and the tensor (null: always).
  std::pair<ir::Expr, ir::Expr> source(const StagedOperand& op, const Element& el, ir::Expr c0);
  /// op[xi][c0 + ci][col0 + col] for element `el`, zero past the tensor's ends.
  ir::Expr load(const StagedOperand& op, const Element& el, ir::Expr c0);
  void stage_elements(const StagedOperand& op, ir::Expr tid, ir::Expr c0);
  // issue_copies' V where it is stored V[xi][p][c] (GemmTiles::v_tile_major): [point][bp][cc] rows, each
  // tile at its staged row (staged_tile_row).
  void issue_tile_major_copies(ir::Expr tid, ir::Expr c0, ir::Expr buf);
  // A work-group with all alpha^2 points stages V a (channel, tile) pair at a time: the pair's
  // alpha^2 values come from the input tile, transformed here (image), or from V at constant
  // strides (transformed; fewer index operations than an element loop, which costs up to 1.5x
  // on layers with few tiles).
  void stage_tiles(ir::Expr tid, ir::Expr c0);
  // A work-group with one row of points (i alpha .. i alpha + alpha - 1, fused-input) computes only
  // that row of each tile's transform: B^T row i against the patch rows it needs, then the row
  // transform (a branch per row keeps the coefficients constant).
  void stage_point_row(ir::Expr tid, ir::Expr c0);
  // The chunk's (channel, tile) pairs, taken by the threads in turn: the pair's place in the chunk
  // (ci, pl), its channel and tile, and whether both exist.
  struct Pair {
    ir::Expr ci, pl, c, p, valid;
    ir::Expr row;  // where V by tiles stages tile pl (staged_tile_row)
  };
  void for_each_pair(ir::Expr tid, ir::Expr c0, const std::function<void(const Pair&)>& body);
  /// Threads a (channel, tile) pair of the chunk takes where the work-group has more threads than
  /// the chunk has `pairs` (up to alpha): each computes a band of V's rows (transform_band).
  int band_parts(int64_t pairs) const;
  /// Band `part` of `parts` of V's rows for one pair: the patch rows B^T's rows in the band read
  /// (pixel(k) for pixel k, `zero` for the others), then each row's transform, stored by
  /// store(point, value).
  void transform_band(int part, int parts, ir::Expr zero, const std::function<ir::Expr(int)>& pixel,
                      const std::function<void(int, ir::Expr)>& store);
  /// Vs[point][ci][pl] = value (by tiles: Vs[point][q.row][ci], the tile's staged row).
  void store_v(int point, const Pair& q, ir::Expr value);
  /// Vs[xi][...] = (B^T tile B)[xi] for every point xi of the pair's input tile.
  void store_transformed(const Pair& q, const std::vector<ir::Expr>& tile);

  // GemmTiles::bulk_u: U's chunk `c0 / cc` into copy `buf` by thread 0, one bulk copy on the
  // copy's barrier; with bulk_v, V's chunk too, on the same barrier.
  void issue_bulk_u(ir::Expr tid, ir::Expr c0, ir::Expr buf);
  const ir::Memory* u_barriers_ = nullptr;  // GemmTiles::bulk_u: one barrier for each copy of U (and V)

  int first_point_ = 0;  // of the copy being issued (issue_copies)
  int workers_ = 0;
  int64_t patch_base_ = 0;  // GemmTiles::patch_ring: the raw patches' copies in work-group memory, after V's
  /// Where channel ci's patches start in copy `buf` of the patch ring ([cc][alpha][alpha][bp], its
  /// rows and planes padded: GemmTiles::ring_patch_row, ring_patch_plane).
  ir::Expr ring_patches(ir::Expr buf, ir::Expr ci) const;
  const ir::Memory* patches_ = nullptr;  // GemmTiles::tile_patch_ring: the raw patches' copies, in the input's type
  ir::KernelBuilder& b_;
  const ConvDesc& d_;
  const Tiling& t_;
  const GemmTiles& g_;
  GemmCore& core_;
  GemmSource source_;
  const ir::Memory* input_;
  std::vector<StagedOperand> ops_;
};

}  // namespace wino::plans

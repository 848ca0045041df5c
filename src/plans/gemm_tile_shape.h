// The tile sizes of the Winograd GEMM core (gemm_core.h), one struct for every plan that uses it.
// A work-group owns a bk x bp block of M for `points` Winograd points (1: one GEMM per point, the
// unfused plan; alpha: one row of points, fused-input; alpha^2: every point of its tiles, fused
// and fused-output); input channels are consumed
// in chunks of cc; each thread accumulates an rk x rp register tile for each of its `ppt` points.
// The planner chooses them (planner/tile_choice.h); the plans check and use them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "ir/mma.h"

namespace wino::plans {

/// Floats of static work-group memory a kernel may take (48 KiB).
constexpr int64_t kSharedFloats = 48 * 1024 / 4;
/// Floats of work-group memory a GEMM with asynchronous copies (CUDA sm_80+) may take: 96 KiB,
/// which every such GPU lets a kernel opt in to (dynamic shared memory above 48 KiB).
constexpr int64_t kAsyncSharedFloats = 96 * 1024 / 4;

/// The tile ring's work-group tiles as one block of `rows` x `cols` tiles of one image
/// (GemmTiles::region): neighbouring tiles' input patches overlap, so the block's input region, h x w
/// pixels, is copied once instead of each tile's alpha x alpha patch (plans/patch_region.h).
struct PatchRegion {
  int cols = 0, rows = 0;  // tiles of the block (cols 0: bp consecutive tiles, each patch copied on its own)
  int h = 0, w = 0;        // pixels of the region: (rows - 1) m + alpha by (cols - 1) m + alpha
  int pixel_pitch = 0;     // halves from a pixel's channels to the next pixel's: cc and padding
  int row_pitch = 0;       // halves from one region row to the next
  // The transform's threads take staged row r ^ ((r & 1) << swap_bit) for their r = pair / (cc / 2)
  // (0: r): a warp's two rows keep their parities (V's stores in both halves of the banks) and
  // may read patches in other banks (patch_region's choice).
  int swap_bit = 0;
  int64_t elements() const { return int64_t{h} * row_pitch; }
  /// The staged row the transform's thread row `r` (an int or an ir::Expr, >= 0) takes.
  template <class Index>
  Index swapped_row(Index r) const {
    if (!swap_bit) return r;
    const int bit = 1 << swap_bit;
    return r + r % 2 * bit - r % 2 * (r / bit % 2 * (2 * bit));  // odd r: bit set, cleared where it was
  }
  /// Where tile `pl` of the block (an int or an ir::Expr) starts in the region, for tiles of m x m.
  template <class Index>
  Index tile_offset(Index pl, int m) const {
    return pl / cols * (m * row_pitch) + pl % cols * (m * pixel_pitch);
  }
  bool operator==(const PatchRegion&) const = default;
};

/// Where element (row, ch) of U's point block (or V's, where the ring transforms by mma), staged
/// in halves for warpgroup mmas (GemmTiles::async_mma), lies in its `rows` rows x the chunk's
/// channels: core matrices of 8 rows x 8 channels (128 contiguous bytes), rows' groups first
/// (ir::SharedMatrix: rows_stride 64, depth_stride 8 rows). Of an ir::Expr or a known int64_t.
template <class Index>
Index core_matrix_offset(Index row, Index ch, int64_t rows) {
  return ch / 8 * (rows * 8) + row / 8 * 64 + row % 8 * 8 + ch % 8;
}

struct GemmTiles {
  int points = 1;  // Winograd points per work-group: 1, alpha (a row: fused-input) or alpha^2
  int bk = 0, bp = 0, rk = 0, rp = 0, cc = 0;
  int ppt = 1;            // points per thread; divides `points`
  bool prefetch = false;  // the next chunk's global loads in flight while this one is multiplied
  // Asynchronous copies (cp.async, CUDA): a ring of `stages` copies of the chunk, the next
  // stages - 1 chunks in flight while one is multiplied (0: none; excludes `prefetch`). The fused
  // plan's ring (patch_ring) has `stages` (2) copies each of U, of the input patches and of V; the
  // tensor-core fused's (tile_patch_ring) 2 copies of the input patches, and one of U and V, or two
  // with `double_operands`.
  int stages = 0;
  // The tile ring with two copies of U and V: one barrier a chunk, the mma of chunk k in the same
  // step as the transform of chunk k + 1 and the copies of U (k + 1) and the patches (k + 2)
  // (plans/gemm_core.cpp: pipeline_tile_patches; planner: widen_tile_ring). On warpgroup mmas
  // (async_mma) chunk k's run on the tensor cores while the threads transform chunk k + 1
  // (tile_ring_block_overlapped; planner: overlap_warpgroup_ring, and persistent as staged once).
  bool double_operands = false;
  // Tensor cores: each warp multiplies with `mma` (ir/mma.h), and a thread's rk x rp accumulators
  // are its parts of (rk / 2) x (rp / 2) tiles of 16 x 8 (a warp covers 8 rk x 4 rp of the block).
  std::optional<ir::MmaKind> mma = std::nullopt;
  // Points of each staged copy of a chunk (0: all of the work-group's). Tensor-core fused-output
  // holds all alpha^2 points in each thread but stages them a group at a time, so that a ring of
  // copies fits work-group memory: the ring's steps are (chunk, point group) pairs.
  int stage_points = 0;
  // Tensor cores in f16 or bf16: U (half_u) and V (half_v) are stored and staged in the mma's
  // type, half the bytes of floats (plans::u_storage_type, v_storage_type; the planner sets them
  // where K and the tiles are multiples of 8, so that 16-byte copies stay inside rows). The
  // unfused GEMM's M too (half_m, m_storage_type; half tensors or bf16): its sums rounded to that type.
  // The tensor-core fused has no V in memory: half_v says it transforms its tiles into halves in
  // work-group memory, whatever the tiles.
  bool half_u = false, half_v = false, half_m = false;
  // A half V of a channels-last layer (C a multiple of 8) kept as V[xi][p][c], each tile's
  // channels together, as the NHWC input transform writes them without turning its block around;
  // the GEMM stages [point][bp][cc] rows by 16-byte copies of 8 channels and loads B's fragments
  // by ldmatrix, untransposed (plans::choose_half_operands). Else V[xi][c][p]. The tensor-core
  // fused in f16 and bf16 stages its transformed tiles so, [point][bp][cc], whatever the layout
  // and C (in tf32 and 3xtf32 as floats, [point][cc][bp]).
  bool v_tile_major = false;
  // CPU-shaped (plans unfused, fused and direct on a CPU, cpu_unfused.h): one thread per
  // work-group, bp x bk accumulators held as bp rows of bk / lanes vectors of `lanes` floats (0:
  // the GPU-shaped core).
  int lanes = 0;
  int group_tiles = 0;  // CPU fused: tiles a work-group carries through all three stages (a multiple of bp)
  // Work-groups per multiprocessor the kernel asks CUDA to fit (fused's rings: patch_ring,
  // tile_patch_ring; the unfused GEMM with bulk_v; 0: no bound): ptxas then caps each thread's
  // registers at the multiprocessor's share.
  int groups_per_core = 0;
  // Floats of work-group memory the kernel may take on the device it is planned for (0: 96 KiB):
  // the tile ring's exchange takes what its work-groups' share of the multiprocessor leaves beside
  // the staging (planner/tile_choice.cpp: use_tile_patch_ring, widen_tile_ring).
  int64_t shared_limit = 0;
  // The tile ring's tiles as a 2D block whose patches are copied as one region (cols 0: a run of
  // bp consecutive tiles; planner/tile_choice.cpp: choose_patch_region).
  PatchRegion region{};
  // U's chunk by one bulk copy (CUDA sm_90: cp.async.bulk, landing on a barrier in work-group
  // memory) instead of every thread's 16-byte copies, from U stored as its staged copies
  // (plans::staged_weights): the tensor-core fused ring (whose time they were a quarter of on the
  // H100, session 52) and the unfused GEMM, where plans::takes_bulk_u.
  bool bulk_u = false;
  // V's chunk by one bulk copy as well (the unfused tensor-core GEMM with bulk_u and V by tiles in
  // halves, plans::takes_bulk_v): V stored as its staged copies, unpadded, 16-byte runs rotated
  // within each row so that ldmatrix's 8 rows still hit distinct banks (plans::bulk_v_index), or
  // for warpgroup mmas (async_mma) swizzled as they read them (plans::swizzled_v_offset).
  bool bulk_v = false;
  // The tile ring's work-groups launched (0: one a block): each runs blocks gid, gid + n, ..., and
  // the next block's first patches land while the one before exchanges its accumulators and
  // transforms them out (plans/gemm_core.cpp: pipeline_tile_patches; planner: persist_tile_ring).
  int persistent_groups = 0;
  // A persistent ring's U left in its copies from the work-group's first block on, where they hold
  // U's whole block (one block of output channels, at most as many chunks as copies): U is then
  // kept apart from the exchange, and the later blocks copy and wait for none of it (plans::
  // takes_resident_u; planner: persist_tile_ring).
  bool resident_u = false;
  // The multiplies as warpgroup matrix ops from work-group memory (ir::StmtKind::mma_async, CUDA
  // sm_90 wgmma; plans::takes_async_mma): the tile ring's (planner: widen_tile_ring) or the
  // unfused GEMM's with V by bulk copies (planner: mma_point_tiles). A warpgroup's 4 warps hold
  // its points' whole block, 16 rows a warp, U is staged unpadded in core matrices
  // (core_matrix_offset) and V in swizzled rows (plans::swizzled_v_offset), or in core matrices
  // where the ring transforms on the tensor cores (transforms_by_mma): no fragment loads.
  bool async_mma = false;
  // The warpgroup ring's input transform on the tensor cores where it can (transforms_by_mma;
  // planner: where PlanOptions::mma_transform asks and plans::takes_mma_transform allows; kernel
  // names "_tm").
  bool mma_transform = false;
  // Warps with roles (ir::StmtKind::roles; kernel names "_wr"): a producer warpgroup past the
  // GEMM's threads. In the warpgroup ring (planner: where PlanOptions::warp_roles asks) it copies
  // and transforms the patches into V's copies; in the unfused warpgroup GEMM (PlanOptions::
  // gemm_roles) it issues the chunks' bulk copies into a ring of `stages` copies. The GEMM's
  // warpgroups multiply them and run the sink.
  bool warp_roles = false;
  static constexpr int kRoleProducers = 128;
  int threads() const { return lanes ? 1 : (points / ppt) * (bk / rk) * (bp / rp); }
  /// The work-group's threads: the GEMM's, and the producers where it has roles.
  int kernel_threads() const { return threads() + (warp_roles ? kRoleProducers : 0); }
  int staged_points() const { return stage_points ? stage_points : points; }
  /// CPU-shaped: whether the block's bk / lanes vectors of U fit in vector registers beside its
  /// accumulators and a broadcast (AVX-512 has 32, AVX2 16). Else compilers fold U's loads into
  /// the FMAs, and the loads cap the micro-kernel (bk 32 x bp 3 on AVX2 ran 1.3-1.6x slower than
  /// 16 x 6 or 24 x 4, which keep U in registers).
  bool cpu_u_in_registers() const { return bp * (bk / lanes) + bk / lanes + 1 <= (lanes >= 16 ? 32 : 16); }
  /// Part of the kernel name: "bk128_bp128_r8x8_c8", with "_p9" when a work-group has all points,
  /// "_s3" with asynchronous copies ("_q4" staging 4 points at a time) and "_tf32" (the mma's
  /// operands) on tensor cores.
  std::string str() const;
  /// Padding of each staged float row: a tensor-core warp's fragment reads then hit distinct banks
  /// (a half operand's rows take 8 halves: ChunkStager).
  int pad() const { return !mma ? 0 : ir::mma_is_tf32(*mma) ? 8 : 4; }
  /// Elements from one staged row of `width` columns to the next: a half operand's rows are padded
  /// by 8 (16 bytes: the copies stay aligned; a half-warp's 8-byte fragment reads from rows 2t
  /// apart then hit distinct banks), float rows by pad(). (V by bulk copies is not: v_pitch.)
  int row_pitch(int width, bool half) const { return async_mma ? width : width + (half ? 8 : pad()); }
  /// Elements (halves or floats) of one staged copy of U's chunk, [points][cc][bk] rows.
  int64_t u_copy_elements(bool half) const {
    return patch_ring() ? int64_t{points} * ring_u_point() : int64_t{staged_points()} * cc * row_pitch(bk, half);
  }
  /// Elements of one point's block of V's staged chunk: [cc][bp] rows or [bp][cc] (by tiles), and
  /// point_stagger() past them.
  int64_t v_point_elements(bool half) const { return int64_t{v_tile_major ? bp : cc} * v_pitch(half) + point_stagger(); }
  /// Elements of one staged copy of V's chunk: [points][cc][bp] rows, or [points][bp][cc] (by tiles),
  /// each point's block v_point_elements (by mma: in core matrices, plans::v_async_matrix); the
  /// patch ring's [cc][points][bp], each channel's plane ring_v_plane.
  int64_t v_copy_elements(bool half) const {
    return patch_ring() ? cc * ring_v_plane() : staged_points() * v_point_elements(half);
  }
  /// Elements from one staged row of V to the next (bulk_v: unpadded, a chunk's cc channels).
  int v_pitch(bool half) const { return bulk_v ? cc : row_pitch(v_tile_major ? cc : bp, half); }
  /// Floats of work-group memory one copy of the staged chunk takes (halves count half; V by
  /// tiles is always in halves).
  int64_t chunk_floats() const {
    const bool v_half = half_v || v_tile_major;
    return u_copy_elements(half_u) / (half_u ? 2 : 1) + v_copy_elements(v_half) / (v_half ? 2 : 1);
  }
  /// Whether a warp loads B's (V's) fragments with load_matrix (GemmCore::b_matrix_loads).
  bool b_matrix_loads() const {
    return mma && !ir::mma_is_tf32(*mma) && half_v && (v_tile_major || (rp / 2) % 2 == 1);
  }
  /// Tensor cores with a work-group's points split over its warps, ppt a warp (the tensor-core fused).
  bool points_split_over_warps() const { return mma && ppt < points; }
  /// The tensor-core fused with a ring of raw input patches (f16 or bf16 channels-last input, C a
  /// multiple of 8): `stages` (2) copies of a chunk's patches, [alpha^2][bp][cc] in the input's
  /// type, copied by 16-byte runs of a pixel's channels; U and V staged once, or twice with
  /// double_operands (ChunkStager::issue_tile_patches, transform_tile_patches).
  bool tile_patch_ring() const { return stages && mma && ppt < points; }
  /// The tile ring with U and V in halves (no float32 staging): its exchange after the GEMM lies
  /// over the staging (ir::Memory::reuses) and may take all the work-group's memory.
  bool exchange_over_staging() const { return tile_patch_ring() && half_u && half_v; }
  /// The tile ring on warpgroup mmas with 2D blocks transforms its patches on the tensor cores, a
  /// warp a tile's 16 channels at a time (ChunkStager::transform_tile_patches_by_mma): 16 points
  /// (alpha 4), chunks of 16-channel groups, the block's tiles shared evenly by the warps.
  bool transforms_by_mma() const {
    return mma_transform && tile_patch_ring() && async_mma && region.cols && points == 16 && cc % 16 == 0 &&
           bp % (threads() / 32) == 0;
  }
  /// Halves past each point's block of V (v_point_elements): 8 where the transform is by mma,
  /// whose lanes store 8 points at once, so that their 16 bytes fall in distinct banks.
  int point_stagger() const { return transforms_by_mma() ? 8 : 0; }
  /// Floats of the transform by mma's matrix (B^T (x) B^T, 16 x 16 halves) in work-group memory.
  int64_t transform_table_floats() const { return transforms_by_mma() ? 128 : 0; }
  /// Halves of one copy of the tile ring's patches: each tile's, or the block's region.
  int64_t tile_patch_elements() const { return region.cols ? region.elements() : int64_t{points} * bp * cc; }
  /// Floats' worth of work-group memory all the tile ring's copies of the patches take.
  int64_t tile_patch_floats() const { return stages * tile_patch_elements() / 2; }
  /// Floats of work-group memory kept apart from the tile ring's exchange: the next block's patches
  /// (persistent_groups), a resident U and the transform's matrix.
  int64_t kept_floats() const {
    return (persistent_groups ? tile_patch_floats() : 0) + (resident_u ? copies() * u_copy_elements(true) / 2 : 0) +
           transform_table_floats();
  }
  /// Copies of the staged chunk: the stages, two when prefetching, else one (the tile ring's
  /// stages are its patches'; it stages U and V once or, with double_operands, twice).
  int copies() const { return tile_patch_ring() ? (double_operands ? 2 : 1) : stages ? stages : prefetch ? 2 : 1; }
  /// The FMA GEMM of all points with a ring (plan fused): `stages` (2) copies each of U, of a
  /// chunk's raw input patches and of their transforms V, patches [cc][alpha][alpha][bp] and V
  /// [cc][alpha^2][bp], their rows and planes padded (ring_v_plane, ring_patch_row,
  /// ring_patch_plane; ChunkStager::issue_patch_copies, transform_patches).
  bool patch_ring() const { return stages && !mma && points > 1; }
  /// The patch ring's elements from one channel's plane of V ([alpha^2][bp]) to the next, from one
  /// row of a channel's patches ([alpha][bp]) to the next, and from one channel's patches to the
  /// next. Where a block has fewer than 32 tiles, a warp's lanes span 32 / bp channels' planes
  /// (the transform's pairs) or patch rows (the copies); each plane and row is padded to bp banks
  /// past a multiple of 32, so that neighbouring ones fill distinct banks (unpadded, 2-way
  /// conflicts at bp = 16: session 67). Patch rows on either side of a channel's last row still
  /// share banks where a warp's rows cross it (odd alpha, or bp = 8).
  int64_t ring_v_plane() const { return spread_banks(int64_t{points} * ring_v_row()); }
  /// Where a half-warp spans two points (8 x 8 register tiles over 32 x 16 or 16 x 32, a point a
  /// thread: 8 threads a point), the second point's operand rows start 16 banks past the first's, so that their
  /// 16-byte loads (by half-warps) fill distinct banks (unpadded, 2-way conflicts on the H100's U:
  /// session 68): the patch ring's floats from one point's rows of U ([cc][bk]) to the next, and
  /// from one point's row of V ([bp]) to the next.
  bool half_warp_spans_points() const { return ppt == 1 && rk > 0 && rp > 0 && (bk / rk) * (bp / rp) == 8; }
  int64_t ring_u_point() const {
    const int64_t rows = int64_t{cc} * bk;
    return half_warp_spans_points() ? pad_to_bank(rows, 16) : rows;
  }
  int ring_v_row() const { return half_warp_spans_points() && bp % 32 == 0 ? bp + 16 : bp; }
  int64_t ring_patch_row() const { return spread_banks(int64_t{ring_alpha()} * bp); }
  int64_t ring_patch_plane() const { return spread_banks(ring_alpha() * ring_patch_row()); }
  int ring_alpha() const {
    int a = 1;
    while ((a + 1) * (a + 1) <= points) ++a;
    return a;
  }
  int64_t spread_banks(int64_t elements) const { return bp < 32 && 32 % bp == 0 ? pad_to_bank(elements, bp) : elements; }
  /// `elements` (floats) padded to the least count that is `bank` banks past a multiple of 32.
  static int64_t pad_to_bank(int64_t elements, int64_t bank) { return elements + ((bank - elements) % 32 + 32) % 32; }
  /// Floats of work-group memory the staged chunks take.
  int64_t stage_floats() const {
    if (patch_ring()) return int64_t{stages} * (int64_t{points} * ring_u_point() + cc * (ring_v_plane() + ring_patch_plane()));
    if (tile_patch_ring()) return copies() * chunk_floats() + tile_patch_floats() + transform_table_floats();
    return copies() * chunk_floats();
  }
  /// Floats of work-group memory the staged chunks may take: the opt-in 96 KiB where the kernel
  /// copies asynchronously or runs on tensor cores (both CUDA sm_80+), or the device's shared_limit.
  int64_t stage_limit() const { return stages || mma ? std::max(shared_limit, kAsyncSharedFloats) : kSharedFloats; }
};

}  // namespace wino::plans

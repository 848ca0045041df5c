// Helpers shared by the plan builders: tiling arithmetic and the layout of the tensors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "plans/gemm_tile_shape.h"
#include "plans/output_sink.h"
#include "plans/program_builder.h"
#include "transforms/winograd.h"

namespace wino::plans {

/// The Winograd tiling of a convolution's output.
struct Tiling {
  int m = 0, r = 0, alpha = 0;
  int64_t tiles_h = 0, tiles_w = 0, tiles = 0;  // tiles = N * tiles_h * tiles_w
  WinogradTransforms t;
};
Tiling make_tiling(const ConvDesc& d, int m);

/// Checks every element count of a program fits the 32-bit index arithmetic of the kernels (the
/// advice depends on the batch of `d`).
void check_index_range(const std::string& plan, const ConvDesc& d, int64_t elements);

/// What the transforms store for the GEMM: float32 values, or float32 values rounded to tf32, which
/// a tf32 tensor-core GEMM then takes without converting them (the same numbers: the mma rounds
/// its operands so anyway).
enum class StoredValues { f32, tf32 };
/// tf32 for the GEMM tiles of a tf32 mma, else f32.
StoredValues gemm_operand_values(const GemmTiles& g);
/// `v` as `values` says it is stored.
ir::Expr as_gemm_operand(ir::Expr v, StoredValues values);
/// Sets GemmTiles::half_u and half_v: the unfused plan (and the tensor-core fused-output) store U
/// and V in the f16 or bf16 of an mma of that type (which rounds its operands so anyway: half the
/// bytes, the same numbers) where their rows, K output channels and P tiles, are multiples of 8,
/// so that every 16-byte run of a row is inside it (the GEMM stages them by 16-byte copies). And
/// half_m: the unfused GEMM's M in that type too (its sums rounded once more) where V is, for half
/// tensors or a bf16 mma (an fp16 M of float32 tensors could overflow where y would not). And
/// v_tile_major: a half V of a channels-last layer whose C is a multiple of 8 as V[xi][p][c].
/// The tensor-core fused (points split over warps) stages its transformed tiles in halves by
/// tiles, [point][bp][cc], and U in halves where K is a multiple of 8.
void choose_half_operands(GemmTiles& g, const ConvDesc& d, const Tiling& t);
/// The type V is stored in (GemmTiles::half_v; an error where the tiles do not allow it).
ir::Type v_storage_type(const GemmTiles& g, const Tiling& t);
/// The type U is stored in (GemmTiles::half_u; an error where K does not allow it).
ir::Type u_storage_type(const GemmTiles& g, const ConvDesc& d);
/// The type the unfused GEMM stores M in (GemmTiles::half_m; an error where the tiles do not allow it).
ir::Type m_storage_type(const GemmTiles& g, const Tiling& t);

/// A kernel that set_weights runs on the weights g[k][c][r][r], one thread per (k < K, c),
/// neighbouring threads on neighbouring k: `body` gets g[k][c]'s r * r taps (zeros for k >= d.k,
/// where K pads the output channels) and stores what it makes of them in `out`.
using FilterBody = std::function<void(ir::KernelBuilder& b, const ir::Memory* out, ir::Expr k, ir::Expr c,
                                      const std::vector<ir::Expr>& taps)>;
std::unique_ptr<ir::Kernel> filter_kernel(ProgramBuilder& prog, const Tiling& t, const std::string& stage,
                                          int64_t K, BufferHandle out, const FilterBody& body);

/// Declares U[xi][c][k] and the weight-transform kernel set_weights runs to make it from the
/// weights (every Winograd plan); rows of `k_pitch` >= K elements (0: K), zeros past K. With a
/// `k_block` dividing k_pitch, U[xi][k / k_block][c][k % k_block]: panels of k_block output
/// channels, each one contiguous stream for a CPU GEMM that walks it. U is stored in `type`
/// (u_storage_type), its values narrowed on the store.
BufferHandle transformed_weights(ProgramBuilder& prog, const Tiling& t, int64_t k_pitch = 0, int64_t k_block = 0,
                                 StoredValues values = StoredValues::f32, ir::Type type = ir::Type::f32);

/// Declares U stored as the GEMM's staged copies of it, one after another, and its weight-transform
/// kernel (GemmTiles::bulk_u): [alpha^2 / n][K / bk][C / cc][n][cc][row_pitch(bk)] values in `type`
/// for copies of n = staged_points() points (the group of points, the block of output channels,
/// the chunk, then the copy's rows, their padding zeros), so that each copy of U is one contiguous
/// run; for warpgroup mmas (GemmTiles::async_mma) each point's [cc][bk] unpadded, in core matrices
/// (core_matrix_offset). Throws unless the tiles take it (plans::takes_bulk_u).
BufferHandle staged_weights(ProgramBuilder& prog, const Tiling& t, const GemmTiles& g, ir::Type type,
                            StoredValues values);

/// Work-groups of `threads` that a transform kernel (memory-bound: it needs many warps in flight)
/// asks a CUDA GPU's compiler to fit on one multiprocessor of 64 K registers: as many as leave each
/// thread 2.5 registers per Winograd point and 24 more (the points it holds, the patch it loads),
/// at most 64 up to alpha 6, and at most 6 groups. On the H200 (NHWC f16, work-groups of 128
/// threads) 4-5 groups made F(4,3)'s transforms 6-11% faster than 1, 8 made F(2,3)'s output
/// transform slower and 3 made F(6,3)'s input transform spill; the NHWC kernels' 256 threads get
/// 4, 4 and 1 at alpha 4, 6 and 8 (alpha 6 took 2 until session 34: 5-9% slower). A thread of
/// `lanes` channels holds lanes - 1 more values a point: the input transform into V by tiles with 4
/// channels a thread gets 2 at alpha 4.
int transform_groups_per_multiprocessor(const Tiling& t, int threads, int lanes = 1);

/// Divides with rounding up.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Integer range test lo <= x < hi as an IR boolean.
inline ir::Expr in_range(ir::Expr x, int64_t lo, int64_t hi) {
  ir::Context& c = x.ctx();
  return ir::logical_and(ir::le(c.i32(lo), x), ir::lt(x, c.i32(hi)));
}

/// Coordinates (image, tile row, tile column) of tile index p.
struct TileCoords {
  ir::Expr n, th, tw;
};
TileCoords tile_coords(ir::KernelBuilder& b, ir::Expr p, const Tiling& t);

/// Where channel `ch` of image `n` starts in an N x channels x pixels tensor of the convolution's
/// layout (NCHW: a plane; NHWC: the first pixel's element), and the step from one pixel (h * W +
/// w) to the next.
ir::Expr image_base(Layout layout, ir::Expr n, ir::Expr ch, int64_t channels, int64_t pixels);
inline int64_t pixel_step(Layout layout, int64_t channels) { return layout == Layout::nhwc ? channels : 1; }
/// The step from one channel to the next in that layout (`pixels` = H * W).
inline int64_t channel_step(Layout layout, int64_t pixels) { return layout == Layout::nchw ? pixels : 1; }

/// Loads the alpha x alpha input patch of tile (n, th, tw), channel c, with zero padding; `valid`
/// masks every load (tiles or channels past the end of a block). With `rows`, only the patch rows
/// it marks are loaded (the others are 0). With `lanes` > 1 (channels last, c and C multiples of
/// it), each pixel's channels c .. c + lanes - 1 as one aligned vector load.
std::vector<ir::Expr> load_input_tile(ir::KernelBuilder& b, const ir::Memory* x, const ConvDesc& d,
                                      const Tiling& t, const TileCoords& tc, ir::Expr c,
                                      ir::Expr valid = {}, const std::vector<bool>& rows = {}, int lanes = 1);

/// Stores an m x m output tile of channel k with the image-edge masks (and the epilogue).
void store_output_tile(ir::KernelBuilder& b, const OutputSink& y, const ConvDesc& d,
                       const Tiling& t, const TileCoords& tc, ir::Expr k,
                       const std::vector<ir::Expr>& values);

/// The unfused plan's element-wise kernels, reused by the partially fused plans.
/// Input: V[xi][c][p] = (BT d B)[xi], or V[xi][p][c] with `tile_major` (GemmTiles::v_tile_major:
/// channels-last x, a thread per (tile, channel), neighbouring threads on neighbouring channels,
/// so x and V both move in runs of a pixel's channels), stored as the GEMM's staged copies where
/// `staged` says so (GemmTiles::bulk_v: plans::bulk_v_index, zeros for the tiles past P of the last
/// block); output: y = AT M A from M[xi][k][p].
std::unique_ptr<ir::Kernel> input_transform_kernel(const ProgramBuilder& prog, const Tiling& t, int threads,
                                                   BufferHandle v, StoredValues values = StoredValues::f32,
                                                   bool tile_major = false, const GemmTiles* staged = nullptr);
std::unique_ptr<ir::Kernel> output_transform_kernel(const ProgramBuilder& prog, const Tiling& t,
                                                    int threads, BufferHandle mm);
/// The same for NHWC x and y on a GPU (the two above call them; 256 threads whatever `threads`
/// says): blocks of 16 channels x 16 tiles turned around in work-group memory, so that x, y and V,
/// M are all read and written in runs (nhwc_transforms.cpp).
std::unique_ptr<ir::Kernel> input_transform_nhwc_kernel(const ProgramBuilder& prog, const Tiling& t, BufferHandle v,
                                                        StoredValues values);
std::unique_ptr<ir::Kernel> output_transform_nhwc_kernel(const ProgramBuilder& prog, const Tiling& t,
                                                         BufferHandle mm);
/// The NCHW output transform with its stores in runs of pixels (nchw_output.cpp): `threads`
/// tiles of one channel per work-group, turned around in work-group memory; used by
/// output_transform_kernel where that memory fits and a channel has that many tiles
/// (turned_output_fits).
bool turned_output_fits(const Tiling& t, int threads);
std::unique_ptr<ir::Kernel> output_transform_turned_kernel(const ProgramBuilder& prog, const Tiling& t, int threads,
                                                           BufferHandle mm);


Program build_direct(const ConvDesc& d, const PlanOptions& o);
Program build_unfused(const ConvDesc& d, const PlanOptions& o);
Program build_fused_input(const ConvDesc& d, const PlanOptions& o);
Program build_fused_output(const ConvDesc& d, const PlanOptions& o);
Program build_fused(const ConvDesc& d, const PlanOptions& o);
Program build_naive_fused(const ConvDesc& d, const PlanOptions& o);

}  // namespace wino::plans

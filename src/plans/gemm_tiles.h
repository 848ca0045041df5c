// The limits every GEMM tile choice must meet, checked by the plans that take one (the planner
// chooses the tiles: planner/tile_choice.h).
#pragma once

#include <array>
#include <string>

#include "plans/gemm_tile_shape.h"
#include "plans/plan_common.h"

namespace wino::plans {

/// The tiles a GEMM plan was given (PlanOptions::gemm); throws wino::Error when the planner has
/// not resolved them (build through planner::resolve_plan).
const GemmTiles& given_tiles(const PlanOptions& o);

/// Whether `g` may take U's chunks by bulk copies (GemmTiles::bulk_u): U staged through a ring, in
/// the tensor-core fused ring or the unfused tensor-core GEMM, C a multiple of the chunk and K of
/// the block (so U's copies carry no zeros past K: 64 output channels in blocks of 128 took
/// vgg16.1_2.b8's fp16 GEMM from 186 to 200 us, H100, session 52).
bool takes_bulk_u(const GemmTiles& g, const ConvDesc& d);

/// Whether each thread's points are one whole row of the alpha x alpha grid (the warpgroup ring:
/// GemmTiles::async_mma), so that the exchange can carry rows already transformed.
bool rows_exchanged(const GemmTiles& g, const Tiling& t);
/// Planes of bk rows the exchange after the GEMM stores (plans::exchange): alpha^2 points, or ppt
/// m where rows_exchanged.
int64_t exchange_planes(const GemmTiles& g, const Tiling& t);

/// Whether the persistent warpgroup ring `g` may keep U resident (GemmTiles::resident_u): U by bulk
/// copies in halves, two copies of U and V, one block of output channels (every block a work-group
/// runs has the same U) and no more chunks of channels than copies (U's whole block fits them).
bool takes_resident_u(const GemmTiles& g, const ConvDesc& d);

/// Whether the warpgroup ring may transform its patches on the tensor cores
/// (GemmTiles::mma_transform): its shape allows it (transforms_by_mma with the flag set), the
/// input is in the mma's own half type (the patches' bits are its operands), and each warp's units
/// lie at the same offsets from its first in every warp (ChunkStager::transform_tile_patches_by_mma).
bool takes_mma_transform(const GemmTiles& g, const ConvDesc& d, const Tiling& t);
/// Where unit `unit` of a chunk of the transform by mma lies: its offset in a copy of the patches'
/// region `r` (tiles of m x m) and in a point's block of V (staged row unit / (cc / 16), 16 channels).
std::array<int64_t, 2> mma_transform_unit(const GemmTiles& g, const PatchRegion& r, int m, int64_t unit);

/// Whether the unfused tensor-core GEMM with U by bulk copies may take V's chunks so too
/// (GemmTiles::bulk_v): V by tiles in halves, loaded by ldmatrix, chunks of 16 to 64 channels, C a
/// multiple of the chunk and blocks of whole groups of 32 tiles (staged_tile_row's runs).
bool takes_bulk_v(const GemmTiles& g, const ConvDesc& d);

/// Whether the multiplies may be warpgroup mmas (GemmTiles::async_mma): the tile ring's, or the
/// unfused GEMM's with V by bulk copies (bulk_v, V stored swizzled), U by bulk copies and V in
/// halves of f16 or bf16 (what the tensor cores read is what is staged), each warpgroup's 4 warps
/// over the block's 64 rows (16 a warp) and all its bp tiles (an mma_async's n), chunks of 16 or
/// 32 channels (V's rows a swizzle's 32 or 64 bytes), or 64 in the unfused GEMM (128 bytes: the
/// ring's transform has not been run so).
bool takes_async_mma(const GemmTiles& g);

/// Where element (row, ch) of a point's block of V lies, staged for warpgroup mmas (async_mma):
/// rows of the chunk's cc halves, each row's 16-byte units (8 channels) xor'ed with (row cc / 64)
/// % (cc / 8), the swizzle of 2 cc bytes (ir::SharedMatrix): the transform's stores of two rows a
/// warp then hit every bank once, as rows padded by 8 did.
ir::Expr swizzled_v_offset(ir::Expr row, ir::Expr ch, int cc);

/// The matrices a warpgroup mma reads for k-step s of a point whose staged U and V start at `u`
/// and `v` (async_mma): U's bk rows in core matrices (core_matrix_offset), V's bp rows swizzled
/// (swizzled_v_offset), or in core matrices too where the ring transforms by mma
/// (GemmTiles::transforms_by_mma). The one place that turns those layouts into ir::SharedMatrix strides.
ir::SharedMatrix u_async_matrix(const GemmTiles& g, const ir::Memory* us, ir::Expr u, int s);
ir::SharedMatrix v_async_matrix(const GemmTiles& g, const ir::Memory* vs, ir::Expr v, int s);

/// Checks tiles for one GEMM per Winograd point (plan unfused); throws naming what to change.
void check_point_gemm_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan);

/// Checks tiles of a work-group holding all alpha^2 points (plans fused, fused-input,
/// fused-output; `all_points_per_thread` for fused-output).
void check_all_points_tiles(const GemmTiles& g, const Tiling& t, const std::string& plan, bool all_points_per_thread);

}  // namespace wino::plans

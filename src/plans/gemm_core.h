// The one GEMM core of the Winograd plans: M[xi][k][p] = sum_c U[xi][c][k] * V[xi][c][p], in the
// shape of a fast SGEMM. A work-group owns a bk x bp block of M for `points` Winograd points;
// chunks of cc input channels of U and V are staged in work-group memory, and each thread
// accumulates rk x rp register tiles for its points (gemm_tiles.h). A plan picks where V comes
// from (the source) and where the accumulators go (the sink); every Winograd plan's GEMM kernel
// is this one function with a source and a sink:
//
//   plan           source        sink
//   unfused        transformed   store_m
//   fused-input    image         store_m      (through an exchange: a work-group has a row of points)
//   fused-output   transformed   transform_in_registers
//   fused          image         transform_after_exchange
#pragma once

#include "plans/gemm_tiles.h"

namespace wino::plans {

/// Where the transformed input tiles V come from.
enum class GemmSource {
  transformed,  // V[xi][c][p] in memory, written by the input-transform kernel
  image,        // raw input tiles, transformed into work-group memory chunk by chunk
};

/// Where the accumulators go.
enum class GemmSink {
  store_m,                   // M[xi][k][p] in memory, for the output-transform kernel
  transform_in_registers,    // Y = AT M A on each thread's alpha^2 accumulators, then y
  transform_after_exchange,  // accumulators exchanged through work-group memory, then Y, then y
};

struct GemmStages {
  GemmSource source = GemmSource::transformed;
  GemmSink sink = GemmSink::store_m;
  BufferHandle u;      // U[xi][c][k] (transformed_weights)
  BufferHandle input;  // V for `transformed`, the image x for `image`
  BufferHandle mm;     // M for `store_m`
  // What the plan stored in U and V: tf32 values (gemm_operand_values, for tf32 mma tiles) go to
  // the tensor cores unconverted.
  StoredValues operands = StoredValues::f32;
};

/// The GEMM kernel of a Winograd plan. Throws wino::Error for a source, sink and tiles that do
/// not fit together (e.g. `image` needs all alpha^2 points in a work-group).
std::unique_ptr<ir::Kernel> gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                        const GemmStages& stages);


}  // namespace wino::plans

// The shared-memory GEMM core of the fused plans. A work-group owns `bp` tiles x `bk` output
// channels; input channels are consumed in chunks of `cc`: transformed inputs V and weights U of
// the chunk are staged in work-group memory, then each thread accumulates an rk x rp register
// tile of one Winograd point xi (threads = alpha^2 * bk/rk * bp/rp).
#pragma once

#include <functional>

#include "plans/plan_common.h"

namespace wino::plans {

struct FusedTiles {
  int bk = 0, bp = 0, rk = 0, rp = 0, cc = 0;
  int threads = 0;
  std::string str() const;  // "bk16_bp16_r4x4_c8": part of the kernel name
};

/// Tile sizes for F(m, r) (options override), checked against 1024 threads and 48 KiB of
/// work-group memory. Throws wino::Error for combinations that do not fit.
FusedTiles choose_fused_tiles(const Tiling& t, const PlanOptions& o, bool all_points_per_thread);

/// How a chunk of transformed inputs reaches work-group memory: from the image (transforming
/// in the kernel) or from a V[xi][c][p] buffer written by the input-transform kernel.
enum class InputSource { image, transformed };

/// Builds the GEMM over all channel chunks; the accumulators are left in `acc` (per thread:
/// rk*rp values of point xi = tid / (threads / alpha^2)). Returns the work-group memory array.
struct FusedGemm {
  const ir::Memory* smem = nullptr;
  const ir::Memory* acc = nullptr;
  ir::Expr kb, pb;  // block coordinates
};
FusedGemm build_fused_gemm(ir::KernelBuilder& b, const ConvDesc& d, const Tiling& t,
                           const FusedTiles& ft, InputSource source, const ir::Memory* input,
                           const ir::Memory* u);

/// Work-group count of a fused GEMM kernel.
int64_t fused_groups(const ConvDesc& d, const Tiling& t, const FusedTiles& ft);

}  // namespace wino::plans

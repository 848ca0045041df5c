// The shared-memory GEMM core of the fused plans. A work-group owns `bp` tiles x `bk` output
// channels and all alpha^2 Winograd points; input channels are consumed in chunks of `cc`:
// transformed inputs V and weights U of the chunk are staged in work-group memory, then each
// thread accumulates an rk x rp register tile for each of its `ppt` points. Threads =
// (alpha^2 / ppt) point groups x (bk/rk) x (bp/rp). ppt = alpha^2 keeps every point of a tile
// in one thread (the output transform then runs in registers: plan fused-output); fewer points
// per thread spread the chunk's input transform over more threads (plans fused, fused-input).
#pragma once

#include "plans/plan_common.h"

namespace wino::plans {

struct FusedTiles {
  int bk = 0, bp = 0, rk = 0, rp = 0, cc = 0, ppt = 0;
  int threads = 0;
  std::string str() const;  // "bk32_bp32_r4x4_c4_p9": part of the kernel name
};

/// Tile sizes for F(m, r) (options override), checked against 1024 threads and 48 KiB of
/// work-group memory. Throws wino::Error for combinations that do not fit.
FusedTiles choose_fused_tiles(const Tiling& t, const PlanOptions& o, bool all_points_per_thread);

/// How a chunk of transformed inputs reaches work-group memory: from the image (transforming
/// in the kernel) or from a V[xi][c][p] buffer written by the input-transform kernel.
enum class InputSource { image, transformed };

/// The register tile of one thread: point group, row and column block.
struct ThreadTile {
  ir::Expr group, kq, pq;
};

struct FusedGemm {
  const ir::Memory* smem = nullptr;  // work-group memory (staging area; reusable afterwards)
  int64_t smem_size = 0;
  const ir::Memory* acc = nullptr;   // per thread: ppt x rk x rp accumulators
  ir::Expr kb, pb;                   // block coordinates
  FusedTiles ft;

  ThreadTile tile(ir::KernelBuilder& b, ir::Expr tid) const;
  /// Winograd point of the thread's j-th point, block-local row of register row i, column of j.
  ir::Expr point(ir::KernelBuilder& b, const ThreadTile& tt, int j) const;
  ir::Expr row(ir::KernelBuilder& b, const ThreadTile& tt, int i) const;
  ir::Expr col(ir::KernelBuilder& b, const ThreadTile& tt, int j) const;
  int acc_index(int point, int i, int j) const { return (point * ft.rk + i) * ft.rp + j; }
};

/// Builds the GEMM over all channel chunks; the accumulators are left in `acc`.
FusedGemm build_fused_gemm(ir::KernelBuilder& b, const ConvDesc& d, const Tiling& t,
                           const FusedTiles& ft, InputSource source, const ir::Memory* input,
                           const ir::Memory* u);

/// Work-group count of a fused GEMM kernel.
int64_t fused_groups(const ConvDesc& d, const Tiling& t, const FusedTiles& ft);

}  // namespace wino::plans

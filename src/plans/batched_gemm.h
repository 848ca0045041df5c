// The batched GEMM of the Winograd plans: M[xi][k][p] = sum_c U[xi][c][k] * V[xi][c][p], one GEMM
// per Winograd point xi, in the classic shape of a fast SGEMM: a work-group owns a bk x bp block
// of M; chunks of cc input channels of U and V are staged in work-group memory, double-buffered
// (the next chunk's global loads are in flight while the current one is multiplied; one barrier
// per chunk); each thread accumulates an rk x rp register tile made of 4-wide runs, so its
// work-group memory reads are 16-byte aligned runs the compiler can vectorize.
#pragma once

#include "plans/plan_common.h"

namespace wino::plans {

struct GemmTiles {
  int bk = 0, bp = 0, rk = 0, rp = 0, cc = 0;
  int threads() const { return (bk / rk) * (bp / rp); }
  std::string str() const;  // "bk128_bp128_r8x8_c8": part of the kernel name
};

/// Tile sizes for a GEMM of K x C times C x P (per point); options override. Throws wino::Error
/// for sizes that are not multiples of the 4-wide runs or exceed 1024 threads or 48 KiB.
GemmTiles choose_gemm_tiles(int64_t K, int64_t P, const PlanOptions& o);

/// The GEMM kernel (buffers u, v, mm; U in WeightLayout::xi_c_k). `points` = alpha^2.
std::unique_ptr<ir::Kernel> batched_gemm_kernel(const ProgramBuilder& prog, const Tiling& t,
                                                const GemmTiles& g, BufferHandle u, BufferHandle v,
                                                BufferHandle mm);

}  // namespace wino::plans

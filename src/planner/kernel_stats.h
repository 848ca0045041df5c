// Static facts about a kernel before it runs: FLOPs and bytes (counted from the IR), and the
// register-pressure model: the most 32-bit values live at once over the emitted order.
#pragma once

#include <array>

#include <cstdint>

#include "ir/kernel.h"

namespace wino::planner {

struct KernelStats {
  int64_t ssa_values = 0;  // value-producing operations as rendered
  int64_t flops = 0;       // float operations executed by all threads (masked work included)
  int64_t mma_flops = 0;   // of which on tensor cores (mma statements)
  int64_t vector_flops = 0;  // of which in vector operations (lanes > 1)
  int64_t mma_tf32_flops = 0;  // the same in tf32 time: x3 for tf32x3, x0.5 for f16 and bf16
  // Of those, the warp mmas of a kernel whose GEMM is on warpgroup mmas: the tile ring's transform
  // (plans::GemmTiles::transforms_by_mma), two mmas a tile's ldmatrix of pixels with A loaded once
  // a step, charged at the tensor cores' peak rather than a GEMM's (DeviceCaps::tf32_gflops).
  int64_t peak_mma_tf32_flops = 0;
  int64_t bytes = 0;       // global bytes loaded and stored by all threads (masked included)
  int64_t stored_bytes = 0;  // of which stored
  int64_t shared_bytes = 0;  // work-group memory bytes loaded and stored by all threads
  int64_t mma_async_shared_bytes = 0;  // of which warpgroup mmas read (no thread's instruction does)
  int64_t barriers = 0;      // barriers each work-group passes (loop trips included)
  int64_t mma_chains = 0;    // the most accumulators one run of mma statements interleaves
  // Per-thread arrays indexed at run time live in memory, not registers (a CPU's stack, a GPU's
  // local memory): their bytes per thread.
  int64_t local_bytes = 0;
  int max_live = 0;        // most simultaneously live 32-bit values in one thread
  int pred_regs = 0;       // predicted registers per thread: max_live + addressing overhead
  // Kernels with warps with roles (ir::StmtKind::roles): pred_regs over the producers' loop and
  // over the consumers' (what each role's threads need; a roles statement's role_registers).
  std::array<int, 2> role_pred_regs{};
};

/// Analyzes a kernel in the evaluation order of ir::plan_values.
KernelStats analyze(const ir::Kernel& kernel);

}  // namespace wino::planner

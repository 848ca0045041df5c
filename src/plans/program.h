// What a plan produces: the kernels of one convolution, the buffers they share, the order of
// their launches, and the kernels that prepare the weights on the device (once per set_weights).
// Plans make it with a ProgramBuilder (plans/program_builder.h), which declares each buffer once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/kernel.h"
#include "plans/gemm_tile_shape.h"
#include "wino/wino.h"

namespace wino::plans {

/// weights: the caller's K x C/groups x R x S weights (the dtype of x), written by set_weights;
/// prepared_weights: the plan's layout of them (Winograd: U), made by the preparation kernels.
/// bias (K values, set with the weights) and residual (shaped like the output, given to each run)
/// exist only when the convolution's epilogue has them.
enum class BufferRole { input, weights, prepared_weights, bias, residual, output, scratch };
const char* role_name(BufferRole role);

struct ProgramBuffer {
  std::string name;
  int64_t elements = 0;
  BufferRole role = BufferRole::scratch;
  ir::Type type = ir::Type::f32;  // f16/bf16 for x, y and the residual of a half convolution
  int64_t bytes() const { return elements * ir::type_bytes(type); }
};

struct Launch {
  int kernel = 0;
  std::vector<int> buffers;  // indices into Program::buffers, in the kernel's parameter order
};

struct Program {
  std::string plan;
  int m = 0, r = 0;  // F(m, r); 0 for direct
  std::vector<std::unique_ptr<ir::Kernel>> kernels;
  std::vector<ProgramBuffer> buffers;  // each declared once; weights in the plan's layout
  std::vector<Launch> launches;          // one convolution
  std::vector<Launch> prepare_launches;  // set_weights: weights -> prepared weights, on the device

  /// Index of the buffer with `role` (input, weights, output: exactly one each); -1 if none.
  int buffer(BufferRole role) const;
  /// Per buffer, the bytes its start must be a multiple of: the widest asynchronous copy a kernel
  /// makes from it (the tensor-core fused's ring copies x 16 bytes at a time) or aligned vector
  /// access of it (the unfused input transform into V by tiles loads 2 or 4 halves of x at a
  /// time: 4 or 8 bytes), else 1.
  std::vector<int64_t> start_alignments() const;
};

/// A plan, F(m, r) and its tile sizes. block_k ... chunk_c are the user's GEMM tile overrides
/// (0 = the planner's choice); `gemm` is the planner's resolved choice, which the GEMM plans
/// (unfused, fused-input, fused-output, fused) require (planner::resolve_plan).
struct PlanOptions {
  std::string plan = "unfused";
  int m = 4;
  int threads = 0;          // threads per work-group of element-wise kernels (GPU NHWC transforms: 128)
  int block_k = 0;          // output channels per work-group (GEMM)
  int block_tiles = 0;      // tiles per work-group (GEMM)
  int reg_k = 0, reg_tiles = 0;  // register tile per thread (GEMM)
  int chunk_c = 0;          // input channels staged per step (fused plans)
  int points_per_thread = 0;  // Winograd points per thread where a work-group holds all of them
  // The tensor-core fused ring's tiles (GemmTiles::region): 0 the planner's choice, -1 runs of bp
  // consecutive tiles, N > 0 blocks of bp / N x N tiles.
  int tile_block_cols = 0;
  Precision precision = Precision::fp32;  // of the GEMM (tensor cores: plan unfused)
  int vector_lanes = 0;     // > 0: plan unfused's CPU-shaped GEMM with vectors of this many floats
  int64_t l1_bytes = 0, l2_bytes = 0;  // the CPU-shaped plans' cache blocking (0: 32 KiB and 1 MiB)
  int loads_per_fma = 1;    // vector loads a core issues per vector FMA (DeviceCaps::vector_loads_per_fma)
  bool async_copies = false;  // the device copies global -> work-group memory asynchronously (CUDA sm_80+)
  bool bulk_copies = false;   // ... and in bulk, completing on barriers (CUDA sm_90+: GemmTiles::bulk_u)
  bool warpgroup_mma = false; // warpgroup matrix ops from work-group memory (CUDA sm_90 wgmma: GemmTiles::async_mma)
  // The warpgroup ring's input transform on the tensor cores (GemmTiles::mma_transform). Correct on
  // the GPU but not faster there (H100, session 63: plan auto 0.99x): off unless the environment
  // sets WINO_MMA_TRANSFORM=1 (planner::on_device).
  bool mma_transform = false;
  // The warpgroup ring with a producer warpgroup that copies and transforms the patches and the
  // GEMM's warpgroups as consumers (GemmTiles::warp_roles). Correct on the GPU but slower there
  // (H100, session 65: plan auto fp16 0.60x; one warpgroup transforms what 16 warps did): off
  // unless the environment sets WINO_WARP_ROLES=1 (planner::on_device).
  bool warp_roles = false;
  // The unfused warpgroup GEMM with a producer warpgroup that issues the chunks' bulk copies into a
  // deeper ring and the GEMM's warpgroups as consumers (GemmTiles::warp_roles with one point a
  // work-group). Correct on the GPU but not faster there (H100, session 66: plan auto 0.98x on the
  // three layers it changes): off unless the environment sets WINO_GEMM_ROLES=1 (planner::on_device).
  bool gemm_roles = false;
  int max_threads = 1024;     // threads a work-group may have on the device (OpenCL GPUs: often 256)
  int64_t regs_per_core = 0, shared_per_core = 0;  // one multiprocessor's registers and work-group memory (0: unknown)
  int64_t shared_per_group = 0;  // work-group memory one work-group may take (DeviceCaps::shared_bytes; 0: unknown)
  int cpu_threads = 1;        // threads a CPU launch shares its work-groups between (the CPU fused plan's groups)
  int device_cores = 0;       // the device's multiprocessors or cores (0: unknown)
  std::optional<GemmTiles> gemm;
};

/// The plans Wino knows, in the order `--plan all` lists them.
const std::vector<std::string>& plan_names();

/// Builds the program of `options.plan` for a convolution, before any pass (lower::lower runs
/// them). Throws wino::Error for unsupported requests (naming the plan and what it does not
/// support).
Program build_program(const ConvDesc& desc, const PlanOptions& options);

/// Kernel names encode plan, stage, F(m, r) and tile sizes; built here and nowhere else.
std::string kernel_name(const std::string& plan, const std::string& stage, int m, int r,
                        const std::string& tiles);

}  // namespace wino::plans

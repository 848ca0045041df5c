// What the planner knows about the device it plans for: the budgets a kernel must fit (registers
// per thread, work-group memory) and the rates its cost model divides by (memory bandwidth and
// float32 FLOP rate a Wino kernel reaches, launch cost).
#pragma once

#include <string>

#include "render/render.h"
#include "wino/wino.h"

namespace wino::planner {

struct DeviceCaps {
  std::string name;                          // "sm_90 (H200 class)", "metal (Apple GPU)", "cpu (2 cores)"
  std::string identity;                      // what keys the tuning cache: device, architecture, driver
  render::Dialect dialect = render::Dialect::c;
  int regs_per_thread = 255;                 // a kernel predicted above it spills (or does not fit)
  int64_t shared_bytes = 48 * 1024;          // work-group memory one work-group may take
  int simd_width = 1;                        // warp or SIMD-group width (1 on the CPU)
  int max_threads = 1024;                    // threads one work-group may have
  int cores = 1;                             // SMs, compute units or CPU cores
  double bandwidth_gbs = 10;                 // global memory bandwidth a kernel reaches
  double l2_gbs = 0;                         // a GPU's L2 bandwidth, for reads past a buffer's first (0: memory's)
  double gflops = 10;                        // float32 rate a kernel's arithmetic reaches
  double shared_gbs = 0;                     // work-group memory bandwidth (0: not a limit)
  double launch_us = 0;                      // fixed cost of one kernel launch
  int64_t regs_per_core = 0;                 // registers of one SM (0: no occupancy limit)
  int64_t shared_per_core = 0;               // work-group memory of one SM
  int max_warps_per_core = 64;               // resident warps (SIMD groups) per SM
  int warps_for_full_rate = 16;              // resident warps that hide latency fully
  int mma_warps_for_full_rate = 8;           // the same for tensor-core kernels (accumulator tiles' ILP)
  double barrier_us = 0;                     // one work-group barrier and the loads it waits for
  bool mma = false;                          // warp-level tensor-core ops (ir/mma.h): sm_80 and newer
  bool bulk_copies = false;                  // bulk copies on barriers (ir::StmtKind::copy_bulk): sm_90 and newer
  bool warpgroup_mma = false;                // warpgroup matrix ops (ir::StmtKind::mma_async, wgmma): sm_90 alone
  int vector_lanes = 0;                      // > 0: plans unfused, direct and fused are CPU-shaped, this many floats per vector
  bool private_arrays = false;               // a thread may hold arrays of hundreds of KiB (the CPU fused plan's V and M)
  double vector_gflops = 0;                  // the rate of vector operations (0: that of the others)
  double tf32_gflops = 0;                    // the tf32 rate of Wino's mma GEMMs
  double tf32_peak_gflops = 0;               // the tensor cores' tf32 peak (0: tf32_gflops)
  int vector_loads_per_fma = 1;              // vector loads a CPU core issues in the time of one vector FMA
                                             // (2 on Zen 4, whose 512-bit FMAs take both 256-bit pipes)
  int64_t l1_bytes = 32 * 1024;              // data caches of one core: the CPU-shaped plans' blocking
  int64_t l2_bytes = 1 << 20;                //   (read from the machine by caps_for_device)
  double thread_gflops = 0;                  // one thread's own rate (a kernel with few threads
                                             // takes its longest thread's time); 0: not a limit
  double thread_mma_gflops = 0;              // the same for its share of mma FLOPs (0: thread_gflops)
  /// "255 regs/thread, 48 KiB shared, 4300 GB/s, 33500 GFLOP/s" for the candidate table.
  std::string budget_text() const;
};

/// The capabilities of an explain() target: "cpu"/"c", "opencl" (a generic OpenCL GPU),
/// "metal" (an Apple GPU: 128 registers per thread, no spilling, 32 KiB threadgroup memory) or
/// "sm_XX" (an NVIDIA architecture; sm_90 is the H200 class Wino is measured on, sm_90:h100 an
/// H100, whose memory is slower).
DeviceCaps caps_for_target(const std::string& target);

/// The architecture a target compiles for: "sm_90" of "sm_90:h100" (the GPU after the colon only
/// picks the caps the planner plans with); other targets as given.
std::string target_architecture(const std::string& target);

/// The capabilities of a device compile() runs on (resolved: not `automatic`), from its queries.
DeviceCaps caps_for_device(const Device& device);

/// The datasheet's dense peak of an NVIDIA GPU (compute capability `major`, `sms` SMs, at its
/// boost clock: 1.98 GHz for sm_90, 1.41 for sm_80) in GFLOP/s of useful work for a GEMM
/// precision: fp32 on the FMA pipes (256 FLOPs per clock per SM), tf32 on the tensor cores (1024
/// on sm_80, 2048 on sm_90), fp16 and bf16 twice tf32, 3xtf32 a third of tf32 (three mmas per
/// product); 0 where the precision needs tensor cores the device lacks.
double nvidia_peak_gflops(int major, int sms, Precision p);

}  // namespace wino::planner

// Per-kernel resource usage read from the report that `ptxas -v` writes into the NVRTC log.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace wino::cuda {

/// What ptxas reports for one entry function (kernel). Fields ptxas did not print stay 0.
struct KernelResourceStats {
  int registers = 0;                 ///< "Used N registers": registers per thread
  int barriers = 0;                  ///< "used N barriers" (named barriers; CUDA 12+ only)
  int64_t stack_frame_bytes = 0;     ///< per-thread local stack frame
  int64_t spill_store_bytes = 0;     ///< bytes written to local memory by register spills
  int64_t spill_load_bytes = 0;      ///< bytes read back from local memory by register spills
  int64_t shared_bytes = 0;          ///< static shared memory ("N bytes smem")
  int64_t constant_bytes = 0;        ///< sum over all constant banks ("N bytes cmem[k]"; older ptxas only)
  int64_t cumulative_stack_bytes = 0;  ///< frame including callees ("N bytes cumulative stack size"; CUDA 12+)

  /// True when the kernel spills registers to local memory.
  bool spills() const { return spill_store_bytes > 0 || spill_load_bytes > 0; }
  bool operator==(const KernelResourceStats&) const = default;
};

/// Parses a ptxas -v report (the NVRTC program log) into kernel name -> stats.
/// Only entry functions ("Compiling entry function 'k'") are returned; the properties that
/// ptxas prints for non-inlined device functions are dropped. Accepts the formats of
/// CUDA 10 to 13 (stack/spill lines with or without the "ptxas ." prefix, "used M barriers",
/// "smem", "cmem[k]", "cumulative stack size"); lines it does not know are ignored.
/// Names are returned as printed (mangled unless the kernel is extern "C").
std::map<std::string, KernelResourceStats> parse_ptxas_log(const std::string& log);

/// One line per kernel, e.g. "big: 255 registers, 1816 B stack, 2324 B spill stores, ...".
std::string format_kernel_stats(const std::string& name, const KernelResourceStats& stats);

}  // namespace wino::cuda

// CUDA C++ -> CUBIN with NVRTC, loaded at run time (dlopen), so that Wino builds and runs
// without the CUDA toolkit and only the CUDA commands need it. Compiles are cached in memory
// and on disk, since one costs from ~100 ms to seconds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/cuda/ptxas_log.h"

namespace wino::cuda {

/// Where an NvrtcOutput came from.
enum class NvrtcSource { compiled, memory_cache, disk_cache };

/// The result of one NVRTC compile.
struct NvrtcOutput {
  std::vector<char> cubin;  ///< ELF image for cuModuleLoadData
  std::string ptx;          ///< the PTX NVRTC produced on the way (for inspection)
  std::string log;          ///< the full NVRTC log, including the ptxas -v report
  std::map<std::string, KernelResourceStats> kernels;  ///< parse_ptxas_log(log)
  std::string arch;         ///< the target, e.g. "sm_90"
  NvrtcSource source = NvrtcSource::compiled;
  double elapsed_ms = 0;    ///< wall time of this call (compile, or cache lookup)
};

/// Counters since process start (or the last nvrtc_reset_cache_stats).
struct NvrtcCacheStats {
  int64_t compiles = 0;         ///< real NVRTC compiles, failed ones included
  int64_t memory_hits = 0;
  int64_t disk_hits = 0;
  int64_t disk_writes = 0;
  int64_t corrupt_entries = 0;  ///< unreadable disk entries, discarded and recompiled
};

/// True when libnvrtc can be loaded and its symbols resolved. Otherwise false, with the
/// reason in *why_not (if given). Never throws.
bool nvrtc_available(std::string* why_not = nullptr);

/// NVRTC's version as "major.minor". Throws wino::Error when NVRTC is missing.
std::string nvrtc_version();

/// Compiles `source` for `arch` ("sm_90", "sm_90a", "sm_100", ...) to a CUBIN, with
/// --ptxas-options=-v and --std=c++17 plus `extra_options` (e.g. "-DN=4", "-lineinfo"), and
/// with NVRTC's own cache off (--no-cache, NVRTC 12.9+): its hits carry no ptxas report.
/// `program_name` names the program in the log and in errors: pass the kernel name.
/// Results are cached by (NVRTC version, source, name, arch, options) in memory, and on
/// disk under nvrtc_disk_cache_dir(). Throws wino::Error when NVRTC is missing, when `arch`
/// is malformed, or when compilation fails (the message holds the program name, the arch,
/// the options and the full compiler log).
NvrtcOutput nvrtc_compile(const std::string& source, const std::string& program_name, const std::string& arch,
                          const std::vector<std::string>& extra_options = {});

/// nvrtc_compile of each (source, name, arch) triple, on up to one thread per core at once: the
/// kernels of one convolution compile in parallel, and each is cached on its own. Results in input
/// order; throws the first failure's wino::Error after every compile has ended.
std::vector<NvrtcOutput> nvrtc_compile_parallel(const std::vector<std::string>& sources,
                                                const std::vector<std::string>& program_names,
                                                const std::vector<std::string>& archs);

/// The architecture a kernel compiles for: `arch`, or with its own features where the kernel
/// uses them (`own_features`: wgmma, sm_90 -> sm_90a). Throws wino::Error where `arch` has none
/// such (wgmma is sm_90's alone).
std::string kernel_arch(const std::string& arch, bool own_features);

/// The on-disk cache directory: $WINO_CACHE_DIR/cuda, else $XDG_CACHE_HOME/wino/cuda, else
/// $HOME/.cache/wino/cuda; empty when none of these is set. Read at every compile.
std::string nvrtc_disk_cache_dir();

/// Cache counters (thread-safe snapshot).
NvrtcCacheStats nvrtc_cache_stats();

/// Zeroes the counters.
void nvrtc_reset_cache_stats();

/// Drops the in-memory cache (the disk cache stays): the next compile of a known program is
/// a disk hit or a real compile.
void nvrtc_clear_memory_cache();

}  // namespace wino::cuda

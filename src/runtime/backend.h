// The device interface every runtime implements: compile a program of kernels, hold buffers,
// launch, time. Small on purpose (ggml's backend table is the model).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/kernel.h"
#include "render/render.h"
#include "wino/wino.h"

namespace wino::runtime {

/// What the backend compiler reported for one kernel (-1 where it reports nothing).
struct BackendKernelStats {
  int regs = -1;
  int spill_bytes = -1;
};

/// What a backend compiles: the whole program as one translation unit, and each kernel alone with
/// the prelude (for backends that compile the kernels of a program in parallel).
struct CompileSources {
  std::string program;
  std::vector<std::string> kernels;
};
/// Both forms from the rendered kernels of a program.
CompileSources compile_sources(const std::vector<std::string>& kernel_sources, render::Dialect dialect);

class Backend {
 public:
  virtual ~Backend() = default;
  /// "cpu (2 threads, gcc)", "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
  virtual std::string name() const = 0;
  virtual render::Dialect dialect() const = 0;

  /// Compiles `sources` (the rendered program of `kernels`); kernel i is later launched by index.
  virtual std::vector<BackendKernelStats> compile(const std::vector<const ir::Kernel*>& kernels,
                                                  const CompileSources& sources) = 0;

  /// Buffers of `bytes` bytes (the program's dtypes decide), identified by small integers.
  virtual int alloc(int64_t bytes) = 0;
  virtual void upload(int buffer, const void* host, int64_t bytes) = 0;
  virtual void download(int buffer, void* host, int64_t bytes) = 0;

  /// Launches kernel `kernel` over its grid with `buffers` as its parameters.
  virtual void launch(int kernel, const std::vector<int>& buffers) = 0;
  /// Microseconds of each launch of `sequence` (kernel, buffers), run in order once.
  virtual std::vector<double> timed_launches(
      const std::vector<std::pair<int, std::vector<int>>>& sequence) = 0;
  /// Microseconds of each of `repeats` whole runs of `sequence` after `warmup` untimed runs. The
  /// default times each launch separately and adds them up; GPU backends override it to time the
  /// whole sequence with one pair of events (no launch gaps inside a run are lost or added).
  virtual std::vector<double> timed_runs(const std::vector<std::pair<int, std::vector<int>>>& sequence,
                                         int warmup, int repeats);
  /// Waits for every launched kernel.
  virtual void synchronize() = 0;
};

/// The backend of a device. Throws wino::Error when the device is not there.
std::unique_ptr<Backend> make_backend(const Device& device, const Options& options);

}  // namespace wino::runtime

// The device interface every runtime implements, split the way ggml's backend interface is:
// the device compiles a program of kernels; memory is either allocated by the backend or the
// caller's (a CUDA device address, a cl_mem, a host pointer) wrapped as a MemoryRef; work is
// enqueued on a stream (a CUDA stream, an OpenCL queue; on the CPU the calling thread).
#pragma once

#include <atomic>
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

/// What a backend needs to launch one kernel: its name in the sources and its grid. The
/// interpreter, which runs the IR itself, also takes the kernel (compiling backends ignore it).
struct KernelSpec {
  std::string name;
  int64_t groups = 0;
  int threads = 0;
  const ir::Kernel* ir = nullptr;  // outlives the backend
  static KernelSpec of(const ir::Kernel& k) { return {k.name, k.num_groups, k.threads_per_group, &k}; }
};

/// Memory as kernels take it: the backend's native handle (a CUdeviceptr, a cl_mem, a host
/// pointer) and its size in bytes. Does not own the memory.
struct MemoryRef {
  void* native = nullptr;
  int64_t bytes = 0;
};

/// Memory the backend allocated; freed when the object goes.
class Allocation {
 public:
  virtual ~Allocation() = default;
  virtual MemoryRef ref() const = 0;
};

/// A stream as the backend takes it: a CUstream, a cl_command_queue; null is the backend's own
/// default (CUDA's legacy default stream, Wino's queue). Host backends run on the calling thread.
using StreamRef = void*;

/// One launch: kernel index and its parameters' memory in order.
struct LaunchRef {
  int kernel = 0;
  std::vector<MemoryRef> args;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// "cpu (2 threads, gcc)", "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
  virtual std::string name() const = 0;
  virtual render::Dialect dialect() const = 0;
  /// True when the backend's memory is host memory (a MemoryRef's native is a host pointer).
  virtual bool host_memory() const { return false; }

  /// Compiles `sources` (the rendered program of `kernels`); kernel i is later launched by index.
  virtual std::vector<BackendKernelStats> compile(const std::vector<KernelSpec>& kernels,
                                                  const CompileSources& sources) = 0;

  /// `bytes` of device memory.
  virtual std::unique_ptr<Allocation> alloc(int64_t bytes) = 0;
  /// `bytes` of `m` from byte `offset` on (pointer arithmetic; OpenCL cannot offset a cl_mem and
  /// throws).
  virtual MemoryRef sub_range(MemoryRef m, int64_t offset, int64_t bytes) const;
  /// Copies enqueued on `stream`; host_copies() counts the two that cross to or from the host.
  void copy_from_host(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream);
  void copy_to_host(void* host, MemoryRef src, int64_t bytes, StreamRef stream);
  virtual void copy(MemoryRef dst, MemoryRef src, int64_t bytes, StreamRef stream) = 0;
  /// Copies between the host and the device since the backend was made.
  int64_t host_copies() const { return host_copies_.load(); }

  /// Throws wino::Error naming `what` unless `native` is this device's memory of at least `bytes`
  /// (host backends cannot tell and accept any pointer).
  virtual void check_memory(const void* native, int64_t bytes, const std::string& what) const = 0;
  /// Throws wino::Error unless `stream` can run this backend's kernels.
  virtual void check_stream(StreamRef stream) const = 0;

  /// Enqueues kernel `kernel` over its grid on `stream`. Safe from several threads at once.
  /// `after_previous`: a later kernel of one run, reading what the launch before it on `stream`
  /// wrote; a backend may start it as that one ends (CUDA sm_90: programmatic dependent launch,
  /// the kernel waiting for its inputs itself). Only kernels rendered by render/ wait so: any other
  /// kernel must be launched without it.
  virtual void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef stream, bool after_previous) = 0;
  void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef stream) { launch(kernel, args, stream, false); }
  /// Microseconds of each launch of `sequence`, run in order on the default stream: the kernel's
  /// execution (OpenCL's profiling events), or (CUDA) the mean of up to 20 launches of it back to back.
  virtual std::vector<double> timed_launches(const std::vector<LaunchRef>& sequence) = 0;
  /// Microseconds of each of `repeats` whole runs of `sequence` after `warmup` untimed runs. The
  /// default times each launch separately and adds them up; CUDA overrides it to time up to 20 runs
  /// back to back with one pair of events (no launch gaps inside a run are lost or added, and the
  /// first launch's latency is not counted in each run: cuda::back_to_back_runs).
  virtual std::vector<double> timed_runs(const std::vector<LaunchRef>& sequence, int warmup, int repeats);
  /// Waits for the work enqueued on `stream`.
  virtual void synchronize(StreamRef stream) = 0;

 protected:
  virtual void upload(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream) = 0;
  virtual void download(void* host, MemoryRef src, int64_t bytes, StreamRef stream) = 0;

 private:
  std::atomic<int64_t> host_copies_{0};
};

/// The backend of a device. Throws wino::Error when the device is not there.
std::unique_ptr<Backend> make_backend(const Device& device, const Options& options);

}  // namespace wino::runtime

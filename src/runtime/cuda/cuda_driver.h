// The CUDA driver API, loaded at run time from libcuda.so.1 (dlopen), behind a small RAII
// layer: context, device buffers, modules and kernels, launches, streams and event timing.
// Every driver call is checked; failures throw wino::Error naming the call and the error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace wino::cuda {

/// One CUDA device as `wino devices` shows it.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;                       ///< e.g. "NVIDIA H100 80GB HBM3"
  std::string arch;                       ///< "sm_" + major + minor, e.g. "sm_90"
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;                ///< bytes
  int sm_count = 0;                       ///< streaming multiprocessors
  int max_threads_per_block = 0;
  int max_shared_per_block = 0;           ///< bytes a block gets without opting in (48 KiB)
  int max_shared_per_block_optin = 0;     ///< bytes a block may opt in to (227 KiB on sm_90)
};

/// True when libcuda.so.1 loads, cuInit succeeds and at least one device exists; otherwise
/// false with the reason in *why_not (if given). Never throws; the result is computed once.
bool cuda_available(std::string* why_not = nullptr);

/// The driver's CUDA version, e.g. "13.0". Throws wino::Error when CUDA is unavailable.
std::string cuda_driver_version();

/// Every device the driver sees; empty (never throws) when there is no driver or device.
std::vector<DeviceInfo> list_cuda_devices();

namespace detail {
struct ContextState;
struct ModuleState;
}  // namespace detail

/// The primary context of one device, retained for this object's life and made current on
/// the calling thread. Buffers, modules and streams made from it keep it alive.
class CudaContext {
 public:
  /// Throws wino::Error when CUDA is unavailable or `device` does not exist.
  explicit CudaContext(int device = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = default;
  CudaContext& operator=(const CudaContext&) = default;

  const DeviceInfo& info() const;
  const std::string& name() const { return info().name; }
  const std::string& arch() const { return info().arch; }
  /// Free and total device memory in bytes (cuMemGetInfo).
  std::pair<size_t, size_t> memory_info() const;
  /// Makes this context current on the calling thread (the constructor does it once).
  void make_current() const;
  /// Waits for all work; an asynchronous kernel fault is reported here, naming the last
  /// kernel launched in this context.
  void synchronize() const;

  const std::shared_ptr<detail::ContextState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::ContextState> state_;
};

/// A device allocation (cuMemAlloc). Move-only; freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Throws wino::Error "out of device memory allocating N bytes on <device>" when it does not fit.
  DeviceBuffer(const CudaContext& context, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// The device address (CUdeviceptr), 0 when empty.
  uint64_t device_ptr() const { return ptr_; }
  size_t size() const { return bytes_; }

  /// Copies `bytes` from host memory to the buffer at `offset` (synchronous).
  void copy_from_host(const void* src, size_t bytes, size_t offset = 0);
  /// Copies `bytes` from the buffer at `offset` to host memory (synchronous).
  void copy_to_host(void* dst, size_t bytes, size_t offset = 0) const;
  /// Sets every byte to `value`.
  void memset_u8(uint8_t value);
  /// Sets every 32-bit word to `value` (the size must be a multiple of 4).
  void memset_u32(uint32_t value);

  /// Whole-vector conveniences.
  template <class T>
  void upload(const std::vector<T>& host) {
    static_assert(std::is_trivially_copyable_v<T>);
    copy_from_host(host.data(), host.size() * sizeof(T));
  }
  template <class T>
  std::vector<T> download() const {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> host(bytes_ / sizeof(T));
    copy_to_host(host.data(), host.size() * sizeof(T));
    return host;
  }

 private:
  void check_range(const char* what, size_t bytes, size_t offset) const;
  std::shared_ptr<detail::ContextState> context_;
  uint64_t ptr_ = 0;
  size_t bytes_ = 0;
};

/// What the driver reports for a loaded kernel (cuFuncGetAttribute).
struct FunctionAttributes {
  int num_regs = 0;
  int local_size_bytes = 0;       ///< per-thread local memory (stack and spills)
  int shared_size_bytes = 0;      ///< static shared memory
  int const_size_bytes = 0;
  int max_threads_per_block = 0;
  int max_dynamic_shared_size_bytes = 0;
};

/// A kernel in a loaded module. Keeps its module loaded.
class CudaFunction {
 public:
  const std::string& name() const { return name_; }
  FunctionAttributes attributes() const;
  /// Work-groups of `threads` threads and `dynamic_shared` bytes one multiprocessor holds at once
  /// (the driver's occupancy; 0 where it cannot say).
  int resident_groups(int threads, unsigned dynamic_shared) const;
  /// Allows launches with up to `bytes` of dynamic shared memory (needed above 48 KiB).
  /// Throws wino::Error when the device cannot give that much.
  void set_max_dynamic_shared_bytes(int bytes) const;
  void* native_handle() const { return handle_; }
  const std::shared_ptr<detail::ModuleState>& module() const { return module_; }

 private:
  friend class CudaModule;
  std::shared_ptr<detail::ModuleState> module_;
  void* handle_ = nullptr;
  std::string name_;
};

/// A CUBIN loaded into a context (cuModuleLoadData); unloaded when the last CudaModule or
/// CudaFunction from it goes away.
class CudaModule {
 public:
  /// `label` names the module in errors (e.g. the plan or kernel name).
  CudaModule(const CudaContext& context, const std::vector<char>& cubin, const std::string& label);
  /// Throws wino::Error when the module has no kernel `name` (kernels are extern "C").
  CudaFunction function(const std::string& name) const;

 private:
  std::shared_ptr<detail::ModuleState> state_;
};

/// A stream (cuStreamCreate). Move-only.
class CudaStream {
 public:
  explicit CudaStream(const CudaContext& context);
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  void synchronize() const;
  void* native_handle() const { return handle_; }

 private:
  std::shared_ptr<detail::ContextState> context_;
  void* handle_ = nullptr;
};

/// A stream as launches and copies take it, not owned: one of Wino's CudaStreams, or a CUstream
/// (== cudaStream_t) made elsewhere (PyTorch, CuPy, the caller). Null is the legacy default stream.
struct StreamRef {
  void* handle = nullptr;
  StreamRef(std::nullptr_t = nullptr) {}
  StreamRef(const CudaStream* s) : handle(s != nullptr ? s->native_handle() : nullptr) {}
  static StreamRef native(void* h) {
    StreamRef r;
    r.handle = h;
    return r;
  }
};

/// Waits for the work on `stream`.
void synchronize(const CudaContext& context, StreamRef stream);
/// Copies enqueued on `stream` (host memory should be pinned for the copy to overlap; pageable
/// memory works and the driver stages it).
void copy_to_device_async(const CudaContext& context, uint64_t dst, const void* src, size_t bytes, StreamRef stream);
void copy_to_host_async(const CudaContext& context, void* dst, uint64_t src, size_t bytes, StreamRef stream);
void copy_device_async(const CudaContext& context, uint64_t dst, uint64_t src, size_t bytes, StreamRef stream);

/// Throws wino::Error, naming `what`, unless [ptr, ptr + bytes) is device (or managed) memory
/// of the context's device: a host pointer, memory of another GPU or a range past the end of
/// its allocation is refused.
void check_device_memory(const CudaContext& context, uint64_t ptr, size_t bytes, const std::string& what);
/// Throws wino::Error unless `stream` belongs to the context (a stream of another device or
/// context cannot run this context's kernels).
void check_stream(const CudaContext& context, StreamRef stream);

/// Grid or block extent.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// Packs kernel arguments by value, keeping each at a stable address for cuLaunchKernel.
class KernelArgs {
 public:
  template <class T>
  KernelArgs& add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    auto storage = std::make_unique<unsigned char[]>(sizeof(T));
    std::memcpy(storage.get(), &value, sizeof(T));
    pointers_.push_back(storage.get());
    storage_.push_back(std::move(storage));
    return *this;
  }
  /// A buffer is passed as its device address (a T* parameter in the kernel).
  KernelArgs& add(const DeviceBuffer& buffer) { return add(buffer.device_ptr()); }
  const std::vector<void*>& pointers() const { return pointers_; }

 private:
  std::vector<std::unique_ptr<unsigned char[]>> storage_;
  std::vector<void*> pointers_;
};

/// Launches `function` on `stream` (the default stream when null). `args[i]` points to the
/// value of parameter i. Dynamic shared memory above 48 KiB is opted in automatically.
/// `after_previous`: the kernel reads what the launch before it on the stream writes, and waits
/// for it itself (griddepcontrol.wait, render's CUDA prelude): on sm_90 and newer it is launched
/// to overlap that launch's end (programmatic dependent launch); elsewhere as any other.
/// Throws wino::Error naming the kernel, the configuration and the driver's error.
void launch(const CudaFunction& function, Dim3 grid, Dim3 block, unsigned shared_bytes, StreamRef stream,
            const std::vector<void*>& args, bool after_previous = false);

/// As above, with packed arguments.
inline void launch(const CudaFunction& function, Dim3 grid, Dim3 block, unsigned shared_bytes,
                   StreamRef stream, const KernelArgs& args, bool after_previous = false) {
  launch(function, grid, block, shared_bytes, stream, args.pointers(), after_previous);
}

/// Launches this process made to overlap the one before them (after_previous, as the driver took them).
int64_t overlapped_launches();

/// Times `work` (which enqueues GPU work on `stream`, or the default stream when null) with
/// CUDA events: `warmup` untimed runs, then `repeats` timed ones; returns each repeat's
/// milliseconds in order.
std::vector<float> time_each_ms(const CudaContext& context, const std::function<void()>& work, int warmup,
                                int repeats, StreamRef stream = nullptr);

/// Runs (or launches) of `one_run_us` each that one timed sample enqueues back to back between its
/// events: 20 (as cuDNN's yardstick replays 20 convolutions a graph), fewer where that many take
/// over a millisecond, at least 1. A run timed alone also holds the launch's latency before its
/// first kernel (2.5-4.2 us on the H100, session 64); a millisecond of runs leaves under 0.5% of it.
/// (Back to back the host must keep ahead of the GPU: runs of a few microseconds may still wait
/// on their launches, which a graph's replay would not.)
int back_to_back_runs(double one_run_us);

/// The median of time_each_ms.
float time_ms(const CudaContext& context, const std::function<void()>& work, int warmup, int repeats,
              StreamRef stream = nullptr);

}  // namespace wino::cuda

#include "runtime/cuda/cuda_driver.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "runtime/cuda/driver_api.h"

namespace wino::cuda {

using namespace drv;

namespace detail {

struct ContextState {
  CUdevice device = 0;
  CUcontext context = nullptr;
  DeviceInfo info;
  mutable std::mutex mutex;
  std::string last_kernel;  // guarded by mutex; named in asynchronous fault reports

  void bind() const { check(api().cuCtxSetCurrent(context), "cuCtxSetCurrent", info.name); }
  ~ContextState() {
    if (context != nullptr) driver().api.cuDevicePrimaryCtxRelease(device);
  }
};

struct ModuleState {
  std::shared_ptr<ContextState> context;
  CUmodule module = nullptr;
  std::string label;
  std::mutex mutex;
  std::unordered_map<CUfunction, int> dynamic_shared_limit;  // cached per kernel, guarded by mutex

  ~ModuleState() {
    const DriverApi& a = driver().api;
    if (module != nullptr && a.cuCtxSetCurrent(context->context) == kSuccess) a.cuModuleUnload(module);
  }
};

}  // namespace detail

bool cuda_available(std::string* why_not) {
  const Driver& d = driver();
  if (!d.unavailable.empty() && why_not != nullptr) *why_not = d.unavailable;
  return d.unavailable.empty();
}

std::string cuda_driver_version() {
  int v = 0;
  check(api().cuDriverGetVersion(&v), "cuDriverGetVersion");
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

std::vector<DeviceInfo> list_cuda_devices() {
  std::vector<DeviceInfo> devices;
  if (!cuda_available()) return devices;
  int count = 0;
  if (api().cuDeviceGetCount(&count) != kSuccess) return devices;
  for (int i = 0; i < count; ++i) {
    try {
      devices.push_back(query_device(api(), i));
    } catch (const Error&) {
      // A device the driver cannot describe is not listed.
    }
  }
  return devices;
}

// ---- CudaContext ----------------------------------------------------------------------

namespace {

// The device's primary context stays for the life of the process, as the CUDA runtime keeps it.
// Released with the last Conv, it was destroyed and made again for the next one: each compile
// then paid the context's creation, and on the H200 trivial driver tests took 1.5-3.5 s each
// where 8-16 test processes shared the GPU. (The driver frees it when the process exits.)
void keep_primary_context(CUdevice device) {
  static std::mutex mutex;
  static std::vector<CUdevice> kept;
  std::lock_guard lock(mutex);
  if (std::find(kept.begin(), kept.end(), device) != kept.end()) return;
  CUcontext context = nullptr;
  check(api().cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  kept.push_back(device);
}

}  // namespace

CudaContext::CudaContext(int device) {
  const DriverApi& a = api();
  int count = 0;
  check(a.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (device < 0 || device >= count)
    throw Error("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                " device" + (count == 1 ? "" : "s") + " found)");
  auto state = std::make_shared<detail::ContextState>();
  state->info = query_device(a, device);
  check(a.cuDeviceGet(&state->device, device), "cuDeviceGet");
  check(a.cuDevicePrimaryCtxRetain(&state->context, state->device), "cuDevicePrimaryCtxRetain", state->info.name);
  keep_primary_context(state->device);
  state->bind();
  state_ = std::move(state);
}

CudaContext::~CudaContext() = default;

const DeviceInfo& CudaContext::info() const { return state_->info; }

std::pair<size_t, size_t> CudaContext::memory_info() const {
  state_->bind();
  size_t free_bytes = 0, total_bytes = 0;
  check(api().cuMemGetInfo(&free_bytes, &total_bytes), "cuMemGetInfo_v2", name());
  return {free_bytes, total_bytes};
}

void CudaContext::make_current() const { state_->bind(); }

void CudaContext::synchronize() const {
  state_->bind();
  if (CUresult r = api().cuCtxSynchronize(); r != kSuccess) {
    std::string last;
    {
      std::lock_guard lock(state_->mutex);
      last = state_->last_kernel;
    }
    check(r, "cuCtxSynchronize", name() + (last.empty() ? "" : ", after launching kernel '" + last + "'"));
  }
}

// ---- DeviceBuffer ----------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(const CudaContext& context, size_t bytes) : context_(context.state()), bytes_(bytes) {
  if (bytes == 0) return;
  context_->bind();
  CUdeviceptr p = 0;
  CUresult r = api().cuMemAlloc(&p, bytes);
  if (r == kOutOfMemory)
    throw Error("out of device memory allocating " + std::to_string(bytes) + " bytes on " + context.name() +
                ": free memory on the GPU (other processes?) or use a smaller batch or image");
  check(r, "cuMemAlloc_v2", std::to_string(bytes) + " bytes on " + context.name());
  ptr_ = p;
}

DeviceBuffer::~DeviceBuffer() {
  // Destructors must not throw: a failed free (after a kernel fault, say) is ignored.
  const DriverApi& a = driver().api;
  if (ptr_ != 0 && a.cuCtxSetCurrent(context_->context) == kSuccess) a.cuMemFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : context_(std::move(other.context_)), ptr_(std::exchange(other.ptr_, 0)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    DeviceBuffer old(std::move(*this));
    context_ = std::move(other.context_);
    ptr_ = std::exchange(other.ptr_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::check_range(const char* what, size_t bytes, size_t offset) const {
  if (offset > bytes_ || bytes > bytes_ - offset)
    throw Error(std::string(what) + " of " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                " overruns a device buffer of " + std::to_string(bytes_) + " bytes");
}

void DeviceBuffer::copy_from_host(const void* src, size_t bytes, size_t offset) {
  check_range("copy to device", bytes, offset);
  if (bytes == 0) return;
  context_->bind();
  check(api().cuMemcpyHtoD(ptr_ + offset, src, bytes), "cuMemcpyHtoD_v2", std::to_string(bytes) + " bytes");
}

void DeviceBuffer::copy_to_host(void* dst, size_t bytes, size_t offset) const {
  check_range("copy to host", bytes, offset);
  if (bytes == 0) return;
  context_->bind();
  check(api().cuMemcpyDtoH(dst, ptr_ + offset, bytes), "cuMemcpyDtoH_v2", std::to_string(bytes) + " bytes");
}

void DeviceBuffer::memset_u8(uint8_t value) {
  if (bytes_ == 0) return;
  context_->bind();
  check(api().cuMemsetD8(ptr_, value, bytes_), "cuMemsetD8_v2", std::to_string(bytes_) + " bytes");
}

void DeviceBuffer::memset_u32(uint32_t value) {
  if (bytes_ % 4 != 0) throw Error("memset_u32 on a device buffer of " + std::to_string(bytes_) + " bytes (not a multiple of 4)");
  if (bytes_ == 0) return;
  context_->bind();
  check(api().cuMemsetD32(ptr_, value, bytes_ / 4), "cuMemsetD32_v2", std::to_string(bytes_) + " bytes");
}

// ---- modules and functions ---------------------------------------------------------------

CudaModule::CudaModule(const CudaContext& context, const std::vector<char>& cubin, const std::string& label) {
  if (cubin.empty()) throw Error("cannot load module '" + label + "': the CUBIN is empty");
  auto state = std::make_shared<detail::ModuleState>();
  state->context = context.state();
  state->label = label;
  state->context->bind();
  CUresult r = api().cuModuleLoadData(&state->module, cubin.data());
  if (r == kNoBinaryForGpu)
    throw Error("module '" + label + "' holds no code for " + context.name() + " (" + context.arch() +
                "): compile it for " + context.arch());
  check(r, "cuModuleLoadData", "module '" + label + "' on " + context.name());
  state_ = std::move(state);
}

CudaFunction CudaModule::function(const std::string& name) const {
  CudaFunction f;
  state_->context->bind();
  check(api().cuModuleGetFunction(&f.handle_, state_->module, name.c_str()), "cuModuleGetFunction",
        "kernel '" + name + "' in module '" + state_->label + "'");
  f.module_ = state_;
  f.name_ = name;
  return f;
}

FunctionAttributes CudaFunction::attributes() const {
  module_->context->bind();
  FunctionAttributes out;
  auto get = [&](int attribute, int& value) {
    check(api().cuFuncGetAttribute(&value, attribute, handle_), "cuFuncGetAttribute", "kernel '" + name_ + "'");
  };
  get(kFuncNumRegs, out.num_regs);
  get(kFuncLocalSizeBytes, out.local_size_bytes);
  get(kFuncSharedSizeBytes, out.shared_size_bytes);
  get(kFuncConstSizeBytes, out.const_size_bytes);
  get(kFuncMaxThreadsPerBlock, out.max_threads_per_block);
  get(kFuncMaxDynamicSharedSizeBytes, out.max_dynamic_shared_size_bytes);
  return out;
}

int CudaFunction::resident_groups(int threads, unsigned dynamic_shared) const {
  if (api().cuOccupancyMaxActiveBlocksPerMultiprocessor == nullptr) return 0;
  module_->context->bind();
  // Above 48 KiB the driver counts only what the kernel has been allowed (launch() allows it too).
  if (dynamic_shared > 48 * 1024) set_max_dynamic_shared_bytes(static_cast<int>(dynamic_shared));
  int groups = 0;
  if (api().cuOccupancyMaxActiveBlocksPerMultiprocessor(&groups, handle_, threads, dynamic_shared) != kSuccess) return 0;
  return groups;
}

void CudaFunction::set_max_dynamic_shared_bytes(int bytes) const {
  const detail::ContextState& ctx = *module_->context;
  ctx.bind();
  int static_bytes = 0;
  check(api().cuFuncGetAttribute(&static_bytes, kFuncSharedSizeBytes, handle_), "cuFuncGetAttribute",
        "kernel '" + name_ + "'");
  if (bytes < 0 || static_cast<int64_t>(bytes) + static_bytes > ctx.info.max_shared_per_block_optin)
    throw Error("kernel '" + name_ + "' needs " + std::to_string(bytes) + " bytes of dynamic shared memory (plus " +
                std::to_string(static_bytes) + " static), but " + ctx.info.name + " allows at most " +
                std::to_string(ctx.info.max_shared_per_block_optin) + " bytes per block");
  check(api().cuFuncSetAttribute(handle_, kFuncMaxDynamicSharedSizeBytes, bytes), "cuFuncSetAttribute",
        "kernel '" + name_ + "', " + std::to_string(bytes) + " bytes of dynamic shared memory");
  std::lock_guard lock(module_->mutex);
  module_->dynamic_shared_limit[handle_] = bytes;
}

// ---- streams and launches -------------------------------------------------------------------

CudaStream::CudaStream(const CudaContext& context) : context_(context.state()) {
  context_->bind();
  check(api().cuStreamCreate(&handle_, 0), "cuStreamCreate", context.name());
}

CudaStream::~CudaStream() {
  const DriverApi& a = driver().api;
  if (handle_ != nullptr && a.cuCtxSetCurrent(context_->context) == kSuccess) a.cuStreamDestroy(handle_);
}

void CudaStream::synchronize() const {
  context_->bind();
  check(api().cuStreamSynchronize(handle_), "cuStreamSynchronize", context_->info.name);
}

void synchronize(const CudaContext& context, StreamRef stream) {
  context.make_current();
  check(api().cuStreamSynchronize(stream.handle), "cuStreamSynchronize", context.name());
}

void copy_to_device_async(const CudaContext& context, uint64_t dst, const void* src, size_t bytes, StreamRef stream) {
  if (bytes == 0) return;
  context.make_current();
  check(api().cuMemcpyHtoDAsync(dst, src, bytes, stream.handle), "cuMemcpyHtoDAsync_v2", std::to_string(bytes) + " bytes");
}

void copy_to_host_async(const CudaContext& context, void* dst, uint64_t src, size_t bytes, StreamRef stream) {
  if (bytes == 0) return;
  context.make_current();
  check(api().cuMemcpyDtoHAsync(dst, src, bytes, stream.handle), "cuMemcpyDtoHAsync_v2", std::to_string(bytes) + " bytes");
}

void copy_device_async(const CudaContext& context, uint64_t dst, uint64_t src, size_t bytes, StreamRef stream) {
  if (bytes == 0) return;
  context.make_current();
  check(api().cuMemcpyDtoDAsync(dst, src, bytes, stream.handle), "cuMemcpyDtoDAsync_v2", std::to_string(bytes) + " bytes");
}

void check_device_memory(const CudaContext& context, uint64_t ptr, size_t bytes, const std::string& what) {
  context.make_current();
  const DriverApi& a = api();
  unsigned type = 0;
  int managed = 0, ordinal = -1;
  const CUresult r = a.cuPointerGetAttribute(&type, kPointerMemoryType, ptr);
  if (r != kSuccess || (type != kMemoryTypeDevice && type != kMemoryTypeUnified)) {
    if (r != kSuccess || a.cuPointerGetAttribute(&managed, kPointerIsManaged, ptr) != kSuccess || !managed)
      throw Error(what + " is not CUDA device memory (a host pointer?): pass memory from cuMemAlloc, "
                  "cudaMalloc or a CUDA tensor, or use the host-pointer run(x, y)");
  }
  check(a.cuPointerGetAttribute(&ordinal, kPointerDeviceOrdinal, ptr), "cuPointerGetAttribute", what);
  if (ordinal != context.info().ordinal)
    throw Error(what + " is memory of CUDA device " + std::to_string(ordinal) + ", but the convolution runs on cuda:" +
                std::to_string(context.info().ordinal) + ": copy it there or compile for cuda:" + std::to_string(ordinal));
  CUdeviceptr start = 0;
  size_t size = 0;
  if (a.cuPointerGetAttribute(&start, kPointerRangeStart, ptr) == kSuccess &&
      a.cuPointerGetAttribute(&size, kPointerRangeSize, ptr) == kSuccess && ptr - start + bytes > size)
    throw Error(what + " needs " + std::to_string(bytes) + " bytes, but its allocation ends " +
                std::to_string(size - (ptr - start)) + " bytes after the given address");
}

void check_stream(const CudaContext& context, StreamRef stream) {
  context.make_current();
  CUcontext owner = nullptr;
  check(api().cuStreamGetCtx(stream.handle, &owner), "cuStreamGetCtx", "the given stream");
  if (owner != context.state()->context)
    throw Error("the stream belongs to another CUDA context (another device, or a context made with cuCtxCreate), "
                "not to the primary context of cuda:" + std::to_string(context.info().ordinal) +
                ": pass a stream of that device (PyTorch: torch.cuda.current_stream(device))");
}

namespace {
std::atomic<int64_t> overlapped_count{0};
}  // namespace

int64_t overlapped_launches() { return overlapped_count.load(std::memory_order_relaxed); }

void launch(const CudaFunction& function, Dim3 grid, Dim3 block, unsigned shared_bytes, StreamRef stream,
            const std::vector<void*>& args, bool after_previous) {
  detail::ModuleState& module = *function.module();
  detail::ContextState& ctx = *module.context;
  ctx.bind();
  auto describe = [&] {
    return "kernel '" + function.name() + "', grid (" + std::to_string(grid.x) + "," + std::to_string(grid.y) + "," +
           std::to_string(grid.z) + "), block (" + std::to_string(block.x) + "," + std::to_string(block.y) + "," +
           std::to_string(block.z) + "), " + std::to_string(shared_bytes) + " bytes dynamic shared memory on " +
           ctx.info.name;
  };
  int limit = 0;
  {
    std::lock_guard lock(module.mutex);
    auto it = module.dynamic_shared_limit.find(function.native_handle());
    if (it != module.dynamic_shared_limit.end()) limit = it->second;
  }
  if (limit == 0) {  // first launch: the driver's default limit (48 KiB less static shared memory)
    check(api().cuFuncGetAttribute(&limit, kFuncMaxDynamicSharedSizeBytes, function.native_handle()),
          "cuFuncGetAttribute", describe());
    std::lock_guard lock(module.mutex);
    module.dynamic_shared_limit.emplace(function.native_handle(), limit);
  }
  if (static_cast<int64_t>(shared_bytes) > limit) function.set_max_dynamic_shared_bytes(static_cast<int>(shared_bytes));
  {
    std::lock_guard lock(ctx.mutex);
    ctx.last_kernel = function.name();
  }
  CUstream s = stream.handle;
  // Where the driver refuses the overlapped launch, the launch goes the plain way (which reports
  // any error): the kernel's wait then returns at once.
  if (after_previous && ctx.info.cc_major >= 9 && api().cuLaunchKernelEx != nullptr) {
    drv::CUlaunchAttribute overlap;
    overlap.id = drv::kLaunchAttributeProgrammaticStreamSerialization;
    overlap.value.programmatic_stream_serialization_allowed = 1;
    const drv::CUlaunchConfig config{grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes, s, &overlap, 1};
    if (api().cuLaunchKernelEx(&config, function.native_handle(), const_cast<void**>(args.data()), nullptr) == kSuccess) {
      overlapped_count.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  check(api().cuLaunchKernel(function.native_handle(), grid.x, grid.y, grid.z, block.x, block.y, block.z,
                             shared_bytes, s, const_cast<void**>(args.data()), nullptr),
        "cuLaunchKernel", describe());
}

// ---- timing ------------------------------------------------------------------------------

namespace {

class Event {
 public:
  Event() { check(api().cuEventCreate(&handle_, 0), "cuEventCreate"); }
  ~Event() { driver().api.cuEventDestroy(handle_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  CUevent get() const { return handle_; }

 private:
  CUevent handle_ = nullptr;
};

}  // namespace

std::vector<float> time_each_ms(const CudaContext& context, const std::function<void()>& work, int warmup,
                                int repeats, StreamRef stream) {
  if (warmup < 0 || repeats < 1)
    throw Error("timing needs warmup >= 0 and repeats >= 1 (got " + std::to_string(warmup) + ", " +
                std::to_string(repeats) + ")");
  context.make_current();
  CUstream s = stream.handle;
  for (int i = 0; i < warmup; ++i) work();
  check(api().cuStreamSynchronize(s), "cuStreamSynchronize", "after warm-up on " + context.name());
  Event start, stop;
  std::vector<float> times;
  times.reserve(static_cast<size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    check(api().cuEventRecord(start.get(), s), "cuEventRecord");
    work();
    check(api().cuEventRecord(stop.get(), s), "cuEventRecord");
    check(api().cuEventSynchronize(stop.get()), "cuEventSynchronize", "timed run on " + context.name());
    float ms = 0;
    check(api().cuEventElapsedTime(&ms, start.get(), stop.get()), "cuEventElapsedTime");
    times.push_back(ms);
  }
  return times;
}

int back_to_back_runs(double one_run_us) {
  constexpr int most = 20;
  constexpr double sample_us = 1000;
  return static_cast<int>(std::clamp(std::ceil(sample_us / std::max(one_run_us, 1.0)), 1.0, double{most}));
}

float time_ms(const CudaContext& context, const std::function<void()>& work, int warmup, int repeats,
              StreamRef stream) {
  std::vector<float> t = time_each_ms(context, work, warmup, repeats, stream);
  std::sort(t.begin(), t.end());
  size_t n = t.size();
  return n % 2 == 1 ? t[n / 2] : 0.5f * (t[n / 2 - 1] + t[n / 2]);
}

}  // namespace wino::cuda

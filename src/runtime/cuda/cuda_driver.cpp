#include "runtime/cuda/cuda_driver.h"

#include <dlfcn.h>

#include <algorithm>
#include <initializer_list>
#include <mutex>
#include <unordered_map>

#include "common/error.h"

namespace wino::cuda {
namespace {

// The few driver types we need, declared here so that no CUDA header is required.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void*;
using CUmodule = void*;
using CUfunction = void*;
using CUstream = void*;
using CUevent = void*;

constexpr CUresult kSuccess = 0;
constexpr CUresult kOutOfMemory = 2;             // CUDA_ERROR_OUT_OF_MEMORY
constexpr CUresult kNoBinaryForGpu = 209;        // CUDA_ERROR_NO_BINARY_FOR_GPU
constexpr int kAttrMaxThreadsPerBlock = 1;       // CU_DEVICE_ATTRIBUTE_*
constexpr int kAttrMaxSharedPerBlock = 8;
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;
constexpr int kAttrMaxSharedPerBlockOptin = 97;
constexpr int kFuncMaxThreadsPerBlock = 0;       // CU_FUNC_ATTRIBUTE_*
constexpr int kFuncSharedSizeBytes = 1;
constexpr int kFuncConstSizeBytes = 2;
constexpr int kFuncLocalSizeBytes = 3;
constexpr int kFuncNumRegs = 4;
constexpr int kFuncMaxDynamicSharedSizeBytes = 8;

struct DriverApi {
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char**) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemGetInfo)(size_t*, size_t*) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t) = nullptr;
  CUresult (*cuMemsetD32)(CUdeviceptr, unsigned, size_t) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule*, const void*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**) = nullptr;
  CUresult (*cuStreamCreate)(CUstream*, unsigned) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuEventCreate)(CUevent*, unsigned) = nullptr;
  CUresult (*cuEventDestroy)(CUevent) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent) = nullptr;
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent) = nullptr;
};

// Binds `fn` to the first of `names` the driver exports (versioned names first, as cuda.h's
// macros do; cuEventElapsedTime_v2 only exists from CUDA 12.8 on).
template <class F>
bool bind(void* lib, F& fn, std::initializer_list<const char*> names, std::string& missing) {
  for (const char* n : names)
    if (void* sym = dlsym(lib, n)) {
      fn = reinterpret_cast<F>(sym);
      return true;
    }
  missing = *names.begin();
  return false;
}

struct Driver {
  DriverApi api;
  std::string unavailable;  // empty when usable
};

std::string error_text(const DriverApi& api, CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName == nullptr || api.cuGetErrorName(r, &name) != kSuccess || name == nullptr)
    name = "CUDA_ERROR_UNKNOWN";
  if (api.cuGetErrorString == nullptr || api.cuGetErrorString(r, &text) != kSuccess || text == nullptr) text = "";
  return std::string(name) + " (" + std::to_string(r) + (*text != '\0' ? ": " + std::string(text) : "") + ")";
}

// Loads libcuda.so.1 and runs cuInit once per process. Never throws. Only the real driver's
// soname is tried: the toolkit's stubs/libcuda.so must never be picked up at run time.
const Driver& driver() {
  static const Driver d = [] {
    Driver out;
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* err = dlerror();
      out.unavailable = "the CUDA driver (libcuda.so.1) is not installed" + std::string(err ? ": " : "") + (err ? err : "");
      return out;
    }
    DriverApi& a = out.api;
    std::string missing;
    bool ok = bind(lib, a.cuInit, {"cuInit"}, missing) && bind(lib, a.cuDriverGetVersion, {"cuDriverGetVersion"}, missing) &&
              bind(lib, a.cuGetErrorName, {"cuGetErrorName"}, missing) &&
              bind(lib, a.cuGetErrorString, {"cuGetErrorString"}, missing) &&
              bind(lib, a.cuDeviceGetCount, {"cuDeviceGetCount"}, missing) &&
              bind(lib, a.cuDeviceGet, {"cuDeviceGet"}, missing) &&
              bind(lib, a.cuDeviceGetName, {"cuDeviceGetName"}, missing) &&
              bind(lib, a.cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, missing) &&
              bind(lib, a.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, missing) &&
              bind(lib, a.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, missing) &&
              bind(lib, a.cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, missing) &&
              bind(lib, a.cuCtxSetCurrent, {"cuCtxSetCurrent"}, missing) &&
              bind(lib, a.cuCtxSynchronize, {"cuCtxSynchronize"}, missing) &&
              bind(lib, a.cuMemGetInfo, {"cuMemGetInfo_v2"}, missing) &&
              bind(lib, a.cuMemAlloc, {"cuMemAlloc_v2"}, missing) && bind(lib, a.cuMemFree, {"cuMemFree_v2"}, missing) &&
              bind(lib, a.cuMemcpyHtoD, {"cuMemcpyHtoD_v2"}, missing) &&
              bind(lib, a.cuMemcpyDtoH, {"cuMemcpyDtoH_v2"}, missing) &&
              bind(lib, a.cuMemsetD8, {"cuMemsetD8_v2"}, missing) &&
              bind(lib, a.cuMemsetD32, {"cuMemsetD32_v2"}, missing) &&
              bind(lib, a.cuModuleLoadData, {"cuModuleLoadData"}, missing) &&
              bind(lib, a.cuModuleUnload, {"cuModuleUnload"}, missing) &&
              bind(lib, a.cuModuleGetFunction, {"cuModuleGetFunction"}, missing) &&
              bind(lib, a.cuFuncGetAttribute, {"cuFuncGetAttribute"}, missing) &&
              bind(lib, a.cuFuncSetAttribute, {"cuFuncSetAttribute"}, missing) &&
              bind(lib, a.cuLaunchKernel, {"cuLaunchKernel"}, missing) &&
              bind(lib, a.cuStreamCreate, {"cuStreamCreate"}, missing) &&
              bind(lib, a.cuStreamDestroy, {"cuStreamDestroy_v2"}, missing) &&
              bind(lib, a.cuStreamSynchronize, {"cuStreamSynchronize"}, missing) &&
              bind(lib, a.cuEventCreate, {"cuEventCreate"}, missing) &&
              bind(lib, a.cuEventDestroy, {"cuEventDestroy_v2"}, missing) &&
              bind(lib, a.cuEventRecord, {"cuEventRecord"}, missing) &&
              bind(lib, a.cuEventSynchronize, {"cuEventSynchronize"}, missing) &&
              bind(lib, a.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, missing);
    if (!ok) {
      out.unavailable = "the CUDA driver (libcuda.so.1) is too old: it lacks " + missing;
      return out;
    }
    if (CUresult r = a.cuInit(0); r != kSuccess) {
      out.unavailable = "cuInit failed: " + error_text(a, r);
      return out;
    }
    int count = 0;
    if (CUresult r = a.cuDeviceGetCount(&count); r != kSuccess)
      out.unavailable = "cuDeviceGetCount failed: " + error_text(a, r);
    else if (count == 0)
      out.unavailable = "the CUDA driver found no device";
    return out;
  }();
  return d;
}

const DriverApi& api() {
  const Driver& d = driver();
  if (!d.unavailable.empty()) throw Error("CUDA is not available: " + d.unavailable);
  return d.api;
}

// Throws unless `r` is success; `call` is the driver function, `what` says on what.
void check(CUresult r, const char* call, const std::string& what = "") {
  if (r == kSuccess) return;
  if (r == kOutOfMemory)
    throw Error("out of device memory in CUDA driver call " + std::string(call) +
                (what.empty() ? "" : " (" + what + ")") +
                ": free memory on the GPU (other processes?) or use a smaller batch or image");
  throw Error("CUDA driver call " + std::string(call) + " failed" + (what.empty() ? "" : " (" + what + ")") + ": " +
              error_text(api(), r));
}

DeviceInfo query_device(const DriverApi& a, int ordinal) {
  DeviceInfo info;
  info.ordinal = ordinal;
  CUdevice dev = 0;
  check(a.cuDeviceGet(&dev, ordinal), "cuDeviceGet", "device " + std::to_string(ordinal));
  char name[256] = {};
  check(a.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName");
  info.name = name;
  auto attr = [&](int attribute) {
    int v = 0;
    check(a.cuDeviceGetAttribute(&v, attribute, dev), "cuDeviceGetAttribute", info.name);
    return v;
  };
  info.cc_major = attr(kAttrComputeCapabilityMajor);
  info.cc_minor = attr(kAttrComputeCapabilityMinor);
  info.arch = "sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor);
  info.sm_count = attr(kAttrMultiprocessorCount);
  info.max_threads_per_block = attr(kAttrMaxThreadsPerBlock);
  info.max_shared_per_block = attr(kAttrMaxSharedPerBlock);
  info.max_shared_per_block_optin = attr(kAttrMaxSharedPerBlockOptin);
  check(a.cuDeviceTotalMem(&info.total_memory, dev), "cuDeviceTotalMem_v2", info.name);
  return info;
}

}  // namespace

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

void launch(const CudaFunction& function, Dim3 grid, Dim3 block, unsigned shared_bytes, const CudaStream* stream,
            const std::vector<void*>& args) {
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
  CUstream s = stream != nullptr ? stream->native_handle() : nullptr;
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
                                int repeats, const CudaStream* stream) {
  if (warmup < 0 || repeats < 1)
    throw Error("timing needs warmup >= 0 and repeats >= 1 (got " + std::to_string(warmup) + ", " +
                std::to_string(repeats) + ")");
  context.make_current();
  CUstream s = stream != nullptr ? stream->native_handle() : nullptr;
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

float time_ms(const CudaContext& context, const std::function<void()>& work, int warmup, int repeats,
              const CudaStream* stream) {
  std::vector<float> t = time_each_ms(context, work, warmup, repeats, stream);
  std::sort(t.begin(), t.end());
  size_t n = t.size();
  return n % 2 == 1 ? t[n / 2] : 0.5f * (t[n / 2 - 1] + t[n / 2]);
}

}  // namespace wino::cuda

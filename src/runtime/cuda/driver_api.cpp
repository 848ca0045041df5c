#include "runtime/cuda/driver_api.h"

#include <dlfcn.h>

#include <initializer_list>

#include "common/error.h"

namespace wino::cuda::drv {

namespace {

// Binds `fn` to the first of `names` the library exports; else names the missing symbol.
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

}  // namespace

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
              bind(lib, a.cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, missing) &&
              bind(lib, a.cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"}, missing) &&
              bind(lib, a.cuMemcpyDtoDAsync, {"cuMemcpyDtoDAsync_v2"}, missing) &&
              bind(lib, a.cuPointerGetAttribute, {"cuPointerGetAttribute"}, missing) &&
              bind(lib, a.cuStreamGetCtx, {"cuStreamGetCtx"}, missing) &&
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
    std::string not_needed;
    bind(lib, a.cuLaunchKernelEx, {"cuLaunchKernelEx"}, not_needed);  // these stay null where missing
    bind(lib, a.cuOccupancyMaxActiveBlocksPerMultiprocessor, {"cuOccupancyMaxActiveBlocksPerMultiprocessor"}, not_needed);
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
void check(CUresult r, const char* call, const std::string& what) {
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

}  // namespace wino::cuda::drv

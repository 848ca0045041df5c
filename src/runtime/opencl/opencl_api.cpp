#include "runtime/opencl/opencl_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "common/error.h"
#include "runtime/opencl/pocl_cache.h"

namespace wino::opencl {
namespace {

// PoCL links each kernel with the system linker, found through PATH: give a process started
// without one (env -i, some service managers) the standard system directories.
void set_default_path() {
  if (const char* path = std::getenv("PATH"); !path || !*path) setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
}

struct Loaded {
  Api api{};
  std::string error;
};

template <typename F>
bool resolve(void* lib, const char* name, F& fn, std::string& error) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn && error.empty()) error = std::string("libOpenCL.so.1 has no ") + name;
  return fn != nullptr;
}

Loaded load() {
  Loaded l;
  // PoCL reads POCL_CACHE_DIR once, when it loads: its directory is set up first.
  pocl_cache::set_up();
  set_default_path();
  void* lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    l.error = std::string("cannot load the OpenCL ICD loader: ") + (e ? e : "libOpenCL.so.1") +
              " (install ocl-icd-libopencl1 and a driver such as pocl-opencl-icd)";
    return l;
  }
  Api& a = l.api;
  std::string& e = l.error;
#define WINO_CL(fn) resolve(lib, #fn, a.fn, e)
  WINO_CL(clGetPlatformIDs); WINO_CL(clGetPlatformInfo); WINO_CL(clGetDeviceIDs);
  WINO_CL(clGetDeviceInfo); WINO_CL(clCreateContext); WINO_CL(clReleaseContext);
  WINO_CL(clCreateCommandQueue); WINO_CL(clReleaseCommandQueue); WINO_CL(clCreateBuffer);
  WINO_CL(clReleaseMemObject); WINO_CL(clEnqueueWriteBuffer); WINO_CL(clEnqueueReadBuffer);
  WINO_CL(clCreateProgramWithSource); WINO_CL(clBuildProgram); WINO_CL(clGetProgramBuildInfo);
  WINO_CL(clReleaseProgram); WINO_CL(clCreateKernel); WINO_CL(clReleaseKernel);
  WINO_CL(clSetKernelArg); WINO_CL(clGetKernelWorkGroupInfo); WINO_CL(clEnqueueNDRangeKernel);
  WINO_CL(clFinish); WINO_CL(clWaitForEvents); WINO_CL(clGetEventProfilingInfo);
  WINO_CL(clReleaseEvent); WINO_CL(clEnqueueCopyBuffer); WINO_CL(clGetMemObjectInfo);
  WINO_CL(clGetCommandQueueInfo);
#undef WINO_CL
  return l;  // the library stays loaded for the life of the process
}

const Loaded& loaded() {
  static const Loaded l = load();
  return l;
}

}  // namespace

const Api* try_api(std::string* why_not) {
  const Loaded& l = loaded();
  if (!l.error.empty()) {
    if (why_not) *why_not = l.error;
    return nullptr;
  }
  return &l.api;
}

const Api& api() {
  std::string why;
  const Api* a = try_api(&why);
  if (!a) throw Error(why);
  return *a;
}

std::string error_name(cl_int code) {
  const char* name = "unknown OpenCL error";
  switch (code) {
    case 0: name = "CL_SUCCESS"; break;
    case -1: name = "CL_DEVICE_NOT_FOUND"; break;
    case -2: name = "CL_DEVICE_NOT_AVAILABLE"; break;
    case -3: name = "CL_COMPILER_NOT_AVAILABLE"; break;
    case -4: name = "CL_MEM_OBJECT_ALLOCATION_FAILURE"; break;
    case -5: name = "CL_OUT_OF_RESOURCES"; break;
    case -6: name = "CL_OUT_OF_HOST_MEMORY"; break;
    case -7: name = "CL_PROFILING_INFO_NOT_AVAILABLE"; break;
    case -11: name = "CL_BUILD_PROGRAM_FAILURE"; break;
    case -14: name = "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"; break;
    case -30: name = "CL_INVALID_VALUE"; break;
    case -32: name = "CL_INVALID_PLATFORM"; break;
    case -33: name = "CL_INVALID_DEVICE"; break;
    case -34: name = "CL_INVALID_CONTEXT"; break;
    case -36: name = "CL_INVALID_COMMAND_QUEUE"; break;
    case -38: name = "CL_INVALID_MEM_OBJECT"; break;
    case -43: name = "CL_INVALID_BUILD_OPTIONS"; break;
    case -44: name = "CL_INVALID_PROGRAM"; break;
    case -45: name = "CL_INVALID_PROGRAM_EXECUTABLE"; break;
    case -46: name = "CL_INVALID_KERNEL_NAME"; break;
    case -47: name = "CL_INVALID_KERNEL_DEFINITION"; break;
    case -48: name = "CL_INVALID_KERNEL"; break;
    case -50: name = "CL_INVALID_ARG_VALUE"; break;
    case -51: name = "CL_INVALID_ARG_SIZE"; break;
    case -52: name = "CL_INVALID_KERNEL_ARGS"; break;
    case -53: name = "CL_INVALID_WORK_DIMENSION"; break;
    case -54: name = "CL_INVALID_WORK_GROUP_SIZE"; break;
    case -55: name = "CL_INVALID_WORK_ITEM_SIZE"; break;
    case -58: name = "CL_INVALID_EVENT"; break;
    case -59: name = "CL_INVALID_OPERATION"; break;
    case -61: name = "CL_INVALID_BUFFER_SIZE"; break;
    case -63: name = "CL_INVALID_GLOBAL_WORK_SIZE"; break;
    case -1001: name = "CL_PLATFORM_NOT_FOUND_KHR"; break;
    default: break;
  }
  return std::string(name) + " (" + std::to_string(code) + ")";
}

void check(cl_int code, const char* what) {
  if (code != CL_SUCCESS) throw Error(std::string("OpenCL: ") + what + " failed: " + error_name(code));
}

}  // namespace wino::opencl

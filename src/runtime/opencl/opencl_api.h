// The OpenCL API as Wino uses it, loaded at run time from the ICD loader (libOpenCL.so.1, dlopen),
// so that the same binary starts where OpenCL is absent. The few types and constants needed are
// declared here (values from the Khronos headers), so no OpenCL header is needed to build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wino::opencl {

using cl_int = int32_t;
using cl_uint = uint32_t;
using cl_ulong = uint64_t;
using cl_bool = cl_uint;
using cl_platform_id = struct _cl_platform_id*;
using cl_device_id = struct _cl_device_id*;
using cl_context = struct _cl_context*;
using cl_command_queue = struct _cl_command_queue*;
using cl_mem = struct _cl_mem*;
using cl_program = struct _cl_program*;
using cl_kernel = struct _cl_kernel*;
using cl_event = struct _cl_event*;
using cl_context_properties = intptr_t;

constexpr cl_int CL_SUCCESS = 0;
constexpr cl_int CL_DEVICE_NOT_FOUND = -1;
constexpr cl_int CL_BUILD_PROGRAM_FAILURE = -11;
constexpr cl_int CL_PLATFORM_NOT_FOUND_KHR = -1001;
constexpr cl_bool CL_TRUE = 1;
constexpr cl_uint CL_PLATFORM_VERSION = 0x0901, CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VENDOR = 0x0903;
constexpr cl_ulong CL_DEVICE_TYPE_CPU = 1 << 1, CL_DEVICE_TYPE_GPU = 1 << 2,
                   CL_DEVICE_TYPE_ACCELERATOR = 1 << 3, CL_DEVICE_TYPE_ALL = 0xFFFFFFFF;
constexpr cl_uint CL_DEVICE_TYPE = 0x1000, CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002,
                  CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004, CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010,
                  CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F, CL_DEVICE_LOCAL_MEM_SIZE = 0x1023,
                  CL_DEVICE_NAME = 0x102B, CL_DEVICE_VENDOR = 0x102C, CL_DRIVER_VERSION = 0x102D,
                  CL_DEVICE_VERSION = 0x102F, CL_DEVICE_OPENCL_C_VERSION = 0x103D;
constexpr cl_ulong CL_QUEUE_PROFILING_ENABLE = 1 << 1;
constexpr cl_ulong CL_MEM_READ_WRITE = 1 << 0;
constexpr cl_uint CL_PROGRAM_BUILD_LOG = 0x1183;
constexpr cl_uint CL_KERNEL_WORK_GROUP_SIZE = 0x11B0, CL_KERNEL_PRIVATE_MEM_SIZE = 0x11B4;
constexpr cl_uint CL_MEM_SIZE = 0x1102, CL_MEM_CONTEXT = 0x1106, CL_QUEUE_CONTEXT = 0x1090;
constexpr cl_uint CL_PROFILING_COMMAND_START = 0x1282, CL_PROFILING_COMMAND_END = 0x1283;

/// The entry points, resolved from the loader. Every pointer is set when api() returns.
struct Api {
  cl_int (*clGetPlatformIDs)(cl_uint, cl_platform_id*, cl_uint*);
  cl_int (*clGetPlatformInfo)(cl_platform_id, cl_uint, size_t, void*, size_t*);
  cl_int (*clGetDeviceIDs)(cl_platform_id, cl_ulong, cl_uint, cl_device_id*, cl_uint*);
  cl_int (*clGetDeviceInfo)(cl_device_id, cl_uint, size_t, void*, size_t*);
  cl_context (*clCreateContext)(const cl_context_properties*, cl_uint, const cl_device_id*,
                                void (*)(const char*, const void*, size_t, void*), void*, cl_int*);
  cl_int (*clReleaseContext)(cl_context);
  cl_command_queue (*clCreateCommandQueue)(cl_context, cl_device_id, cl_ulong, cl_int*);
  cl_int (*clReleaseCommandQueue)(cl_command_queue);
  cl_mem (*clCreateBuffer)(cl_context, cl_ulong, size_t, void*, cl_int*);
  cl_int (*clReleaseMemObject)(cl_mem);
  cl_int (*clEnqueueWriteBuffer)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void*,
                                 cl_uint, const cl_event*, cl_event*);
  cl_int (*clEnqueueReadBuffer)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void*, cl_uint,
                                const cl_event*, cl_event*);
  cl_program (*clCreateProgramWithSource)(cl_context, cl_uint, const char**, const size_t*, cl_int*);
  cl_int (*clBuildProgram)(cl_program, cl_uint, const cl_device_id*, const char*,
                           void (*)(cl_program, void*), void*);
  cl_int (*clGetProgramBuildInfo)(cl_program, cl_device_id, cl_uint, size_t, void*, size_t*);
  cl_int (*clReleaseProgram)(cl_program);
  cl_kernel (*clCreateKernel)(cl_program, const char*, cl_int*);
  cl_int (*clReleaseKernel)(cl_kernel);
  cl_int (*clSetKernelArg)(cl_kernel, cl_uint, size_t, const void*);
  cl_int (*clGetKernelWorkGroupInfo)(cl_kernel, cl_device_id, cl_uint, size_t, void*, size_t*);
  cl_int (*clEnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const size_t*,
                                   const size_t*, const size_t*, cl_uint, const cl_event*, cl_event*);
  cl_int (*clFinish)(cl_command_queue);
  cl_int (*clWaitForEvents)(cl_uint, const cl_event*);
  cl_int (*clGetEventProfilingInfo)(cl_event, cl_uint, size_t, void*, size_t*);
  cl_int (*clReleaseEvent)(cl_event);
  cl_int (*clEnqueueCopyBuffer)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
                                const cl_event*, cl_event*);
  cl_int (*clGetMemObjectInfo)(cl_mem, cl_uint, size_t, void*, size_t*);
  cl_int (*clGetCommandQueueInfo)(cl_command_queue, cl_uint, size_t, void*, size_t*);
};

/// The loaded API, or nullptr with the reason in *why_not. Loads once per process; before
/// loading, points PoCL at a private, writable cache directory when POCL_CACHE_DIR is unset.
const Api* try_api(std::string* why_not = nullptr);
/// The loaded API; throws wino::Error naming what is missing.
const Api& api();

/// "CL_BUILD_PROGRAM_FAILURE (-11)".
std::string error_name(cl_int code);
/// Throws wino::Error "<what> failed: <error name>" unless code is CL_SUCCESS.
void check(cl_int code, const char* what);

}  // namespace wino::opencl

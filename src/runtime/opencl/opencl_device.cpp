#include "runtime/opencl/opencl_device.h"

#include <map>

#include "common/error.h"
#include "runtime/cpu/sha256.h"
#include "runtime/opencl/pocl_cache.h"

namespace wino::opencl {
namespace {

std::string platform_string(const Api& a, cl_platform_id p, cl_uint what) {
  size_t size = 0;
  if (a.clGetPlatformInfo(p, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (a.clGetPlatformInfo(p, what, size, s.data(), nullptr) != CL_SUCCESS) return "";
  return s.c_str();  // drop the terminating NUL
}

std::string device_string(const Api& a, cl_device_id d, cl_uint what) {
  size_t size = 0;
  if (a.clGetDeviceInfo(d, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (a.clGetDeviceInfo(d, what, size, s.data(), nullptr) != CL_SUCCESS) return "";
  return s.c_str();
}

template <typename T>
T device_value(const Api& a, cl_device_id d, cl_uint what) {
  T v{};
  if (a.clGetDeviceInfo(d, what, sizeof v, &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}

std::vector<cl_platform_id> platform_ids(const Api& a, std::string* why_not) {
  cl_uint n = 0;
  cl_int rc = a.clGetPlatformIDs(0, nullptr, &n);
  if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && n == 0)) {
    if (why_not) *why_not = "the OpenCL ICD loader finds no platform (no driver registered in /etc/OpenCL/vendors)";
    return {};
  }
  if (rc != CL_SUCCESS) {
    if (why_not) *why_not = "clGetPlatformIDs failed: " + error_name(rc);
    return {};
  }
  std::vector<cl_platform_id> ids(n);
  if (a.clGetPlatformIDs(n, ids.data(), nullptr) != CL_SUCCESS) return {};
  return ids;
}

struct Found {
  std::vector<DeviceInfo> infos;
  std::vector<cl_device_id> ids;
  std::string why_not;
};

// Devices do not come and go while a process runs: enumerate once.
const Found& found() {
  static const Found f = [] {
    Found f;
    const Api* a = try_api(&f.why_not);
    if (!a) return f;
    std::vector<cl_platform_id> platforms = platform_ids(*a, &f.why_not);
    for (size_t p = 0; p < platforms.size(); ++p) {
      cl_uint n = 0;
      if (a->clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &n) != CL_SUCCESS || !n)
        continue;
      std::vector<cl_device_id> ids(n);
      if (a->clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr) != CL_SUCCESS)
        continue;
      for (cl_device_id d : ids) {
        DeviceInfo i;
        i.index = static_cast<int>(f.infos.size());
        i.platform = static_cast<int>(p);
        i.platform_name = platform_string(*a, platforms[p], CL_PLATFORM_NAME);
        i.name = device_string(*a, d, CL_DEVICE_NAME);
        i.vendor = device_string(*a, d, CL_DEVICE_VENDOR);
        i.version = device_string(*a, d, CL_DEVICE_VERSION);
        i.driver_version = device_string(*a, d, CL_DRIVER_VERSION);
        i.c_version = device_string(*a, d, CL_DEVICE_OPENCL_C_VERSION);
        const auto type = device_value<cl_ulong>(*a, d, CL_DEVICE_TYPE);
        i.type = type & CL_DEVICE_TYPE_GPU   ? "GPU"
                 : type & CL_DEVICE_TYPE_CPU ? "CPU"
                 : type & CL_DEVICE_TYPE_ACCELERATOR ? "accelerator"
                                                     : "other";
        i.compute_units = static_cast<int>(device_value<cl_uint>(*a, d, CL_DEVICE_MAX_COMPUTE_UNITS));
        i.max_work_group_size = device_value<size_t>(*a, d, CL_DEVICE_MAX_WORK_GROUP_SIZE);
        i.local_mem_bytes = device_value<cl_ulong>(*a, d, CL_DEVICE_LOCAL_MEM_SIZE);
        i.global_mem_bytes = device_value<cl_ulong>(*a, d, CL_DEVICE_GLOBAL_MEM_SIZE);
        i.max_alloc_bytes = device_value<cl_ulong>(*a, d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
        f.infos.push_back(std::move(i));
        f.ids.push_back(d);
      }
    }
    if (f.infos.empty() && f.why_not.empty()) f.why_not = "the OpenCL platforms have no device";
    return f;
  }();
  return f;
}

}  // namespace

std::vector<PlatformInfo> list_platforms(std::string* why_not) {
  const Api* a = try_api(why_not);
  if (!a) return {};
  std::vector<PlatformInfo> out;
  std::vector<cl_platform_id> ids = platform_ids(*a, why_not);
  for (size_t p = 0; p < ids.size(); ++p)
    out.push_back({static_cast<int>(p), platform_string(*a, ids[p], CL_PLATFORM_NAME),
                   platform_string(*a, ids[p], CL_PLATFORM_VENDOR),
                   platform_string(*a, ids[p], CL_PLATFORM_VERSION)});
  return out;
}

std::vector<DeviceInfo> list_devices(std::string* why_not) {
  const Found& f = found();
  if (f.infos.empty() && why_not) *why_not = f.why_not;
  return f.infos;
}

bool opencl_available(std::string* why_not) { return !list_devices(why_not).empty(); }

std::shared_ptr<DeviceContext> DeviceContext::get(int index) {
  static std::mutex mutex;
  // Never destroyed: drivers may already be torn down when static destructors run.
  static auto* contexts = new std::map<int, std::shared_ptr<DeviceContext>>;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = contexts->find(index); it != contexts->end()) return it->second;
  const Found& f = found();
  if (f.infos.empty()) throw Error("OpenCL device requested but not available: " + f.why_not);
  if (index < 0 || index >= static_cast<int>(f.infos.size()))
    throw Error("no OpenCL device opencl:" + std::to_string(index) + " (found " +
                std::to_string(f.infos.size()) + "; `wino devices` lists them)");
  std::shared_ptr<DeviceContext> ctx(new DeviceContext(f.infos[index], f.ids[index]));
  (*contexts)[index] = ctx;
  return ctx;
}

DeviceContext::DeviceContext(const DeviceInfo& info, cl_device_id device)
    : info_(info), device_(device) {
  const Api& a = api();
  cl_int rc = CL_SUCCESS;
  context_ = a.clCreateContext(nullptr, 1, &device_, nullptr, nullptr, &rc);
  check(rc, "clCreateContext");
  queue_ = a.clCreateCommandQueue(context_, device_, CL_QUEUE_PROFILING_ENABLE, &rc);
  if (rc != CL_SUCCESS) {
    a.clReleaseContext(context_);
    check(rc, "clCreateCommandQueue");
  }
}

DeviceContext::~DeviceContext() {
  const Api& a = api();
  for (auto& [key, program] : programs_) a.clReleaseProgram(program);
  a.clReleaseCommandQueue(queue_);
  a.clReleaseContext(context_);
}

std::string DeviceContext::cache_key(const std::string& source, const std::string& build_options) const {
  cpu::Sha256 sha;
  for (const std::string* field : {&info_.platform_name, &info_.version, &info_.driver_version,
                                   &info_.name, &build_options, &source}) {
    const uint64_t n = field->size();  // length-prefixed so that field boundaries can't shift
    sha.update(&n, sizeof n);
    sha.update(*field);
  }
  return cpu::to_hex(sha.digest(), 16);
}

cl_program DeviceContext::program(const std::string& source, const std::string& label,
                                  const std::string& build_options) {
  const std::string key = cache_key(source, build_options);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = programs_.find(key); it != programs_.end()) return it->second;
  pocl_cache::restore(key);

  const Api& a = api();
  const char* text = source.c_str();
  const size_t length = source.size();
  cl_int rc = CL_SUCCESS;
  cl_program p = a.clCreateProgramWithSource(context_, 1, &text, &length, &rc);
  check(rc, "clCreateProgramWithSource");
  ++builds_;
  rc = a.clBuildProgram(p, 1, &device_, build_options.c_str(), nullptr, nullptr);
  if (rc != CL_SUCCESS) {
    std::string log;
    size_t size = 0;
    if (a.clGetProgramBuildInfo(p, device_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size) == CL_SUCCESS &&
        size > 1) {
      log.resize(size);
      a.clGetProgramBuildInfo(p, device_, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
      log = log.c_str();
    }
    a.clReleaseProgram(p);
    throw Error("OpenCL program " + label + " failed to build on " + info_.name + ": " +
                error_name(rc) + "\nbuild log:\n" + (log.empty() ? "(empty)" : log));
  }
  pocl_cache::note_built(key);
  programs_[key] = p;
  keys_[p] = key;
  return p;
}

void DeviceContext::program_ran(cl_program program) {
  std::string key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = keys_.find(program);
    if (it == keys_.end()) return;
    key = it->second;
  }
  pocl_cache::save(key);
}

int DeviceContext::builds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return builds_;
}

}  // namespace wino::opencl

// OpenCL platforms and devices, and one shared context per device: its command queue (with
// profiling, for event timing) and its cache of built programs, keyed by the source's SHA-256.
// Devices are numbered across all platforms in the loader's order: `--device opencl:N`.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/opencl/opencl_api.h"

namespace wino::opencl {

struct PlatformInfo {
  int index = 0;
  std::string name, vendor, version;  // version: "OpenCL 3.0 PoCL 3.1+debian ..."
};

struct DeviceInfo {
  int index = 0;     // N of opencl:N
  int platform = 0;  // PlatformInfo::index
  std::string platform_name, name, vendor, version, driver_version, c_version;
  std::string type;  // "GPU", "CPU", "accelerator" or "other"
  int compute_units = 0;
  size_t max_work_group_size = 0;
  uint64_t local_mem_bytes = 0, global_mem_bytes = 0, max_alloc_bytes = 0;
  bool is_gpu() const { return type == "GPU"; }
};

/// The platforms the ICD loader finds; empty (never throws) with the reason in *why_not when the
/// loader is missing or reports none.
std::vector<PlatformInfo> list_platforms(std::string* why_not = nullptr);
/// Every device of every platform; empty (never throws) with the reason in *why_not.
std::vector<DeviceInfo> list_devices(std::string* why_not = nullptr);
/// True when at least one OpenCL device exists.
bool opencl_available(std::string* why_not = nullptr);

class DeviceContext {
 public:
  /// The process-wide context of opencl:index; throws wino::Error when it does not exist.
  static std::shared_ptr<DeviceContext> get(int index);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  const DeviceInfo& info() const { return info_; }
  cl_device_id device() const { return device_; }
  cl_context context() const { return context_; }
  cl_command_queue queue() const { return queue_; }

  /// The program of `source`, built for this device with `build_options` (clBuildProgram's) once
  /// per process (later calls return the cached program). Throws wino::Error with the compiler's
  /// build log when the build fails.
  cl_program program(const std::string& source, const std::string& label,
                     const std::string& build_options = "");
  /// clBuildProgram calls made so far (the cache's misses).
  int builds() const;
  /// After kernels of `program` ran to completion: keeps what the driver compiled for them in
  /// Wino's PoCL cache (pocl_cache.h) for later processes.
  void program_ran(cl_program program);

 private:
  DeviceContext(const DeviceInfo& info, cl_device_id device);
  // The key of `source` built with `build_options` on this device and driver.
  std::string cache_key(const std::string& source, const std::string& build_options) const;

  DeviceInfo info_;
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, cl_program> programs_;
  std::unordered_map<cl_program, std::string> keys_;
  int builds_ = 0;
};

}  // namespace wino::opencl

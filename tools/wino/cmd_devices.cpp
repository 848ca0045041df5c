// `wino devices`: what this machine can run on: the CPU, CUDA devices and OpenCL platforms and
// devices, and which one `--device auto` picks. Works (the CPU and "none found") with no GPU,
// no CUDA driver and no OpenCL.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "args.h"
#include "commands.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/opencl/opencl_device.h"
#include "wino/wino.h"

namespace wino::cli {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      if (size_t colon = line.find(':'); colon != std::string::npos && colon + 2 <= line.size())
        return line.substr(colon + 2);
  return "unknown model";
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return buf;
}

std::string kib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f KiB", bytes / 1024.0);
  return buf;
}

std::string device_name(const Device& d) {
  switch (d.kind) {
    case Device::Kind::cpu: return "cpu";
    case Device::Kind::cuda: return "cuda:" + std::to_string(d.index);
    case Device::Kind::opencl: return "opencl:" + std::to_string(d.index);
    case Device::Kind::interp: return "interp";
    case Device::Kind::automatic: break;
  }
  return "auto";
}

}  // namespace

int cmd_devices(const Argv& argv) {
  Args args("devices", "List the devices Wino can run on: the CPU, CUDA GPUs and OpenCL devices, "
                       "and the one --device auto picks.");
  args.epilog("Use a device with --device cpu, cuda[:N] or opencl[:N] (run, explain, bench).");
  if (!args.parse(argv)) return 0;

  std::ostream& out = std::cout;
  out << "cpu       " << cpu_model() << " (" << std::max(1u, std::thread::hardware_concurrency())
      << " threads)\n";

  std::string why;
  std::vector<cuda::DeviceInfo> cudas = cuda::list_cuda_devices();
  if (cudas.empty()) {
    cuda::cuda_available(&why);
    out << "cuda      none found: " << why << "\n";
  } else {
    out << "cuda      driver CUDA " << cuda::cuda_driver_version() << "\n";
    for (const cuda::DeviceInfo& d : cudas)
      out << "  cuda:" << d.ordinal << "    " << d.name << " (" << d.arch << ", " << d.sm_count
          << " SMs, " << gib(static_cast<double>(d.total_memory)) << ")\n";
  }

  why.clear();
  std::vector<opencl::PlatformInfo> platforms = opencl::list_platforms(&why);
  std::vector<opencl::DeviceInfo> devices = opencl::list_devices();
  if (platforms.empty()) out << "opencl    none found: " << why << "\n";
  for (const opencl::PlatformInfo& p : platforms) {
    out << "opencl    platform " << p.index << ": " << p.name << " (" << p.version << ")\n";
    for (const opencl::DeviceInfo& d : devices) {
      if (d.platform != p.index) continue;
      out << "  opencl:" << d.index << "  " << d.name << " (" << d.type << ", " << d.compute_units
          << " compute units, work-groups up to " << d.max_work_group_size << ", local memory "
          << kib(static_cast<double>(d.local_mem_bytes)) << ", " << d.c_version << ")\n";
    }
  }

  std::string reason;
  Device chosen = Device::resolve(Device::automatic(), &reason);
  out << "auto      " << device_name(chosen) << ": " << reason << "\n";
  return 0;
}

}  // namespace wino::cli

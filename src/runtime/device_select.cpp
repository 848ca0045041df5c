// What `--device auto` means on this machine: the first CUDA GPU, else the first OpenCL GPU,
// else the CPU. An OpenCL CPU device (PoCL) is never chosen automatically: the CPU backend is
// the better way to run on the CPU.
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"
#include "runtime/opencl/opencl_device.h"
#include "wino/wino.h"

namespace wino {

Device Device::resolve(const Device& device, std::string* why) {
  if (device.kind != Kind::automatic) return device;
  std::string cuda_why, opencl_why;
  // A GPU without NVRTC cannot compile Wino's kernels: fall through to the next choice.
  if (cuda::cuda_available(&cuda_why) && cuda::nvrtc_available(&cuda_why)) {
    if (why) *why = "the first CUDA GPU";
    return cuda(0);
  }
  for (const opencl::DeviceInfo& d : opencl::list_devices(&opencl_why))
    if (d.is_gpu()) {
      if (why) *why = "no CUDA GPU (" + cuda_why + "); the first OpenCL GPU";
      return opencl(d.index);
    }
  if (why) {
    if (opencl_why.empty()) opencl_why = "OpenCL devices exist but none is a GPU";
    *why = "no CUDA GPU (" + cuda_why + ") and no OpenCL GPU (" + opencl_why + ")";
  }
  return cpu();
}

}  // namespace wino

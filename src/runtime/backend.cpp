#include "runtime/backend.h"

#include "common/error.h"

namespace wino::runtime {

std::unique_ptr<Backend> make_cpu_backend(const Options& options);
std::unique_ptr<Backend> make_cuda_backend(const Device& device, const Options& options);

std::unique_ptr<Backend> make_backend(const Device& device, const Options& options) {
  switch (device.kind) {
    case Device::Kind::cpu:
      return make_cpu_backend(options);
    case Device::Kind::cuda:
      return make_cuda_backend(device, options);
    case Device::Kind::opencl:
      throw Error("the OpenCL runtime is not part of this build yet: use --device cpu or cuda");
  }
  throw Error("unknown device kind");
}

}  // namespace wino::runtime

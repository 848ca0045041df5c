#include "runtime/backend.h"

#include "common/error.h"

namespace wino::runtime {

std::unique_ptr<Backend> make_cpu_backend(const Options& options);
std::unique_ptr<Backend> make_cuda_backend(const Device& device, const Options& options);
std::unique_ptr<Backend> make_opencl_backend(const Device& device, const Options& options);
std::unique_ptr<Backend> make_interp_backend();

CompileSources compile_sources(const std::vector<std::string>& kernel_sources, render::Dialect dialect) {
  CompileSources s;
  s.program = render::translation_unit(kernel_sources, dialect);
  for (const std::string& k : kernel_sources) s.kernels.push_back(render::translation_unit({k}, dialect));
  return s;
}

std::vector<double> Backend::timed_runs(const std::vector<std::pair<int, std::vector<int>>>& sequence,
                                       int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i)
    for (const auto& [kernel, buffers] : sequence) launch(kernel, buffers);
  synchronize();
  std::vector<double> runs;
  for (int i = 0; i < repeats; ++i) {
    double total = 0;
    for (double us : timed_launches(sequence)) total += us;
    runs.push_back(total);
  }
  return runs;
}

std::unique_ptr<Backend> make_backend(const Device& device, const Options& options) {
  const Device d = Device::resolve(device);
  switch (d.kind) {
    case Device::Kind::cpu:
      return make_cpu_backend(options);
    case Device::Kind::cuda:
      return make_cuda_backend(d, options);
    case Device::Kind::opencl:
      return make_opencl_backend(d, options);
    case Device::Kind::interp:
      return make_interp_backend();
    case Device::Kind::automatic:
      break;
  }
  throw Error("unknown device kind");
}

}  // namespace wino::runtime

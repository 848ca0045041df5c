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

MemoryRef Backend::sub_range(MemoryRef m, int64_t offset, int64_t bytes) const {
  if (offset < 0 || bytes < 0 || offset + bytes > m.bytes)
    throw Error("internal: range [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
                ") outside memory of " + std::to_string(m.bytes) + " bytes");
  return {static_cast<char*>(m.native) + offset, bytes};
}

void Backend::copy_from_host(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream) {
  if (bytes > dst.bytes) throw Error("internal: copy of " + std::to_string(bytes) + " bytes into " + std::to_string(dst.bytes));
  ++host_copies_;
  upload(dst, host, bytes, stream);
}

void Backend::copy_to_host(void* host, MemoryRef src, int64_t bytes, StreamRef stream) {
  if (bytes > src.bytes) throw Error("internal: copy of " + std::to_string(bytes) + " bytes from " + std::to_string(src.bytes));
  ++host_copies_;
  download(host, src, bytes, stream);
}

std::vector<double> Backend::timed_runs(const std::vector<LaunchRef>& sequence, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i)
    for (const LaunchRef& l : sequence) launch(l.kernel, l.args, nullptr);
  synchronize(nullptr);
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

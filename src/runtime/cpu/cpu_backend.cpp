// The CPU backend: generated C compiled by the system compiler, work-groups spread over the cores.
#include <chrono>
#include <new>
#include <thread>

#include "common/error.h"
#include "runtime/backend.h"
#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_launch.h"
#include "runtime/cpu/host_memory.h"

namespace wino::runtime {

namespace {

class CpuBackend : public Backend {
 public:
  CpuBackend(int threads, bool quick_compile)
      : threads_(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())),
        quick_compile_(quick_compile) {}

  std::string name() const override {
    return "cpu (" + std::to_string(threads_) + " threads)";
  }
  render::Dialect dialect() const override { return render::Dialect::c; }

  std::vector<BackendKernelStats> compile(const std::vector<const ir::Kernel*>& kernels,
                                          const std::string& source) override {
    // The pragma overrides the command line's -O3 for every function of the file (GCC; other
    // compilers ignore it). It is part of the source, so the cache keeps the two builds apart.
    module_ = cpu::CpuCompiler::shared().compile(quick_compile_ ? "#pragma GCC optimize(\"O0\")\n" + source : source);
    kernels_.clear();
    for (const ir::Kernel* k : kernels) kernels_.push_back({module_->function(k->name), k->num_groups});
    return std::vector<BackendKernelStats>(kernels.size());
  }

  int alloc(int64_t elements) override {
    const int64_t bytes = elements * static_cast<int64_t>(sizeof(float));
    cpu::check_host_allocation(held_bytes_, bytes, cpu::available_host_bytes());
    try {
      buffers_.emplace_back(static_cast<size_t>(elements));
    } catch (const std::bad_alloc&) {
      throw Error("out of host memory allocating a CPU buffer of " + std::to_string(bytes) +
                  " bytes; use a smaller batch or image");
    }
    held_bytes_ += bytes;
    return static_cast<int>(buffers_.size()) - 1;
  }
  void upload(int b, const float* host, int64_t n) override {
    std::copy(host, host + n, buffers_.at(b).begin());
  }
  void download(int b, float* host, int64_t n) override {
    std::copy(buffers_.at(b).begin(), buffers_.at(b).begin() + n, host);
  }

  void launch(int kernel, const std::vector<int>& buffers) override {
    std::vector<float*> ptrs;
    for (int b : buffers) ptrs.push_back(buffers_.at(b).data());
    const Entry& e = kernels_.at(kernel);
    cpu::cpu_launch(e.fn, ptrs.data(), e.groups, threads_);
  }

  std::vector<double> timed_launches(
      const std::vector<std::pair<int, std::vector<int>>>& sequence) override {
    std::vector<double> us;
    for (const auto& [k, bufs] : sequence) {
      auto t0 = std::chrono::steady_clock::now();
      launch(k, bufs);
      auto t1 = std::chrono::steady_clock::now();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    return us;
  }
  void synchronize() override {}

 private:
  struct Entry {
    cpu::KernelFn fn;
    int64_t groups;
  };
  int threads_;
  bool quick_compile_;
  int64_t held_bytes_ = 0;  // bytes of buffers_, checked against the host's available memory
  std::shared_ptr<const cpu::CpuModule> module_;
  std::vector<Entry> kernels_;
  std::vector<std::vector<float>> buffers_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Options& options) {
  return std::make_unique<CpuBackend>(options.threads, options.quick_compile);
}

}  // namespace wino::runtime

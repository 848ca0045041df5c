// The CPU backend: generated C compiled by the system compiler, work-groups spread over the cores.
#include <thread>

#include "common/error.h"
#include "runtime/host_backend.h"
#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_launch.h"

namespace wino::runtime {

namespace {

class CpuBackend : public HostBackend {
 public:
  CpuBackend(int threads, bool quick_compile)
      : threads_(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())),
        quick_compile_(quick_compile) {}

  std::string name() const override {
    return "cpu (" + std::to_string(threads_) + " threads)";
  }
  render::Dialect dialect() const override { return render::Dialect::c; }

  std::vector<BackendKernelStats> compile(const std::vector<KernelSpec>& kernels,
                                          const CompileSources& sources) override {
    const std::string& source = sources.program;
    // The pragma overrides the command line's -O3 for every function of the file (GCC; other
    // compilers ignore it). It is part of the source, so the cache keeps the two builds apart.
    module_ = cpu::CpuCompiler::shared().compile(quick_compile_ ? "#pragma GCC optimize(\"O0\")\n" + source : source);
    kernels_.clear();
    for (const KernelSpec& k : kernels) kernels_.push_back({module_->function(k.name), k.groups});
    return std::vector<BackendKernelStats>(kernels.size());
  }

  using Backend::launch;
  void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef, bool) override {
    std::vector<void*> ptrs = pointers(args);
    const Entry& e = kernels_.at(kernel);
    cpu::cpu_launch(e.fn, ptrs.data(), e.groups, threads_);
  }

 private:
  struct Entry {
    cpu::KernelFn fn;
    int64_t groups;
  };
  int threads_;
  bool quick_compile_;
  std::shared_ptr<const cpu::CpuModule> module_;
  std::vector<Entry> kernels_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Options& options) {
  return std::make_unique<CpuBackend>(options.threads, options.quick_compile);
}

}  // namespace wino::runtime

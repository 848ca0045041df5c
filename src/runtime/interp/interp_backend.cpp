// The interpreter backend: runs each launch through interp::interpret on host buffers. Nothing is
// compiled, so it works everywhere and in milliseconds for the small shapes of the test sweep.
#include "common/error.h"
#include "interp/interpreter.h"
#include "runtime/host_backend.h"

namespace wino::runtime {

namespace {

class InterpBackend : public HostBackend {
 public:
  std::string name() const override { return "interp (IR interpreter)"; }
  render::Dialect dialect() const override { return render::Dialect::c; }

  std::vector<BackendKernelStats> compile(const std::vector<KernelSpec>& kernels,
                                          const CompileSources&) override {
    kernels_.clear();
    for (const KernelSpec& k : kernels) {
      if (!k.ir) throw Error("internal: the interpreter needs the IR of kernel " + k.name);
      kernels_.push_back(k.ir);
    }
    return std::vector<BackendKernelStats>(kernels.size());
  }

  using Backend::launch;
  void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef, bool) override {
    const ir::Kernel& k = *kernels_.at(kernel);
    for (size_t i = 0; i < args.size() && i < k.buffers.size(); ++i) {
      const int64_t need = k.buffers[i]->size * ir::type_bytes(k.buffers[i]->type);
      if (args[i].bytes < need)
        throw Error("interpreter: kernel " + k.name + " parameter " + k.buffers[i]->name + " needs " +
                    std::to_string(need) + " bytes, the buffer has " + std::to_string(args[i].bytes));
    }
    interp::interpret(k, pointers(args));
  }

 private:
  std::vector<const ir::Kernel*> kernels_;
};

}  // namespace

std::unique_ptr<Backend> make_interp_backend() { return std::make_unique<InterpBackend>(); }

}  // namespace wino::runtime

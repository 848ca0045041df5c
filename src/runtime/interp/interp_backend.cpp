// The interpreter backend: runs each launch through interp::interpret on host buffers. Nothing is
// compiled, so it works everywhere and in milliseconds for the small shapes of the test sweep.
#include <chrono>

#include "common/error.h"
#include "interp/interpreter.h"
#include "runtime/backend.h"

namespace wino::runtime {

namespace {

class InterpBackend : public Backend {
 public:
  std::string name() const override { return "interp (IR interpreter)"; }
  render::Dialect dialect() const override { return render::Dialect::c; }

  std::vector<BackendKernelStats> compile(const std::vector<const ir::Kernel*>& kernels,
                                          const std::string&) override {
    kernels_ = kernels;  // owned by the program, which outlives the backend
    return std::vector<BackendKernelStats>(kernels.size());
  }

  int alloc(int64_t elements) override {
    buffers_.emplace_back(static_cast<size_t>(elements));
    return static_cast<int>(buffers_.size()) - 1;
  }
  void upload(int b, const float* host, int64_t n) override {
    std::copy(host, host + n, buffers_.at(b).begin());
  }
  void download(int b, float* host, int64_t n) override {
    std::copy(buffers_.at(b).begin(), buffers_.at(b).begin() + n, host);
  }

  void launch(int kernel, const std::vector<int>& buffers) override {
    const ir::Kernel& k = *kernels_.at(kernel);
    std::vector<float*> ptrs;
    for (size_t i = 0; i < buffers.size(); ++i) {
      std::vector<float>& b = buffers_.at(buffers[i]);
      if (i < k.buffers.size() && static_cast<int64_t>(b.size()) < k.buffers[i]->size)
        throw Error("interpreter: kernel " + k.name + " parameter " + k.buffers[i]->name +
                    " needs " + std::to_string(k.buffers[i]->size) + " elements, the buffer has " +
                    std::to_string(b.size()));
      ptrs.push_back(b.data());
    }
    interp::interpret(k, ptrs);
  }

  std::vector<double> timed_launches(
      const std::vector<std::pair<int, std::vector<int>>>& sequence) override {
    std::vector<double> us;
    for (const auto& [k, bufs] : sequence) {
      auto t0 = std::chrono::steady_clock::now();
      launch(k, bufs);
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    return us;
  }
  void synchronize() override {}

 private:
  std::vector<const ir::Kernel*> kernels_;
  std::vector<std::vector<float>> buffers_;
};

}  // namespace

std::unique_ptr<Backend> make_interp_backend() { return std::make_unique<InterpBackend>(); }

}  // namespace wino::runtime

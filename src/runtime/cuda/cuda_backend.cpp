// The CUDA backend: kernels rendered in the CUDA dialect, compiled by NVRTC for the device's own
// architecture, launched through the driver API; registers and spills from ptxas and the driver.
#include <algorithm>

#include "common/error.h"
#include "render/render.h"
#include "runtime/backend.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::runtime {

namespace {

// The mean of `work` (one run or launch) over a sample of cuda::back_to_back_runs of it enqueued
// back to back, `repeats` samples after `warmup` untimed runs, in microseconds. One timed alone
// first says how many make a sample.
std::vector<double> back_to_back_us(const cuda::CudaContext& ctx, const std::function<void()>& work, int warmup,
                                    int repeats) {
  const int n = cuda::back_to_back_runs(cuda::time_each_ms(ctx, work, warmup, 1).at(0) * 1000.0);
  auto sample = [&] {
    for (int r = 0; r < n; ++r) work();
  };
  std::vector<double> us;
  for (float ms : cuda::time_each_ms(ctx, sample, 0, repeats)) us.push_back(ms * 1000.0 / n);
  return us;
}

class CudaAllocation : public Allocation {
 public:
  CudaAllocation(const cuda::CudaContext& ctx, int64_t bytes)
      : buffer_(ctx, static_cast<size_t>(std::max<int64_t>(bytes, 4))), bytes_(bytes) {}
  MemoryRef ref() const override { return {reinterpret_cast<void*>(buffer_.device_ptr()), bytes_}; }

 private:
  cuda::DeviceBuffer buffer_;
  int64_t bytes_;
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(int device) : ctx_(device) {}

  std::string name() const override {
    return "cuda:" + std::to_string(ctx_.info().ordinal) + " " + ctx_.name() + " (" + ctx_.arch() + ")";
  }
  render::Dialect dialect() const override { return render::Dialect::cuda; }

  // Each kernel is its own NVRTC program, compiled in parallel and cached on its own (a kernel
  // shared by several plans or tile choices is compiled once), and its own module.
  std::vector<BackendKernelStats> compile(const std::vector<KernelSpec>& kernels,
                                          const CompileSources& sources) override {
    if (sources.kernels.size() != kernels.size()) throw Error("internal: CUDA compile needs one source per kernel");
    std::vector<std::string> names, archs;
    for (const KernelSpec& k : kernels) {
      names.push_back(k.name);
      archs.push_back(cuda::kernel_arch(ctx_.arch(), k.ir && render::needs_arch_specific(*k.ir)));
    }
    std::vector<cuda::NvrtcOutput> outs = cuda::nvrtc_compile_parallel(sources.kernels, names, archs);
    std::vector<BackendKernelStats> stats;
    functions_.clear();
    modules_.clear();
    for (size_t i = 0; i < kernels.size(); ++i) {
      const KernelSpec& k = kernels[i];
      modules_.push_back(std::make_unique<cuda::CudaModule>(ctx_, outs[i].cubin, k.name));
      cuda::CudaFunction f = modules_.back()->function(k.name);
      cuda::FunctionAttributes attr = f.attributes();
      BackendKernelStats s;
      s.regs = attr.num_regs;
      s.spill_bytes = attr.local_size_bytes;
      if (auto it = outs[i].kernels.find(k.name); it != outs[i].kernels.end())
        s.spill_bytes = static_cast<int>(it->second.spill_store_bytes + it->second.spill_load_bytes);
      stats.push_back(s);
      const int64_t shared = k.ir ? render::dynamic_shared_bytes(*k.ir, render::Dialect::cuda) : 0;
      // Launched to overlap the kernel before only with a wave of work-groups or more: a smaller
      // grid started early lands on the multiprocessors that kernel frees first, several
      // work-groups on some and none on others (H100, session 60: fp16 resnet50.c5.b32 and
      // vgg16.5_2.b8, whose GEMM and output transform are under a wave, ran 5-8% slower
      // overlapped; vgg16.4_2.b8, over a wave, 3.7% faster).
      const int resident = f.resident_groups(k.threads, static_cast<unsigned>(shared));
      const bool overlap = resident > 0 && k.groups >= int64_t{resident} * ctx_.info().sm_count;
      functions_.push_back({std::move(f), k.groups, k.threads, static_cast<unsigned>(shared), overlap});
    }
    return stats;
  }

  std::unique_ptr<Allocation> alloc(int64_t bytes) override {
    return std::make_unique<CudaAllocation>(ctx_, bytes);
  }
  void copy(MemoryRef dst, MemoryRef src, int64_t bytes, StreamRef stream) override {
    cuda::copy_device_async(ctx_, address(dst), address(src), static_cast<size_t>(bytes), cuda::StreamRef::native(stream));
  }
  void check_memory(const void* native, int64_t bytes, const std::string& what) const override {
    if (native == nullptr) throw Error(what + " is a null device pointer");
    cuda::check_device_memory(ctx_, reinterpret_cast<uint64_t>(native), static_cast<size_t>(bytes), what);
  }
  void check_stream(StreamRef stream) const override { cuda::check_stream(ctx_, cuda::StreamRef::native(stream)); }

  using Backend::launch;
  void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef stream, bool after_previous) override {
    const Entry& e = functions_.at(kernel);
    cuda::KernelArgs packed;
    for (const MemoryRef& m : args) packed.add(address(m));
    cuda::launch(e.fn, {static_cast<unsigned>(e.groups), 1, 1}, {static_cast<unsigned>(e.threads), 1, 1}, e.dynamic_shared,
                 cuda::StreamRef::native(stream), packed, after_previous && e.overlap);
  }

  // Each timed sample is launches (or runs) enqueued back to back between its events, and counts
  // their mean (back_to_back_us; every kernel is a function of its inputs alone, so repeating one
  // is harmless).
  std::vector<double> timed_launches(const std::vector<LaunchRef>& sequence) override {
    std::vector<double> us;
    for (const LaunchRef& l : sequence)
      us.push_back(back_to_back_us(ctx_, [&] { launch(l.kernel, l.args, nullptr); }, 0, 1).at(0));
    return us;
  }
  std::vector<double> timed_runs(const std::vector<LaunchRef>& sequence, int warmup, int repeats) override {
    auto run = [&] {
      for (size_t i = 0; i < sequence.size(); ++i) launch(sequence[i].kernel, sequence[i].args, nullptr, i > 0);
    };
    return back_to_back_us(ctx_, run, warmup, repeats);
  }
  void synchronize(StreamRef stream) override {
    if (stream == nullptr) ctx_.synchronize();  // names the last kernel when one faulted
    else cuda::synchronize(ctx_, cuda::StreamRef::native(stream));
  }

 protected:
  void upload(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream) override {
    cuda::copy_to_device_async(ctx_, address(dst), host, static_cast<size_t>(bytes), cuda::StreamRef::native(stream));
    synchronize(stream);  // the host memory may be reused as soon as this returns
  }
  void download(void* host, MemoryRef src, int64_t bytes, StreamRef stream) override {
    cuda::copy_to_host_async(ctx_, host, address(src), static_cast<size_t>(bytes), cuda::StreamRef::native(stream));
    synchronize(stream);
  }

 private:
  struct Entry {
    cuda::CudaFunction fn;
    int64_t groups;
    int threads;
    unsigned dynamic_shared = 0;  // bytes (kernels with over 48 KiB of work-group memory)
    bool overlap = false;         // launched to overlap the one before where Backend::launch allows it
  };
  static uint64_t address(MemoryRef m) { return reinterpret_cast<uint64_t>(m.native); }

  cuda::CudaContext ctx_;
  std::vector<std::unique_ptr<cuda::CudaModule>> modules_;
  std::vector<Entry> functions_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const Device& device, const Options&) {
  std::string why;
  if (!cuda::cuda_available(&why))
    throw Error("CUDA device requested but not available: " + why +
                " (use --device cpu, or run on a machine with an NVIDIA GPU and driver)");
  if (!cuda::nvrtc_available(&why)) throw Error("CUDA device requested but NVRTC is missing: " + why);
  return std::make_unique<CudaBackend>(device.index);
}

}  // namespace wino::runtime

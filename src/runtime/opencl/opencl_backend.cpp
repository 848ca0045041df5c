// The OpenCL backend: kernels rendered in OpenCL C, built by the device's driver through the ICD
// loader (PoCL on the CPU in CI), launched with the plan's work-group size, timed by events.
#include "common/error.h"
#include "runtime/backend.h"
#include "runtime/opencl/opencl_device.h"

namespace wino::runtime {

namespace {

using namespace opencl;

class Buffer {
 public:
  Buffer(cl_context ctx, size_t bytes) {
    cl_int rc = CL_SUCCESS;
    mem_ = api().clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, &rc);
    check(rc, ("clCreateBuffer of " + std::to_string(bytes) + " bytes").c_str());
  }
  Buffer(Buffer&& o) noexcept : mem_(o.mem_) { o.mem_ = nullptr; }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer& operator=(Buffer&&) = delete;
  ~Buffer() {
    if (mem_) api().clReleaseMemObject(mem_);
  }
  const cl_mem& mem() const { return mem_; }

 private:
  cl_mem mem_ = nullptr;
};

struct Kernel {
  cl_kernel kernel = nullptr;
  size_t groups = 0, threads = 0;
};

class OpenClBackend : public Backend {
 public:
  OpenClBackend(std::shared_ptr<DeviceContext> dev, bool quick_compile)
      : dev_(std::move(dev)), build_options_(quick_compile ? "-cl-opt-disable" : "") {}
  ~OpenClBackend() override {
    api().clFinish(dev_->queue());  // nothing may still use the buffers released below
    release_kernels();
  }

  std::string name() const override {
    const DeviceInfo& i = dev_->info();
    return "opencl:" + std::to_string(i.index) + " " + i.name + " (" + i.platform_name + ", " +
           i.type + ")";
  }
  render::Dialect dialect() const override { return render::Dialect::opencl; }

  std::vector<BackendKernelStats> compile(const std::vector<const ir::Kernel*>& kernels,
                                          const CompileSources& sources) override {
    const std::string& source = sources.program;
    release_kernels();
    cl_program program =
        dev_->program(source, kernels.empty() ? "wino" : kernels.front()->name, build_options_);
    program_ = program;
    for (const ir::Kernel* k : kernels) {
      if (static_cast<size_t>(k->threads_per_group) > dev_->info().max_work_group_size)
        throw Error("kernel " + k->name + " needs " + std::to_string(k->threads_per_group) +
                    " work-items per work-group; " + dev_->info().name + " allows " +
                    std::to_string(dev_->info().max_work_group_size));
      cl_int rc = CL_SUCCESS;
      cl_kernel kernel = api().clCreateKernel(program, k->name.c_str(), &rc);
      check(rc, ("clCreateKernel " + k->name).c_str());
      kernels_.push_back({kernel, static_cast<size_t>(k->num_groups),
                          static_cast<size_t>(k->threads_per_group)});
    }
    // OpenCL drivers report no register counts or spills.
    return std::vector<BackendKernelStats>(kernels.size());
  }

  int alloc(int64_t bytes) override {
    buffers_.emplace_back(dev_->context(), static_cast<size_t>(std::max<int64_t>(bytes, 4)));
    return static_cast<int>(buffers_.size()) - 1;
  }
  void upload(int b, const void* host, int64_t bytes) override {
    check(api().clEnqueueWriteBuffer(dev_->queue(), buffers_.at(b).mem(), CL_TRUE, 0,
                                     static_cast<size_t>(bytes), host, 0, nullptr, nullptr),
          "clEnqueueWriteBuffer");
  }
  void download(int b, void* host, int64_t bytes) override {
    check(api().clEnqueueReadBuffer(dev_->queue(), buffers_.at(b).mem(), CL_TRUE, 0,
                                    static_cast<size_t>(bytes), host, 0, nullptr, nullptr),
          "clEnqueueReadBuffer");
  }

  void launch(int kernel, const std::vector<int>& buffers) override { enqueue(kernel, buffers, nullptr); }

  std::vector<double> timed_launches(
      const std::vector<std::pair<int, std::vector<int>>>& sequence) override {
    std::vector<cl_event> events;
    for (const auto& [k, bufs] : sequence) {
      cl_event e = nullptr;
      enqueue(k, bufs, &e);
      events.push_back(e);
    }
    std::vector<double> us;
    const Api& a = api();
    cl_int rc = events.empty() ? CL_SUCCESS : a.clWaitForEvents(static_cast<cl_uint>(events.size()), events.data());
    for (cl_event e : events) {
      cl_ulong start = 0, end = 0;
      if (rc == CL_SUCCESS)
        rc = a.clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof start, &start, nullptr);
      if (rc == CL_SUCCESS)
        rc = a.clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr);
      us.push_back(static_cast<double>(end - start) * 1e-3);
    }
    for (cl_event e : events) a.clReleaseEvent(e);
    check(rc, "waiting for and timing kernels (clWaitForEvents, clGetEventProfilingInfo)");
    kernels_ran();
    return us;
  }
  void synchronize() override {
    check(api().clFinish(dev_->queue()), "clFinish");
    kernels_ran();
  }

 private:
  void enqueue(int kernel, const std::vector<int>& buffers, cl_event* event) {
    const Kernel& k = kernels_.at(kernel);
    const Api& a = api();
    for (size_t i = 0; i < buffers.size(); ++i)
      check(a.clSetKernelArg(k.kernel, static_cast<cl_uint>(i), sizeof(cl_mem), &buffers_.at(buffers[i]).mem()),
            "clSetKernelArg");
    const size_t global = k.groups * k.threads, local = k.threads;
    check(a.clEnqueueNDRangeKernel(dev_->queue(), k.kernel, 1, nullptr, &global, &local, 0, nullptr, event),
          "clEnqueueNDRangeKernel");
  }

  // The driver compiles kernels at their first launch: what it made is complete only now.
  void kernels_ran() {
    if (program_) dev_->program_ran(program_);
  }

  void release_kernels() {
    for (Kernel& k : kernels_) api().clReleaseKernel(k.kernel);
    kernels_.clear();
  }

  std::shared_ptr<DeviceContext> dev_;
  std::string build_options_;  // "-cl-opt-disable" for Options::quick_compile
  cl_program program_ = nullptr;  // owned by dev_'s program cache
  std::vector<Kernel> kernels_;
  std::vector<Buffer> buffers_;
};

}  // namespace

std::unique_ptr<Backend> make_opencl_backend(const Device& device, const Options& options) {
  std::string why;
  if (!opencl::opencl_available(&why))
    throw Error("OpenCL device requested but not available: " + why +
                " (use --device cpu, or install an OpenCL driver; scripts/setup.sh installs PoCL)");
  return std::make_unique<OpenClBackend>(DeviceContext::get(device.index), options.quick_compile);
}

}  // namespace wino::runtime

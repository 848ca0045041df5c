// The OpenCL backend: kernels rendered in OpenCL C, built by the device's driver through the ICD
// loader (PoCL on the CPU in CI), launched with the plan's work-group size, timed by events.
#include <algorithm>
#include <mutex>

#include "common/error.h"
#include "runtime/backend.h"
#include "runtime/opencl/opencl_device.h"

namespace wino::runtime {

namespace {

using namespace opencl;

class ClAllocation : public Allocation {
 public:
  ClAllocation(std::shared_ptr<DeviceContext> dev, int64_t bytes) : dev_(std::move(dev)), bytes_(bytes) {
    cl_int rc = CL_SUCCESS;
    const size_t size = static_cast<size_t>(std::max<int64_t>(bytes, 4));
    mem_ = api().clCreateBuffer(dev_->context(), CL_MEM_READ_WRITE, size, nullptr, &rc);
    check(rc, ("clCreateBuffer of " + std::to_string(size) + " bytes").c_str());
  }
  ClAllocation(const ClAllocation&) = delete;
  ClAllocation& operator=(const ClAllocation&) = delete;
  ~ClAllocation() override {
    api().clFinish(dev_->queue());  // no kernel of Wino's queue may still use it
    api().clReleaseMemObject(mem_);
  }
  MemoryRef ref() const override { return {mem_, bytes_}; }

 private:
  std::shared_ptr<DeviceContext> dev_;
  cl_mem mem_ = nullptr;
  int64_t bytes_;
};

cl_mem mem_of(MemoryRef m) { return static_cast<cl_mem>(m.native); }

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

  std::vector<BackendKernelStats> compile(const std::vector<KernelSpec>& kernels,
                                          const CompileSources& sources) override {
    const std::string& source = sources.program;
    release_kernels();
    cl_program program =
        dev_->program(source, kernels.empty() ? "wino" : kernels.front().name, build_options_);
    program_ = program;
    for (const KernelSpec& k : kernels) {
      if (static_cast<size_t>(k.threads) > dev_->info().max_work_group_size)
        throw Error("kernel " + k.name + " needs " + std::to_string(k.threads) +
                    " work-items per work-group; " + dev_->info().name + " allows " +
                    std::to_string(dev_->info().max_work_group_size));
      cl_int rc = CL_SUCCESS;
      cl_kernel kernel = api().clCreateKernel(program, k.name.c_str(), &rc);
      check(rc, ("clCreateKernel " + k.name).c_str());
      kernels_.push_back({kernel, static_cast<size_t>(k.groups),
                          static_cast<size_t>(k.threads)});
    }
    // OpenCL drivers report no register counts or spills.
    return std::vector<BackendKernelStats>(kernels.size());
  }

  std::unique_ptr<Allocation> alloc(int64_t bytes) override { return std::make_unique<ClAllocation>(dev_, bytes); }
  void copy(MemoryRef dst, MemoryRef src, int64_t bytes, StreamRef stream) override {
    if (bytes == 0) return;
    check(api().clEnqueueCopyBuffer(queue(stream), mem_of(src), mem_of(dst), 0, 0, static_cast<size_t>(bytes), 0,
                                    nullptr, nullptr),
          "clEnqueueCopyBuffer");
  }
  void check_memory(const void* native, int64_t bytes, const std::string& what) const override {
    if (native == nullptr) throw Error(what + " is a null cl_mem");
    cl_context owner = nullptr;
    size_t size = 0;
    cl_mem mem = static_cast<cl_mem>(const_cast<void*>(native));
    if (api().clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof owner, &owner, nullptr) != CL_SUCCESS ||
        api().clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, nullptr) != CL_SUCCESS)
      throw Error(what + " is not a cl_mem buffer (a host pointer?): pass a buffer made with clCreateBuffer");
    if (owner != dev_->context())
      throw Error(what + " belongs to another OpenCL context: make it in Wino's (opencl:" +
                  std::to_string(dev_->info().index) + ") or copy it there");
    if (static_cast<int64_t>(size) < bytes)
      throw Error(what + " needs " + std::to_string(bytes) + " bytes; the cl_mem holds " + std::to_string(size));
  }
  MemoryRef sub_range(MemoryRef, int64_t, int64_t) const override {
    throw Error("a caller-supplied workspace is not supported on OpenCL (a cl_mem cannot be offset): "
                "leave Workspace empty and the Conv allocates its own");
  }
  void check_stream(StreamRef stream) const override {
    if (stream == nullptr) return;
    cl_context owner = nullptr;
    check(api().clGetCommandQueueInfo(static_cast<cl_command_queue>(stream), CL_QUEUE_CONTEXT, sizeof owner, &owner,
                                      nullptr),
          "clGetCommandQueueInfo (is the stream a cl_command_queue?)");
    if (owner != dev_->context())
      throw Error("the command queue belongs to another OpenCL context, not opencl:" + std::to_string(dev_->info().index));
  }

  using Backend::launch;
  void launch(int kernel, const std::vector<MemoryRef>& args, StreamRef stream, bool) override {
    enqueue(kernel, args, queue(stream), nullptr);
  }

  std::vector<double> timed_launches(const std::vector<LaunchRef>& sequence) override {
    std::vector<cl_event> events;
    for (const LaunchRef& l : sequence) {
      cl_event e = nullptr;
      enqueue(l.kernel, l.args, dev_->queue(), &e);
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
  void synchronize(StreamRef stream) override {
    check(api().clFinish(queue(stream)), "clFinish");
    kernels_ran();
  }

 protected:
  void upload(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream) override {
    check(api().clEnqueueWriteBuffer(queue(stream), mem_of(dst), CL_TRUE, 0, static_cast<size_t>(bytes), host, 0,
                                     nullptr, nullptr),
          "clEnqueueWriteBuffer");
  }
  void download(void* host, MemoryRef src, int64_t bytes, StreamRef stream) override {
    check(api().clEnqueueReadBuffer(queue(stream), mem_of(src), CL_TRUE, 0, static_cast<size_t>(bytes), host, 0,
                                    nullptr, nullptr),
          "clEnqueueReadBuffer");
  }

 private:
  cl_command_queue queue(StreamRef stream) const {
    return stream != nullptr ? static_cast<cl_command_queue>(stream) : dev_->queue();
  }

  // A cl_kernel's arguments are shared state: setting them and enqueueing is one step.
  void enqueue(int kernel, const std::vector<MemoryRef>& args, cl_command_queue q, cl_event* event) {
    const Kernel& k = kernels_.at(kernel);
    const Api& a = api();
    std::lock_guard lock(launch_mutex_);
    for (size_t i = 0; i < args.size(); ++i) {
      cl_mem mem = mem_of(args[i]);
      check(a.clSetKernelArg(k.kernel, static_cast<cl_uint>(i), sizeof(cl_mem), &mem), "clSetKernelArg");
    }
    const size_t global = k.groups * k.threads, local = k.threads;
    check(a.clEnqueueNDRangeKernel(q, k.kernel, 1, nullptr, &global, &local, 0, nullptr, event),
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
  std::mutex launch_mutex_;
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

// Conv on tensors the caller holds on the device (TensorRef): the kernels read and write the
// caller's memory, enqueued on the caller's stream, with no host copy; misuse is refused by name.
// The CPU and interpreter cases run everywhere; the CUDA cases run on a GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "common/tensor.h"
#include "opencl_skip.h"
#include "reference/reference.h"
#include "runtime/opencl/opencl_device.h"
#include "cuda_skip.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"
#include "wino/wino.h"

namespace wino {
namespace {

// A small layer with two K and C blocks' worth of channels, partial tiles and a ResNet tail.
struct Layer {
  ConvDesc desc;
  Tensor x, w, bias, z;
  Layer() {
    desc.n = 2, desc.c = 5, desc.h = 11, desc.w = 9, desc.k = 6, desc.pad = Padding::all(1);
    desc.epilogue = {true, true, Activation::relu};
    x = random_normal(DType::f32, {2, 5, 11, 9}, 11);
    w = random_normal(DType::f32, {6, 5, 3, 3}, 12);
    bias = random_normal(DType::f32, {6}, 13);
    z = random_normal(DType::f32, {2, 6, 11, 9}, 14);
  }
  Shape out_shape() const { return {desc.n, desc.k, desc.out_h(), desc.out_w()}; }
  // The float64 reference, as float32.
  Tensor expected() const {
    Tensor ref = reference_conv2d(x, w, desc.pad);
    apply_reference_epilogue(ref, desc.epilogue, &bias, &z);
    return ref;
  }
};

Options unfused(int m = 2) {
  Options o;
  o.plan = "unfused";
  o.m = m;
  return o;
}

std::vector<float> values(const Tensor& t) { return {t.f32(), t.f32() + t.numel()}; }

TensorRef ref(Tensor& t) { return {t.f32(), t.shape(), DType::f32}; }

double rel_err(const Tensor& y, const Tensor& ref) {
  const double e = relative_l2_error(y, ref);
  std::printf("relative L2 error %.3g\n", e);
  return e;
}

TEST(DeviceTensors, CpuRunsOnTheCallersMemoryWithoutCopies) {
  Layer l;
  Conv conv = compile(Device::cpu(), l.desc, unfused());
  TensorRef b = ref(l.bias);
  conv.set_weights(ref(l.w), &b);
  Tensor y(DType::f32, l.out_shape());
  TensorRef z = ref(l.z);
  conv.run(ref(l.x), ref(y), {}, &z);
  EXPECT_LT(rel_err(y, l.expected()), 1e-5);
  EXPECT_EQ(conv.report().host_copies, 0);
}

TEST(DeviceTensors, CallersWorkspaceGivesTheSameResult) {
  Layer l;
  for (const Device& device : {Device::cpu(), Device::interpreter()}) {
    Conv conv = compile(device, l.desc, unfused(4));
    TensorRef b = ref(l.bias), z = ref(l.z);
    conv.set_weights(ref(l.w), &b);
    ASSERT_GT(conv.workspace_bytes(), 0);  // V and M
    std::vector<float> ws(static_cast<size_t>(conv.workspace_bytes() / 4), -7.0f);
    Tensor own(DType::f32, l.out_shape()), given(DType::f32, l.out_shape());
    conv.run(ref(l.x), ref(own), {}, &z);
    conv.run(ref(l.x), ref(given), {}, &z, {ws.data(), conv.workspace_bytes()});
    EXPECT_EQ(values(own), values(given));
    EXPECT_LT(rel_err(given, l.expected()), 1e-5);
    EXPECT_THROW(conv.run(ref(l.x), ref(given), {}, &z, {ws.data(), conv.workspace_bytes() - 1}), Error);
  }
}

TEST(DeviceTensors, DirectNeedsNoWorkspace) {
  Layer l;
  Options o;
  o.plan = "direct";
  EXPECT_EQ(compile(Device::cpu(), l.desc, o).workspace_bytes(), 0);
}

// Expects `f` to throw a wino::Error whose message contains `part`.
template <class F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(DeviceTensors, MisuseIsRefusedByName) {
  Layer l;
  Conv conv = compile(Device::cpu(), l.desc, unfused());
  TensorRef b = ref(l.bias), z = ref(l.z);
  Tensor y(DType::f32, l.out_shape());
  expect_error([&] { conv.run(ref(l.x), ref(y), {}, &z); }, "set_weights() must be called");
  conv.set_weights(ref(l.w), &b);
  TensorRef half_x = ref(l.x);
  half_x.dtype = DType::f16;
  expect_error([&] { conv.run(half_x, ref(y), {}, &z); }, "x has dtype float16, but the convolution was compiled for float32");
  TensorRef wide_x = ref(l.x);
  wide_x.shape[3] = 10;
  expect_error([&] { conv.run(wide_x, ref(y), {}, &z); }, "x has shape (2, 5, 11, 10), but the convolution needs x (N, C, H, W) = (2, 5, 11, 9)");
  expect_error([&] { conv.run(ref(l.x), ref(y)); }, "epilogue has a residual");
  expect_error([&] { conv.run(TensorRef{nullptr, l.x.shape()}, ref(y), {}, &z); }, "x is null");
  TensorRef short_w = ref(l.w);
  short_w.shape = {6, 5, 3};
  expect_error([&] { conv.set_weights(short_w, &b); }, "weights (K, C/groups, R, S) = (6, 5, 3, 3)");
  expect_error([&] { conv.set_weights(ref(l.w)); }, "epilogue has a bias");
  conv.set_weights(ref(l.w), &b);
  std::vector<float> ws(static_cast<size_t>(conv.workspace_bytes() / 4) + 4);
  float* off = ws.data() + (reinterpret_cast<uintptr_t>(ws.data()) % 16 == 0 ? 1 : 0);  // 4 bytes past a boundary
  expect_error([&] { conv.run(ref(l.x), ref(y), {}, &z, {off, conv.workspace_bytes()}); }, "past a 16-byte boundary");
}

TEST(DeviceTensors, NhwcTensorsAreCheckedInTheirOwnShape) {
  Layer l;
  l.desc.layout = Layout::nhwc;
  Conv conv = compile(Device::cpu(), l.desc, unfused());
  TensorRef b = ref(l.bias);
  conv.set_weights(ref(l.w), &b);
  Tensor x = nchw_to_nhwc(l.x), z = nchw_to_nhwc(l.z), y = nchw_to_nhwc(Tensor(DType::f32, l.out_shape()));
  TensorRef zr = ref(z);
  expect_error([&] { conv.run(ref(l.x), ref(y), {}, &zr); },
               "x has shape (2, 5, 11, 9), but the convolution needs x (N, H, W, C) = (2, 11, 9, 5)");
  conv.run(ref(x), ref(y), {}, &zr);  // the right shapes run
  TensorRef nchw_y{y.f32(), l.out_shape(), DType::f32};
  expect_error([&] { conv.run(ref(x), nchw_y, {}, &zr); }, "but the convolution needs y (N, out_h, out_w, K)");
}

// 8 threads x 100 runs on one Conv, each thread with its own tensors: every run's output is the
// one a lone run gives (each concurrent call gets its own workspace).
void eight_threads_on_host(const Device& device) {
  Layer l;
  Conv conv = compile(device, l.desc, unfused());
  TensorRef b = ref(l.bias);
  conv.set_weights(ref(l.w), &b);
  constexpr int kThreads = 8, kRuns = 100;
  std::vector<Tensor> xs;
  std::vector<Tensor> expected;
  for (int t = 0; t < kThreads; ++t) {
    xs.push_back(random_normal(DType::f32, l.x.shape(), 200 + t));
    expected.emplace_back(DType::f32, l.out_shape());
    TensorRef z = ref(l.z);
    conv.run(ref(xs[t]), ref(expected[t]), {}, &z);
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Tensor y(DType::f32, l.out_shape());
      TensorRef z = ref(l.z);
      for (int i = 0; i < kRuns; ++i) {
        conv.run(ref(xs[t]), ref(y), {}, &z);
        if (values(y) != values(expected[t])) wrong++;
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << kThreads * kRuns << " runs";
}

TEST(DeviceTensors, EightThreadsOnTheCpuEachGetTheirOwnResult) { eight_threads_on_host(Device::cpu()); }

// ---- OpenCL: cl_mem tensors in Wino's context --------------------------------------------------

struct ClTensor {
  opencl::cl_mem mem = nullptr;
  Shape shape;
  ClTensor(const Tensor& t, int64_t bytes = -1) : shape(t.shape()) {
    const auto dev = opencl::DeviceContext::get(0);
    opencl::cl_int rc = 0;
    const size_t size = static_cast<size_t>(bytes >= 0 ? bytes : t.numel() * 4);
    mem = opencl::api().clCreateBuffer(dev->context(), opencl::CL_MEM_READ_WRITE, size, nullptr, &rc);
    opencl::check(rc, "clCreateBuffer");
    if (bytes < 0)
      opencl::check(opencl::api().clEnqueueWriteBuffer(dev->queue(), mem, opencl::CL_TRUE, 0, size, t.f32(), 0,
                                                       nullptr, nullptr),
                    "clEnqueueWriteBuffer");
  }
  ~ClTensor() { opencl::api().clReleaseMemObject(mem); }
  TensorRef ref() const { return {mem, shape, DType::f32}; }
  Tensor download() const {
    Tensor t(DType::f32, shape);
    opencl::check(opencl::api().clEnqueueReadBuffer(opencl::DeviceContext::get(0)->queue(), mem, opencl::CL_TRUE, 0,
                                                    static_cast<size_t>(t.numel()) * 4, t.f32(), 0, nullptr, nullptr),
                  "clEnqueueReadBuffer");
    return t;
  }
};

TEST(OpenClDeviceTensors, RunsOnClMemWithoutHostCopies) {
  SKIP_WITHOUT_OPENCL();
  Layer l;
  Options o = unfused();
  o.quick_compile = true;
  Conv conv = compile(Device::opencl(), l.desc, o);
  ClTensor x(l.x), w(l.w), b(l.bias), z(l.z), y(Tensor(DType::f32, l.out_shape()));
  TensorRef bias = b.ref(), res = z.ref();
  conv.set_weights(w.ref(), &bias);
  conv.run(x.ref(), y.ref(), {}, &res);
  EXPECT_LT(rel_err(y.download(), l.expected()), 1e-5);
  EXPECT_EQ(conv.report().host_copies, 0);
  ClTensor small(l.z, 64);
  expect_error([&] { conv.run(x.ref(), small.ref(), {}, &res); }, "y needs");
  expect_error([&] { conv.run(x.ref(), y.ref(), {}, &res, {x.mem, conv.workspace_bytes()}); },
               "not supported on OpenCL");
}

// ---- CUDA -----------------------------------------------------------------------------------

// A host tensor's copy in device memory (made with Wino's own driver layer, not counted by Conv).
struct DeviceTensor {
  cuda::DeviceBuffer buffer;
  Shape shape;
  DeviceTensor(const cuda::CudaContext& ctx, const Tensor& t)
      : buffer(ctx, static_cast<size_t>(t.numel()) * 4), shape(t.shape()) {
    buffer.copy_from_host(t.f32(), buffer.size());
  }
  TensorRef ref() const { return {reinterpret_cast<void*>(buffer.device_ptr()), shape, DType::f32}; }
  Tensor download() const {
    Tensor t(DType::f32, shape);
    buffer.copy_to_host(t.f32(), buffer.size());
    return t;
  }
};

TEST(CudaDeviceTensors, RunEnqueuesOnTheStreamWithoutHostCopies) {
  SKIP_WITHOUT_CUDA();
  Layer l;
  cuda::CudaContext ctx(0);
  cuda::CudaStream stream(ctx);
  Conv conv = compile(Device::cuda(), l.desc, unfused(4));
  DeviceTensor x(ctx, l.x), w(ctx, l.w), b(ctx, l.bias), z(ctx, l.z), y(ctx, Tensor(DType::f32, l.out_shape()));
  TensorRef bias = b.ref(), res = z.ref();
  conv.set_weights(w.ref(), &bias, {stream.native_handle()});
  for (int i = 0; i < 10; ++i) conv.run(x.ref(), y.ref(), {stream.native_handle()}, &res);
  EXPECT_EQ(conv.report().host_copies, 0);
  stream.synchronize();
  const Tensor out = y.download();
  EXPECT_LT(rel_err(out, l.expected()), 1e-5);
  Tensor host_out(DType::f32, l.out_shape());  // the host-pointer convenience: same kernels, same bits
  conv.run(l.x.f32(), host_out.f32(), l.z.f32());
  EXPECT_EQ(values(out), values(host_out));
  EXPECT_EQ(conv.report().host_copies, 3);  // x and z up, y down
}

TEST(CudaDeviceTensors, EightThreadsEachWithItsOwnStream) {
  SKIP_WITHOUT_CUDA();
  Layer l;
  cuda::CudaContext ctx(0);
  Conv conv = compile(Device::cuda(), l.desc, unfused(4));
  DeviceTensor w(ctx, l.w), b(ctx, l.bias), z(ctx, l.z);
  TensorRef bias = b.ref();
  conv.set_weights(w.ref(), &bias);
  constexpr int kThreads = 8, kRuns = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      cuda::CudaStream stream(ctx);
      const Tensor xh = random_normal(DType::f32, l.x.shape(), 300 + t);
      DeviceTensor x(ctx, xh), y(ctx, Tensor(DType::f32, l.out_shape()));
      Tensor want = reference_conv2d(xh, l.w, l.desc.pad);
      apply_reference_epilogue(want, l.desc.epilogue, &l.bias, &l.z);
      TensorRef res = z.ref();
      for (int i = 0; i < kRuns; ++i) {
        conv.run(x.ref(), y.ref(), {stream.native_handle()}, &res);
        stream.synchronize();
        if (relative_l2_error(y.download(), want) > 1e-5) wrong++;
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << kThreads * kRuns << " runs";
  EXPECT_EQ(conv.report().host_copies, 0);
}

TEST(CudaDeviceTensors, MisuseIsRefusedByName) {
  SKIP_WITHOUT_CUDA();
  Layer l;
  cuda::CudaContext ctx(0);
  Conv conv = compile(Device::cuda(), l.desc, unfused(4));
  DeviceTensor w(ctx, l.w), b(ctx, l.bias), z(ctx, l.z), x(ctx, l.x), y(ctx, Tensor(DType::f32, l.out_shape()));
  TensorRef bias = b.ref(), res = z.ref();
  conv.set_weights(w.ref(), &bias);
  TensorRef host_x = ref(l.x);
  expect_error([&] { conv.run(host_x, y.ref(), {}, &res); }, "x is not CUDA device memory");
  cuda::DeviceBuffer small(ctx, 64);
  TensorRef short_y = y.ref();
  short_y.data = reinterpret_cast<void*>(small.device_ptr());
  expect_error([&] { conv.run(x.ref(), short_y, {}, &res); }, "but its allocation ends");
  TensorRef bf16_x = x.ref();
  bf16_x.dtype = DType::bf16;
  expect_error([&] { conv.run(bf16_x, y.ref(), {}, &res); }, "x has dtype bfloat16");
  expect_error([&] { conv.run(x.ref(), y.ref(), {}, &res, {host_x.data, conv.workspace_bytes()}); },
               "workspace is not CUDA device memory");
  EXPECT_EQ(conv.report().host_copies, 0);
}

// The tensor-core fused's ring copies x 16 bytes at a time (f16 channels last, two chunks of 16
// channels), the unfused plan's input transform (V by tiles) loads 4 channels of a pixel, 8 bytes:
// a tensor that starts between such boundaries is refused by name, not read misaligned (a fault
// that would end the context); one on a boundary runs.
TEST(CudaDeviceTensors, InputCopiedInRunsMustStartOnTheirBoundary) {
  SKIP_WITHOUT_CUDA();
  ConvDesc d;
  d.n = 1, d.c = 32, d.h = d.w = 8, d.k = 16, d.pad = Padding::all(1);
  d.dtype = DType::f16, d.layout = Layout::nhwc;
  cuda::CudaContext ctx(0);
  for (const auto& [plan, bytes] : {std::pair<std::string, int>{"fused", 16}, {"unfused", 8}}) {
    Options o;
    o.plan = plan, o.m = 2, o.precision = Precision::fp16;
    Conv conv = compile(Device::cuda(), d, o);
    const int64_t x_bytes = d.n * d.h * d.w * d.c * 2, y_bytes = d.n * d.out_h() * d.out_w() * d.k * 2;
    cuda::DeviceBuffer w(ctx, d.k * d.c * 9 * 2), x(ctx, x_bytes + 16), y(ctx, y_bytes);
    conv.set_weights(TensorRef{reinterpret_cast<void*>(w.device_ptr()), {d.k, d.c, 3, 3}, DType::f16});
    TensorRef yr{reinterpret_cast<void*>(y.device_ptr()), {d.n, d.out_h(), d.out_w(), d.k}, DType::f16};
    TensorRef xr{reinterpret_cast<void*>(x.device_ptr() + 2), {d.n, d.h, d.w, d.c}, DType::f16};
    expect_error([&] { conv.run(xr, yr); },
                 "x starts 2 bytes past a " + std::to_string(bytes) + "-byte boundary, but plan " + plan + " reads it");
    xr.data = reinterpret_cast<void*>(x.device_ptr());
    conv.run(xr, yr);
  }
}

}  // namespace
}  // namespace wino

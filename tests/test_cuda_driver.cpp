// The CUDA driver layer. Without a GPU only the "not available" path runs; with one, kernels
// compiled by NVRTC for the device's own arch are loaded, launched on random data and timed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "render/dialect.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::cuda {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

TEST(CudaDriver, AvailabilityIsReportedWithoutThrowing) {
  std::string why;
  bool available = false;
  ASSERT_NO_THROW(available = cuda_available(&why));
  std::vector<DeviceInfo> devices;
  ASSERT_NO_THROW(devices = list_cuda_devices());
  if (available) {
    ASSERT_FALSE(devices.empty());
    EXPECT_EQ(devices[0].ordinal, 0);
    EXPECT_NO_THROW(CudaContext{});
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(devices.empty());
    try {
      CudaContext context;
      FAIL() << "a context without CUDA must throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA is not available"), std::string::npos) << e.what();
    }
    EXPECT_THROW(cuda_driver_version(), Error);
  }
}

// Everything below needs a GPU (and NVRTC for the kernels).
class CudaDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    context_.emplace(0);
  }
  void require_nvrtc() {
    std::string why;
    if (!nvrtc_available(&why)) GTEST_SKIP() << "NVRTC is not available: " << why;
  }
  CudaModule compile(const std::string& source, const std::string& name, std::vector<std::string> options = {}) {
    NvrtcOutput out = nvrtc_compile(source, name, context_->arch(), options);
    last_stats_ = out.kernels.at(name);
    return CudaModule(*context_, out.cubin, name);
  }
  std::optional<CudaContext> context_;
  KernelResourceStats last_stats_;
};

const char* kScaleAdd = R"(
extern "C" __global__ void scale_add(float* y, const float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
})";

TEST_F(CudaDevice, DescribesTheDevice) {
  const DeviceInfo& info = context_->info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_EQ(info.arch, "sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor));
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GT(info.total_memory, size_t{1} << 30);
  EXPECT_GE(info.max_shared_per_block_optin, info.max_shared_per_block);
  auto [free_bytes, total_bytes] = context_->memory_info();
  EXPECT_LE(free_bytes, total_bytes);
  EXPECT_EQ(total_bytes, info.total_memory);
  EXPECT_FALSE(cuda_driver_version().empty());
  EXPECT_EQ(list_cuda_devices().at(0).name, info.name);
  EXPECT_THROW(CudaContext(1000), Error);
}

TEST_F(CudaDevice, CopiesRoundTripAndMemsets) {
  const size_t n = 100003;  // odd, prime
  std::vector<float> host = random_floats(n, 11);
  DeviceBuffer buffer(*context_, n * sizeof(float));
  EXPECT_NE(buffer.device_ptr(), 0u);
  buffer.upload(host);
  EXPECT_EQ(buffer.download<float>(), host);
  std::vector<float> part(7);
  buffer.copy_to_host(part.data(), 7 * sizeof(float), 1000 * sizeof(float));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(part[i], host[1000 + i]) << i;
  buffer.memset_u32(0x3f800000u);  // 1.0f
  for (float v : buffer.download<float>()) ASSERT_EQ(v, 1.0f);
  buffer.memset_u8(0);
  for (float v : buffer.download<float>()) ASSERT_EQ(v, 0.0f);
  EXPECT_THROW(buffer.copy_from_host(host.data(), 8, n * sizeof(float) - 4), Error);
  DeviceBuffer moved = std::move(buffer);
  EXPECT_EQ(buffer.device_ptr(), 0u);
  EXPECT_EQ(moved.size(), n * sizeof(float));
}

TEST_F(CudaDevice, OutOfMemoryIsAClearError) {
  try {
    DeviceBuffer huge(*context_, size_t{1} << 50);  // 1 PiB
    FAIL() << "a 1 PiB allocation must fail";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("out of device memory allocating 1125899906842624 bytes on " + context_->name()),
              std::string::npos)
        << what;
  }
  DeviceBuffer still_works(*context_, 1024);  // the context survives
}

TEST_F(CudaDevice, CompilesLaunchesAndChecksAKernel) {
  require_nvrtc();
  CudaModule module = compile(kScaleAdd, "scale_add");
  CudaFunction f = module.function("scale_add");
  const int n = 1000003;  // not a multiple of the block
  std::vector<float> x = random_floats(n, 1), y = random_floats(n, 2);
  DeviceBuffer dx(*context_, n * sizeof(float)), dy(*context_, n * sizeof(float));
  dx.upload(x);
  dy.upload(y);
  const float a = 1.75f;
  KernelArgs args;
  args.add(dy).add(dx).add(a).add(n);
  launch(f, Dim3{(n + 255) / 256}, Dim3{256}, 0, nullptr, args);
  context_->synchronize();
  std::vector<float> got = dy.download<float>();
  for (int i = 0; i < n; ++i) {
    float want = std::fma(a, x[i], y[i]);  // the device contracts a*x+y into one FMA
    ASSERT_NEAR(got[i], want, 1e-6f * (1 + std::fabs(want))) << "i=" << i << " x=" << x[i] << " y=" << y[i];
  }
  FunctionAttributes attrs = f.attributes();
  EXPECT_GT(attrs.num_regs, 0);
  EXPECT_EQ(attrs.num_regs, last_stats_.registers) << "driver and ptxas disagree";
  EXPECT_EQ(attrs.local_size_bytes, 0);
  EXPECT_GE(attrs.max_threads_per_block, 256);
}

TEST_F(CudaDevice, SpillingKernelHasLocalMemory) {
  require_nvrtc();
  const char* source = R"(
extern "C" __global__ void big(float* out, const float* in, int n) {
  float v[N];
  #pragma unroll
  for (int i = 0; i < N; i++) v[i] = in[(threadIdx.x + i * 37) % n];
  float acc = 0.f;
  #pragma unroll
  for (int i = 0; i < N; i++) acc += v[i] * v[(i * 7) % N];
  out[threadIdx.x + blockIdx.x * blockDim.x] = acc;
})";
  CudaModule module = compile(source, "big", {"-DN=600"});
  FunctionAttributes attrs = module.function("big").attributes();
  EXPECT_EQ(attrs.num_regs, 255);
  EXPECT_GT(attrs.local_size_bytes, 0);
  EXPECT_GT(last_stats_.spill_store_bytes, 0);
}

TEST_F(CudaDevice, LargeDynamicSharedMemoryIsOptedIn) {
  require_nvrtc();
  const int bytes = 100 * 1024;
  if (context_->info().max_shared_per_block_optin < bytes) GTEST_SKIP() << "device allows less than 100 KiB";
  CudaModule module = compile(R"(
extern "C" __global__ void reverse_shared(float* out, const float* in, int n) {
  extern __shared__ float s[];
  for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = in[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = s[n - 1 - i];
})", "reverse_shared");
  CudaFunction f = module.function("reverse_shared");
  const int n = bytes / 4;
  std::vector<float> in = random_floats(n, 3);
  DeviceBuffer din(*context_, bytes), dout(*context_, bytes);
  din.upload(in);
  KernelArgs args;
  args.add(dout).add(din).add(n);
  launch(f, Dim3{1}, Dim3{512}, bytes, nullptr, args);
  context_->synchronize();
  std::vector<float> out = dout.download<float>();
  for (int i = 0; i < n; ++i) ASSERT_EQ(out[i], in[n - 1 - i]) << i;
  EXPECT_GE(f.attributes().max_dynamic_shared_size_bytes, bytes);
  EXPECT_THROW(f.set_max_dynamic_shared_bytes(context_->info().max_shared_per_block_optin + 1), Error);
}

TEST_F(CudaDevice, BadLaunchesAndMissingKernelsNameTheKernel) {
  require_nvrtc();
  CudaModule module = compile(kScaleAdd, "scale_add");
  CudaFunction f = module.function("scale_add");
  DeviceBuffer d(*context_, 4096);
  KernelArgs args;
  args.add(d).add(d).add(1.0f).add(1024);
  try {
    launch(f, Dim3{1}, Dim3{4096}, 0, nullptr, args);  // more threads than a block may have
    FAIL() << "a 4096-thread block must fail";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("scale_add"), std::string::npos) << what;
    EXPECT_NE(what.find("cuLaunchKernel"), std::string::npos) << what;
    EXPECT_NE(what.find("CUDA_ERROR_INVALID_VALUE"), std::string::npos) << what;
  }
  EXPECT_THROW(module.function("no_such_kernel"), Error);
}

TEST_F(CudaDevice, CubinForAnotherArchIsRejectedClearly) {
  require_nvrtc();
  const std::string other = context_->arch() == "sm_80" ? "sm_90" : "sm_80";
  NvrtcOutput out = nvrtc_compile(kScaleAdd, "scale_add", other);
  try {
    CudaModule module(*context_, out.cubin, "scale_add");
    FAIL() << "an " << other << " cubin must not load on " << context_->arch();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scale_add"), std::string::npos) << e.what();
  }
}

TEST_F(CudaDevice, TimesWorkWithEventsOnAStream) {
  require_nvrtc();
  CudaModule module = compile(kScaleAdd, "scale_add");
  CudaFunction f = module.function("scale_add");
  const int n = 1 << 24;
  DeviceBuffer dx(*context_, n * sizeof(float)), dy(*context_, n * sizeof(float));
  dx.memset_u32(0x3f800000u);
  dy.memset_u32(0);
  CudaStream stream(*context_);
  KernelArgs args;
  args.add(dy).add(dx).add(1.0f).add(n);
  auto work = [&] { launch(f, Dim3{n / 256}, Dim3{256}, 0, &stream, args); };
  std::vector<float> times = time_each_ms(*context_, work, 2, 5, &stream);
  ASSERT_EQ(times.size(), 5u);
  for (float t : times) EXPECT_GT(t, 0.0f);
  float median = time_ms(*context_, work, 1, 5, &stream);
  EXPECT_GT(median, 0.0f);
  EXPECT_LT(median, 1000.0f);
  stream.synchronize();
  std::vector<float> y = dy.download<float>();
  EXPECT_EQ(y[0], 13.0f);  // 2 + 5 + 1 + 5 launches, each adding 1
  EXPECT_EQ(y[n - 1], 13.0f);
  RecordProperty("scale_add_16M_ms", std::to_string(median));
  EXPECT_THROW(time_each_ms(*context_, work, 0, 0, &stream), Error);
}

// A run's later kernels are launched to overlap the end of the one before (programmatic dependent
// launch on sm_90) and wait for its writes in the kernel (the CUDA prelude's
// wino_follow_previous_grid). The first kernel spins before it writes and lets the second launch
// at once; the second, on the multiprocessors the first leaves free, must still read every write
// (without the wait it reads zeros).
TEST_F(CudaDevice, LaunchesAfterThePreviousOneWaitForItsWrites) {
  require_nvrtc();
  if (context_->info().cc_major < 9) GTEST_SKIP() << "programmatic dependent launch needs sm_90";
  const std::string source = render::dialect_spec(render::Dialect::cuda).prelude + R"(
extern "C" __global__ void slow_fill(float* y, int n) {
  wino_follow_previous_grid();
  const long long start = clock64();
  while (clock64() - start < 2000000) {}
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = (float)(i + 1);
}
extern "C" __global__ void copy_after(float* z, const float* y, int n) {
  wino_follow_previous_grid();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = y[i];
})";
  NvrtcOutput out = nvrtc_compile(source, "slow_fill", context_->arch());
  CudaModule module(*context_, out.cubin, "slow_fill");
  CudaFunction fill = module.function("slow_fill"), copy = module.function("copy_after");
  const int n = 32 * 256;  // 32 work-groups: most multiprocessors stay free for copy_after's
  DeviceBuffer y(*context_, n * sizeof(float)), z(*context_, n * sizeof(float));
  CudaStream stream(*context_);
  const int64_t overlapped = overlapped_launches();
  for (int round = 0; round < 3; ++round) {
    y.memset_u32(0);
    z.memset_u32(0);
    KernelArgs fill_args, copy_args;
    fill_args.add(y).add(n);
    copy_args.add(z).add(y).add(n);
    launch(fill, Dim3{n / 256}, Dim3{256}, 0, &stream, fill_args);
    launch(copy, Dim3{n / 256}, Dim3{256}, 0, &stream, copy_args, true);
    stream.synchronize();
    const std::vector<float> got = z.download<float>();
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], static_cast<float>(i + 1)) << "round " << round << ", i=" << i;
  }
  EXPECT_EQ(overlapped_launches() - overlapped, 3) << "the driver took copy_after as a plain launch";
  // The default stream (wino run's timings) too, where the driver takes it.
  y.memset_u32(0);
  KernelArgs fill_args, copy_args;
  fill_args.add(y).add(n);
  copy_args.add(z).add(y).add(n);
  const int64_t before = overlapped_launches();
  launch(fill, Dim3{n / 256}, Dim3{256}, 0, nullptr, fill_args);
  launch(copy, Dim3{n / 256}, Dim3{256}, 0, nullptr, copy_args, true);
  context_->synchronize();
  const std::vector<float> got = z.download<float>();
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], static_cast<float>(i + 1)) << "default stream, i=" << i;
  std::printf("[ measured ] overlapped launches on the default stream: %lld of 1\n",
              static_cast<long long>(overlapped_launches() - before));
}

}  // namespace
}  // namespace wino::cuda

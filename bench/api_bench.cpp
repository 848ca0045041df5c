// wino_api_bench: what an inference engine embedding Wino pays, on the CUDA GPU: compile time of
// one Conv (run it twice with the same WINO_CACHE_DIR to see the disk cache), set_weights from
// device memory, and run on device tensors enqueued back to back against the kernels' own time,
// with the host copies Wino made. See docs/performance.md ("The library API on the GPU").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "common/random.h"
#include "common/stats.h"
#include "common/tensor.h"
#include "runtime/cuda/cuda_driver.h"
#include "wino/wino.h"

namespace {

using namespace wino;
using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

struct DeviceCopy {
  cuda::DeviceBuffer buffer;
  Shape shape;
  DeviceCopy(const cuda::CudaContext& ctx, const Tensor& t) : buffer(ctx, static_cast<size_t>(t.numel()) * 4), shape(t.shape()) {
    buffer.copy_from_host(t.f32(), buffer.size());
  }
  TensorRef ref() const { return {reinterpret_cast<void*>(buffer.device_ptr()), shape, DType::f32}; }
};

int usage(int rc) {
  std::printf(
      "usage: wino_api_bench [--plan P] [--m M] [--n N] [--c C] [--hw HW] [--k K] [--runs R]\n"
      "  Compiles one 3x3 convolution (default vgg16.4_2 at batch 8: 8x512x28x28, K 512, pad 1) on\n"
      "  cuda:0 and prints: compile time, set_weights from device memory (median of 20), the GPU time\n"
      "  of R runs on device tensors enqueued back to back (median per run) against the kernels'\n"
      "  time from Conv::benchmark, the host time of one run() call, and the host copies made.\n");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.plan = "unfused";
  o.m = 4;
  ConvDesc d;
  d.n = 8, d.c = 512, d.h = d.w = 28, d.k = 512, d.pad = Padding::all(1);
  int runs = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(0);
    if (i + 1 >= argc) return usage(2);
    const std::string v = argv[++i];
    if (a == "--plan") o.plan = v;
    else if (a == "--m") o.m = std::stoi(v);
    else if (a == "--n") d.n = std::stoll(v);
    else if (a == "--c") d.c = std::stoll(v);
    else if (a == "--hw") d.h = d.w = std::stoll(v);
    else if (a == "--k") d.k = std::stoll(v);
    else if (a == "--runs") runs = std::max(1, std::stoi(v));
    else return usage(2);
  }
  try {
    std::string why;
    if (!cuda::cuda_available(&why)) {
      std::fprintf(stderr, "wino_api_bench: needs a CUDA GPU: %s\n", why.c_str());
      return 1;
    }
    cuda::CudaContext ctx(0);
    cuda::CudaStream stream(ctx);
    const Stream s{stream.native_handle()};
    auto t0 = Clock::now();
    Conv conv = compile(Device::cuda(), d, o);
    const double compile_ms = us_since(t0) / 1000;
    const Tensor xh = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 1);
    const Tensor wh = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, 2);
    DeviceCopy x(ctx, xh), w(ctx, wh), y(ctx, Tensor(DType::f32, {d.n, d.k, d.out_h(), d.out_w()}));
    std::vector<double> set_us;
    for (int i = 0; i < 20; ++i) {
      t0 = Clock::now();
      conv.set_weights(w.ref(), nullptr, s);
      set_us.push_back(us_since(t0));
    }
    for (int i = 0; i < 5; ++i) conv.run(x.ref(), y.ref(), s);  // warm-up (workspace of this stream)
    stream.synchronize();
    std::vector<double> call_us;
    const std::vector<float> ms = cuda::time_each_ms(ctx, [&] {
      for (int i = 0; i < runs; ++i) {
        const auto c0 = Clock::now();
        conv.run(x.ref(), y.ref(), s);
        call_us.push_back(us_since(c0));
      }
    }, 0, 3, &stream);
    const double run_us = median(std::vector<double>(ms.begin(), ms.end())) * 1000 / runs;
    const int64_t copies_device_api = conv.report().host_copies;
    std::vector<float> xv(xh.f32(), xh.f32() + xh.numel()), yv(static_cast<size_t>(y.buffer.size() / 4));
    conv.benchmark(xv.data(), yv.data(), 20, 5);
    const Report r = conv.report();
    double kernels_us = 0;
    for (const KernelReport& k : r.kernels)
      if (k.stage != "weight_transform") kernels_us += k.time_us;
    std::printf("layer        %s\nplan         %s F(%d,%d) on %s\n", d.str().c_str(), r.plan.c_str(), r.m, r.r,
                r.device.c_str());
    std::printf("compile      %.1f ms\n", compile_ms);
    std::printf("set_weights  %.3f ms from device memory (median of 20)\n", median(set_us) / 1000);
    std::printf("run          %.1f us per run, %d runs enqueued back to back on one stream (GPU time)\n", run_us, runs);
    std::printf("kernels      %.1f us (sum of the kernels' medians), whole run %.1f us (Conv::benchmark)\n",
                kernels_us, r.time_us);
    std::printf("run/kernels  %.3f\n", run_us / kernels_us);
    std::printf("run() call   %.1f us of host time (median)\n", median(call_us));
    std::printf("host copies  %lld by the device-tensor calls\n", static_cast<long long>(copies_device_api));
    return copies_device_api == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wino_api_bench: %s\n", e.what());
    return 1;
  }
}

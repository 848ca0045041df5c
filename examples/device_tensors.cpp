// Wino in a program that keeps its tensors on the GPU: compile once, prepare the weights on the
// device, then run on the caller's stream with no host copy and no synchronization. Without a
// CUDA GPU the same calls run on the CPU with host memory. Checks a few outputs and exits 1 when
// one is wrong.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "wino/wino.h"

int main() {
  const int64_t N = 2, C = 16, H = 20, W = 20, K = 32;
  wino::ConvDesc desc;  // 3x3 filters by default
  desc.n = N, desc.c = C, desc.h = H, desc.w = W, desc.k = K, desc.pad = wino::Padding::all(1);
  std::vector<float> x(N * C * H * W), w(K * C * 3 * 3), y(N * K * H * W);
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(gen);
  for (float& v : w) v = normal(gen);

  int gpus = 0;
  const bool gpu = cudaGetDeviceCount(&gpus) == cudaSuccess && gpus > 0;
  wino::Conv conv = wino::compile(gpu ? wino::Device::cuda() : wino::Device::cpu(), desc);
  cudaStream_t stream = nullptr;
  float *dx = x.data(), *dw = w.data(), *dy = y.data();  // host memory on the CPU
  if (gpu) {  // the tensors live on the GPU, as a framework's would
    cudaStreamCreate(&stream);
    cudaMalloc(&dx, x.size() * 4), cudaMalloc(&dw, w.size() * 4), cudaMalloc(&dy, y.size() * 4);
    cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
  }
  conv.set_weights(wino::TensorRef{dw, {K, C, 3, 3}}, nullptr, {stream});
  conv.run(wino::TensorRef{dx, {N, C, H, W}}, wino::TensorRef{dy, {N, K, H, W}}, {stream});
  if (gpu) {
    cudaMemcpyAsync(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost, stream);
    cudaStreamSynchronize(stream);
  }

  const wino::Report report = conv.report();
  std::printf("%s: plan %s F(%d,%d), %lld host copies made by Wino\n", report.device.c_str(),
              report.plan.c_str(), report.m, report.r, static_cast<long long>(report.host_copies));
  int wrong = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(y.size()); i += 997) {  // a direct sum in double
    const int64_t n = i / (K * H * W), k = i / (H * W) % K, oh = i / W % H, ow = i % W;
    double want = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t s = 0; s < 3; ++s) {
          const int64_t ih = oh + r - 1, iw = ow + s - 1;
          if (ih >= 0 && ih < H && iw >= 0 && iw < W)
            want += double(x[((n * C + c) * H + ih) * W + iw]) * w[((k * C + c) * 3 + r) * 3 + s];
        }
    if (std::abs(y[i] - want) > 1e-4 * (1 + std::abs(want))) ++wrong;
  }
  std::printf("%s\n", wrong ? "WRONG" : "outputs match a direct sum in double");
  return wrong || report.host_copies != 0 ? 1 : 0;
}

// cuDNN's fp32 forward convolution, as the yardstick: its own fastest algorithm from
// cudnnFindConvolutionForwardAlgorithm with TF32 off (CUDNN_FMA_MATH), timed with CUDA events.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wino/wino.h"

namespace wino::bench {

class CudnnConv {
 public:
  /// Descriptors for `d` (NCHW, KCRS, fp32), device buffers, and the fastest algorithm: Find's
  /// best three, timed again here (median of 10); FMA math (TF32 off) unless `tf32` (cuDNN's
  /// default math, TF32 allowed: what PyTorch runs by default). Throws wino::Error on any
  /// cuDNN/CUDA failure.
  CudnnConv(const ConvDesc& d, const float* x, const float* w, bool tf32 = false);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  /// e.g. "WINOGRAD_NONFUSED (workspace 12.3 MB)".
  std::string algorithm() const;
  /// Microseconds of each of `repeats` calls after `warmup` calls (events around each call).
  std::vector<double> time_us(int warmup, int repeats);
  /// Runs once and copies the output (N x K x out_h x out_w) to `y`.
  void run(float* y);

  /// "cuDNN 9.19.0 (runtime 91900)".
  static std::string version();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wino::bench

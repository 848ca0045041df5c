// cuDNN's fp32 forward convolution, as the yardstick: its own fastest algorithm from
// cudnnFindConvolutionForwardAlgorithm with TF32 off (CUDNN_FMA_MATH), timed with CUDA events.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/tensor.h"
#include "wino/wino.h"

namespace wino::bench {

class CudnnConv {
 public:
  /// Descriptors for `d` (its dtype and layout; float32 accumulation), device buffers holding x
  /// and w (N x C x H x W and K x C x R x S tensors of d.dtype, moved to channels last for an NHWC
  /// `d`), and the fastest algorithm: Find's best three, timed again here (median of 10). fp32:
  /// FMA math (TF32 off) unless `tf32` (cuDNN's default math, TF32 allowed: what PyTorch runs by
  /// default); f16 and bf16: tensor-core math. Throws wino::Error on any cuDNN/CUDA failure.
  CudnnConv(const ConvDesc& d, const Tensor& x, const Tensor& w, bool tf32 = false);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  /// e.g. "WINOGRAD_NONFUSED (workspace 12.3 MB)".
  std::string algorithm() const;
  /// Microseconds of each of `repeats` samples after `warmup` calls: each the mean of up to 20
  /// calls back to back between two events (cuda::back_to_back_runs).
  std::vector<double> time_us(int warmup, int repeats);
  /// Runs once and returns the output as N x K x out_h x out_w of d.dtype.
  Tensor run();

  /// "cuDNN 9.19.0 (runtime 91900)".
  static std::string version();

 private:
  void find_fastest(bool fma_only);
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wino::bench

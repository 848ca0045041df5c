// One convolution through oneDNN (Debian's libdnnl 2.6) on the CPU, for wino_onednn_bench: an
// algorithm (direct, winograd, auto), the primitive's preferred layouts (reorders done once,
// outside the timing, as a framework keeps its tensors in them), float32.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wino/wino.h"

namespace wino::bench {

class OneDnnConv {
 public:
  /// Throws wino::Error when oneDNN has no implementation of `algorithm` for the shape.
  OneDnnConv(const ConvDesc& d, const std::string& algorithm, const float* x, const float* w);
  ~OneDnnConv();
  /// The implementation oneDNN picked ("jit:avx512_core", "gemm:jit", ...).
  std::string implementation() const;
  /// Microseconds of each of `repeats` runs after `warmup`.
  std::vector<double> time_us(int warmup, int repeats);
  /// Runs once and writes y (N x K x OH x OW, NCHW).
  void run(float* y);
  /// The number of threads oneDNN runs on (OpenMP).
  static int threads();
  static std::string version();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wino::bench

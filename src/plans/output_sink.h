// Where every plan stores the convolution's output: y, with the epilogue applied on the way
// (y = act(value + bias[k] + residual)). The one place the epilogue is written, so every plan
// and every dialect gets it the same.
#pragma once

#include "ir/builder.h"
#include "plans/program_builder.h"

namespace wino::plans {

class OutputSink {
 public:
  /// Declares y (written) and the epilogue's buffers as parameters of the kernel `b` builds.
  OutputSink(const ProgramBuilder& prog, ir::KernelBuilder& b);

  /// What the epilogue needs of output channel k, loaded once for the stores of that channel in a
  /// tile (none where `mask` is false: channels past K).
  ir::Expr channel_bias(ir::KernelBuilder& b, ir::Expr k, ir::Expr mask = {}) const;
  /// The same for the `lanes` output channels from k0, as one vector (for store() of a vector of
  /// channels, NHWC; every one of them < K).
  ir::Expr channel_biases(ir::KernelBuilder& b, ir::Expr k0, int lanes) const;
  /// if (mask) y[index] = act(value + bias + residual[index]); `bias` from channel_bias(). A vector
  /// value is stored at index.. index + lanes, with bias for every lane, or bias lane by lane where
  /// it is a vector too (takes_vectors() only).
  void store(ir::KernelBuilder& b, ir::Expr index, ir::Expr value, ir::Expr bias,
             ir::Expr mask = {}) const;
  /// Whether store() takes vectors: the activations compare lane by lane (to keep NaN), so not
  /// with one.
  bool takes_vectors() const { return activation_ == Activation::none; }

 private:
  const ir::Memory* y_ = nullptr;
  const ir::Memory* bias_ = nullptr;      // K values
  const ir::Memory* residual_ = nullptr;  // shaped like y
  Activation activation_ = Activation::none;
};

}  // namespace wino::plans

#include "plans/output_sink.h"

#include "common/error.h"

namespace wino::plans {

using namespace ir;

OutputSink::OutputSink(const ProgramBuilder& prog, KernelBuilder& b)
    : activation_(prog.desc().epilogue.activation) {
  y_ = prog.param(b, prog.output(), true);
  if (prog.bias().index >= 0) bias_ = prog.param(b, prog.bias());
  if (prog.residual().index >= 0) residual_ = prog.param(b, prog.residual());
}

Expr OutputSink::channel_bias(KernelBuilder& b, Expr k, Expr mask) const {
  return bias_ ? b.load("bias", bias_, k, mask) : Expr();
}

Expr OutputSink::channel_biases(KernelBuilder& b, Expr k0, int lanes) const {
  return bias_ ? b.load("bias", bias_, k0, {}, lanes) : Expr();
}

namespace {

// Comparisons rather than fmax/fmin so that NaN stays NaN, as in PyTorch.
Expr activate(Activation a, Expr v) {
  Context& c = v.ctx();
  const Expr zero = c.f32(0);
  switch (a) {
    case Activation::none: return v;
    case Activation::relu: return select(lt(v, zero), zero, v);
    case Activation::relu6: return select(lt(v, zero), zero, select(lt(c.f32(6), v), c.f32(6), v));
    case Activation::silu: return v / (c.f32(1) + exp(-v));
  }
  return v;
}

}  // namespace

void OutputSink::store(KernelBuilder& b, Expr index, Expr value, Expr bias, Expr mask) const {
  const int lanes = value.type().lanes;
  if (lanes > 1 && !takes_vectors()) throw Error("internal: a vector store into y with an activation");
  if (bias) value = value + (bias.type().lanes == lanes ? bias : broadcast(bias, lanes));
  if (residual_) value = value + b.load("z", residual_, index, mask, lanes);
  b.store(y_, index, activate(activation_, value), mask);
}

}  // namespace wino::plans

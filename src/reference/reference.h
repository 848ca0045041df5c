// The oracle: float64 direct 2D convolution (cross-correlation, as in every DL framework).
// NCHW input, KCRS weights (C is the per-group channel count), stride and dilation (both axes).
#pragma once

#include <cstdint>

#include "common/tensor.h"
#include "wino/wino.h"  // Padding

namespace wino {

/// y[n, k, oh, ow] = sum_{c, r, s} x[n, g*Cg + c, oh*st + r*dl - top, ow*st + s*dl - left]
///                                 * w[k, c, r, s]
/// with g = k / (K / groups), st the stride and dl the dilation. Accumulates in float64; the
/// result is a float64 NCHW tensor. Throws wino::Error for inconsistent shapes, negative
/// padding, stride or dilation below 1, or an empty output.
Tensor reference_conv2d(const Tensor& x, const Tensor& w, const Padding& pad, int64_t groups = 1,
                        int64_t stride = 1, int64_t dilation = 1);

/// The checks reference_conv2d makes, on the shapes alone: lets a caller reject inputs that do
/// not fit before reading their data. Throws the same wino::Error.
void check_reference_shapes(const Shape& x, const Shape& w, const Padding& pad, int64_t groups,
                            int64_t stride, int64_t dilation);

/// One output element of the same convolution, for checking sampled points of large layers.
double reference_conv2d_at(const Tensor& x, const Tensor& w, const Padding& pad, int64_t groups,
                           int64_t n, int64_t k, int64_t oh, int64_t ow, int64_t stride = 1,
                           int64_t dilation = 1);

/// An activation in float64, as the kernels apply it (NaN stays NaN, as in PyTorch).
double reference_activation(Activation a, double v);

/// Applies an epilogue to a float64 NCHW result y in place: y = act(y + bias[k] + residual).
/// `bias` (K values) and `residual` (y's shape) are required where the epilogue has them.
void apply_reference_epilogue(Tensor& y, const Epilogue& e, const Tensor* bias,
                              const Tensor* residual);

/// Relative L2 error ||y - ref|| / ||ref|| (NaN if any value is NaN).
double relative_l2_error(const Tensor& y, const Tensor& ref);

}  // namespace wino

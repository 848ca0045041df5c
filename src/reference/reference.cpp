#include "reference/reference.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "common/error.h"

namespace wino {
namespace {

// Everything the loops need, validated once.
struct Geometry {
  int64_t N, C, H, W;   // input
  int64_t K, Cg, R, S;  // weights (Cg: channels per group)
  int64_t groups, Kg;   // Kg: output channels per group
  int64_t OH, OW;
  Padding pad;
  int64_t stride, dilation;
};

std::string conv_desc(const Shape& x, const Shape& w) {
  return "input " + shape_string(x) + ", weights " + shape_string(w);
}

int64_t padded_extent(int64_t size, int64_t lo, int64_t hi, int64_t filter, int64_t stride,
                      int64_t dilation, const char* axis, const std::string& desc) {
  int64_t padded = 0, reach = 0, span = 0;  // reach: extent of the dilated filter - 1
  if (__builtin_add_overflow(size, lo, &padded) || __builtin_add_overflow(padded, hi, &padded) ||
      __builtin_mul_overflow(filter - 1, dilation, &reach) ||
      __builtin_sub_overflow(padded, reach, &span))
    throw Error(std::string("convolution size overflows 64 bits along ") + axis + " (" + desc +
                "); use smaller padding or dilation");
  if (span < 1)
    throw Error(std::string("convolution output is empty along ") + axis + " (" + desc + "): the " +
                axis + " extent " + std::to_string(size) + " plus padding " + std::to_string(lo) +
                "+" + std::to_string(hi) + " is smaller than the filter (" + std::to_string(filter) +
                (dilation != 1 ? " dilated by " + std::to_string(dilation) : std::string()) +
                "); increase the padding or use a larger input");
  return (span - 1) / stride + 1;
}

Geometry validate(const Shape& x, const Shape& w, const Padding& pad, int64_t groups,
                  int64_t stride, int64_t dilation) {
  if (x.size() != 4)
    throw Error("convolution input must be a 4-D NCHW tensor, got shape " + shape_string(x) +
                " (" + std::to_string(x.size()) + "-D)");
  if (w.size() != 4)
    throw Error("convolution weights must be a 4-D KCRS tensor, got shape " + shape_string(w) +
                " (" + std::to_string(w.size()) + "-D)");
  const std::string desc = conv_desc(x, w);
  for (size_t i = 0; i < 4; ++i)
    if (x[i] < 1 || w[i] < 1)
      throw Error("convolution tensors must have no zero-size dimension (" + desc + ")");
  if (groups < 1) throw Error("groups must be >= 1, got " + std::to_string(groups));
  if (stride < 1) throw Error("stride must be >= 1, got " + std::to_string(stride));
  if (dilation < 1) throw Error("dilation must be >= 1, got " + std::to_string(dilation));
  if (pad.top < 0 || pad.bottom < 0 || pad.left < 0 || pad.right < 0)
    throw Error("padding must be non-negative, got top " + std::to_string(pad.top) + ", bottom " +
                std::to_string(pad.bottom) + ", left " + std::to_string(pad.left) + ", right " +
                std::to_string(pad.right));

  Geometry g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.K = w[0], g.Cg = w[1], g.R = w[2], g.S = w[3];
  g.groups = groups;
  g.pad = pad;
  g.stride = stride;
  g.dilation = dilation;
  if (g.C % groups != 0)
    throw Error("groups (" + std::to_string(groups) + ") must divide the input channels C = " +
                std::to_string(g.C) + " (" + desc + ")");
  if (g.K % groups != 0)
    throw Error("groups (" + std::to_string(groups) + ") must divide the output channels K = " +
                std::to_string(g.K) + " (" + desc + ")");
  if (g.C / groups != g.Cg)
    throw Error("channel mismatch: input has C = " + std::to_string(g.C) + " channels, so with " +
                std::to_string(groups) + " group(s) the weights need dim 1 = " +
                std::to_string(g.C / groups) + ", but they have " + std::to_string(g.Cg) + " (" +
                desc + "); check the weights' layout (KCRS) and --groups");
  g.Kg = g.K / groups;
  g.OH = padded_extent(g.H, pad.top, pad.bottom, g.R, stride, dilation, "height", desc);
  g.OW = padded_extent(g.W, pad.left, pad.right, g.S, stride, dilation, "width", desc);
  shape_numel({g.N, g.K, g.OH, g.OW});  // throws on overflow
  return g;
}

// Output positions o in [lo, hi) whose input position o * stride + shift lies in [0, size).
struct Range {
  int64_t lo, hi;
};
Range inside(int64_t outputs, int64_t size, int64_t shift, int64_t stride) {
  const int64_t lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  const int64_t hi = size - 1 - shift < 0 ? 0 : (size - 1 - shift) / stride + 1;
  return {lo, std::max(lo, std::min(hi, outputs))};
}

// y[n, k, :, :] += sum over the group's channels and the filter taps, in a fixed order
// (c, r, s) so that every output's sum is the same whatever thread computes it.
template <typename T>
void conv_plane(const Geometry& g, const T* x, const std::vector<double>& w, double* y, int64_t n,
                int64_t k) {
  const int64_t group = k / g.Kg;
  double* out = y + ((n * g.K + k) * g.OH) * g.OW;
  for (int64_t c = 0; c < g.Cg; ++c) {
    const T* plane = x + ((n * g.C + group * g.Cg + c) * g.H) * g.W;
    for (int64_t r = 0; r < g.R; ++r) {
      // Output rows whose input row oh * stride + r * dilation - top lies inside the image.
      const Range rows = inside(g.OH, g.H, r * g.dilation - g.pad.top, g.stride);
      for (int64_t s = 0; s < g.S; ++s) {
        const double wv = w[((k * g.Cg + c) * g.R + r) * g.S + s];
        const int64_t shift = s * g.dilation - g.pad.left;
        const Range cols = inside(g.OW, g.W, shift, g.stride);
        if (cols.lo >= cols.hi) continue;
        for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
          const T* in = plane + (oh * g.stride + r * g.dilation - g.pad.top) * g.W;
          double* row = out + oh * g.OW;
          for (int64_t ow = cols.lo; ow < cols.hi; ++ow)
            row[ow] += wv * static_cast<double>(in[ow * g.stride + shift]);
        }
      }
    }
  }
}

template <typename T>
void conv_all(const Geometry& g, const T* x, const std::vector<double>& w, double* y) {
  const int64_t planes = g.N * g.K;
  const double work = static_cast<double>(planes) * static_cast<double>(g.OH * g.OW) *
                      static_cast<double>(g.Cg * g.R * g.S);
  unsigned threads = std::max(1u, std::min(std::thread::hardware_concurrency(), 8u));
  if (work < 1e6 || planes < 2) threads = 1;  // not worth starting threads
  threads = static_cast<unsigned>(std::min<int64_t>(threads, planes));

  // Each (n, k) plane is computed entirely by one thread: the result does not depend on
  // the number of threads or the scheduling.
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t p; (p = next.fetch_add(1)) < planes;) conv_plane(g, x, w, y, p / g.K, p % g.K);
  };
  std::vector<std::thread> pool;
  try {
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  } catch (const std::system_error&) {
    // No more threads to be had: the ones started and this one share the work.
  }
  worker();
  for (std::thread& t : pool) t.join();
}

}  // namespace

Tensor reference_conv2d(const Tensor& x, const Tensor& w, const Padding& pad, int64_t groups,
                        int64_t stride, int64_t dilation) {
  const Geometry g = validate(x.shape(), w.shape(), pad, groups, stride, dilation);
  std::vector<double> wd(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i) wd[i] = w.get(i);

  Tensor y;
  try {
    y = Tensor(DType::f64, {g.N, g.K, g.OH, g.OW});
  } catch (const std::exception&) {  // bad_alloc, or length_error past vector::max_size
    throw Error("cannot allocate the float64 convolution output " +
                shape_string({g.N, g.K, g.OH, g.OW}) + " (" + conv_desc(x.shape(), w.shape()) +
                "); it is too large for host memory, use a smaller input or padding");
  }
  if (x.dtype() == DType::f32) {
    conv_all(g, x.f32(), wd, y.f64());
  } else if (x.dtype() == DType::f64) {
    conv_all(g, x.f64(), wd, y.f64());
  } else {  // f16 and bf16 widen to float32 exactly
    const Tensor xf = x.to(DType::f32);
    conv_all(g, xf.f32(), wd, y.f64());
  }
  return y;
}

double reference_conv2d_at(const Tensor& x, const Tensor& w, const Padding& pad, int64_t groups,
                           int64_t n, int64_t k, int64_t oh, int64_t ow, int64_t stride,
                           int64_t dilation) {
  const Geometry g = validate(x.shape(), w.shape(), pad, groups, stride, dilation);
  if (n < 0 || n >= g.N || k < 0 || k >= g.K || oh < 0 || oh >= g.OH || ow < 0 || ow >= g.OW)
    throw Error("output index (" + std::to_string(n) + ", " + std::to_string(k) + ", " +
                std::to_string(oh) + ", " + std::to_string(ow) + ") is out of range for output " +
                shape_string({g.N, g.K, g.OH, g.OW}));
  const int64_t group = k / g.Kg;
  double acc = 0.0;
  // Same (c, r, s) order as the full convolution, so both give the same bits.
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ih = oh * g.stride + r * g.dilation - g.pad.top;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t iw = ow * g.stride + s * g.dilation - g.pad.left;
        if (iw < 0 || iw >= g.W) continue;
        acc += w.get(((k * g.Cg + c) * g.R + r) * g.S + s) *
               x.get(((n * g.C + group * g.Cg + c) * g.H + ih) * g.W + iw);
      }
    }
  return acc;
}

double relative_l2_error(const Tensor& y, const Tensor& ref) {
  if (y.shape() != ref.shape())
    throw Error("relative_l2_error: shapes differ, " + shape_string(y.shape()) + " vs reference " +
                shape_string(ref.shape()));
  const int64_t n = y.numel();
  // Scale by the largest magnitudes first so that the sums of squares cannot overflow.
  double max_ref = 0.0, max_diff = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = y.get(i), b = ref.get(i);
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
    const double d = a == b ? 0.0 : a - b;  // equal infinities differ by nothing
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    max_ref = std::max(max_ref, std::fabs(b));
    max_diff = std::max(max_diff, std::fabs(d));
  }
  if (max_diff == 0.0) return 0.0;
  if (max_ref == 0.0 || std::isinf(max_diff)) {
    if (std::isinf(max_ref)) return std::numeric_limits<double>::quiet_NaN();
    return std::numeric_limits<double>::infinity();
  }
  if (std::isinf(max_ref)) return 0.0;
  double sum_ref = 0.0, sum_diff = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = y.get(i), b = ref.get(i);
    const double d = (a == b ? 0.0 : a - b) / max_diff, r = b / max_ref;
    sum_diff += d * d;
    sum_ref += r * r;
  }
  return (max_diff * std::sqrt(sum_diff)) / (max_ref * std::sqrt(sum_ref));
}

void check_reference_shapes(const Shape& x, const Shape& w, const Padding& pad, int64_t groups,
                            int64_t stride, int64_t dilation) {
  validate(x, w, pad, groups, stride, dilation);
}

double reference_activation(Activation a, double v) {
  switch (a) {
    case Activation::none: return v;
    case Activation::relu: return v < 0 ? 0 : v;
    case Activation::relu6: return v < 0 ? 0 : v > 6 ? 6 : v;
    case Activation::silu: return v / (1 + std::exp(-v));
  }
  return v;
}

void apply_reference_epilogue(Tensor& y, const Epilogue& e, const Tensor* bias,
                              const Tensor* residual) {
  if (!e.any()) return;
  if (y.rank() != 4) throw Error("reference epilogue: the output must be 4-D NCHW");
  const int64_t K = y.dim(1), plane = y.dim(2) * y.dim(3);
  if (e.bias && (!bias || bias->numel() != K))
    throw Error("reference epilogue: the bias must have K = " + std::to_string(K) + " values");
  if (e.residual && (!residual || residual->shape() != y.shape()))
    throw Error("reference epilogue: the residual must have the output's shape");
  for (int64_t i = 0; i < y.numel(); ++i) {
    double v = y.get(i);
    if (e.bias) v += bias->get((i / plane) % K);
    if (e.residual) v += residual->get(i);
    y.set(i, reference_activation(e.activation, v));
  }
}

}  // namespace wino

#include "common/tensor.h"

#include <utility>

#include "common/half.h"

#include "common/error.h"

namespace wino {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

int dtype_size(DType t) { return t == DType::f64 ? 8 : t == DType::f32 ? 4 : 2; }

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension in shape " + shape_string(shape));
    if (__builtin_mul_overflow(n, d, &n))
      throw Error("shape " + shape_string(shape) + " has more elements than fit in 64 bits");
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  switch (dtype_) {
    case DType::f32: f32_.assign(numel_, 0.0f); break;
    case DType::f64: f64_.assign(numel_, 0.0); break;
    case DType::f16:
    case DType::bf16: u16_.assign(numel_, 0); break;
  }
}

namespace {

[[noreturn]] void wrong_dtype(DType held, const char* asked) {
  throw Error(std::string("tensor holds ") + dtype_name(held) + ", " + asked + " was asked for");
}

}  // namespace

float* Tensor::f32() {
  if (dtype_ != DType::f32) wrong_dtype(dtype_, "float32");
  return f32_.data();
}
const float* Tensor::f32() const {
  if (dtype_ != DType::f32) wrong_dtype(dtype_, "float32");
  return f32_.data();
}
double* Tensor::f64() {
  if (dtype_ != DType::f64) wrong_dtype(dtype_, "float64");
  return f64_.data();
}
const double* Tensor::f64() const {
  if (dtype_ != DType::f64) wrong_dtype(dtype_, "float64");
  return f64_.data();
}
uint16_t* Tensor::u16() {
  if (dtype_ != DType::f16 && dtype_ != DType::bf16) wrong_dtype(dtype_, "float16 or bfloat16");
  return u16_.data();
}
const uint16_t* Tensor::u16() const {
  if (dtype_ != DType::f16 && dtype_ != DType::bf16) wrong_dtype(dtype_, "float16 or bfloat16");
  return u16_.data();
}
void* Tensor::data() { return const_cast<void*>(std::as_const(*this).data()); }
const void* Tensor::data() const {
  switch (dtype_) {
    case DType::f32: return f32_.data();
    case DType::f64: return f64_.data();
    default: return u16_.data();
  }
}

double Tensor::get(int64_t i) const {
  switch (dtype_) {
    case DType::f32: return f32_[i];
    case DType::f64: return f64_[i];
    case DType::f16: return f16_to_float(u16_[i]);
    case DType::bf16: return bf16_to_float(u16_[i]);
  }
  return 0;
}

void Tensor::set(int64_t i, double v) {
  switch (dtype_) {
    case DType::f32: f32_[i] = static_cast<float>(v); break;
    case DType::f64: f64_[i] = v; break;
    // Through float32 first: double -> float -> half can round twice, but every value that
    // reaches a half tensor here is a float32 already (inputs are drawn or read as float32).
    case DType::f16: u16_[i] = float_to_f16(static_cast<float>(v)); break;
    case DType::bf16: u16_[i] = float_to_bf16(static_cast<float>(v)); break;
  }
}

Tensor Tensor::to(DType dtype) const {
  Tensor out(dtype, shape_);
  for (int64_t i = 0, n = numel(); i < n; ++i) out.set(i, get(i));
  return out;
}

namespace {

// out[n][b][a][c] = in[n][c][a][b] style moves of the channel axis, element by element (exact).
Tensor move_channels(const Tensor& t, bool to_last) {
  if (t.rank() != 4) throw Error("a layout change needs a 4-d tensor, got rank " + std::to_string(t.rank()));
  const int64_t n = t.dim(0), c = to_last ? t.dim(1) : t.dim(3), h = to_last ? t.dim(2) : t.dim(1),
                w = to_last ? t.dim(3) : t.dim(2);
  Tensor out(t.dtype(), to_last ? Shape{n, h, w, c} : Shape{n, c, h, w});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < h * w; ++p) {
        const int64_t nchw = (i * c + ch) * h * w + p, nhwc = (i * h * w + p) * c + ch;
        if (to_last) out.set(nhwc, t.get(nchw));
        else out.set(nchw, t.get(nhwc));
      }
  return out;
}

}  // namespace

Tensor nchw_to_nhwc(const Tensor& t) { return move_channels(t, true); }
Tensor nhwc_to_nchw(const Tensor& t) { return move_channels(t, false); }

}  // namespace wino

#include "common/tensor.h"

#include "common/error.h"

namespace wino {

const char* dtype_name(DType t) { return t == DType::f32 ? "float32" : "float64"; }

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
  int64_t n = shape_numel(shape_);
  if (dtype_ == DType::f32) f32_.assign(n, 0.0f);
  else f64_.assign(n, 0.0);
}

float* Tensor::f32() {
  if (dtype_ != DType::f32) throw Error("tensor holds float64, float32 was asked for");
  return f32_.data();
}
const float* Tensor::f32() const {
  if (dtype_ != DType::f32) throw Error("tensor holds float64, float32 was asked for");
  return f32_.data();
}
double* Tensor::f64() {
  if (dtype_ != DType::f64) throw Error("tensor holds float32, float64 was asked for");
  return f64_.data();
}
const double* Tensor::f64() const {
  if (dtype_ != DType::f64) throw Error("tensor holds float32, float64 was asked for");
  return f64_.data();
}

Tensor Tensor::to(DType dtype) const {
  Tensor out(dtype, shape_);
  for (int64_t i = 0, n = numel(); i < n; ++i) out.set(i, get(i));
  return out;
}

}  // namespace wino

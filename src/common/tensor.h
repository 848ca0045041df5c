// A dense, C-order host tensor of float32 or float64: what .npy files hold and the CLI passes around.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wino {

enum class DType { f32, f64 };

/// "float32" / "float64".
const char* dtype_name(DType t);

using Shape = std::vector<int64_t>;

/// Number of elements of a shape; throws wino::Error if a dimension is negative or the
/// product overflows int64.
int64_t shape_numel(const Shape& shape);
/// "(1, 8, 32, 32)".
std::string shape_string(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  /// A zero-filled tensor (zeros are for outputs; tests draw random inputs).
  Tensor(DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return static_cast<int64_t>(dtype_ == DType::f32 ? f32_.size() : f64_.size()); }

  /// Raw storage; throws wino::Error when the tensor holds the other dtype.
  float* f32();
  const float* f32() const;
  double* f64();
  const double* f64() const;

  /// Element at a flat C-order index, widened to double.
  double get(int64_t i) const { return dtype_ == DType::f32 ? f32_[i] : f64_[i]; }
  void set(int64_t i, double v) {
    if (dtype_ == DType::f32) f32_[i] = static_cast<float>(v);
    else f64_[i] = v;
  }
  /// A copy converted to `dtype` (float64 -> float32 rounds to nearest).
  Tensor to(DType dtype) const;

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  std::vector<float> f32_;
  std::vector<double> f64_;
};

}  // namespace wino

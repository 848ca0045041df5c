// A dense, C-order host tensor of float32, float64, float16 or bfloat16: what .npy files hold and
// the CLI passes around.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wino/wino.h"  // DType

namespace wino {

/// "float32", "float64", "float16", "bfloat16".
const char* dtype_name(DType t);
/// Bytes per element.
int dtype_size(DType t);

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
  int64_t numel() const { return numel_; }

  /// Raw storage; throws wino::Error when the tensor holds the other dtype.
  float* f32();
  const float* f32() const;
  double* f64();
  const double* f64() const;
  /// The bits of a float16 or bfloat16 tensor.
  uint16_t* u16();
  const uint16_t* u16() const;
  /// The storage, whatever the dtype (numel() * dtype_size(dtype()) bytes).
  void* data();
  const void* data() const;

  /// Element at a flat C-order index, widened to double.
  double get(int64_t i) const;
  /// Stores v, rounded to nearest (even) in the tensor's dtype.
  void set(int64_t i, double v);
  /// A copy converted to `dtype` (narrowing rounds to nearest even).
  Tensor to(DType dtype) const;

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<float> f32_;
  std::vector<double> f64_;
  std::vector<uint16_t> u16_;
};

/// A 4-d tensor N x C x H x W rearranged as N x H x W x C (channels last), and back.
Tensor nchw_to_nhwc(const Tensor& t);
Tensor nhwc_to_nchw(const Tensor& t);

}  // namespace wino

// The arithmetic of one Winograd tile's error models (fp32_error.cpp, half_error.cpp), in the
// element type T whose every product and sum rounds to T.
#pragma once

namespace wino::tile_math {

/// c (rows x cols) = a (rows x inner) * b (inner x cols), or b^T when b_transposed (b is then
/// cols x inner).
template <typename T>
void matmul(const T* a, const T* b, T* c, int rows, int inner, int cols, bool b_transposed) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      T acc = 0;
      for (int k = 0; k < inner; ++k) acc += a[i * inner + k] * (b_transposed ? b[j * inner + k] : b[k * cols + j]);
      c[i * cols + j] = acc;
    }
}

/// Output (i, j) of the direct correlation of an alpha x alpha input tile d with an r x r filter
/// g, in double.
inline double direct_output(const double* d, const double* g, int alpha, int r, int i, int j) {
  double ref = 0.0;
  for (int k = 0; k < r; ++k)
    for (int l = 0; l < r; ++l) ref += d[(i + k) * alpha + j + l] * g[k * r + l];
  return ref;
}

}  // namespace wino::tile_math

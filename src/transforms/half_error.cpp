// Modelled accuracy of one F(m x m, r x r) tile whose GEMM operands are rounded to a half type
// (the tensor-core modes fp16 and bf16), beside the accuracy of rounding the output alone.
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "transforms/winograd.h"

namespace wino {
namespace {

// c (rows x cols) = a (rows x inner) * b (inner x cols), or b^T when b_transposed (b is then
// cols x inner), in double.
void matmul(const std::vector<double>& a, const std::vector<double>& b, std::vector<double>& c, int rows, int inner,
            int cols, bool b_transposed) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      double acc = 0.0;
      for (int k = 0; k < inner; ++k) acc += a[i * inner + k] * (b_transposed ? b[j * inner + k] : b[k * cols + j]);
      c[i * cols + j] = acc;
    }
}

}  // namespace

HalfError measure_half_error(const WinogradTransforms& t, float (*round)(float), bool round_m, bool round_output,
                             int trials, uint64_t seed) {
  if (trials < 1) throw Error("the half-precision error model needs at least one trial");
  const int m = t.m, r = t.r, a = t.alpha;
  const std::vector<double> at = to_doubles(t.AT), gm = to_doubles(t.G), bt = to_doubles(t.BT);
  std::vector<double> d(a * a), g(r * r), tmp(a * a), u(a * a), v(a * a), y(m * m);
  auto rounded = [&](double x) { return static_cast<double>(round(static_cast<float>(x))); };
  Rng rng(seed);
  double wino2 = 0.0, out2 = 0.0, ref2 = 0.0;
  for (int trial = 0; trial < trials; ++trial) {
    // Inputs and weights representable in the type, as half tensors are: only the kernel's
    // roundings differ from the exact convolution.
    for (double& x : d) x = rounded(rng.normal());
    for (double& x : g) x = rounded(rng.normal());
    matmul(gm, g, tmp, a, r, r, false);
    matmul(tmp, gm, u, a, r, a, true);  // U = G g G^T
    matmul(bt, d, tmp, a, a, a, false);
    matmul(tmp, bt, v, a, a, a, true);  // V = B^T d B
    for (int i = 0; i < a * a; ++i) {
      u[i] = rounded(u[i]) * rounded(v[i]);  // U and V stored and staged in the type
      if (round_m) u[i] = rounded(u[i]);     // M stored in it (the unfused GEMM's half_m)
    }
    matmul(at, u, tmp, m, a, a, false);
    matmul(tmp, at, y, m, a, m, true);  // Y = A^T M A, M summed in float32 (far finer)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        double ref = 0.0;
        for (int k = 0; k < r; ++k)
          for (int l = 0; l < r; ++l) ref += d[(i + k) * a + j + l] * g[k * r + l];
        const double got = round_output ? rounded(y[i * m + j]) : y[i * m + j], floor = rounded(ref);
        wino2 += (got - ref) * (got - ref);
        out2 += (floor - ref) * (floor - ref);
        ref2 += ref * ref;
      }
  }
  return {std::sqrt(wino2 / ref2), std::sqrt(out2 / ref2), trials};
}

}  // namespace wino

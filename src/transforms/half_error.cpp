// Modelled accuracy of one F(m x m, r x r) tile whose GEMM operands are rounded to a half type
// (the tensor-core modes fp16 and bf16), beside the accuracy of rounding the output alone.
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "transforms/tile_math.h"
#include "transforms/winograd.h"

namespace wino {

using tile_math::matmul;

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
    matmul(gm.data(), g.data(), tmp.data(), a, r, r, false);
    matmul(tmp.data(), gm.data(), u.data(), a, r, a, true);  // U = G g G^T
    matmul(bt.data(), d.data(), tmp.data(), a, a, a, false);
    matmul(tmp.data(), bt.data(), v.data(), a, a, a, true);  // V = B^T d B
    for (int i = 0; i < a * a; ++i) {
      u[i] = rounded(u[i]) * rounded(v[i]);  // U and V stored and staged in the type
      if (round_m) u[i] = rounded(u[i]);     // M stored in it (the unfused GEMM's half_m)
    }
    matmul(at.data(), u.data(), tmp.data(), m, a, a, false);
    matmul(tmp.data(), at.data(), y.data(), m, a, m, true);  // Y = A^T M A, M summed in float32 (far finer)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        const double ref = tile_math::direct_output(d.data(), g.data(), a, r, i, j);
        const double got = round_output ? rounded(y[i * m + j]) : y[i * m + j], floor = rounded(ref);
        wino2 += (got - ref) * (got - ref);
        out2 += (floor - ref) * (floor - ref);
        ref2 += ref * ref;
      }
  }
  return {std::sqrt(wino2 / ref2), std::sqrt(out2 / ref2), trials};
}

}  // namespace wino

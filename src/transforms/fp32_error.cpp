// Measured float32 accuracy of one F(m x m, r x r) tile against float64 direct correlation.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/random.h"
#include "transforms/tile_math.h"
#include "transforms/winograd.h"

namespace wino {

using tile_math::matmul;  // in float: every product and sum rounded to float32

Fp32Error measure_fp32_error(const WinogradTransforms& t, int trials, uint64_t seed) {
  if (trials < 1) throw Error("the float32 error measurement needs at least one trial");
  const int m = t.m, r = t.r, a = t.alpha;
  const std::vector<float> at = to_floats(t.AT), g_mat = to_floats(t.G), bt = to_floats(t.BT);
  std::vector<float> d(a * a), g(r * r), tmp(a * a), u(a * a), v(a * a), y(m * m);
  std::vector<double> d64(a * a), g64(r * r);
  Rng rng(seed);
  Fp32Error err;
  err.trials = trials;
  double sum = 0.0;
  for (int trial = 0; trial < trials; ++trial) {
    // Both sides see the same float32-representable data, so only the arithmetic differs.
    for (int i = 0; i < a * a; ++i) d64[i] = d[i] = static_cast<float>(rng.normal());
    for (int i = 0; i < r * r; ++i) g64[i] = g[i] = static_cast<float>(rng.normal());
    matmul(g_mat.data(), g.data(), tmp.data(), a, r, r, false);      // G g
    matmul(tmp.data(), g_mat.data(), u.data(), a, r, a, true);       // (G g) G^T
    matmul(bt.data(), d.data(), tmp.data(), a, a, a, false);         // BT d
    matmul(tmp.data(), bt.data(), v.data(), a, a, a, true);          // (BT d) B
    for (int i = 0; i < a * a; ++i) u[i] *= v[i];
    matmul(at.data(), u.data(), tmp.data(), m, a, a, false);         // AT M
    matmul(tmp.data(), at.data(), y.data(), m, a, m, true);          // (AT M) A
    double diff2 = 0.0, ref2 = 0.0;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        const double ref = tile_math::direct_output(d64.data(), g64.data(), a, r, i, j);
        double e = static_cast<double>(y[i * m + j]) - ref;
        diff2 += e * e;
        ref2 += ref * ref;
      }
    double rel = ref2 > 0.0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    err.max_rel = std::max(err.max_rel, rel);
    sum += rel;
  }
  err.mean_rel = sum / trials;
  return err;
}

}  // namespace wino

#include "common/random.h"

#include <cmath>

namespace wino {

uint64_t Rng::next_u64() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u = uniform(), v = uniform();
  double radius = std::sqrt(-2.0 * std::log(u));
  spare_ = radius * std::sin(2.0 * M_PI * v);
  has_spare_ = true;
  return radius * std::cos(2.0 * M_PI * v);
}

Tensor random_normal(DType dtype, const Shape& shape, uint64_t seed) {
  Tensor t(dtype, shape);
  Rng rng(seed);
  for (int64_t i = 0, n = t.numel(); i < n; ++i) t.set(i, rng.normal());
  return t;
}

}  // namespace wino

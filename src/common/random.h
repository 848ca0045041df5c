// Fixed-seed random numbers that are the same on every platform (std::normal_distribution is not).
#pragma once

#include <cstdint>

#include "common/tensor.h"

namespace wino {

/// splitmix64: a small, well-mixed 64-bit generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  /// Uniform in (0, 1), never 0.
  double uniform();
  /// Standard normal (Box-Muller).
  double normal();

 private:
  uint64_t state_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// A tensor of standard normal values drawn from `seed`.
Tensor random_normal(DType dtype, const Shape& shape, uint64_t seed);

}  // namespace wino

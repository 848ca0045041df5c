// Small statistics of repeated measurements.
#pragma once

#include <algorithm>
#include <vector>

namespace wino {

/// The median (the mean of the middle two for an even count); -1 for no samples.
inline double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace wino

// Small statistics of repeated measurements.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace wino {

/// The median (the mean of the middle two for an even count); -1 for no samples.
inline double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The geometric mean of positive values (ratios of times); -1 for none.
inline double geometric_mean(const std::vector<double>& v) {
  double log_sum = 0;
  for (double x : v) log_sum += std::log(x);
  return v.empty() ? -1 : std::exp(log_sum / static_cast<double>(v.size()));
}

}  // namespace wino

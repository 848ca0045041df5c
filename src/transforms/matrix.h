// A small dense row-major matrix of exact rationals.
#pragma once

#include <vector>

#include "transforms/rational.h"

namespace wino {

struct RationalMatrix {
  int rows = 0, cols = 0;
  std::vector<Rational> data;  // rows * cols, row-major

  RationalMatrix() = default;
  RationalMatrix(int r, int c) : rows(r), cols(c), data(static_cast<size_t>(r) * c) {}
  Rational& at(int i, int j) { return data[static_cast<size_t>(i) * cols + j]; }
  const Rational& at(int i, int j) const { return data[static_cast<size_t>(i) * cols + j]; }
};

}  // namespace wino

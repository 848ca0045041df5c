// The layers the planner and plan tests build: N images of C x HW x HW, K 3 x 3 filters, padding 1.
#pragma once

#include "wino/wino.h"

namespace wino {

inline ConvDesc layer(int64_t n, int64_t c, int64_t hw, int64_t k) {
  ConvDesc d;
  d.n = n, d.c = c, d.h = d.w = hw, d.k = k, d.r = d.s = 3, d.pad = Padding::all(1);
  return d;
}

}  // namespace wino

// Uses only the installed <wino/wino.h>: compiles a convolution for the CPU, runs it, and checks
// it against a direct sum. Exit status 0 when every output matches.
#include <wino/wino.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  wino::ConvDesc d;
  d.n = 1, d.c = 3, d.h = 9, d.w = 7, d.k = 4, d.pad = wino::Padding::all(1);
  std::vector<float> x(1 * 3 * 9 * 7), w(4 * 3 * 3 * 3), y(1 * 4 * 9 * 7);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.11f * i);
  wino::Options o;
  o.plan = "unfused";
  o.m = 2;
  wino::Conv conv = wino::compile(wino::Device::cpu(), d, o);
  conv.set_weights(w.data());
  conv.run(x.data(), y.data());
  int wrong = 0;
  for (int k = 0; k < 4; ++k)
    for (int oh = 0; oh < 9; ++oh)
      for (int ow = 0; ow < 7; ++ow) {
        double want = 0;
        for (int c = 0; c < 3; ++c)
          for (int r = 0; r < 3; ++r)
            for (int s = 0; s < 3; ++s) {
              const int ih = oh + r - 1, iw = ow + s - 1;
              if (ih >= 0 && ih < 9 && iw >= 0 && iw < 7) want += double(x[(c * 9 + ih) * 7 + iw]) * w[((k * 3 + c) * 3 + r) * 3 + s];
            }
        if (std::abs(y[(k * 9 + oh) * 7 + ow] - want) > 1e-4 * (1 + std::abs(want))) ++wrong;
      }
  std::printf("wino %s from the installed package: %s\n", WINO_VERSION, wrong ? "WRONG" : "outputs match");
  return wrong ? 1 : 0;
}

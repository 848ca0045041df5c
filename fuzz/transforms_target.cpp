// Fuzz target: the Cook-Toom transform builder over (m, r, points). Input: byte 0 picks m,
// byte 1 picks r, byte 2 bit 0 says whether the rest is a comma-separated list of points
// (parsed like `wino transforms --points`) or the defaults are used.
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "fuzz_targets.h"
#include "transforms/winograd.h"

namespace wino::fuzz {

void transforms_one_input(const uint8_t* data, size_t size) {
  if (size < 3) return;
  // m and r range a little past the limits so that the rejections are exercised too.
  const int m = static_cast<int>(data[0] % 20) - 1, r = static_cast<int>(data[1] % 20) - 1;
  std::optional<std::vector<Rational>> points;
  if (data[2] & 1) {
    points.emplace();
    std::string item;
    const std::string text(reinterpret_cast<const char*>(data + 3), size - 3);
    try {
      for (size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == ',') {
          points->push_back(Rational::parse(item));
          item.clear();
        } else {
          item += text[i];
        }
      }
    } catch (const Error&) {
      return;
    }
  }
  WinogradTransforms t;
  try {
    t = cook_toom(m, r, points);
  } catch (const Error&) {
    return;
  }
  if (t.m != m || t.r != r || t.alpha != m + r - 1 || t.AT.rows != m || t.G.cols != r ||
      t.BT.rows != t.alpha)
    throw FuzzFailure("cook_toom returned matrices of the wrong shape");
  Verification v;
  try {
    v = verify(t, 2, data[2]);
  } catch (const Error&) {
    return;  // the exact check itself can overflow for extreme points; that is reported
  }
  if (!v.ok())
    throw FuzzFailure("F(" + std::to_string(m) + ", " + std::to_string(r) + ") with points " +
                      points_string(t.points) + " fails the exact check");
  (void)count_ops(t);
}

}  // namespace wino::fuzz

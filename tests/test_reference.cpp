#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "common/tensor.h"
#include "reference/reference.h"

namespace wino {
namespace {

Tensor make(DType dtype, const Shape& shape, const std::vector<double>& values) {
  Tensor t(dtype, shape);
  EXPECT_EQ(t.numel(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) t.set(static_cast<int64_t>(i), values[i]);
  return t;
}

double at(const Tensor& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return t.get(((a * t.dim(1) + b) * t.dim(2) + c) * t.dim(3) + d);
}

// Elements [begin, end) of a 4-D tensor along axis 0 or 1.
Tensor slice(const Tensor& t, int axis, int64_t begin, int64_t end) {
  Shape shape = t.shape();
  shape[axis] = end - begin;
  Tensor out(t.dtype(), shape);
  int64_t i = 0;
  for (int64_t a = 0; a < t.dim(0); ++a)
    for (int64_t b = 0; b < t.dim(1); ++b) {
      const int64_t idx = axis == 0 ? a : b;
      if (idx < begin || idx >= end) continue;
      for (int64_t c = 0; c < t.dim(2); ++c)
        for (int64_t d = 0; d < t.dim(3); ++d) out.set(i++, at(t, a, b, c, d));
    }
  return out;
}

// Expects `part` to equal the elements [begin, end) of `whole` along `axis`.
void expect_slice_eq(const Tensor& whole, int axis, int64_t begin, const Tensor& part) {
  for (int64_t a = 0; a < part.dim(0); ++a)
    for (int64_t b = 0; b < part.dim(1); ++b)
      for (int64_t c = 0; c < part.dim(2); ++c)
        for (int64_t d = 0; d < part.dim(3); ++d)
          ASSERT_NEAR(at(part, a, b, c, d),
                      at(whole, axis == 0 ? a + begin : a, axis == 1 ? b + begin : b, c, d), 1e-13)
              << "at (" << a << ", " << b << ", " << c << ", " << d << ")";
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.get(i) - b.get(i)));
  return m;
}

template <typename F>
void expect_error(F&& f, const std::string& word) {
  try {
    f();
    ADD_FAILURE() << "expected wino::Error mentioning '" << word << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos)
        << "message '" << e.what() << "' lacks '" << word << "'";
  }
}

TEST(Reference, HandComputedNoPadding) {
  Tensor x = make(DType::f64, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = make(DType::f64, {1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor y = reference_conv2d(x, w, Padding::all(0));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y.dtype(), DType::f64);
  // 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on: cross-correlation, the filter is not flipped.
  const std::vector<double> expected = {37, 47, 67, 77};
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(y.get(i), expected[i]) << i;
}

TEST(Reference, HandComputedPaddingOne) {
  Tensor x = make(DType::f64, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = make(DType::f64, {1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor y = reference_conv2d(x, w, Padding::all(1));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  // Row 0 sees only the filter's bottom row (3, 4) over image row 0; row 3 only its top row.
  const std::vector<double> expected = {4,  11, 18, 9,   //
                                        18, 37, 47, 21,  //
                                        36, 67, 77, 33,  //
                                        14, 23, 26, 9};
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(y.get(i), expected[i]) << i;
}

TEST(Reference, DeltaFilterShiftsTheImage) {
  Tensor x = random_normal(DType::f64, {1, 1, 5, 6}, 11);
  for (int64_t r0 = 0; r0 < 3; ++r0)
    for (int64_t s0 = 0; s0 < 3; ++s0) {
      Tensor w(DType::f64, {1, 1, 3, 3});
      w.set(r0 * 3 + s0, 1.0);
      Tensor y = reference_conv2d(x, w, Padding::all(1));
      ASSERT_EQ(y.shape(), (Shape{1, 1, 5, 6}));
      for (int64_t oh = 0; oh < 5; ++oh)
        for (int64_t ow = 0; ow < 6; ++ow) {
          const int64_t ih = oh + r0 - 1, iw = ow + s0 - 1;
          const bool inside = ih >= 0 && ih < 5 && iw >= 0 && iw < 6;
          EXPECT_EQ(at(y, 0, 0, oh, ow), inside ? at(x, 0, 0, ih, iw) : 0.0)
              << "delta (" << r0 << ", " << s0 << ") at (" << oh << ", " << ow << ")";
        }
    }
}

TEST(Reference, IsLinearInTheInput) {
  Tensor x1 = random_normal(DType::f64, {2, 3, 8, 7}, 1), x2 = random_normal(DType::f64, {2, 3, 8, 7}, 2);
  Tensor w = random_normal(DType::f64, {4, 3, 3, 3}, 3);
  const double a = 0.75, b = -1.25;
  Tensor mix(DType::f64, x1.shape());
  for (int64_t i = 0; i < mix.numel(); ++i) mix.set(i, a * x1.get(i) + b * x2.get(i));
  Tensor y1 = reference_conv2d(x1, w, Padding::all(1)), y2 = reference_conv2d(x2, w, Padding::all(1));
  Tensor ym = reference_conv2d(mix, w, Padding::all(1));
  for (int64_t i = 0; i < ym.numel(); ++i)
    ASSERT_NEAR(ym.get(i), a * y1.get(i) + b * y2.get(i), 1e-12) << i;
}

TEST(Reference, AsymmetricPaddingEqualsExplicitZeroPadding) {
  Tensor x = random_normal(DType::f64, {2, 3, 5, 4}, 4);
  Tensor w = random_normal(DType::f64, {4, 3, 3, 2}, 5);
  const Padding pad{1, 2, 0, 3};
  Tensor y = reference_conv2d(x, w, pad);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 5 + 1 + 2 - 3 + 1, 4 + 0 + 3 - 2 + 1}));

  Tensor xp(DType::f64, {2, 3, 5 + 3, 4 + 3});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 5; ++h)
        for (int64_t v = 0; v < 4; ++v)
          xp.set(((n * 3 + c) * 8 + h + pad.top) * 7 + v + pad.left, at(x, n, c, h, v));
  EXPECT_LE(max_abs_diff(y, reference_conv2d(xp, w, Padding::all(0))), 1e-13);
}

TEST(Reference, GroupsEqualSeparateConvolutions) {
  Tensor x = random_normal(DType::f64, {2, 4, 6, 5}, 6);
  Tensor w = random_normal(DType::f64, {6, 2, 3, 3}, 7);
  Tensor y = reference_conv2d(x, w, Padding::all(1), 2);
  ASSERT_EQ(y.shape(), (Shape{2, 6, 6, 5}));
  for (int64_t g = 0; g < 2; ++g) {
    Tensor part = reference_conv2d(slice(x, 1, 2 * g, 2 * g + 2), slice(w, 0, 3 * g, 3 * g + 3),
                                   Padding::all(1));
    expect_slice_eq(y, 1, 3 * g, part);
  }
}

TEST(Reference, DepthwiseIsOneConvolutionPerChannel) {
  Tensor x = random_normal(DType::f64, {2, 3, 6, 5}, 8);
  Tensor w = random_normal(DType::f64, {3, 1, 3, 3}, 9);
  Tensor y = reference_conv2d(x, w, Padding{1, 0, 0, 1}, 3);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5, 4}));
  for (int64_t c = 0; c < 3; ++c)
    expect_slice_eq(y, 1, c,
                    reference_conv2d(slice(x, 1, c, c + 1), slice(w, 0, c, c + 1), Padding{1, 0, 0, 1}));
}

TEST(Reference, BatchImagesAreIndependent) {
  Tensor x = random_normal(DType::f64, {3, 2, 7, 7}, 10);
  Tensor w = random_normal(DType::f64, {5, 2, 3, 3}, 11);
  Tensor y = reference_conv2d(x, w, Padding::all(1));
  for (int64_t n = 0; n < 3; ++n)
    expect_slice_eq(y, 0, n, reference_conv2d(slice(x, 0, n, n + 1), w, Padding::all(1)));
}

TEST(Reference, Float32InputEqualsItsFloat64Upcast) {
  Tensor x = random_normal(DType::f32, {2, 3, 9, 8}, 12);
  Tensor w = random_normal(DType::f32, {4, 3, 3, 3}, 13);
  Tensor y = reference_conv2d(x, w, Padding::all(1));
  EXPECT_EQ(y.dtype(), DType::f64);
  Tensor y64 = reference_conv2d(x.to(DType::f64), w.to(DType::f64), Padding::all(1));
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(y.get(i), y64.get(i)) << i;
  // Mixed dtypes too.
  Tensor ym = reference_conv2d(x, w.to(DType::f64), Padding::all(1));
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(ym.get(i), y64.get(i)) << i;
}

TEST(Reference, LargeLayerMatchesConvAtSamples) {
  // Big enough to use several threads: every sampled output must match the one-point version.
  Tensor x = random_normal(DType::f32, {1, 64, 56, 56}, 14);
  Tensor w = random_normal(DType::f32, {64, 64, 3, 3}, 15);
  Tensor y = reference_conv2d(x, w, Padding::all(1));
  Rng rng(16);
  for (int i = 0; i < 200; ++i) {
    const int64_t k = rng.next_u64() % 64, oh = rng.next_u64() % 56, ow = rng.next_u64() % 56;
    const double expected = reference_conv2d_at(x, w, Padding::all(1), 1, 0, k, oh, ow);
    ASSERT_NEAR(at(y, 0, k, oh, ow), expected, 1e-12 * (1 + std::fabs(expected)));
  }
  // Deterministic: a second run gives the same bits.
  Tensor again = reference_conv2d(x, w, Padding::all(1));
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(y.get(i), again.get(i));
}

TEST(Reference, ConvAtMatchesEveryPointWithGroupsAndPadding) {
  Tensor x = random_normal(DType::f64, {2, 4, 9, 8}, 17);
  Tensor w = random_normal(DType::f32, {6, 2, 3, 2}, 18);
  const Padding pad{1, 0, 2, 1};
  Tensor y = reference_conv2d(x, w, pad, 2);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 6; ++k)
      for (int64_t oh = 0; oh < y.dim(2); ++oh)
        for (int64_t ow = 0; ow < y.dim(3); ++ow)
          ASSERT_NEAR(reference_conv2d_at(x, w, pad, 2, n, k, oh, ow), at(y, n, k, oh, ow), 1e-13);
  expect_error([&] { reference_conv2d_at(x, w, pad, 2, 0, 6, 0, 0); }, "out of range");
  expect_error([&] { reference_conv2d_at(x, w, pad, 2, 0, 0, y.dim(2), 0); }, "out of range");
  expect_error([&] { reference_conv2d_at(x, w, pad, 2, -1, 0, 0, 0); }, "out of range");
}

TEST(Reference, ErrorsNameTheProblem) {
  Tensor x = random_normal(DType::f64, {1, 4, 5, 5}, 19);
  Tensor w = random_normal(DType::f64, {2, 4, 3, 3}, 20);
  expect_error([&] { reference_conv2d(random_normal(DType::f64, {4, 5, 5}, 1), w, {}); }, "4-D");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {2, 4, 3}, 1), {}); }, "4-D");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {2, 3, 3, 3}, 1), {}); },
               "channel mismatch");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {2, 1, 3, 3}, 1), {}, 3); },
               "divide");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {3, 2, 3, 3}, 1), {}, 2); },
               "divide");
  expect_error([&] { reference_conv2d(x, w, {}, 0); }, "groups");
  expect_error([&] { reference_conv2d(x, w, Padding{0, -1, 0, 0}); }, "non-negative");
  expect_error([&] { reference_conv2d(Tensor(DType::f64, {1, 4, 0, 5}), w, {}); }, "zero-size");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {2, 4, 7, 3}, 1), {}); }, "empty");
  expect_error([&] { reference_conv2d(x, random_normal(DType::f64, {2, 4, 3, 6}, 1), {}); }, "empty");
  const int64_t huge = std::numeric_limits<int64_t>::max();
  expect_error([&] { reference_conv2d(x, w, Padding{huge, 1, 0, 0}); }, "overflow");
  // 4 x 2 x 2^31 x 2^31 outputs: more than 2^63 elements.
  expect_error([&] { reference_conv2d(random_normal(DType::f64, {4, 4, 1, 1}, 1), w,
                                      Padding::all(int64_t{1} << 30)); },
               "64 bits");
  // 2^62 elements fit in int64 but not in memory.
  expect_error([&] { reference_conv2d(random_normal(DType::f64, {1, 4, 1, 1}, 1),
                                      random_normal(DType::f64, {1, 4, 1, 1}, 1),
                                      Padding::all(int64_t{1} << 30)); },
               "too large");
}

TEST(Reference, RelativeL2Error) {
  Tensor ref = random_normal(DType::f64, {3, 4}, 21);
  EXPECT_EQ(relative_l2_error(ref, ref), 0.0);
  Tensor y(DType::f64, ref.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y.set(i, ref.get(i) * (1 + 1e-3));
  EXPECT_NEAR(relative_l2_error(y, ref), 1e-3, 1e-12);
  // A float32 tensor against its float64 reference: shapes must match, dtypes may differ.
  EXPECT_LT(relative_l2_error(ref.to(DType::f32), ref), 1e-7);
  expect_error([&] { relative_l2_error(Tensor(DType::f64, {4, 3}), ref); }, "shape");

  y.set(5, std::nan(""));
  EXPECT_TRUE(std::isnan(relative_l2_error(y, ref)));
  EXPECT_TRUE(std::isnan(relative_l2_error(ref, y)));

  Tensor zero(DType::f64, {3});
  EXPECT_EQ(relative_l2_error(zero, zero), 0.0);
  EXPECT_EQ(relative_l2_error(make(DType::f64, {3}, {0, 1e-300, 0}), zero),
            std::numeric_limits<double>::infinity());
  // Huge values do not overflow the sums of squares.
  Tensor big = make(DType::f64, {2}, {1e300, 1e300});
  EXPECT_NEAR(relative_l2_error(make(DType::f64, {2}, {1e300, 2e300}), big), 1 / std::sqrt(2.0), 1e-12);
  Tensor tiny = make(DType::f64, {2}, {1e-300, 1e-300});
  EXPECT_NEAR(relative_l2_error(make(DType::f64, {2}, {1e-300, 2e-300}), tiny), 1 / std::sqrt(2.0),
              1e-12);
}

}  // namespace
}  // namespace wino

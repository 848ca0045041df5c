#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/half.h"
#include "transforms/winograd.h"

namespace wino {
namespace {

std::vector<Rational> parse_list(const std::vector<std::string>& items) {
  std::vector<Rational> out;
  for (const std::string& s : items) out.push_back(Rational::parse(s));
  return out;
}

RationalMatrix matrix(const std::vector<std::vector<std::string>>& rows) {
  RationalMatrix m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()));
  for (int i = 0; i < m.rows; ++i)
    for (int j = 0; j < m.cols; ++j) m.at(i, j) = Rational::parse(rows[i][j]);
  return m;
}

template <class F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected wino::Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// The two point sets besides the defaults that the identity is proven for.
const std::vector<std::string> kIntegerPoints = {"0", "1", "-1", "2", "-2", "3", "-3", "4", "-4"};
const std::vector<std::string> kHalfPoints = {"0", "1/2", "-1/2", "1", "-1", "2", "-2", "3/2", "-3/2"};

TEST(Transforms, IdentityHoldsForEveryShapeUpToAlpha10WithThreePointSets) {
  for (int alpha = 1; alpha <= 10; ++alpha)
    for (int r = 1; r <= 7 && r <= alpha; ++r) {
      const int m = alpha - r + 1;
      std::vector<std::optional<std::vector<Rational>>> sets = {std::nullopt};
      for (const auto* list : {&kIntegerPoints, &kHalfPoints})
        sets.push_back(parse_list({list->begin(), list->begin() + (alpha - 1)}));
      for (const auto& points : sets) {
        WinogradTransforms t = cook_toom(m, r, points);
        Verification v = verify(t, 4, 17);
        EXPECT_TRUE(v.ok_1d) << "F(" << m << ", " << r << ") " << points_string(t.points);
        EXPECT_TRUE(v.ok_2d) << "F(" << m << ", " << r << ") " << points_string(t.points);
      }
    }
}

TEST(Transforms, DefaultPointsVerifyForEveryShapeUpToAlpha16) {
  for (int alpha = 1; alpha <= kMaxAlpha; ++alpha) {
    std::vector<Rational> p = default_points(alpha);
    ASSERT_EQ(static_cast<int>(p.size()), alpha - 1);
    for (size_t i = 0; i < p.size(); ++i)
      for (size_t j = 0; j < i; ++j) EXPECT_FALSE(p[i] == p[j]) << "alpha " << alpha;
    for (int r = 1; r <= alpha; ++r) {
      WinogradTransforms t = cook_toom(alpha - r + 1, r);
      for (uint64_t seed : {1, 2, 3}) EXPECT_TRUE(verify(t, 1, seed).ok()) << "F(" << t.m << ", " << r << ")";
    }
  }
}

TEST(Transforms, ShapesAndTheTrivialAlpha1) {
  WinogradTransforms t = cook_toom(4, 3);
  EXPECT_EQ(t.alpha, 6);
  EXPECT_EQ(t.AT.rows, 4);
  EXPECT_EQ(t.AT.cols, 6);
  EXPECT_EQ(t.G.rows, 6);
  EXPECT_EQ(t.G.cols, 3);
  EXPECT_EQ(t.BT.rows, 6);
  EXPECT_EQ(t.BT.cols, 6);
  WinogradTransforms one = cook_toom(1, 1);
  EXPECT_EQ(one.alpha, 1);
  EXPECT_TRUE(one.points.empty());
  EXPECT_TRUE(one.AT.at(0, 0).is_one() && one.G.at(0, 0).is_one() && one.BT.at(0, 0).is_one());
  EXPECT_TRUE(verify(one).ok());
}

// Our matrices may differ from published ones only by the free per-point scaling: column j of
// AT, row j of G and row j of BT scaled by a_j, b_j, c_j with a_j b_j c_j = 1.
void expect_same_up_to_point_scaling(const WinogradTransforms& t, const RationalMatrix& at,
                                     const RationalMatrix& g, const RationalMatrix& bt) {
  auto scale = [](auto entry_ours, auto entry_pub, int n) {
    std::optional<Rational> s;
    for (int k = 0; k < n; ++k) {
      Rational a = entry_ours(k), b = entry_pub(k);
      EXPECT_EQ(a.is_zero(), b.is_zero()) << "zero patterns differ at " << k;
      if (b.is_zero()) continue;
      Rational q = a / b;
      if (s) EXPECT_EQ(*s, q) << "inconsistent scale at " << k;
      else s = q;
    }
    return s.value_or(Rational(1));
  };
  for (int j = 0; j < t.alpha; ++j) {
    Rational a = scale([&](int i) { return t.AT.at(i, j); }, [&](int i) { return at.at(i, j); }, t.m);
    Rational b = scale([&](int k) { return t.G.at(j, k); }, [&](int k) { return g.at(j, k); }, t.r);
    Rational c = scale([&](int k) { return t.BT.at(j, k); }, [&](int k) { return bt.at(j, k); }, t.alpha);
    EXPECT_EQ(a * b * c, Rational(1)) << "point " << j;
  }
}

TEST(Transforms, MatchesLavinGrayF23UpToScaling) {
  WinogradTransforms t = cook_toom(2, 3, parse_list({"0", "1", "-1"}));
  expect_same_up_to_point_scaling(t, matrix({{"1", "1", "1", "0"}, {"0", "1", "-1", "-1"}}),
                                  matrix({{"1", "0", "0"}, {"1/2", "1/2", "1/2"},
                                          {"1/2", "-1/2", "1/2"}, {"0", "0", "1"}}),
                                  matrix({{"1", "0", "-1", "0"}, {"0", "1", "1", "0"},
                                          {"0", "-1", "1", "0"}, {"0", "1", "0", "-1"}}));
}

TEST(Transforms, MatchesLavinGrayF43UpToScaling) {
  WinogradTransforms t = cook_toom(4, 3, parse_list({"0", "1", "-1", "2", "-2"}));
  expect_same_up_to_point_scaling(
      t,
      matrix({{"1", "1", "1", "1", "1", "0"}, {"0", "1", "-1", "2", "-2", "0"},
              {"0", "1", "1", "4", "4", "0"}, {"0", "1", "-1", "8", "-8", "1"}}),
      matrix({{"1/4", "0", "0"}, {"-1/6", "-1/6", "-1/6"}, {"-1/6", "1/6", "-1/6"},
              {"1/24", "1/12", "1/6"}, {"1/24", "-1/12", "1/6"}, {"0", "0", "1"}}),
      matrix({{"4", "0", "-5", "0", "1", "0"}, {"0", "-4", "-4", "1", "1", "0"},
              {"0", "4", "-4", "-1", "1", "0"}, {"0", "-2", "-1", "2", "1", "0"},
              {"0", "2", "-1", "-2", "1", "0"}, {"0", "4", "0", "-5", "0", "1"}}));
}

TEST(Transforms, MultiplicationCountsOfThePublishedSizes) {
  struct Case { int m; int64_t winograd, direct; };
  for (Case c : {Case{2, 16, 36}, Case{4, 36, 144}, Case{6, 64, 324}}) {
    WinogradTransforms t = cook_toom(c.m, 3);
    EXPECT_TRUE(verify(t).ok());
    TransformCounts n = count_ops(t);
    EXPECT_EQ(n.mults_per_tile, c.winograd);
    EXPECT_EQ(n.direct_mults_per_tile, c.direct);
  }
}

TEST(TransformCounts, SkipsZerosAndFoldsUnitCoefficients) {
  OpCount c = count_matrix_ops(matrix({{"1", "0", "-1"}, {"2", "1/2", "0"}, {"0", "0", "0"},
                                       {"0", "-1", "0"}, {"3", "-1", "1"}}));
  EXPECT_EQ(c.adds, 1 + 1 + 0 + 0 + 2);
  EXPECT_EQ(c.mults, 0 + 2 + 0 + 0 + 1);
  // Lavin & Gray's F(2, 3): BT d is 4 additions, G g 4 additions and 6 multiplications.
  OpCount bt = count_matrix_ops(matrix({{"1", "0", "-1", "0"}, {"0", "1", "1", "0"},
                                        {"0", "-1", "1", "0"}, {"0", "1", "0", "-1"}}));
  EXPECT_EQ(bt.adds, 4);
  EXPECT_EQ(bt.mults, 0);
}

TEST(TransformCounts, F23WithDefaultPointsCostsWhatLavinGrayCosts) {
  // Points 0, -1, 1 are L&G's up to order and signs, so the counts of their matrices hold.
  TransformCounts c = count_ops(cook_toom(2, 3));
  EXPECT_EQ(c.input_1d.adds, 4);
  EXPECT_EQ(c.input_1d.mults, 0);
  EXPECT_EQ(c.filter_1d.adds, 4);
  EXPECT_EQ(c.filter_1d.mults, 6);
  EXPECT_EQ(c.output_1d.adds, 4);
  EXPECT_EQ(c.output_1d.mults, 0);
  // 2D: BT on 4 columns then 4 rows; G on 3 columns then 4 rows; AT on 4 columns then 2 rows.
  EXPECT_EQ(c.input_2d.adds, 32);
  EXPECT_EQ(c.input_2d.mults, 0);
  EXPECT_EQ(c.filter_2d.adds, 28);
  EXPECT_EQ(c.filter_2d.mults, 42);
  EXPECT_EQ(c.output_2d.adds, 24);
  EXPECT_EQ(c.output_2d.mults, 0);
}

TEST(TransformCounts, TwoDimensionalIsRowsThenColumns) {
  WinogradTransforms t = cook_toom(4, 3);
  TransformCounts c = count_ops(t);
  EXPECT_EQ(c.input_2d.adds, 12 * c.input_1d.adds);
  EXPECT_EQ(c.input_2d.mults, 12 * c.input_1d.mults);
  EXPECT_EQ(c.filter_2d.adds, 9 * c.filter_1d.adds);
  EXPECT_EQ(c.filter_2d.mults, 9 * c.filter_1d.mults);
  EXPECT_EQ(c.output_2d.adds, 10 * c.output_1d.adds);
  EXPECT_EQ(c.output_2d.mults, 10 * c.output_1d.mults);
}

TEST(Transforms, VerificationCatchesAWrongMatrix) {
  WinogradTransforms t = cook_toom(4, 3);
  WinogradTransforms bad_g = t;
  bad_g.G.at(2, 1) += Rational(1, 3);
  Verification v = verify(bad_g);
  EXPECT_FALSE(v.ok_1d);
  EXPECT_FALSE(v.ok_2d);
  WinogradTransforms bad_bt = t;
  bad_bt.BT.at(5, 0) += Rational(1);
  EXPECT_FALSE(verify(bad_bt).ok());
  EXPECT_THROW(verify(t, 0), Error);
}

TEST(Transforms, RejectsInvalidRequests) {
  expect_error([] { cook_toom(0, 3); }, "at least 1");
  expect_error([] { cook_toom(3, 0); }, "at least 1");
  expect_error([] { cook_toom(10, 10); }, "limit of 16");
  expect_error([] { cook_toom(2, 3, parse_list({"0", "1"})); }, "needs alpha - 1 = 3");
  expect_error([] { cook_toom(2, 3, parse_list({"0", "1", "2/2"})); }, "distinct");
  EXPECT_THROW(default_points(17), Error);
  EXPECT_THROW(default_points(0), Error);
}

TEST(Transforms, OverflowIsReportedNotSilentlyWrong) {
  std::vector<Rational> big;
  for (int i = 1; i <= 15; ++i) big.push_back(Rational(1000 * i));
  expect_error([&] { cook_toom(1, 16, big); }, "overflowed int64 while building F(1, 16)");
  expect_error([&] { cook_toom(14, 3, big); }, "choose smaller points or a smaller alpha");
}

TEST(Transforms, VerificationOverflowIsAnError) {
  // L&G's F(2, 3) rescaled per point by three huge coprime factors: still a valid algorithm, but
  // the common denominator of G (2 P0 P1 P2) no longer fits the 128 bits the check allows.
  WinogradTransforms t = cook_toom(2, 3, parse_list({"0", "1", "-1"}));
  const int64_t p[3] = {4611686018427387847, 4611686018427387845, 4611686018427387843};
  for (int j = 0; j < 3; ++j) {
    for (int i = 0; i < t.m; ++i) t.AT.at(i, j) *= Rational(p[j]);
    for (int k = 0; k < t.r; ++k) t.G.at(j, k) = t.G.at(j, k) / Rational(p[j]);
  }
  expect_error([&] { verify(t); }, "overflowed while verifying F(2, 3)");
  // Two such factors still fit: the check then succeeds exactly.
  WinogradTransforms u = cook_toom(2, 3, parse_list({"0", "1", "-1"}));
  for (int j = 1; j < 3; ++j) {
    for (int i = 0; i < u.m; ++i) u.AT.at(i, j) *= Rational(p[j]);
    for (int k = 0; k < u.r; ++k) u.G.at(j, k) = u.G.at(j, k) / Rational(p[j]);
  }
  EXPECT_TRUE(verify(u).ok());
}

TEST(Transforms, FloatConversions) {
  RationalMatrix m = matrix({{"1/2", "-3"}, {"1/3", "0"}});
  EXPECT_EQ(to_doubles(m), (std::vector<double>{0.5, -3.0, 1.0 / 3.0, 0.0}));
  EXPECT_EQ(to_floats(m), (std::vector<float>{0.5f, -3.0f, 1.0f / 3.0f, 0.0f}));
  EXPECT_EQ(points_string(parse_list({"0", "-1/2"})), "0, -1/2, inf");
}

// Measured with the default points and seed, 2000 tiles (max / mean relative L2 error):
//   F(2,3) 8.1e-7 / 1.2e-7, F(4,3) 2.7e-6 / 4.8e-7, F(6,3) 5.3e-6 / 1.5e-6,
//   F(8,3) 4.2e-5 / 9.3e-6. The bounds leave 2-4x margin over the max and 2x over the mean.
TEST(TransformsFp32, ErrorGrowsWithTileSizeAndStaysSmall) {
  struct Case { int m; double max_bound, mean_bound; };
  double previous_mean = 0.0;
  for (Case c : {Case{2, 3e-6, 3e-7}, Case{4, 6e-6, 1e-6}, Case{6, 1.5e-5, 3e-6},
                 Case{8, 1e-4, 2e-5}}) {
    Fp32Error e = measure_fp32_error(cook_toom(c.m, 3), 2000, 1);
    EXPECT_EQ(e.trials, 2000);
    EXPECT_LT(e.max_rel, c.max_bound) << "F(" << c.m << ", 3)";
    EXPECT_LT(e.mean_rel, c.mean_bound) << "F(" << c.m << ", 3)";
    EXPECT_GT(e.mean_rel, previous_mean) << "F(" << c.m << ", 3)";
    EXPECT_LE(e.mean_rel, e.max_rel);
    previous_mean = e.mean_rel;
  }
  // One product per tile: only the rounding of the float32 result itself.
  EXPECT_LT(measure_fp32_error(cook_toom(1, 1), 100).max_rel, 1e-7);
  EXPECT_THROW(measure_fp32_error(cook_toom(2, 3), 0), Error);
}

// The half-precision model against what the GPU sweep and the benchmark measured on whole layers
// (H100, sessions 46-47, f16 tensors). fp16: the fused F(2,3) 4.9e-4 to 5.5e-4 (U and V rounded),
// the unfused (M too) F(2,3) 5.9e-4 to 6.7e-4 and F(4,3) 2.4e-3 to 2.7e-3, the fused F(3,3)
// 1.7e-3 to 1.9e-3; bf16: the fused F(2,3) 4.0e-3 to 4.3e-3. cuDNN's legacy fp16 algorithm
// measured 2.0e-4 to 2.2e-4, the floor the model puts at the output's rounding. Each range holds
// the measurement, the model within 25% of it.
TEST(TransformsHalf, ModelMatchesTheMeasuredErrors) {
  struct Case { int m; float (*round)(float); bool round_m; double low, high; };
  for (Case c : {Case{2, round_to_f16, false, 4.0e-4, 6.5e-4}, Case{2, round_to_f16, true, 4.7e-4, 8.0e-4},
                 Case{4, round_to_f16, true, 1.9e-3, 3.2e-3}, Case{3, round_to_f16, false, 1.4e-3, 2.3e-3},
                 Case{2, round_to_bf16, false, 3.2e-3, 5.2e-3}}) {
    const HalfError e = measure_half_error(cook_toom(c.m, 3), c.round, c.round_m);
    const HalfError plain = measure_half_error(cook_toom(c.m, 3), c.round);
    const HalfError f32_out = measure_half_error(cook_toom(c.m, 3), c.round, c.round_m, false);
    std::printf("[ measured ] F(%d,3) %s%s: model %.3g (float32 output %.3g), output rounding alone %.3g\n", c.m,
                c.round == round_to_f16 ? "fp16" : "bf16", c.round_m ? ", M rounded too" : "", e.winograd,
                f32_out.winograd, e.output);
    EXPECT_GT(e.winograd, c.low) << c.m;
    EXPECT_LT(e.winograd, c.high) << c.m;
    if (c.round_m) EXPECT_GT(e.winograd, plain.winograd) << c.m << ": M rounded too";
    EXPECT_LT(f32_out.winograd, e.winograd) << c.m << ": the output not rounded";
    EXPECT_EQ(f32_out.output, e.output) << c.m << ": the floor is the type's";
    EXPECT_GT(e.output, c.round == round_to_f16 ? 1.8e-4 : 1.4e-3) << c.m;
    EXPECT_LT(e.output, c.round == round_to_f16 ? 2.3e-4 : 1.9e-3) << c.m;
  }
  EXPECT_THROW(measure_half_error(cook_toom(2, 3), round_to_f16, false, true, 0), Error);
}

// with_integer_filter_rows (the CPU GEMM that makes U from the weights as it goes): G's rows are
// integers without a common factor, the identity still holds exactly, and the float32 error stays
// near the original's for every F(m, r) up to alpha 8.
TEST(TransformsIntegerRows, GRowsAreIntegersAndTheIdentityHolds) {
  for (int alpha = 1; alpha <= 8; ++alpha)
    for (int r = 1; r <= alpha && r <= 7; ++r) {
      const int m = alpha - r + 1;
      const WinogradTransforms t = cook_toom(m, r), s = with_integer_filter_rows(t);
      const std::string name = "F(" + std::to_string(m) + ", " + std::to_string(r) + ")";
      EXPECT_TRUE(verify(s, 4, 23).ok()) << name;
      for (int i = 0; i < alpha; ++i) {
        int64_t common = 0;
        for (int j = 0; j < r; ++j) {
          EXPECT_EQ(s.G.at(i, j).den(), 1) << name << " G row " << i;
          common = std::gcd(common, std::abs(s.G.at(i, j).num()));
        }
        EXPECT_EQ(common, 1) << name << " G row " << i;
      }
      EXPECT_TRUE(s.BT.data == t.BT.data) << name;
      const Fp32Error before = measure_fp32_error(t, 500, 3), after = measure_fp32_error(s, 500, 3);
      EXPECT_LT(after.mean_rel, 1.3 * before.mean_rel + 1e-8) << name;
      EXPECT_LT(after.max_rel, 2.0 * before.max_rel + 1e-8) << name;
    }
  // F(4,3): rows 1, -1 1 -1, 1 1 1, -4 -2 -1, 1 -2 4, 1 (Lavin's points 0, -1, 1, 1/2, -2, inf).
  const WinogradTransforms f43 = with_integer_filter_rows(cook_toom(4, 3));
  EXPECT_EQ(f43.G.at(3, 0), Rational(-4));
  EXPECT_EQ(f43.G.at(4, 2), Rational(4));
  EXPECT_EQ(f43.AT.at(1, 3), Rational(1, 2) / Rational(15, 4));
}

// The defaults for alpha 9..14 were chosen by measurement over the literature's prefix
// (see cook_toom.cpp); they must stay clearly better for F(alpha - 2, 3).
TEST(TransformsFp32, MeasuredDefaultPointsBeatTheLiteraturePrefix) {
  const std::vector<std::string> literature = {"0", "-1", "1", "1/2", "-2", "-1/2", "2",
                                               "-1/4", "4", "1/4", "-4", "3/4", "-3/4"};
  for (int alpha = 9; alpha <= 14; ++alpha) {
    auto prefix = parse_list({literature.begin(), literature.begin() + (alpha - 1)});
    double ours = measure_fp32_error(cook_toom(alpha - 2, 3), 1000, 3).mean_rel;
    double theirs = measure_fp32_error(cook_toom(alpha - 2, 3, prefix), 1000, 3).mean_rel;
    EXPECT_LT(ours * 1.3, theirs) << "alpha " << alpha;
  }
}

}  // namespace
}  // namespace wino

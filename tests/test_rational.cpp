#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/error.h"
#include "transforms/rational.h"
#include "transforms/bigint.h"

namespace wino {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Runs `f`, expects a wino::Error whose message contains `needle`.
template <class F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected wino::Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Rational, NormalizesToLowestTermsWithPositiveDenominator) {
  EXPECT_EQ(Rational(2, 4), Rational(1, 2));
  Rational r(3, -6);
  EXPECT_EQ(r.num(), -1);
  EXPECT_EQ(r.den(), 2);
  Rational z(0, -5);
  EXPECT_EQ(z.num(), 0);
  EXPECT_EQ(z.den(), 1);
  EXPECT_TRUE(z.is_zero());
  EXPECT_TRUE(Rational(7, 7).is_one());
  EXPECT_TRUE(Rational(-3, 3).is_minus_one());
  EXPECT_EQ(Rational(kMax, kMax), Rational(1));
  EXPECT_EQ(Rational(kMin, kMin), Rational(1));
}

TEST(Rational, ParsesAndPrints) {
  EXPECT_EQ(Rational::parse("3").str(), "3");
  EXPECT_EQ(Rational::parse("-1/2").str(), "-1/2");
  EXPECT_EQ(Rational::parse("4/8").str(), "1/2");
  EXPECT_EQ(Rational::parse("-0").str(), "0");
  EXPECT_EQ(Rational::parse("6/3").str(), "2");
  EXPECT_EQ(Rational::parse("-9223372036854775808").num(), kMin);
  EXPECT_EQ(Rational(-3, 4).str(), "-3/4");
  EXPECT_DOUBLE_EQ(Rational(-3, 4).to_double(), -0.75);
}

TEST(Rational, ParseErrorsNameTheText) {
  for (const char* bad : {"", "x", "1/", "/2", "1.5", " 1", "1 ", "1/-2", "1/2/3", "+", "--1",
                          "99999999999999999999", "1/0"})
    expect_error([&] { Rational::parse(bad); }, std::string("'") + bad + "'");
}

TEST(Rational, Arithmetic) {
  Rational a(1, 2), b(1, 3);
  EXPECT_EQ(a + b, Rational(5, 6));
  EXPECT_EQ(a - b, Rational(1, 6));
  EXPECT_EQ(b - a, Rational(-1, 6));
  EXPECT_EQ(Rational(2, 3) * Rational(3, 4), Rational(1, 2));
  EXPECT_EQ(a / Rational(1, 4), Rational(2));
  EXPECT_EQ(Rational(-2, 3) / Rational(-4, 9), Rational(3, 2));
  EXPECT_EQ(-a, Rational(-1, 2));
  EXPECT_EQ(a + (-a), Rational(0));
  Rational c = a;
  c += b;
  c -= Rational(1, 6);
  c *= Rational(3);
  EXPECT_EQ(c, Rational(2));
  EXPECT_TRUE(b < a);
  EXPECT_TRUE(Rational(-1, 2) < Rational(-1, 3));
  EXPECT_FALSE(a < a);
  EXPECT_TRUE(Rational(kMin) < Rational(kMax));
}

TEST(Rational, LargeIntermediatesThatReduceDoNotOverflow) {
  // The exact products need more than 64 bits, the reduced results do not.
  EXPECT_EQ(Rational(kMax, 2) * Rational(2, kMax), Rational(1));
  EXPECT_EQ(Rational(1, kMax) + Rational(-1, kMax), Rational(0));
  EXPECT_EQ(Rational(kMax - 1, kMax) + Rational(1, kMax), Rational(1));
  EXPECT_EQ(Rational(kMax) / Rational(kMax), Rational(1));
}

TEST(Rational, OverflowThrows) {
  expect_error([] { Rational(kMax) * Rational(2); }, "overflow");
  expect_error([] { Rational(kMax) + Rational(1); }, "overflow");
  expect_error([] { Rational(kMin) - Rational(1); }, "overflow");
  expect_error([] { Rational(1, kMax) + Rational(1, kMax - 1); }, "overflow");
  expect_error([] { Rational(1, 3000000000) * Rational(1, 4000000000); }, "overflow");
  expect_error([] { Rational(1) / Rational(1, kMax) / Rational(1, 3); }, "overflow");
  EXPECT_THROW(Rational(kMax) * Rational(kMax), RationalOverflow);
}

TEST(Rational, Int64MinIsHandled) {
  Rational m(kMin);
  EXPECT_EQ(m.num(), kMin);
  expect_error([&] { -m; }, "overflow");
  expect_error([] { Rational(kMin, -1); }, "overflow");
  expect_error([] { Rational(1, kMin); }, "overflow");  // the denominator 2^63 does not fit
  EXPECT_EQ(Rational(kMin, 2), Rational(kMin / 2));
  EXPECT_EQ(Rational(kMin, -2), Rational(-(kMin / 2)));
  EXPECT_EQ(m + Rational(1), Rational(kMin + 1));
  EXPECT_EQ(m / m, Rational(1));
  expect_error([&] { m * Rational(-1); }, "overflow");
  EXPECT_EQ(Rational(kMin + 1) - Rational(1), m);
}

TEST(Rational, DivisionByZeroThrows) {
  expect_error([] { Rational(1, 0); }, "zero denominator");
  expect_error([] { Rational(1, 2) / Rational(0); }, "division by zero");
  expect_error([] { Rational(0) / Rational(0, 3); }, "division by zero");
}

TEST(BigInt, ExactArithmeticBeyond128BitsAndACap) {
  using detail::BigInt;
  BigInt big(kMax);
  BigInt p = big * big * big * BigInt(-3);  // about 2^190
  EXPECT_TRUE(p.negative());
  EXPECT_EQ(p.bits(), 191u);
  EXPECT_TRUE(p + -p == BigInt(0));
  EXPECT_TRUE((p - BigInt(1)) + BigInt(1) == p);
  EXPECT_TRUE(BigInt(kMin) - BigInt(kMin) == BigInt());
  EXPECT_TRUE(BigInt(kMin) * BigInt(-1) == BigInt::from_unsigned(0, uint64_t{1} << 63));
  EXPECT_TRUE(BigInt(-5) + BigInt(7) == BigInt(2));
  EXPECT_TRUE(BigInt(5) + BigInt(-7) == BigInt(-2));
  EXPECT_TRUE(BigInt::from_unsigned(1, 0) - BigInt(1) == BigInt::from_unsigned(0, ~uint64_t{0}));
  EXPECT_FALSE(p == -p);
  BigInt x(3);
  for (int i = 0; i < 7; ++i) x = x * x;  // 3^128: 203 bits
  EXPECT_EQ(x.bits(), 203u);
  EXPECT_THROW({ for (int i = 0; i < 8; ++i) x = x * x; }, RationalOverflow);
}

}  // namespace
}  // namespace wino

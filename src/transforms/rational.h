// Exact rational numbers over int64 with overflow detection: the arithmetic of the transforms.
// Every operation reduces to lowest terms; an intermediate that does not fit throws wino::Error.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace wino {

/// Thrown when an exact result (or a value being parsed) does not fit int64. Callers that know
/// what they were building catch it and rethrow with that context.
class RationalOverflow : public Error {
 public:
  using Error::Error;
};

class Rational {
 public:
  constexpr Rational() = default;
  Rational(int64_t value);  // NOLINT: implicit from integers is the natural reading
  Rational(int64_t num, int64_t den);  // den != 0; normalized so den > 0 and gcd = 1
                                       // throws RationalOverflow for e.g. (INT64_MIN, -1)

  int64_t num() const { return num_; }
  int64_t den() const { return den_; }

  /// Parses "3", "-1/2", "1/4" (whitespace not allowed); throws wino::Error naming the text.
  static Rational parse(const std::string& text);
  /// "3", "-1/2".
  std::string str() const;
  double to_double() const { return static_cast<double>(num_) / static_cast<double>(den_); }

  bool is_zero() const { return num_ == 0; }
  bool is_one() const { return num_ == 1 && den_ == 1; }
  bool is_minus_one() const { return num_ == -1 && den_ == 1; }

  friend Rational operator+(const Rational& a, const Rational& b);
  friend Rational operator-(const Rational& a, const Rational& b);
  friend Rational operator*(const Rational& a, const Rational& b);
  friend Rational operator/(const Rational& a, const Rational& b);  // throws on division by zero
  Rational operator-() const;  // throws RationalOverflow for INT64_MIN
  Rational& operator+=(const Rational& b) { return *this = *this + b; }
  Rational& operator-=(const Rational& b) { return *this = *this - b; }
  Rational& operator*=(const Rational& b) { return *this = *this * b; }
  friend bool operator==(const Rational& a, const Rational& b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }
  friend bool operator<(const Rational& a, const Rational& b);

 private:
  int64_t num_ = 0;
  int64_t den_ = 1;
};

}  // namespace wino

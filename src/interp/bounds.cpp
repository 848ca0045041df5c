// Interval arithmetic over the IR's integer operations, mirroring how the machine computes them
// (ops.h): values are integers whenever the bounds are known, since only a load from an i32 memory
// can give a fraction and its bounds are unknown.
#include "interp/bounds.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace wino::interp::detail {

using namespace ir;

namespace {

Bounds exactly(double lo, double hi) {
  Bounds b;
  b.lo = lo, b.hi = hi;
  return b;
}

/// Comparisons and logic: 0 or 1, one of them when the operands' bounds decide it.
Bounds truth(Op op, const Bounds& a, const Bounds& b) {
  const bool known = a.known() && b.known();
  auto decided = [](bool v) { return exactly(v, v); };
  switch (op) {
    case Op::lt:
      if (known && a.hi < b.lo) return decided(true);
      if (known && a.lo >= b.hi) return decided(false);
      break;
    case Op::le:
      if (known && a.hi <= b.lo) return decided(true);
      if (known && a.lo > b.hi) return decided(false);
      break;
    case Op::eq:
    case Op::ne:
      if (known && a.lo == a.hi && b.lo == b.hi) return decided((a.lo == b.lo) == (op == Op::eq));
      if (known && (a.hi < b.lo || b.hi < a.lo)) return decided(op == Op::ne);
      break;
    case Op::logical_and:
      if (known && a.lo > 0 && b.lo > 0) return decided(true);  // booleans: 0 or 1
      if ((a.known() && a.hi == 0) || (b.known() && b.hi == 0)) return decided(false);
      break;
    case Op::logical_or:
      if ((a.known() && a.lo > 0) || (b.known() && b.lo > 0)) return decided(true);
      if (known && a.hi == 0 && b.hi == 0) return decided(false);
      break;
    case Op::logical_not:
      if (a.known() && a.lo == a.hi) return decided(a.lo == 0);
      break;
    default: break;
  }
  return exactly(0, 1);
}

/// i32 arithmetic (and the integer path of booleans); `fails` when it may throw.
Bounds arithmetic(Op op, const Bounds& a, const Bounds& b, bool& fails) {
  auto corners = [&](auto f) {
    const double c[4] = {f(a.lo, b.lo), f(a.lo, b.hi), f(a.hi, b.lo), f(a.hi, b.hi)};
    return exactly(std::min(std::min(c[0], c[1]), std::min(c[2], c[3])),
                   std::max(std::max(c[0], c[1]), std::max(c[2], c[3])));
  };
  Bounds r;
  switch (op) {
    case Op::add: r = exactly(a.lo + b.lo, a.hi + b.hi); break;
    case Op::sub: r = exactly(a.lo - b.hi, a.hi - b.lo); break;
    case Op::mul: r = corners([](double x, double y) { return x * y; }); break;
    case Op::min: return exactly(std::min(a.lo, b.lo), std::min(a.hi, b.hi));
    case Op::max: return exactly(std::max(a.lo, b.lo), std::max(a.hi, b.hi));
    case Op::div:  // where the divisor keeps its sign, truncation is monotonic in each operand
      if (!(b.lo > 0 || b.hi < 0)) {
        fails = true;
        return Bounds{};
      }
      r = corners([](double x, double y) { return std::trunc(x / y); });
      break;
    case Op::mod: {  // |a % b| < |b|, with the sign of a
      fails = fails || !(b.lo > 0 || b.hi < 0);
      const double d = std::max(std::fabs(b.lo), std::fabs(b.hi)) - 1;
      r = exactly(a.lo >= 0 ? 0 : -d, a.hi <= 0 ? 0 : d);
      break;
    }
    default:
      fails = true;
      return Bounds{};
  }
  fails = fails || !r.fits_i32();
  return r;
}

}  // namespace

Bounds bound(const Node* n, const Bounds* const* args) {
  bool fails = false;
  bool known = true;
  for (int i = 0; i < n->nargs; ++i) {
    fails = fails || args[i]->may_fail;
    known = known && args[i]->known();
  }
  const Bounds& a = *args[0];
  const Bounds& b = n->nargs > 1 ? *args[1] : a;
  const bool ints = n->args[0]->type.scalar != Scalar::f32;  // the operands' (the operation's) type
  Bounds r;
  if (n->type.is_vector() || n->args[0]->type.is_vector()) {  // vectors, and extract: not bounded
    const bool checked = ints && n->op != Op::broadcast && n->op != Op::extract && n->op != Op::interleave &&
                         n->op != Op::slice && n->op != Op::min && n->op != Op::max;  // vector i32 arithmetic checks overflow
    r.may_fail = fails || checked;
    return r;
  }
  switch (n->op) {
    case Op::lt: case Op::le: case Op::eq: case Op::ne:
    case Op::logical_and: case Op::logical_or: case Op::logical_not:
      r = truth(n->op, a, b);
      break;
    case Op::exp:
    case Op::round_tf32: break;
    case Op::warp_uniform: r = a; break;
    case Op::select:
      if (a.known() && a.lo == a.hi) r = a.lo != 0 ? b : *args[2];  // the one branch evaluated
      else if (known) r = exactly(std::min(b.lo, args[2]->lo), std::max(b.hi, args[2]->hi));
      break;
    case Op::cast:
      if (n->type == Type::boolean) r = exactly(0, 1);
      else if (n->type.scalar == Scalar::f32) break;
      else if (!ints) fails = true, r = exactly(INT32_MIN, INT32_MAX);  // checked by the cast
      else if (known) r = a;  // truncating an integer
      break;
    case Op::neg:
      if (!ints) break;
      r = known ? exactly(-a.hi, -a.lo) : Bounds{};
      fails = fails || !r.fits_i32();
      break;
    default:
      if (!ints) {  // f32 arithmetic: never fails where it is defined
        const bool defined = n->op == Op::add || n->op == Op::sub || n->op == Op::mul || n->op == Op::div ||
                             n->op == Op::min || n->op == Op::max;
        fails = fails || !defined;
        break;
      }
      if (known) r = arithmetic(n->op, a, b, fails);
      else fails = fails || !(n->op == Op::min || n->op == Op::max);  // the others check
      break;
  }
  if (n->type.scalar == Scalar::f32) r = Bounds{};
  r.may_fail = fails;
  return r;
}

}  // namespace wino::interp::detail

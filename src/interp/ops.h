// The operations of the IR on a set of lanes, for eval.cpp (internal to src/interp). One
// definition serves a uniform value (OneLane) and the active lanes of a mask (MaskLanes), so the
// two can never disagree; each loop is a tight one over the lanes with the operation inlined.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/error.h"
#include "interp/machine.h"

namespace wino::interp::detail {

/// A uniform value: index 0; an error names the thread `lane` (-1: none).
struct OneLane {
  int lane;
  template <class F>
  void operator()(F&& f) const {
    f(0, lane);
  }
};

/// The active lanes of a mask: index and thread are the lane.
struct MaskLanes {
  const Mask& m;
  template <class F>
  void operator()(F&& f) const {
    each(m, [&](int l) { f(l, l); });
  }
};

/// Operands: the values of the lanes, or one value for every lane.
struct PerLane {
  const double* p;
  double operator[](int i) const { return p[i]; }
};
struct Same {
  double v;
  double operator[](int) const { return v; }
};

/// fmin and fmax as the sequential interpreter computed them (C leaves the sign of a zero result
/// open, and compilers swap the operands of fmin): a NaN operand gives the other one, and of two
/// equal values (0 and -0) the first.
inline float min_f32(float x, float y) { return (y < x || std::isnan(x)) ? y : x; }
inline float max_f32(float x, float y) { return (y > x || std::isnan(x)) ? y : x; }

inline bool is_unary(ir::Op op) {
  return op == ir::Op::neg || op == ir::Op::logical_not || op == ir::Op::exp || op == ir::Op::round_tf32 ||
         op == ir::Op::warp_uniform ||
         op == ir::Op::cast;
}

constexpr int64_t kMin32 = std::numeric_limits<int32_t>::min();
constexpr int64_t kMax32 = std::numeric_limits<int32_t>::max();

inline int64_t trunc64(double v) { return static_cast<int64_t>(v); }

template <class L>
void Machine::unary_op(const ir::Node* n, double* out, const double* a, const L& lanes) const {
  using ir::Op, ir::Type;
  switch (n->op) {
    case Op::neg:
      if (is_f32(n->type)) {
        lanes([&](int i, int) { out[i] = static_cast<double>(-static_cast<float>(a[i])); });
      } else {
        lanes([&](int i, int l) {
          const int64_t v = -static_cast<int64_t>(a[i]);
          if (v < kMin32 || v > kMax32) overflow(n, v, l);
          out[i] = static_cast<double>(v);
        });
      }
      return;
    case Op::logical_not: lanes([&](int i, int) { out[i] = a[i] == 0 ? 1 : 0; }); return;
    case Op::exp:
      lanes([&](int i, int) { out[i] = static_cast<double>(std::exp(static_cast<float>(a[i]))); });
      return;
    case Op::round_tf32:
      lanes([&](int i, int) { out[i] = static_cast<double>(ir::round_tf32(static_cast<float>(a[i]))); });
      return;
    case Op::warp_uniform: {  // the value itself, where every active thread of a warp has the same
      std::vector<int> first((threads_ + ir::kWarp - 1) / ir::kWarp, -1);  // each warp's first lane seen
      lanes([&](int i, int l) {
        int& f = first[static_cast<size_t>(l / ir::kWarp)];
        if (f < 0) f = i;
        else if (a[i] != a[f])
          fail_at(l, "warp_uniform: this thread's value " + std::to_string(trunc64(a[i])) + " is not its warp's (" +
                         std::to_string(trunc64(a[f])) + "): the plan promised one value a warp");
        out[i] = a[i];
      });
      return;
    }
    case Op::cast:
      if (n->type == Type::boolean) lanes([&](int i, int) { out[i] = a[i] != 0; });
      else if (is_f32(n->type)) lanes([&](int i, int) { out[i] = static_cast<float>(a[i]); });
      else lanes([&](int i, int l) { out[i] = cast(n, a[i], l); });
      return;
    default: break;
  }
}

template <class L, class A, class B>
void Machine::binary_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const {
  using ir::Op;
  switch (n->op) {
    case Op::lt: lanes([&](int i, int) { out[i] = a[i] < b[i]; }); return;
    case Op::le: lanes([&](int i, int) { out[i] = a[i] <= b[i]; }); return;
    case Op::eq: lanes([&](int i, int) { out[i] = a[i] == b[i]; }); return;
    case Op::ne: lanes([&](int i, int) { out[i] = a[i] != b[i]; }); return;
    case Op::logical_and: lanes([&](int i, int) { out[i] = a[i] != 0 && b[i] != 0; }); return;
    case Op::logical_or: lanes([&](int i, int) { out[i] = a[i] != 0 || b[i] != 0; }); return;
    default: break;
  }
  if (is_f32(n->args[0]->type)) float_op(n, out, a, b, lanes);
  else int_op(n, out, a, b, lanes);
}

template <class L, class A, class B>
void Machine::float_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const {
  using ir::Op;
#define WINO_F32(expr)                                                    \
  lanes([&](int i, int) {                                                 \
    const float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]); \
    out[i] = static_cast<double>(expr);                                   \
  });                                                                     \
  return
  switch (n->op) {
    case Op::add: WINO_F32(x + y);
    case Op::sub: WINO_F32(x - y);
    case Op::mul: WINO_F32(x * y);
    case Op::div: WINO_F32(x / y);
    case Op::min: WINO_F32(min_f32(x, y));
    case Op::max: WINO_F32(max_f32(x, y));
    default: break;
  }
#undef WINO_F32
  throw Error(std::string("interpreter: ") + ir::op_name(n->op) + " is not defined on f32");
}

template <class L, class A, class B>
void Machine::int_op(const ir::Node* n, double* out, A a, B b, const L& lanes) const {
  using ir::Op;
#define WINO_I32(check, expr)                                                      \
  lanes([&](int i, int l) {                                                        \
    const int64_t x = static_cast<int64_t>(a[i]), y = static_cast<int64_t>(b[i]); \
    check;                                                                         \
    const int64_t v = (expr);                                                      \
    if (v < kMin32 || v > kMax32) overflow(n, v, l);                               \
    out[i] = static_cast<double>(v);                                               \
  });                                                                              \
  return
  // add, sub, mul of integral values (integral_): in double, which is exact whenever the result
  // fits 32 bits; when one does not, the lanes again in int64, to fail where the int64 path fails.
  // When the analysis proved that every result fits (in_range), there is nothing to check. Adding
  // 0.0 turns -0 (from -1 * 0, or a truncated cast) into the 0 that int64 arithmetic gives.
#define WINO_I32_EXACT(op)                                   \
  if (slots_[n->id].in_range) {                              \
    lanes([&](int i, int) { out[i] = (a[i] op b[i]) + 0.0; }); \
    return;                                                  \
  }                                                          \
  if (integral_) {                                           \
    unsigned bad = 0; /* no branch: the loop vectorizes */   \
    lanes([&](int i, int) {                                  \
      const double v = (a[i] op b[i]) + 0.0;                 \
      out[i] = v;                                            \
      bad |= unsigned{v < kMin32} | unsigned{v > kMax32};    \
    });                                                      \
    if (!bad) return;                                        \
  }                                                          \
  WINO_I32((void)0, x op y)
  switch (n->op) {
    case Op::add: WINO_I32_EXACT(+);
    case Op::sub: WINO_I32_EXACT(-);
    case Op::mul: WINO_I32_EXACT(*);
    case Op::div: WINO_I32(if (y == 0) fail_at(l, "integer division by zero"), x / y);
    case Op::mod: WINO_I32(if (y == 0) fail_at(l, "integer modulo by zero"), x % y);
    case Op::min:
      if (integral_) lanes([&](int i, int) { out[i] = std::min(a[i], b[i]) + 0.0; });
      else lanes([&](int i, int) { out[i] = static_cast<double>(std::min(trunc64(a[i]), trunc64(b[i]))); });
      return;
    case Op::max:
      if (integral_) lanes([&](int i, int) { out[i] = std::max(a[i], b[i]) + 0.0; });
      else lanes([&](int i, int) { out[i] = static_cast<double>(std::max(trunc64(a[i]), trunc64(b[i]))); });
      return;
    default: break;
  }
#undef WINO_I32_EXACT
#undef WINO_I32
  lanes([&](int, int l) { fail_at(l, std::string(ir::op_name(n->op)) + " is not defined on integers"); });
}

}  // namespace wino::interp::detail

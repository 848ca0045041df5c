#include "planner/warp_values.h"

#include <algorithm>

namespace wino::planner {

using ir::Op;

std::optional<WarpValues::Lanes> WarpValues::of(const ir::Node* n) {
  if (auto it = memo_.find(n); it != memo_.end()) return it->second;
  std::optional<Lanes> v = compute(n);
  memo_.emplace(n, v);
  return v;
}

std::optional<WarpValues::Lanes> WarpValues::compute(const ir::Node* n) {
  Lanes out;
  if (n == lane_var_) {
    for (int l = 0; l < ir::kWarp; ++l) out[l] = first_ + l;
    return out;
  }
  if (n->op == Op::const_int) {
    out.fill(n->ival);
    return out;
  }
  if (n->op == Op::var) {
    for (const auto& [var, value] : env_)
      if (n == var) {
        out.fill(value);
        return out;
      }
    auto it = lets_.find(n);
    return it == lets_.end() ? std::nullopt : of(it->second);
  }
  if (n->op == Op::cast && n->type.scalar != ir::Scalar::i32) return std::nullopt;
  std::optional<Lanes> a[3];
  for (int i = 0; i < n->nargs; ++i)
    if (!(a[i] = of(n->args[i]))) return std::nullopt;
  for (int l = 0; l < ir::kWarp; ++l) {
    const int64_t x = a[0] ? (*a[0])[l] : 0, y = a[1] ? (*a[1])[l] : 0;
    if ((n->op == Op::div || n->op == Op::mod) && y == 0) {
      if (first_ + l >= lo_ && first_ + l < hi_) return std::nullopt;
      out[l] = 0;
      continue;
    }
    switch (n->op) {
      case Op::add: out[l] = x + y; break;
      case Op::sub: out[l] = x - y; break;
      case Op::mul: out[l] = x * y; break;
      case Op::div: out[l] = x / y; break;
      case Op::mod: out[l] = x % y; break;
      case Op::min: out[l] = std::min(x, y); break;
      case Op::max: out[l] = std::max(x, y); break;
      case Op::lt: out[l] = x < y; break;
      case Op::le: out[l] = x <= y; break;
      case Op::eq: out[l] = x == y; break;
      case Op::ne: out[l] = x != y; break;
      case Op::logical_and: out[l] = x && y; break;
      case Op::logical_or: out[l] = x || y; break;
      case Op::logical_not: out[l] = !x; break;
      case Op::neg: out[l] = -x; break;
      case Op::select: out[l] = x ? y : (*a[2])[l]; break;
      case Op::warp_uniform:
      case Op::cast: out[l] = x; break;
      default: return std::nullopt;
    }
  }
  return out;
}

}  // namespace wino::planner

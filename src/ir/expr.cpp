#include "ir/expr.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "ir/mma.h"

namespace wino::ir {

std::string type_name(Type t) {
  const char* base = "?";
  switch (t.scalar) {
    case Scalar::i32: base = "i32"; break;
    case Scalar::f32: base = "f32"; break;
    case Scalar::boolean: base = "bool"; break;
    case Scalar::f16: base = "f16"; break;
    case Scalar::bf16: base = "bf16"; break;
  }
  return t.is_vector() ? base + ("x" + std::to_string(t.lanes)) : std::string(base);
}

int type_bytes(Type t) {
  const int element = t.scalar == Scalar::f16 || t.scalar == Scalar::bf16 ? 2 : t.scalar == Scalar::boolean ? 1 : 4;
  return element * t.lanes;
}

const char* op_name(Op op) {
  switch (op) {
    case Op::const_int: return "const_int";
    case Op::const_float: return "const_float";
    case Op::var: return "var";
    case Op::add: return "add";
    case Op::sub: return "sub";
    case Op::mul: return "mul";
    case Op::div: return "div";
    case Op::mod: return "mod";
    case Op::min: return "min";
    case Op::max: return "max";
    case Op::lt: return "lt";
    case Op::le: return "le";
    case Op::eq: return "eq";
    case Op::ne: return "ne";
    case Op::logical_and: return "and";
    case Op::logical_or: return "or";
    case Op::neg: return "neg";
    case Op::logical_not: return "not";
    case Op::select: return "select";
    case Op::cast: return "cast";
    case Op::exp: return "exp";
    case Op::round_tf32: return "round_tf32";
    case Op::warp_uniform: return "warp_uniform";
    case Op::broadcast: return "broadcast";
    case Op::extract: return "extract";
    case Op::interleave: return "interleave";
    case Op::slice: return "slice";
  }
  return "?";
}

int op_arity(Op op) {
  switch (op) {
    case Op::const_int:
    case Op::const_float:
    case Op::var: return 0;
    case Op::neg:
    case Op::exp:
    case Op::round_tf32:
    case Op::warp_uniform:
    case Op::broadcast:
    case Op::extract:
    case Op::slice:
    case Op::logical_not:
    case Op::cast: return 1;
    case Op::select: return 3;
    default: return 2;
  }
}

Context::Context() = default;
Context::~Context() = default;

size_t Context::KeyHash::operator()(const Key& k) const {
  size_t h = static_cast<size_t>(k.op) * 1000003u ^ (static_cast<size_t>(k.type.scalar) * 64 + k.type.lanes) * 7919u;
  for (const Node* a : k.args) h = h * 31 + std::hash<const void*>()(a);
  h = h * 31 + std::hash<int64_t>()(k.ival);
  return h * 31 + std::hash<uint64_t>()(k.fbits);
}

Expr Context::make(Node proto) {
  proto.ctx = this;
  if (proto.op != Op::var && sharing_) {
    uint64_t fbits;
    std::memcpy(&fbits, &proto.fval, sizeof fbits);
    Key key{proto.op, proto.type, proto.args, proto.ival, fbits};
    if (auto it = table_.find(key); it != table_.end()) return it->second;
    proto.id = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(std::move(proto));
    table_.emplace(key, &nodes_.back());
    return &nodes_.back();
  }
  proto.id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(std::move(proto));
  return &nodes_.back();
}

Expr Context::i32(int64_t v) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    throw Error("index value " + std::to_string(v) + " does not fit in 32 bits");
  Node n{};
  n.op = Op::const_int;
  n.type = Type::i32;
  n.ival = v;
  return make(std::move(n));
}

Expr Context::f32(double v) {
  Node n{};
  n.op = Op::const_float;
  n.type = Type::f32;
  n.fval = static_cast<float>(v);
  if (n.fval == 0.0) n.fval = 0.0;  // one zero: -0.0 and 0.0 share a node
  return make(std::move(n));
}

Expr Context::boolean(bool v) {
  Node n{};
  n.op = Op::const_int;
  n.type = Type::boolean;
  n.ival = v ? 1 : 0;
  return make(std::move(n));
}

Expr Context::var(const std::string& hint, Type type) {
  Node n{};
  n.op = Op::var;
  n.type = type;
  n.name = hint;
  return make(std::move(n));
}

namespace {

bool is_comparison(Op op) {
  return op == Op::lt || op == Op::le || op == Op::eq || op == Op::ne;
}
bool is_commutative(Op op) {
  return op == Op::add || op == Op::mul || op == Op::min || op == Op::max || op == Op::eq ||
         op == Op::ne || op == Op::logical_and || op == Op::logical_or;
}

// Folds an integer operation; nullopt-like via `ok` when it cannot be folded exactly.
bool fold_int(Op op, int64_t a, int64_t b, int64_t* out) {
  switch (op) {
    case Op::add: return !__builtin_add_overflow(a, b, out);
    case Op::sub: return !__builtin_sub_overflow(a, b, out);
    case Op::mul: return !__builtin_mul_overflow(a, b, out);
    case Op::div: if (b == 0) return false; *out = a / b; return true;
    case Op::mod: if (b == 0) return false; *out = a % b; return true;
    case Op::min: *out = a < b ? a : b; return true;
    case Op::max: *out = a > b ? a : b; return true;
    case Op::lt: *out = a < b; return true;
    case Op::le: *out = a <= b; return true;
    case Op::eq: *out = a == b; return true;
    case Op::ne: *out = a != b; return true;
    case Op::logical_and: *out = a && b; return true;
    case Op::logical_or: *out = a || b; return true;
    default: return false;
  }
}

bool fold_float(Op op, float a, float b, double* out, bool* is_bool) {
  *is_bool = is_comparison(op);
  switch (op) {
    case Op::add: *out = a + b; return true;
    case Op::sub: *out = a - b; return true;
    case Op::mul: *out = a * b; return true;
    case Op::div: *out = a / b; return true;
    case Op::min: *out = std::fmin(a, b); return true;
    case Op::max: *out = std::fmax(a, b); return true;
    case Op::lt: *out = a < b; return true;
    case Op::le: *out = a <= b; return true;
    case Op::eq: *out = a == b; return true;
    case Op::ne: *out = a != b; return true;
    default: return false;
  }
}

}  // namespace

Expr Context::binary(Op op, Expr a, Expr b) {
  if (!a || !b) throw Error("IR: null operand to " + std::string(op_name(op)));
  if (a.type() != b.type())
    throw Error(std::string("IR: operand types differ in ") + op_name(op) + ": " +
                type_name(a.type()) + " vs " + type_name(b.type()));
  if (op_arity(op) != 2 || op == Op::interleave)
    throw Error(std::string("IR: ") + op_name(op) + " is not a binary arithmetic operation");
  if ((op == Op::logical_and || op == Op::logical_or) && a.type() != Type::boolean)
    throw Error("IR: logical operators need boolean operands");
  if ((op == Op::mod) && a.type() != Type::i32) throw Error("IR: mod needs integer operands");
  if (a.type().is_vector() && !(op == Op::add || op == Op::sub || op == Op::mul || op == Op::div ||
                                op == Op::min || op == Op::max))
    throw Error(std::string("IR: ") + op_name(op) + " is scalar; extract the lanes of " + type_name(a.type()) + " first");
  return simplify_binary(op, a, b);
}

Expr Context::simplify_binary(Op op, Expr a, Expr b) {
  const Type t = a.type();
  const bool is_int = t.scalar != Scalar::f32;
  // Constant folding.
  if (a->is_const() && b->is_const()) {
    if (is_int) {
      int64_t v;
      if (fold_int(op, a->ival, b->ival, &v)) {
        if (is_comparison(op) || op == Op::logical_and || op == Op::logical_or) return boolean(v);
        return i32(v);
      }
    } else {
      double v;
      bool is_bool;
      if (fold_float(op, static_cast<float>(a->fval), static_cast<float>(b->fval), &v, &is_bool))
        return is_bool ? boolean(v != 0) : f32(v);
    }
  }
  // Canonical operand order: constants right for add/min/max/compare, left for mul.
  if (is_commutative(op)) {
    bool swap = op == Op::mul ? (b->is_const() && !a->is_const())
                              : (a->is_const() && !b->is_const());
    if (!swap && !a->is_const() && !b->is_const() && a->id > b->id && sharing_) swap = true;
    if (swap) std::swap(a, b);
  }
  switch (op) {
    case Op::add:
      if (b->is_const(0)) return a;
      // (x + c1) + c2 -> x + (c1 + c2), integers only (float reassociation changes rounding).
      if (is_int && b->is_const() && a->op == Op::add && a->args[1]->is_const())
        return binary(Op::add, a->args[0], binary(Op::add, a->args[1], b));
      if (b->op == Op::neg) return binary(Op::sub, a, b->args[0]);
      break;
    case Op::sub:
      if (b->is_const(0)) return a;
      if (is_int && b->is_const()) return binary(Op::add, a, i32(-b->ival));
      if (is_int && a == b) return i32(0);
      if (a->is_const(0)) return unary(Op::neg, b);
      if (b->op == Op::neg) return binary(Op::add, a, b->args[0]);
      break;
    case Op::mul:
      // a is the constant when there is one.
      if (a->is_const(0)) return is_int ? i32(0) : f32(0.0);
      if (a->is_const(1)) return b;
      if (a->is_const(-1)) return unary(Op::neg, b);
      // c1 * (c2 * x) -> (c1 * c2) * x
      if (a->is_const() && b->op == Op::mul && b->args[0]->is_const())
        return binary(Op::mul, binary(Op::mul, a, b->args[0]), b->args[1]);
      break;
    case Op::div:
      if (is_int && b->is_const(1)) return a;
      if (!is_int && b->is_const(1)) return a;
      if (is_int && a->is_const(0)) return a;
      // (c1 * x) / c2 -> (c1 / c2) * x when c2 divides c1 exactly (x >= 0 in index arithmetic).
      if (is_int && b->is_const() && b->ival > 0 && a->op == Op::mul && a->args[0]->is_const() &&
          a->args[0]->ival % b->ival == 0)
        return binary(Op::mul, i32(a->args[0]->ival / b->ival), a->args[1]);
      break;
    case Op::mod:
      if (b->is_const(1)) return i32(0);
      if (b->is_const() && b->ival > 0 && a->op == Op::mul && a->args[0]->is_const() &&
          a->args[0]->ival % b->ival == 0)
        return i32(0);
      break;
    case Op::min:
    case Op::max:
      if (a == b) return a;
      break;
    case Op::logical_and:
      if (b->is_const()) return b->ival ? a : b;
      if (a == b) return a;
      break;
    case Op::logical_or:
      if (b->is_const()) return b->ival ? b : a;
      if (a == b) return a;
      break;
    default:
      break;
  }
  Node n{};
  n.op = op;
  n.type = is_comparison(op) ? Type::boolean : t;
  n.nargs = 2;
  n.args = {a.node(), b.node(), nullptr};
  return make(std::move(n));
}

Expr Context::unary(Op op, Expr a) {
  if (!a) throw Error("IR: null operand to " + std::string(op_name(op)));
  if (op == Op::neg) {
    if (a.type() == Type::boolean) throw Error("IR: neg of a boolean");
    if (a->op == Op::neg) return a->args[0];
    if (a->op == Op::const_int) return i32(-a->ival);
    if (a->op == Op::const_float) return f32(-a->fval);
  } else if (op == Op::exp) {
    if (a.type() != Type::f32) throw Error("IR: exp of a non-float");
    if (a->op == Op::const_float) return f32(static_cast<float>(std::exp(static_cast<float>(a->fval))));
  } else if (op == Op::round_tf32) {
    if (a.type() != Type::f32) throw Error("IR: round_tf32 of a non-float");
    if (a->op == Op::const_float) return f32(ir::round_tf32(static_cast<float>(a->fval)));
    if (a->op == Op::round_tf32) return a;
  } else if (op == Op::warp_uniform) {
    if (a.type() != Type::i32) throw Error("IR: warp_uniform of a non-i32");
    if (a->is_const() || a->op == Op::warp_uniform) return a;
  } else if (op == Op::logical_not) {
    if (a.type() != Type::boolean) throw Error("IR: not of a non-boolean");
    if (a->is_const()) return boolean(!a->ival);
    if (a->op == Op::logical_not) return a->args[0];
  } else {
    throw Error(std::string("IR: ") + op_name(op) + " is not unary");
  }
  Node n{};
  n.op = op;
  n.type = a.type();
  n.nargs = 1;
  n.args = {a.node(), nullptr, nullptr};
  return make(std::move(n));
}

Expr Context::select(Expr c, Expr a, Expr b) {
  if (!c || !a || !b) throw Error("IR: null operand to select");
  if (c.type() != Type::boolean) throw Error("IR: select condition must be a scalar boolean");
  if (a.type() != b.type()) throw Error("IR: select branches have different types");
  if (c->is_const()) return c->ival ? a : b;
  if (a == b) return a;
  Node n{};
  n.op = Op::select;
  n.type = a.type();
  n.nargs = 3;
  n.args = {c.node(), a.node(), b.node()};
  return make(std::move(n));
}

Expr Context::cast(Expr a, Type to) {
  if (!a) throw Error("IR: null operand to cast");
  if (a.type() == to) return a;
  if (a.type().is_vector() || to.is_vector()) throw Error("IR: casts are scalar; cast the lanes");
  if (a->op == Op::const_int && to == Type::f32) return f32(static_cast<double>(a->ival));
  Node n{};
  n.op = Op::cast;
  n.type = to;
  n.nargs = 1;
  n.args = {a.node(), nullptr, nullptr};
  return make(std::move(n));
}

Expr Context::broadcast(Expr a, int lanes) {
  if (!a) throw Error("IR: null operand to broadcast");
  if (a.type().is_vector() || a.type() == Type::boolean || !valid_lanes(lanes))
    throw Error("IR: broadcast of " + type_name(a.type()) + " to " + std::to_string(lanes) +
                " lanes (a scalar i32 or f32 to 2, 4, 8 or 16 lanes)");
  if (lanes == 1) return a;
  Node n{};
  n.op = Op::broadcast;
  n.type = a.type().with_lanes(lanes);
  n.nargs = 1;
  n.args = {a.node(), nullptr, nullptr};
  return make(std::move(n));
}

Expr Context::extract(Expr a, int lane) {
  if (!a) throw Error("IR: null operand to extract");
  if (!a.type().is_vector() || lane < 0 || lane >= a.type().lanes)
    throw Error("IR: extract of lane " + std::to_string(lane) + " from " + type_name(a.type()));
  if (a->op == Op::broadcast) return a->args[0];
  Node n{};
  n.op = Op::extract;
  n.type = a.type().element();
  n.nargs = 1;
  n.args = {a.node(), nullptr, nullptr};
  n.ival = lane;
  return make(std::move(n));
}

Expr Context::interleave(Expr a, Expr b, int group, bool odd) {
  if (!a || !b) throw Error("IR: null operand to interleave");
  const int lanes = a.type().lanes;
  if (a.type() != b.type() || !a.type().is_vector() || group < 1 || 2 * group > lanes || lanes % (2 * group) != 0)
    throw Error("IR: interleave of " + type_name(a.type()) + " and " + type_name(b.type()) + " in groups of " +
                std::to_string(group) + " (two vectors of one type, groups of at most half their lanes)");
  Node n{};
  n.op = Op::interleave;
  n.type = a.type();
  n.nargs = 2;
  n.args = {a.node(), b.node(), nullptr};
  n.ival = 2 * group + (odd ? 1 : 0);
  return make(std::move(n));
}

Expr Context::slice(Expr a, int first, int count) {
  if (!a) throw Error("IR: null operand to slice");
  const int lanes = a.type().lanes;
  if (!a.type().is_vector() || !valid_lanes(count) || first < 0 || first + count > lanes)
    throw Error("IR: slice of lanes " + std::to_string(first) + ".." + std::to_string(first + count - 1) + " of " +
                type_name(a.type()) + " (1, 2, 4, 8 or 16 lanes within the vector)");
  if (count == 1) return extract(a, first);
  if (count == lanes) return a;
  if (a->op == Op::broadcast) return broadcast(a->args[0], count);
  Node n{};
  n.op = Op::slice;
  n.type = a.type().with_lanes(count);
  n.nargs = 1;
  n.args = {a.node(), nullptr, nullptr};
  n.ival = first;
  return make(std::move(n));
}

std::vector<Expr> transpose_lanes(std::vector<Expr> rows) {
  const int lanes = static_cast<int>(rows.size());
  for (const Expr& r : rows)
    if (!r || r.type().lanes != lanes)
      throw Error("IR: transpose_lanes needs " + std::to_string(lanes) + " vectors of " + std::to_string(lanes) +
                  " lanes");
  // Round g pairs rows i and i + g (i's bit g clear): afterwards every aligned block of 2g rows
  // holds, in groups of 2g lanes, the transposes of its 2g x 2g diagonal blocks.
  for (int g = 1; g < lanes; g *= 2) {
    std::vector<Expr> next(rows.size());
    for (int i = 0; i < lanes; ++i) {
      if (i & g) continue;
      next[i] = interleave(rows[i], rows[i + g], g, false);
      next[i + g] = interleave(rows[i], rows[i + g], g, true);
    }
    rows = std::move(next);
  }
  return rows;
}

namespace {
Expr constant_like(Expr like, int64_t v) {
  Context& c = like.ctx();
  Expr k = like.type().scalar == Scalar::f32 ? c.f32(static_cast<double>(v)) : c.i32(v);
  return c.broadcast(k, like.type().lanes);
}
}  // namespace

Expr operator+(Expr a, Expr b) { return a.ctx().binary(Op::add, a, b); }
Expr operator-(Expr a, Expr b) { return a.ctx().binary(Op::sub, a, b); }
Expr operator*(Expr a, Expr b) { return a.ctx().binary(Op::mul, a, b); }
Expr operator/(Expr a, Expr b) { return a.ctx().binary(Op::div, a, b); }
Expr operator%(Expr a, Expr b) { return a.ctx().binary(Op::mod, a, b); }
Expr operator-(Expr a) { return a.ctx().unary(Op::neg, a); }
Expr operator+(Expr a, int64_t b) { return a + constant_like(a, b); }
Expr operator-(Expr a, int64_t b) { return a - constant_like(a, b); }
Expr operator*(Expr a, int64_t b) { return constant_like(a, b) * a; }
Expr operator*(int64_t a, Expr b) { return constant_like(b, a) * b; }
Expr operator/(Expr a, int64_t b) { return a / constant_like(a, b); }
Expr operator%(Expr a, int64_t b) { return a % constant_like(a, b); }
Expr exp(Expr a) { return a.ctx().unary(Op::exp, a); }
Expr tf32_rounded(Expr a) { return a.ctx().unary(Op::round_tf32, a); }
Expr warp_uniform(Expr a) { return a.ctx().unary(Op::warp_uniform, a); }
Expr broadcast(Expr a, int lanes) { return a.ctx().broadcast(a, lanes); }
Expr extract(Expr a, int lane) { return a.ctx().extract(a, lane); }
Expr interleave(Expr a, Expr b, int group, bool odd) { return a.ctx().interleave(a, b, group, odd); }
Expr slice(Expr a, int first, int count) { return a.ctx().slice(a, first, count); }
Expr min(Expr a, Expr b) { return a.ctx().binary(Op::min, a, b); }
Expr max(Expr a, Expr b) { return a.ctx().binary(Op::max, a, b); }
Expr lt(Expr a, Expr b) { return a.ctx().binary(Op::lt, a, b); }
Expr le(Expr a, Expr b) { return a.ctx().binary(Op::le, a, b); }
Expr eq(Expr a, Expr b) { return a.ctx().binary(Op::eq, a, b); }
Expr ne(Expr a, Expr b) { return a.ctx().binary(Op::ne, a, b); }
Expr logical_and(Expr a, Expr b) { return a.ctx().binary(Op::logical_and, a, b); }
Expr both(Expr a, Expr b) { return !a ? b : !b ? a : logical_and(a, b); }
Expr logical_or(Expr a, Expr b) { return a.ctx().binary(Op::logical_or, a, b); }
Expr select(Expr c, Expr a, Expr b) { return c.ctx().select(c, a, b); }

size_t count_distinct_ops(const std::vector<Expr>& roots) {
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  for (Expr r : roots)
    if (r) stack.push_back(r.node());
  size_t count = 0;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->nargs > 0) ++count;
    for (int i = 0; i < n->nargs; ++i) stack.push_back(n->args[i]);
  }
  return count;
}

Expr xor_low_bits(Expr a, Expr b, int bits) {
  Expr out = a.ctx().i32(0);
  for (int64_t bit = 1; bit < (int64_t{1} << bits); bit *= 2) out = out + (a / bit + b / bit) % 2 * bit;
  return out;
}

}  // namespace wino::ir

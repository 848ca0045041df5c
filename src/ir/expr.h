// Pure expressions of the kernel IR: a hash-consed DAG owned by a Context. Building the same
// expression twice returns the same node, so common subexpressions are shared by construction;
// simple algebra is applied as nodes are built. Memory is never read by an expression: loads are
// statements (see stmt.h), which is what makes sharing always safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace wino::ir {

/// Element types. f16 and bf16 are storage types of buffers and work-group arrays only: a load
/// from such memory gives an f32 value and a store rounds an f32 value to nearest even.
enum class Scalar : uint8_t { i32, f32, boolean, f16, bf16 };

/// A value or memory type: an element type and a lane count (lanes > 1: a vector value, e.g.
/// f32x4; memory is always scalar, and a vector load or store touches `lanes` consecutive
/// elements). Vectors take arithmetic (add, sub, mul, div, min, max, neg), broadcast, extract,
/// interleave and slice; comparisons, logic, select, casts, exp, round_tf32 and mod are scalar.
struct Type {
  Scalar scalar = Scalar::f32;
  uint8_t lanes = 1;

  constexpr Type() = default;
  constexpr Type(Scalar s, int n = 1) : scalar(s), lanes(static_cast<uint8_t>(n)) {}  // NOLINT
  static const Type i32, f32, boolean, f16, bf16;

  constexpr Type element() const { return Type(scalar); }
  constexpr Type with_lanes(int n) const { return Type(scalar, n); }
  constexpr bool is_vector() const { return lanes > 1; }
  friend constexpr bool operator==(Type a, Type b) = default;
};
inline constexpr Type Type::i32{Scalar::i32}, Type::f32{Scalar::f32}, Type::boolean{Scalar::boolean},
    Type::f16{Scalar::f16}, Type::bf16{Scalar::bf16};

/// "f32", "i32x4", ...
std::string type_name(Type t);
/// Bytes of one element (times the lanes) in memory.
int type_bytes(Type t);
/// The type of the values a memory of type `t` holds (f16, bf16 -> f32).
inline Type value_type(Type t) {
  return t.scalar == Scalar::f16 || t.scalar == Scalar::bf16 ? Type(Scalar::f32, t.lanes) : t;
}
/// Lane counts a vector may have.
inline bool valid_lanes(int n) { return n == 1 || n == 2 || n == 4 || n == 8 || n == 16; }

enum class Op : uint8_t {
  const_int, const_float, var,                // leaves
  add, sub, mul, div, mod, min, max,          // arithmetic (div/mod: C semantics, ints >= 0)
  lt, le, eq, ne, logical_and, logical_or,    // comparisons and logic -> boolean
  neg, logical_not, select, cast,             // unary, ternary, conversion
  exp,                                        // e^x (f32; activations)
  round_tf32,                                 // x rounded to tf32 (f32; ir::round_tf32)
  warp_uniform,                               // x (i32), the same in every thread of a warp (ir::warp_uniform)
  broadcast, extract,                         // scalar -> every lane; lane `ival` of a vector
  interleave,                                 // two vectors' lane groups, alternating (interleave_lane)
  slice,                                      // lanes [ival, ival + result lanes) of a vector
};
const char* op_name(Op op);
int op_arity(Op op);

class Context;

/// One node of the DAG. Immutable once built; identity is the address.
struct Node {
  Op op;
  Type type;
  uint8_t nargs = 0;
  std::array<const Node*, 3> args{};
  int64_t ival = 0;   // const_int; extract's lane, interleave's group * 2 + odd, slice's first lane
  double fval = 0.0;  // const_float (already rounded to float for f32)
  std::string name;   // var: a hint for printing only; variables are identified by object
  uint32_t id = 0;    // creation order, for stable printing
  Context* ctx = nullptr;

  bool is_const() const { return op == Op::const_int || op == Op::const_float; }
  bool is_const(double v) const {
    return (op == Op::const_int && ival == v) || (op == Op::const_float && fval == v);
  }
};

/// A handle to a node with the arithmetic operators a plan builder wants.
class Expr {
 public:
  Expr() = default;
  Expr(const Node* n) : n_(n) {}  // NOLINT: handles convert freely
  const Node* node() const { return n_; }
  const Node* operator->() const { return n_; }
  explicit operator bool() const { return n_ != nullptr; }
  Type type() const { return n_->type; }
  Context& ctx() const { return *n_->ctx; }
  friend bool operator==(Expr a, Expr b) { return a.n_ == b.n_; }

 private:
  const Node* n_ = nullptr;
};

/// Owns every node. Not thread-safe; one per compiled convolution.
class Context {
 public:
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// When off, every construction makes a new node (no hash-consing): the seed's failure mode,
  /// kept for the naive-fused plan. Simplification still applies.
  void set_sharing(bool on) { sharing_ = on; }
  bool sharing() const { return sharing_; }

  Expr i32(int64_t v);
  Expr f32(double v);
  Expr boolean(bool v);
  /// A fresh variable (loop index, let-bound value, loaded value). Never shared.
  Expr var(const std::string& hint, Type type);

  Expr binary(Op op, Expr a, Expr b);
  Expr unary(Op op, Expr a);
  Expr select(Expr cond, Expr a, Expr b);
  Expr cast(Expr a, Type to);
  /// A vector of `lanes` copies of scalar `a`.
  Expr broadcast(Expr a, int lanes);
  /// Lane `lane` of vector `a`.
  Expr extract(Expr a, int lane);
  /// Groups of `group` lanes taken alternately from a and b: the even-numbered groups of each,
  /// or the odd-numbered ones (`odd`). With group 1: a0 b0 a2 b2 ... (odd: a1 b1 a3 b3 ...), one
  /// step of a lane transpose (transpose_lanes).
  Expr interleave(Expr a, Expr b, int group, bool odd);
  /// Lanes [first, first + count) of vector `a` (count 1: a scalar, as extract).
  Expr slice(Expr a, int first, int count);

  size_t node_count() const { return nodes_.size(); }

 private:
  struct Key {
    Op op;
    Type type;
    std::array<const Node*, 3> args;
    int64_t ival;
    uint64_t fbits;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  Expr make(Node proto);
  Expr simplify_binary(Op op, Expr a, Expr b);

  std::deque<Node> nodes_;
  std::unordered_map<Key, const Node*, KeyHash> table_;
  bool sharing_ = true;
};

Expr operator+(Expr a, Expr b);
Expr operator-(Expr a, Expr b);
Expr operator*(Expr a, Expr b);
Expr operator/(Expr a, Expr b);
Expr operator%(Expr a, Expr b);
Expr operator-(Expr a);
/// Mixed with integer constants of the left operand's context (typed like the expression).
Expr operator+(Expr a, int64_t b);
Expr operator-(Expr a, int64_t b);
Expr operator*(Expr a, int64_t b);
Expr operator*(int64_t a, Expr b);
Expr operator/(Expr a, int64_t b);
Expr operator%(Expr a, int64_t b);
Expr min(Expr a, Expr b);
/// a xor b on their low `bits` bits, both >= 0, in the IR's arithmetic (it has no bitwise ops):
/// bit i is (a / 2^i + b / 2^i) % 2. A swizzled layout's 16-byte units (SharedMatrix).
Expr xor_low_bits(Expr a, Expr b, int bits);
Expr max(Expr a, Expr b);
Expr lt(Expr a, Expr b);
Expr le(Expr a, Expr b);
Expr eq(Expr a, Expr b);
Expr ne(Expr a, Expr b);
Expr logical_and(Expr a, Expr b);
/// The conjunction of two conditions either of which may be absent (a null Expr: always true).
Expr both(Expr a, Expr b);
Expr logical_or(Expr a, Expr b);
Expr select(Expr c, Expr a, Expr b);
Expr exp(Expr a);
/// `a` (f32) rounded to tf32's 10 mantissa bits, to nearest with ties away (as ir::round_tf32):
/// what a tensor-core GEMM's operands are, stored so the GEMM need not convert them.
Expr tf32_rounded(Expr a);
/// `a` (i32), which the plan promises is the same in every thread of a warp (the interpreter
/// checks): CUDA takes lane 0's, so that the compiler keeps what it computes in uniform registers
/// (a warpgroup's index, from which its mma_async operands' addresses come: else each mma's
/// descriptors move to uniform registers one by one, R2UR). Elsewhere `a` itself.
Expr warp_uniform(Expr a);
Expr broadcast(Expr a, int lanes);
Expr extract(Expr a, int lane);
Expr interleave(Expr a, Expr b, int group, bool odd);
Expr slice(Expr a, int first, int count);

/// The lane of the operands an interleave (`ival` = group * 2 + odd) puts in lane i of its result:
/// lanes 0..lanes-1 are a's, lanes..2*lanes-1 are b's (like __builtin_shufflevector's indices).
inline int interleave_lane(int lanes, int64_t ival, int i) {
  const int group = static_cast<int>(ival / 2), odd = static_cast<int>(ival % 2);
  const int pair = i / (2 * group), at = i % (2 * group);
  const int from_b = at >= group ? lanes : 0;
  return from_b + pair * 2 * group + odd * group + at % group;
}

/// The transpose of `rows` vectors of `rows.size()` lanes each (a power of two): lane j of
/// result i is lane i of rows[j]. log2(lanes) rounds of interleaves, lanes * log2(lanes) in all.
std::vector<Expr> transpose_lanes(std::vector<Expr> rows);

/// Number of distinct non-leaf nodes reachable from `roots` (what a renderer would compute once).
size_t count_distinct_ops(const std::vector<Expr>& roots);

}  // namespace wino::ir

#include "interp/interpreter.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/error.h"
#include "common/half.h"

namespace wino::interp {

using namespace ir;

namespace {

/// One memory the kernel touches. Work-group and per-thread arrays carry the bookkeeping that
/// finds uninitialized reads and races; global buffers are the caller's.
struct Cells {
  const Memory* mem = nullptr;
  float* data = nullptr;         // f32 memory
  uint16_t* bits = nullptr;      // f16 and bf16 buffers
  int64_t size = 0;              // elements of one copy (per-thread arrays: one thread's)
  std::vector<float> storage;    // shared: size; per-thread: threads x size
  std::vector<uint8_t> written;  // shared and per-thread: written since the work-group started
  // Shared memory only: the phase (barrier interval) and thread of the last write and read.
  std::vector<uint64_t> write_phase, read_phase;
  std::vector<int32_t> writer, reader;
};

constexpr int32_t kManyReaders = -2;

class Machine {
 public:
  Machine(const Kernel& k, const std::vector<void*>& buffers)
      : k_(k), val_(k.ctx->node_count(), 0.0), stamp_(k.ctx->node_count(), 0) {
    if (buffers.size() != k.buffers.size())
      throw Error("interpreter: kernel " + k.name + " takes " + std::to_string(k.buffers.size()) +
                  " buffers, got " + std::to_string(buffers.size()));
    cells_.reserve(k.buffers.size() + k.arrays.size());  // stable addresses for cell_of()
    for (size_t i = 0; i < buffers.size(); ++i) {
      Cells& c = cells_.emplace_back();
      c.mem = k.buffers[i].get();
      c.size = c.mem->size;
      if (value_type(c.mem->type) != c.mem->type) c.bits = static_cast<uint16_t*>(buffers[i]);
      else c.data = static_cast<float*>(buffers[i]);
    }
    for (const auto& a : k.arrays) {
      Cells& c = cells_.emplace_back();
      c.mem = a.get();
      c.size = a->size;
      const int64_t copies = a->space == Space::per_thread ? k.threads_per_group : 1;
      c.storage.assign(static_cast<size_t>(copies * a->size), std::nanf(""));
      c.written.assign(c.storage.size(), 0);
      c.data = c.storage.data();
      if (a->space == Space::shared) {
        c.write_phase.assign(c.storage.size(), 0);
        c.read_phase.assign(c.storage.size(), 0);
        c.writer.assign(c.storage.size(), -1);
        c.reader.assign(c.storage.size(), -1);
      }
    }
  }

  void run() {
    for (int64_t g = 0; g < k_.num_groups; ++g) {
      group_ = g;
      for (Cells& c : cells_) std::fill(c.written.begin(), c.written.end(), 0);
      ++phase_;
      assign(k_.group_id.node(), static_cast<double>(g));
      block(k_.body);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string where = "kernel " + k_.name + ", work-group " + std::to_string(group_);
    if (tid_ >= 0) where += ", thread " + std::to_string(tid_);
    throw Error("interpreter: " + where + ": " + what);
  }

  void assign(const Node* var, double v) {
    val_[var->id] = v;
    ++epoch_;  // every memoized value may depend on the variable
  }

  static bool fits_i32(double v) {
    return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
  }

  double int_result(const Node* n, int64_t v) const {
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
      fail(std::string("32-bit overflow in ") + op_name(n->op) + ": " + std::to_string(v));
    return static_cast<double>(v);
  }

  double eval(const Node* n) {
    switch (n->op) {
      case Op::var: return val_[n->id];
      case Op::const_int: return static_cast<double>(n->ival);
      case Op::const_float: return n->fval;
      default: break;
    }
    if (stamp_[n->id] == epoch_) return val_[n->id];
    const double v = compute(n);
    stamp_[n->id] = epoch_;
    val_[n->id] = v;
    return v;
  }

  double compute(const Node* n) {
    if (n->op == Op::select) return eval(n->args[0]) != 0 ? eval(n->args[1]) : eval(n->args[2]);
    const double a = eval(n->args[0]);
    if (n->op == Op::neg) return n->type == Type::f32 ? static_cast<double>(-static_cast<float>(a)) : int_result(n, -static_cast<int64_t>(a));
    if (n->op == Op::logical_not) return a == 0 ? 1 : 0;
    if (n->op == Op::exp) return static_cast<double>(std::exp(static_cast<float>(a)));
    if (n->op == Op::cast) return cast(n, a);
    const double b = eval(n->args[1]);
    const Type operand = n->args[0]->type;
    switch (n->op) {
      case Op::lt: return a < b;
      case Op::le: return a <= b;
      case Op::eq: return a == b;
      case Op::ne: return a != b;
      case Op::logical_and: return a != 0 && b != 0;
      case Op::logical_or: return a != 0 || b != 0;
      default: break;
    }
    if (operand == Type::f32) return float_op(n, static_cast<float>(a), static_cast<float>(b));
    return int_op(n, static_cast<int64_t>(a), static_cast<int64_t>(b));
  }

  double cast(const Node* n, double a) const {
    const Type from = n->args[0]->type;
    if (n->type == Type::boolean) return a != 0;
    if (n->type == Type::f32) return static_cast<float>(a);
    if (from == Type::f32 && (!std::isfinite(a) || !fits_i32(std::trunc(a))))
      fail("cast of " + std::to_string(a) + " to i32 is out of range");
    return std::trunc(a);
  }

  static double float_op(const Node* n, float a, float b) {
    switch (n->op) {
      case Op::add: return a + b;
      case Op::sub: return a - b;
      case Op::mul: return a * b;
      case Op::div: return a / b;
      case Op::min: return std::fmin(a, b);
      case Op::max: return std::fmax(a, b);
      default: break;
    }
    throw Error(std::string("interpreter: ") + op_name(n->op) + " is not defined on f32");
  }

  double int_op(const Node* n, int64_t a, int64_t b) const {
    switch (n->op) {
      case Op::add: return int_result(n, a + b);
      case Op::sub: return int_result(n, a - b);
      case Op::mul: return int_result(n, a * b);
      case Op::div:
        if (b == 0) fail("integer division by zero");
        return int_result(n, a / b);
      case Op::mod:
        if (b == 0) fail("integer modulo by zero");
        return int_result(n, a % b);
      case Op::min: return static_cast<double>(std::min(a, b));
      case Op::max: return static_cast<double>(std::max(a, b));
      default: break;
    }
    fail(std::string(op_name(n->op)) + " is not defined on integers");
  }

  /// The flat element index of `mem[index]` for the current thread, checked.
  int64_t element(Cells& c, const Stmt& s, const char* what) {
    const double index = eval(s.index.node());
    if (!(index >= 0 && index < static_cast<double>(c.size)))
      fail(std::string(what) + " " + space_name(c.mem->space) + " '" + c.mem->name + "' at index " +
           std::to_string(static_cast<int64_t>(index)) + ", outside [0, " + std::to_string(c.size) + ")");
    if (c.mem->space == Space::per_thread) {
      if (tid_ < 0) fail("per-thread array '" + c.mem->name + "' used outside a thread region");
      return int64_t{tid_} * c.size + static_cast<int64_t>(index);
    }
    return static_cast<int64_t>(index);
  }

  float read(Cells& c, int64_t e) {
    if (c.bits) return c.mem->type == Type::f16 ? f16_to_float(c.bits[e]) : bf16_to_float(c.bits[e]);
    if (c.mem->space == Space::global) return c.data[e];
    if (!c.written[e])
      fail("reads " + std::string(space_name(c.mem->space)) + " '" + c.mem->name + "' element " +
           std::to_string(e % c.size) + " that nothing wrote (an uninitialized read)");
    if (c.mem->space == Space::shared) {
      if (c.write_phase[e] == phase_ && c.writer[e] != tid_)
        fail("reads shared '" + c.mem->name + "' element " + std::to_string(e) + " written by thread " +
             std::to_string(c.writer[e]) + " with no barrier between (a race)");
      if (c.read_phase[e] == phase_ && c.reader[e] != tid_) c.reader[e] = kManyReaders;
      else if (c.read_phase[e] != phase_) c.read_phase[e] = phase_, c.reader[e] = tid_;
    }
    return c.data[e];
  }

  void write(Cells& c, int64_t e, float v) {
    if (c.mem->space == Space::global) {
      if (c.mem->read_only) fail("stores to read-only buffer '" + c.mem->name + "'");
      if (c.bits) c.bits[e] = c.mem->type == Type::f16 ? float_to_f16(v) : float_to_bf16(v);
      else c.data[e] = v;
      return;
    }
    if (c.mem->space == Space::shared) {
      if (c.write_phase[e] == phase_ && c.writer[e] != tid_)
        fail("writes shared '" + c.mem->name + "' element " + std::to_string(e) + " also written by thread " +
             std::to_string(c.writer[e]) + " with no barrier between (a race)");
      if (c.read_phase[e] == phase_ && c.reader[e] != tid_)
        fail("writes shared '" + c.mem->name + "' element " + std::to_string(e) +
             " that another thread read with no barrier between (a race)");
      c.write_phase[e] = phase_;
      c.writer[e] = tid_;
    }
    c.written[e] = 1;
    c.data[e] = v;
  }

  Cells& cell_of(const Memory* m) {
    for (Cells& c : cells_)
      if (c.mem == m) return c;
    fail("uses memory '" + m->name + "' that is not the kernel's");
  }

  bool active(const Stmt& s) { return !s.cond || eval(s.cond.node()) != 0; }

  void stmt(const Stmt& s) {
    switch (s.kind) {
      case StmtKind::let: assign(s.var.node(), eval(s.value.node())); return;
      case StmtKind::load: {
        float v = 0;
        if (active(s)) {
          Cells& c = cell_of(s.memory);
          v = read(c, element(c, s, "load from"));
        }
        assign(s.var.node(), v);
        return;
      }
      case StmtKind::store: {
        if (!active(s)) return;
        Cells& c = cell_of(s.memory);
        const int64_t e = element(c, s, "store to");
        const float v = static_cast<float>(eval(s.value.node()));
        write(c, e, s.accumulate ? read(c, e) + v : v);
        return;
      }
      case StmtKind::loop:
        for (int64_t i = 0; i < s.extent; ++i) {
          assign(s.var.node(), static_cast<double>(i));
          block(s.body);
        }
        return;
      case StmtKind::if_then:
        if (eval(s.cond.node()) != 0) block(s.body);
        return;
      case StmtKind::threads:
        if (tid_ >= 0) fail("a thread region inside a thread region");
        for (int t = 0; t < k_.threads_per_group; ++t) {
          tid_ = t;
          assign(k_.thread_id.node(), t);
          block(s.body);
        }
        tid_ = -1;
        return;
      case StmtKind::barrier:
        if (tid_ >= 0) fail("a barrier inside a thread region");
        ++phase_;
        return;
      case StmtKind::comment: return;
    }
  }

  void block(const Block& b) {
    for (const StmtPtr& s : b) stmt(*s);
  }

  const Kernel& k_;
  std::vector<double> val_;      // by node id: variables' values, memoized expression values
  std::vector<uint64_t> stamp_;  // by node id: the epoch of the memoized value
  uint64_t epoch_ = 1, phase_ = 0;
  int64_t group_ = 0;
  int tid_ = -1;  // the thread running; -1 at work-group level
  std::vector<Cells> cells_;  // a handful: a linear search beats hashing
};

}  // namespace

void interpret(const Kernel& kernel, const std::vector<void*>& buffers) {
  Machine(kernel, buffers).run();
}

}  // namespace wino::interp

// The C-style base renderer: walks the statement tree in the order of ir::plan_values and prints
// it; every dialect difference comes from its DialectSpec.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "ir/values.h"
#include "render/dialect.h"

namespace wino::render {

using namespace ir;

int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') ++n;
  return n;
}

namespace {

const char* c_type(Type t) {
  switch (t) {
    case Type::f32: return "float";
    case Type::i32: return "int";
    case Type::boolean: return "bool";
    case Type::f16:
    case Type::bf16: return "unsigned short";  // the bits; the prelude converts
  }
  return "?";
}

// f16/bf16 memory holds bits: loads widen them to float, stores round to nearest even.
std::string widen(const Memory& m, const std::string& ref) {
  if (m.type == Type::f16) return "wino_f16_to_f32(" + ref + ")";
  if (m.type == Type::bf16) return "wino_bf16_to_f32(" + ref + ")";
  return ref;
}
std::string narrow(const Memory& m, const std::string& value) {
  if (m.type == Type::f16) return "wino_f32_to_f16(" + value + ")";
  if (m.type == Type::bf16) return "wino_f32_to_bf16(" + value + ")";
  return value;
}

// The shortest decimal that reads back as the same float.
std::string float_literal(double v) {
  if (std::isinf(v)) return v > 0 ? "INFINITY" : "(-INFINITY)";
  if (std::isnan(v)) return "NAN";
  char buf[40];
  for (int p = 1; p <= 9; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtof(buf, nullptr) == static_cast<float>(v)) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  s += "f";
  return v < 0 ? "(" + s + ")" : s;
}

std::string format_type(const std::string& pattern, Type t) {
  std::string out = pattern;
  size_t pos = out.find("%s");
  if (pos != std::string::npos) out.replace(pos, 2, c_type(t));
  return out;
}

class Renderer {
 public:
  Renderer(const Kernel& k, const DialectSpec& d) : k_(k), d_(d), plan_(plan_values(k)) {
    // Variables never take the name of a buffer, an array or a name the prelude uses.
    for (const auto& b : k.buffers) hint_counts_[b->name] = 1;
    for (const auto& a : k.arrays) hint_counts_[a->name] = 1;
    for (const char* reserved : {"buffers", "group_begin", "group_end", "group_", "gid_", "tid_"})
      hint_counts_[reserved] = 1;
  }

  std::string run() {
    signature();
    indent_ = 1;
    if (d_.emulate_threads) {
      line("for (long group_ = group_begin; group_ < group_end; ++group_) {");
      ++indent_;
      line("const int " + name_of(k_.group_id.node()) + " = (int)group_;");
    } else {
      line("const int " + name_of(k_.group_id.node()) + " = " + d_.group_id + ";");
      line("const int " + name_of(k_.thread_id.node()) + " = " + d_.thread_id + ";");
    }
    for (const auto& a : k_.arrays) declare_array(*a);
    block(k_.body);
    if (d_.emulate_threads) {
      --indent_;
      line("}");
    }
    out_ << "}\n";
    return out_.str();
  }

 private:
  void line(const std::string& s) { out_ << std::string(2 * indent_, ' ') << s << "\n"; }

  void signature() {
    if (d_.emulate_threads) {
      out_ << d_.kernel_prefix << " " << k_.name
           << "(void* const* buffers, long group_begin, long group_end) {\n";
      for (const auto& b : k_.buffers) {
        const std::string type = format_type(b->read_only ? d_.global_const_ptr : d_.global_ptr, b->type);
        std::string cast = type.substr(0, type.find(" restrict"));  // "(const float*)"
        out_ << "  " << type << " " << b->name << " = (" << cast << ")buffers[" << b->param_index << "];\n";
      }
      return;
    }
    out_ << d_.kernel_prefix << " ";
    if (d_.launch_bounds && d_.dialect == Dialect::cuda)
      out_ << "__launch_bounds__(" << k_.threads_per_group << ", 1) ";  // 1 block/SM: no occupancy-driven spills
    if (d_.launch_bounds && d_.dialect == Dialect::opencl)
      out_ << "__attribute__((reqd_work_group_size(" << k_.threads_per_group << ", 1, 1))) ";
    out_ << k_.name << "(";
    for (size_t i = 0; i < k_.buffers.size(); ++i) {
      const Memory& b = *k_.buffers[i];
      out_ << (i ? ", " : "") << format_type(b.read_only ? d_.global_const_ptr : d_.global_ptr, b.type)
           << " " << b.name;
      if (d_.metal_params) out_ << " [[buffer(" << i << ")]]";
    }
    if (d_.metal_params)
      out_ << (k_.buffers.empty() ? "" : ", ") << "uint gid_ [[threadgroup_position_in_grid]], "
           << "uint tid_ [[thread_position_in_threadgroup]]";
    out_ << ") {\n";
  }

  void declare_array(const Memory& a) {
    std::string size = "[" + std::to_string(a.size) + "]";
    if (a.space == Space::shared) {
      std::string q = d_.shared_decl.empty() ? "" : d_.shared_decl + " ";
      line(q + c_type(a.type) + " " + a.name + size + ";");
    } else if (d_.emulate_threads && k_.threads_per_group > 1) {
      line(std::string(c_type(a.type)) + " " + a.name + "[" + std::to_string(k_.threads_per_group) +
           "]" + size + ";");
    } else {
      line(std::string(c_type(a.type)) + " " + a.name + size + ";");
    }
  }

  std::string memory_ref(const Memory& m, Expr index) {
    std::string prefix = m.name;
    if (m.space == Space::per_thread && d_.emulate_threads && k_.threads_per_group > 1)
      prefix += "[" + name_of(k_.thread_id.node()) + "]";
    return prefix + "[" + expr(index, true) + "]";
  }

  void block(const Block& b) {
    scopes_.emplace_back();
    for (const StmtPtr& s : b) stmt(*s);
    scopes_.pop_back();
  }

  bool in_scope(const Node* n) const {
    for (const auto& scope : scopes_)
      if (scope.count(n)) return true;
    return false;
  }

  void stmt(const Stmt& s) {
    if (auto it = plan_.defs_before.find(&s); it != plan_.defs_before.end())
      for (const Node* n : it->second) {
        std::string rhs = op_text(n);
        line("const " + std::string(c_type(n->type)) + " " + name_of(n) + " = " + rhs + ";");
        scopes_.back().insert(n);
      }
    switch (s.kind) {
      case StmtKind::let:
        line("const " + std::string(c_type(s.var.type())) + " " + name_of(s.var.node()) + " = " +
             expr(s.value, true) + ";");
        break;
      case StmtKind::load: {
        std::string ref = widen(*s.memory, memory_ref(*s.memory, s.index));
        std::string zero = s.var.type() == Type::f32 ? "0.0f" : "0";
        std::string rhs = s.cond ? expr(s.cond, false) + " ? " + ref + " : " + zero : ref;
        line("const " + std::string(c_type(s.var.type())) + " " + name_of(s.var.node()) + " = " +
             rhs + ";");
        break;
      }
      case StmtKind::store: {
        std::string body = memory_ref(*s.memory, s.index) + (s.accumulate ? " += " : " = ") +
                           narrow(*s.memory, expr(s.value, true)) + ";";
        line(s.cond ? "if (" + expr(s.cond, true) + ") " + body : body);
        break;
      }
      case StmtKind::loop: {
        if (s.loop_kind == LoopKind::unrolled && !d_.unroll_pragma.empty()) line(d_.unroll_pragma);
        std::string v = name_of(s.var.node());
        line("for (int " + v + " = 0; " + v + " < " + std::to_string(s.extent) + "; ++" + v + ") {");
        ++indent_;
        block(s.body);
        --indent_;
        line("}");
        break;
      }
      case StmtKind::if_then:
        line("if (" + expr(s.cond, true) + ") {");
        ++indent_;
        block(s.body);
        --indent_;
        line("}");
        break;
      case StmtKind::threads:
        if (d_.emulate_threads) {
          std::string t = name_of(k_.thread_id.node());
          line("for (int " + t + " = 0; " + t + " < " + std::to_string(k_.threads_per_group) +
               "; ++" + t + ") {");
        } else {
          line("{");
        }
        ++indent_;
        block(s.body);
        --indent_;
        line("}");
        break;
      case StmtKind::barrier:
        line(d_.barrier);
        break;
      case StmtKind::comment:
        line("// " + s.text);
        break;
    }
  }

  std::string name_of(const Node* n) {
    auto it = names_.find(n);
    if (it != names_.end()) return it->second;
    std::string base = n->op == Op::var ? (n->name.empty() ? "v" : n->name) : "t";
    int& count = hint_counts_[base];
    std::string name = count == 0 && n->op == Op::var ? base : base + std::to_string(count);
    ++count;
    return names_[n] = name;
  }

  // An operand: a name when materialized, else the inline operation (parenthesized unless top).
  std::string expr(Expr e, bool top) {
    const Node* n = e.node();
    switch (n->op) {
      case Op::const_int:
        if (n->type == Type::boolean) return n->ival ? "true" : "false";
        return n->ival < 0 && !top ? "(" + std::to_string(n->ival) + ")" : std::to_string(n->ival);
      case Op::const_float: return float_literal(n->fval);
      case Op::var: return name_of(n);
      default: break;
    }
    if (in_scope(n)) return names_[n];
    std::string t = op_text(n);
    const bool call = n->op == Op::min || n->op == Op::max || n->op == Op::cast || n->op == Op::exp;
    return top || call ? t : "(" + t + ")";
  }

  std::string op_text(const Node* n) {
    auto a = [&](int i) { return expr(n->args[i], false); };
    bool f = n->args[0] && n->args[0]->type == Type::f32;
    switch (n->op) {
      case Op::add: return a(0) + " + " + a(1);
      case Op::sub: return a(0) + " - " + a(1);
      case Op::mul: return a(0) + " * " + a(1);
      case Op::div: return a(0) + " / " + a(1);
      case Op::mod: return a(0) + " % " + a(1);
      case Op::min: return (f ? d_.fmin : d_.imin) + "(" + a(0) + ", " + a(1) + ")";
      case Op::max: return (f ? d_.fmax : d_.imax) + "(" + a(0) + ", " + a(1) + ")";
      case Op::lt: return a(0) + " < " + a(1);
      case Op::le: return a(0) + " <= " + a(1);
      case Op::eq: return a(0) + " == " + a(1);
      case Op::ne: return a(0) + " != " + a(1);
      case Op::logical_and: return a(0) + " && " + a(1);
      case Op::logical_or: return a(0) + " || " + a(1);
      case Op::neg: return "-" + a(0);
      case Op::exp: return d_.fexp + "(" + expr(n->args[0], true) + ")";
      case Op::logical_not: return "!" + a(0);
      case Op::select: return a(0) + " ? " + a(1) + " : " + a(2);
      case Op::cast: return std::string("(") + c_type(n->type) + ")" + a(0);
      default: throw Error(std::string("renderer: unexpected node ") + op_name(n->op));
    }
  }

  const Kernel& k_;
  const DialectSpec& d_;
  ValuePlan plan_;
  std::ostringstream out_;
  int indent_ = 0;
  std::unordered_map<const Node*, std::string> names_;
  std::unordered_map<std::string, int> hint_counts_;
  std::vector<std::unordered_set<const Node*>> scopes_;
};

}  // namespace

std::string render_kernel(const Kernel& kernel, Dialect dialect) {
  return Renderer(kernel, dialect_spec(dialect)).run();
}

std::string translation_unit(const std::vector<std::string>& kernel_sources, Dialect dialect) {
  std::string out = dialect_spec(dialect).prelude;
  for (const std::string& k : kernel_sources) {
    if (!out.empty()) out += "\n";
    out += k;
  }
  return out;
}

}  // namespace wino::render

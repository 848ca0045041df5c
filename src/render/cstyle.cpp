// The C-style base renderer: walks the statement tree in the order of ir::plan_values and prints
// it; every dialect difference comes from its DialectSpec.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "ir/values.h"
#include "render/dialect.h"
#include "render/kernel_scan.h"
#include "render/wgmma.h"

namespace wino::render {

using namespace ir;

int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') ++n;
  return n;
}

namespace {

// Replaces each placeholder of a TypeTable pattern.
std::string fill(std::string pattern, std::initializer_list<std::pair<const char*, std::string>> values) {
  for (const auto& [key, value] : values)
    for (size_t at = pattern.find(key); at != std::string::npos; at = pattern.find(key, at + value.size()))
      pattern.replace(at, 2, value);
  return pattern;
}

// The dialect's name of type t (scalar or vector).
std::string type_text(const TypeTable& tt, Type t) {
  std::string e;
  switch (t.scalar) {
    case Scalar::f32: e = tt.f32; break;
    case Scalar::i32: e = tt.i32; break;
    case Scalar::boolean: e = tt.boolean; break;
    case Scalar::f16:
    case Scalar::bf16: e = tt.half_bits; break;
  }
  if (!t.is_vector()) return e;
  if (t.lanes > tt.max_lanes || t.scalar == Scalar::boolean)
    throw Error("renderer: the target language has no " + type_name(t) + " vectors (at most " +
                std::to_string(tt.max_lanes) + " lanes of i32 or f32)");
  return fill(tt.vector, {{"%e", e}, {"%n", std::to_string(t.lanes)}});
}

// Lane i of vector value v.
std::string lane_text(const TypeTable& tt, const std::string& v, int i) {
  const std::string index = tt.lane == ".%i" ? std::string(1, "xyzw"[i])
                            : tt.lane == ".s%i" ? std::string(1, "0123456789abcdef"[i])
                                                : std::to_string(i);
  return v + fill(tt.lane, {{"%i", index}});
}

// A vector of type t from its lanes.
std::string make_text(const TypeTable& tt, Type t, const std::vector<std::string>& lanes) {
  std::string a;
  for (size_t i = 0; i < lanes.size(); ++i) a += (i ? ", " : "") + lanes[i];
  return fill(tt.make, {{"%t", type_text(tt, t)}, {"%a", a}});
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

std::string format_type(const std::string& pattern, const TypeTable& tt, Type t) {
  std::string out = pattern;
  size_t pos = out.find("%s");
  if (pos != std::string::npos) out.replace(pos, 2, type_text(tt, t));
  return out;
}

class Renderer {
 public:
  Renderer(const Kernel& k, const DialectSpec& d) : k_(k), d_(d), plan_(plan_values(k)) {
    // Variables never take the name of a buffer, an array or a name the prelude uses.
    for (const auto& b : k.buffers) hint_counts_[b->name] = 1;
    for (const auto& a : k.arrays) hint_counts_[a->name] = 1;
    for (const char* reserved : {"buffers", "group_begin", "group_end", "group_", "gid_", "tid_", "wv_", "wino_shared_"})
      hint_counts_[reserved] = 1;
    raw_halves_ = raw_half_values(k.body);  // (kernel_scan.h)
    if (d.shared_pointer_offsets) shared_bases_ = shared_bases(k.body);
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
    if (!d_.kernel_entry.empty()) line(d_.kernel_entry);
    const bool dynamic = dynamic_shared_bytes(k_, d_.dialect) > 0;
    if (dynamic) line(aligned_decl(d_.dynamic_shared_decl, max_align()) + " unsigned char wino_shared_[];");
    const std::vector<int64_t> offsets = shared_array_offsets(k_);  // in wino_shared_, on each array's Memory::align
    for (size_t i = 0; i < k_.arrays.size(); ++i) {
      const Memory& a = *k_.arrays[i];
      if (!dynamic || a.space != Space::shared) {
        declare_array(a);
        continue;
      }
      line(ctype(a.type) + "* " + a.name + " = reinterpret_cast<" + ctype(a.type) + "*>(wino_shared_ + " +
           std::to_string(offsets[i]) + ");" + (a.reuses ? "  // over the arrays above: a later phase" : ""));
    }
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
        const std::string type = format_type(b->read_only ? d_.global_const_ptr : d_.global_ptr, d_.types, b->type);
        std::string cast = type.substr(0, type.find(" restrict"));  // "(const float*)"
        out_ << "  " << type << " " << b->name << " = (" << cast << ")buffers[" << b->param_index << "];\n";
      }
      return;
    }
    out_ << d_.kernel_prefix << " ";
    if (d_.launch_bounds && d_.dialect == Dialect::cuda)
      out_ << "__launch_bounds__(" << k_.threads_per_group << ", " << k_.min_groups_per_multiprocessor << ") ";
    if (d_.launch_bounds && d_.dialect == Dialect::opencl)
      out_ << "__attribute__((reqd_work_group_size(" << k_.threads_per_group << ", 1, 1))) ";
    out_ << k_.name << "(";
    for (size_t i = 0; i < k_.buffers.size(); ++i) {
      const Memory& b = *k_.buffers[i];
      out_ << (i ? ", " : "") << format_type(b.read_only ? d_.global_const_ptr : d_.global_ptr, d_.types, b.type)
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
      std::string q = d_.shared_decl.empty() ? "" : aligned_decl(d_.shared_decl, a.align) + " ";
      line(q + ctype(a.type) + " " + a.name + size + ";");
    } else if (d_.emulate_threads && k_.threads_per_group > 1) {
      line(ctype(a.type) + " " + a.name + "[" + std::to_string(k_.threads_per_group) + "]" + size + d_.array_align + ";");
    } else {
      line(ctype(a.type) + " " + a.name + size + d_.array_align + ";");
    }
  }

  // A declaration's qualifier with its 16-byte alignment raised to `align` (Memory::align).
  static std::string aligned_decl(std::string decl, int64_t align) {
    const std::string at = "__align__(16)";
    if (const size_t i = decl.find(at); i != std::string::npos && align > 16)
      decl.replace(i, at.size(), "__align__(" + std::to_string(align) + ")");
    return decl;
  }
  int64_t max_align() const {
    int64_t a = 16;
    for (const auto& m : k_.arrays) a = std::max(a, m->align);
    return a;
  }

  std::string ctype(Type t) const { return type_text(d_.types, t); }

  std::string memory_prefix(const Memory& m) {
    std::string prefix = m.name;
    if (m.space == Space::per_thread && d_.emulate_threads && k_.threads_per_group > 1)
      prefix += "[" + name_of(k_.thread_id.node()) + "]";
    return prefix;
  }
  std::string memory_ref(const Memory& m, Expr index) {
    if (auto [base, offset] = shared_base(m, index.node()); base)
      return base_pointer(base, m) + "[" + std::to_string(offset) + "]";
    return memory_prefix(m) + "[" + expr(index, true) + "]";
  }
  // DialectSpec::shared_pointer_offsets: an index into work-group memory `m` that is a let
  // variable plus a constant, as (variable, constant), where such accesses were found
  // (find_shared_bases); else (null, 0).
  std::pair<const Node*, int64_t> shared_base(const Memory& m, const Node* n) const {
    if (!d_.shared_pointer_offsets || m.space != Space::shared) return {nullptr, 0};
    auto based = [&](const Node* v) {
      auto it = shared_bases_.find(v);
      return it != shared_bases_.end() && std::find(it->second.begin(), it->second.end(), &m) != it->second.end();
    };
    if (based(n)) return {n, 0};
    if (n->op == Op::add && n->type == Type::i32)
      for (int side : {0, 1})
        if (n->args[side]->op == Op::const_int && based(n->args[1 - side])) return {n->args[1 - side], n->args[side]->ival};
    return {nullptr, 0};
  }
  // Named through the same table as variables, so that no variable takes the pointer's name.
  std::string base_pointer(const Node* base, const Memory& m) {
    const auto key = std::pair{base, &m};
    if (auto it = pointer_names_.find(key); it != pointer_names_.end()) return it->second;
    return pointer_names_[key] = fresh_name(name_of(base) + "_" + m.name, true);
  }
  // Element `index + lane` (a lane of a vector access).
  std::string lane_ref(const Memory& m, Expr index, int lane) {
    return lane ? memory_prefix(m) + "[" + expr(index, false) + " + " + std::to_string(lane) + "]" : memory_ref(m, index);
  }

  // A vector load: one access where the language has unaligned vector loads or the load is
  // aligned and the language has aligned ones, else lane by lane.
  std::string vector_load(const Stmt& s) {
    const Type t = s.var.type();
    const bool bits = value_type(s.memory->type) != s.memory->type;
    const std::string& pattern = s.aligned && !d_.types.aligned_load.empty() ? d_.types.aligned_load : d_.types.load;
    if (!pattern.empty() && !bits)
      return fill(pattern, {{"%t", ctype(t)}, {"%n", std::to_string(t.lanes)}, {"%p", "&" + memory_ref(*s.memory, s.index)}});
    if (s.aligned && bits && d_.mma && (t.lanes == 2 || t.lanes == 4)) {  // one 4- or 8-byte access, then widened
      const std::string type = s.memory->type == Type::f16 ? "f16" : "bf16", n = std::to_string(t.lanes);
      return "wino_" + type + "x" + n + "_to_float" + n + "(*reinterpret_cast<const " +
             (t.lanes == 2 ? "unsigned" : "uint2") + "*>(&" + memory_ref(*s.memory, s.index) + "))";
    }
    std::vector<std::string> lanes;
    for (int i = 0; i < t.lanes; ++i) lanes.push_back(widen(*s.memory, lane_ref(*s.memory, s.index, i)));
    return make_text(d_.types, t, lanes);
  }

  // A vector store (or accumulation), as one statement.
  std::string vector_store(const Stmt& s) {
    const Type t = s.value.type();
    const bool bits = value_type(s.memory->type) != s.memory->type;
    const std::string value = expr(s.value, true), n = std::to_string(t.lanes);
    const std::string at = "&" + memory_ref(*s.memory, s.index);
    const std::string& pattern = s.aligned && !d_.types.aligned_store.empty() ? d_.types.aligned_store : d_.types.store;
    if (!pattern.empty() && !bits && pattern.find("%v") == std::string::npos)  // an lvalue
      return fill(pattern, {{"%t", ctype(t)}, {"%p", at}}) + (s.accumulate ? " += " : " = ") + value + ";";
    if (!pattern.empty() && !bits) {  // a store function
      const std::string v = s.accumulate ? fill(d_.types.load, {{"%t", ctype(t)}, {"%n", n}, {"%p", at}}) + " + " + value : value;
      return fill(pattern, {{"%v", v}, {"%n", n}, {"%p", at}}) + ";";
    }
    std::string body = "{ const " + ctype(t) + " wv_ = " + value + ";";
    if (s.aligned && bits && d_.mma && !s.accumulate && (t.lanes == 2 || t.lanes == 4)) {
      // An aligned run of 2 or 4 floats into f16/bf16 memory: each pair narrowed by one packed
      // conversion (the mma prelude's), the run stored as one 4- or 8-byte access.
      const std::string pack = s.memory->type == Type::f16 ? "wino_f16x2(" : "wino_bf16x2(";
      auto pair = [&](int i) {
        return pack + lane_text(d_.types, "wv_", i) + ", " + lane_text(d_.types, "wv_", i + 1) + ")";
      };
      return body + (t.lanes == 2 ? " *reinterpret_cast<unsigned*>(" + at + ") = " + pair(0)
                                  : " *reinterpret_cast<uint2*>(" + at + ") = make_uint2(" + pair(0) + ", " + pair(2) + ")") +
             "; }";
    }
    for (int i = 0; i < t.lanes; ++i)
      body += " " + lane_ref(*s.memory, s.index, i) + (s.accumulate ? " += " : " = ") +
              narrow(*s.memory, lane_text(d_.types, "wv_", i)) + ";";
    return body + " }";
  }

  // wino_mma_<operands>(acc[s0], ..., acc[s3], a..., b...): the prelude's function for the mma.
  // cp.async of 4, 8 or 16 bytes; where the mask is false it reads nothing (from the buffer's
  // start, always a valid address, unless the plan keeps the index inside the buffer:
  // Stmt::source_in_bounds) and fills the destination with zeros.
  std::string copy_async_call(const Stmt& s) {
    if (!d_.copy_async)
      throw Error(std::string("the ") + dialect_name(d_.dialect) +
                  " dialect has no asynchronous copy (copy_async): the plans that use it run on CUDA only");
    const int64_t bytes = s.extent * type_bytes(s.memory->type);
    std::string src = memory_prefix(*s.source) + " + " +
                      (s.cond && !s.source_in_bounds
                           ? "(" + expr(s.cond, false) + " ? " + expr(s.source_index, false) + " : 0)"
                           : expr(s.source_index, false));
    return "wino_copy_async<" + std::to_string(bytes) + ">(&" + memory_ref(*s.memory, s.index) + ", " + src + ", " +
           (s.cond ? expr(s.cond, true) : "true") + ");";
  }

  // The prelude's wino_copy_bulk and wino_mbarrier_* (sm_90), each barrier at &array[element].
  std::string bulk_call(const Stmt& s) {
    if (!d_.copy_bulk)
      throw Error(std::string("the ") + dialect_name(d_.dialect) + " dialect has no bulk copy or its barriers (" +
                  stmt_kind_name(s.kind) + "): the plans that use them run on CUDA sm_90 and newer only");
    const std::string bar = "&" + memory_ref(*(s.kind == StmtKind::copy_bulk ? s.mbarrier : s.memory),
                                             s.kind == StmtKind::copy_bulk ? s.value : s.index);
    switch (s.kind) {
      case StmtKind::copy_bulk:
        return "wino_copy_bulk(&" + memory_ref(*s.memory, s.index) + ", " + memory_prefix(*s.source) + " + " +
               expr(s.source_index, false) + ", " + std::to_string(s.extent * type_bytes(s.memory->type)) + "u, " + bar + ");";
      case StmtKind::mbarrier_init: return "wino_mbarrier_init(" + bar + ", " + std::to_string(s.extent) + "u);";
      case StmtKind::mbarrier_expect: return "wino_mbarrier_expect(" + bar + ", " + std::to_string(s.extent) + "u);";
      case StmtKind::mbarrier_arrive: return "wino_mbarrier_arrive(" + bar + ");";
      default: return "wino_mbarrier_wait(" + bar + ", " + expr(s.value, false) + ");";
    }
  }

  // ldmatrix through the prelude's wino_load_matrix<matrices, transposed>(registers, array,
  // row's element): each register holds a pair of the values, low half first, kept as their bits
  // (raw_halves_). The array and the element apart: one address conversion for all of them, and
  // ptxas folds the constant offsets (from &array[element] it converted each address anew).
  void load_matrix_call(const Stmt& s) {
    if (!d_.mma)
      throw Error(std::string("the ") + dialect_name(d_.dialect) +
                  " dialect has no warp-level matrix load (load_matrix): tensor-core precisions run on CUDA only");
    const std::string regs = fresh_name("lm", false);
    line("unsigned " + regs + "[" + std::to_string(s.extent) + "];");
    line("wino_load_matrix<" + std::to_string(s.extent) + ", " + (s.transposed ? "true" : "false") + ">(" + regs +
         ", " + memory_prefix(*s.memory) + ", " + expr(s.index, true) + ");");
    for (size_t i = 0; i < s.vars.size(); ++i)
      line("const " + d_.types.half_bits + " " + name_of(s.vars[i].node()) + " = (" + d_.types.half_bits + ")(" +
           regs + "[" + std::to_string(i / 2) + "]" + (i % 2 ? " >> 16" : "") + ");");
  }

  // The operands go to the prelude's wino_mma_<operands>_bits as tensor-core registers: each
  // value (tf32) or pair of values (f16, bf16) converted once per scope and reused by every mma
  // that takes it, so the source shows one conversion per register (converting in each mma's
  // call put a warp's 4 x 4 mmas' conversions in the PTX four times; ptxas merged them, the H200
  // ran both at the same speed). 3xtf32 splits its operands in its own function; tf32 operands
  // the plan stored rounded (Stmt::operands_rounded) pass as their bits, f16/bf16 ones as the
  // stored halves packed in pairs (raw_halves_).
  std::string mma_call(const Stmt& s) {
    if (!d_.mma)
      throw Error(std::string("the ") + dialect_name(d_.dialect) +
                  " dialect has no warp-level matrix op (mma): tensor-core precisions run on CUDA only");
    const std::string name = mma_operand_name(s.mma);
    const bool split = s.mma == MmaKind::tf32x3_m16n8k8;
    std::string call = "wino_mma_" + name + (split ? "(" : "_bits(");
    for (size_t i = 0; i < s.slots.size(); ++i)
      call += (i ? ", " : "") + memory_prefix(*s.memory) + "[" + std::to_string(s.slots[i]) + "]";
    const size_t per = mma_is_tf32(s.mma) ? 1 : 2;  // values per register
    for (size_t i = 0; i < s.args.size(); i += per) {
      const bool rounded = s.operands_rounded[mma_side(s.mma, i)];
      call += ", " + (split ? expr(s.args[i], true)
                            : mma_register(rounded ? (per == 2 ? "halves" : "bits") : name, s.args[i],
                                           per == 2 ? s.args[i + 1] : Expr{}));
    }
    return call + ");";
  }

  // wgmma (sm_90a) on the prelude's wino_wgmma_desc of each matrix; the accumulators in and out as
  // "+f" operands. tf32 takes no transpose flags.
  void mma_async_call(const Stmt& s) {
    if (!d_.mma_async)
      throw Error(std::string("the ") + dialect_name(d_.dialect) +
                  " dialect has no warpgroup matrix op (mma_async): the plans that use it run on CUDA sm_90 only");
    const int64_t bytes = type_bytes(s.matrices[0].memory->type);
    const std::string adesc = descriptor(s.matrices[0], bytes, "adesc"), bdesc = descriptor(s.matrices[1], bytes, "bdesc");
    const std::string accumulate = s.value ? "(int)(" + expr(s.value, true) + ")" : "1";
    for (const std::string& text : wgmma_lines(s, adesc, bdesc, memory_prefix(*s.memory), accumulate)) line(text);
  }

  // An mma_async matrix's descriptor: one per (array, start without its constant part, layout) in
  // scope, the constant added in 16-byte units (the address field's; work-group memory stays far
  // below its 256 KiB), so that a run of mma_asyncs builds each descriptor once.
  std::string descriptor(const SharedMatrix& m, int64_t bytes, const std::string& hint) {
    const Node* base = m.start.node();
    int64_t offset = 0;
    if (base->op == Op::const_int) {
      offset = base->ival, base = nullptr;
    } else if (base->op == Op::add && base->type == Type::i32) {
      for (int side : {0, 1})  // (a constant of whole 16-byte units: the base stays on 16 bytes as the start is)
        if (base->args[side]->op == Op::const_int && base->args[side]->ival * bytes % 16 == 0) {
          offset = base->args[side]->ival, base = base->args[1 - side];
          break;
        }
    }
    // Swizzled: no leading offset (one k-step lies in a row).
    const int mode = wgmma_swizzle_mode(m.swizzle);
    const DescKey key{m.memory, base, m.swizzle ? 16 : m.depth_stride * bytes, m.rows_stride * bytes, mode};
    std::string name;
    for (auto it = desc_scopes_.rbegin(); it != desc_scopes_.rend() && name.empty(); ++it)
      if (auto found = it->find(key); found != it->end()) name = found->second;
    if (name.empty()) {
      name = fresh_name(hint, false);
      line("const unsigned long long " + name + " = wino_wgmma_desc(&" + memory_prefix(*m.memory) + "[" +
           (base ? expr(Expr(base), true) : "0") + "], " + std::to_string(std::get<2>(key)) + "u, " +
           std::to_string(std::get<3>(key)) + "u, " + std::to_string(mode) + "u);");
      desc_scopes_.back()[key] = name;
    }
    return offset ? "(" + name + " + " + std::to_string(offset * bytes / 16) + "ull)" : name;
  }

  // `operands`: tf32, f16 or bf16 (a conversion), bits (a tf32 value as it is) or halves (two
  // stored f16/bf16 values as they are).
  std::string mma_register(const std::string& operands, Expr lo, Expr hi) {
    const std::string convert = operands == "bits"     ? "wino_tf32_bits"
                                : operands == "halves" ? "wino_halves"
                                : operands == "tf32"   ? "wino_tf32"
                                                       : "wino_" + operands + "x2";
    const OperandKey key{convert, lo.node(), hi ? hi.node() : nullptr};
    for (auto it = operand_scopes_.rbegin(); it != operand_scopes_.rend(); ++it)
      if (auto found = it->find(key); found != it->end()) return found->second;
    int& count = hint_counts_["op"];
    const std::string reg = "op" + std::to_string(count++);
    auto arg = [&](Expr e) { return operands == "halves" ? name_of(e.node()) : expr(e, true); };
    line("const unsigned " + reg + " = " + convert + "(" + arg(lo) + (hi ? ", " + arg(hi) : "") + ");");
    operand_scopes_.back()[key] = reg;
    return reg;
  }

  void block(const Block& b) {
    scopes_.emplace_back();
    operand_scopes_.emplace_back();
    after_mma_async_ = false;
    desc_scopes_.emplace_back();
    for (const StmtPtr& s : b) {
      stmt(*s);
      after_mma_async_ = s->kind == StmtKind::mma_async;
    }
    after_mma_async_ = false;
    desc_scopes_.pop_back();
    operand_scopes_.pop_back();
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
        line("const " + ctype(n->type) + " " + name_of(n) + " = " + rhs + ";");
        scopes_.back().insert(n);
      }
    switch (s.kind) {
      case StmtKind::let:
        line("const " + ctype(s.var.type()) + " " + name_of(s.var.node()) + " = " + expr(s.value, true) + ";");
        if (auto it = shared_bases_.find(s.var.node()); it != shared_bases_.end())
          for (const Memory* m : it->second)  // the base's pointer into m (shared_base)
            line("auto* const " + base_pointer(s.var.node(), *m) + " = " + memory_prefix(*m) + " + " +
                 name_of(s.var.node()) + ";");
        break;
      case StmtKind::load: {
        const Type t = s.var.type();
        if (raw_halves_.count(s.var.node())) {  // the stored bits, for an mma (raw_halves_)
          const std::string ref = memory_ref(*s.memory, s.index);
          line("const " + d_.types.half_bits + " " + name_of(s.var.node()) + " = " +
               (s.cond ? expr(s.cond, false) + " ? " + ref + " : 0" : ref) + ";");
          break;
        }
        std::string ref = t.is_vector() ? vector_load(s) : widen(*s.memory, memory_ref(*s.memory, s.index));
        std::string zero = t.scalar == Scalar::f32 ? "0.0f" : "0";
        if (t.is_vector()) zero = make_text(d_.types, t, std::vector<std::string>(t.lanes, zero));
        std::string rhs = s.cond ? expr(s.cond, false) + " ? " + ref + " : " + zero : ref;
        const bool pin = s.in_register && !d_.pin.empty();
        line((pin ? "" : "const ") + ctype(t) + " " + name_of(s.var.node()) + " = " + rhs + ";");
        if (pin) line(fill(d_.pin, {{"%b", std::to_string(type_bytes(t))}, {"%v", name_of(s.var.node())}}) + ";");
        break;
      }
      case StmtKind::store: {
        std::string body = s.value.type().is_vector() ? vector_store(s)
                                                      : memory_ref(*s.memory, s.index) + (s.accumulate ? " += " : " = ") +
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
        // A proxy fence at the end of each region whose writes mma_asyncs read (AsyncOperands; a
        // fence at every barrier took 6% of the ring's stall samples, H100, session 56).
        if (async_operands_.written_by(s.body)) line("asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");");
        --indent_;
        line("}");
        break;
      case StmtKind::barrier:
        line(d_.barrier);
        break;
      case StmtKind::comment:
        line("// " + s.text);
        break;
      case StmtKind::mma:
        line(mma_call(s));
        break;
      case StmtKind::copy_async:
        line(copy_async_call(s));
        break;
      case StmtKind::copy_commit:
        line("asm volatile(\"cp.async.commit_group;\" ::: \"memory\");");
        break;
      case StmtKind::copy_wait:
        line("asm volatile(\"cp.async.wait_group " + std::to_string(s.extent) + ";\" ::: \"memory\");");
        break;
      case StmtKind::load_matrix:
        load_matrix_call(s);
        break;
      case StmtKind::mma_async:
        // A run of mma_asyncs starts with a fence: the accumulators' registers were the threads'.
        if (!after_mma_async_) line("asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");");
        mma_async_call(s);
        break;
      case StmtKind::mma_async_commit:
        line("asm volatile(\"wgmma.commit_group.sync.aligned;\" ::: \"memory\");");
        break;
      case StmtKind::mma_async_wait:
        line("asm volatile(\"wgmma.wait_group.sync.aligned " + std::to_string(s.extent) + ";\" ::: \"memory\");");
        break;
      case StmtKind::copy_bulk:
      case StmtKind::mbarrier_init:
      case StmtKind::mbarrier_expect:
      case StmtKind::mbarrier_arrive:
      case StmtKind::mbarrier_wait:
        // A role's stores that mma_asyncs read reach the tensor cores' path (the async proxy)
        // through a proxy fence before the arrival that publishes them.
        if (fence_arrivals_ && (s.kind == StmtKind::mbarrier_arrive || s.kind == StmtKind::mbarrier_expect))
          line("asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");");
        line(bulk_call(s));
        break;
      case StmtKind::roles:
        if (!d_.copy_bulk)
          throw Error(std::string("the ") + dialect_name(d_.dialect) +
                      " dialect has no warps with roles (roles): they meet at mbarriers, on CUDA sm_90 and newer only");
        line("// roles: the last " + std::to_string(s.producer_threads) + " threads produce, the others consume, " +
             std::to_string(s.stages) + " stages ahead");
        roles_ = &s;
        block(s.body);
        roles_ = nullptr;
        break;
      case StmtKind::role: {  // each role's threads loop over the steps on their own
        const bool producers = roles_ && &s == roles_->body.front().get();
        line("if (" + name_of(k_.thread_id.node()) + (producers ? " >= " : " < ") +
             std::to_string(k_.threads_per_group - (roles_ ? roles_->producer_threads : 0)) + ") {");
        ++indent_;
        if (const int regs = roles_ ? roles_->role_registers[producers ? 0 : 1] : 0)  // (the producers give some up)
          line(std::string("asm volatile(\"setmaxnreg.") + (producers ? "dec" : "inc") + ".sync.aligned.u32 " +
               std::to_string(regs) + ";\" ::: \"memory\");");
        std::string v = name_of(s.var.node());
        line("for (int " + v + " = 0; " + v + " < " + std::to_string(s.extent) + "; ++" + v + ") {");
        ++indent_;
        fence_arrivals_ = async_operands_.written_by(s.body);
        block(s.body);
        fence_arrivals_ = false;
        --indent_;
        line("}");
        --indent_;
        line("}");
        break;
      }
    }
  }

  std::string name_of(const Node* n) {
    auto it = names_.find(n);
    if (it != names_.end()) return it->second;
    const std::string base = n->op == Op::var ? (n->name.empty() ? "v" : n->name) : "t";
    return names_[n] = fresh_name(base, n->op == Op::var);
  }

  // `hint` the first time it is asked for where `bare` allows, then hint1, hint2, ...
  std::string fresh_name(const std::string& hint, bool bare) {
    int& count = hint_counts_[hint];
    const std::string name = count == 0 && bare ? hint : hint + std::to_string(count);
    ++count;
    return name;
  }

  // An operand: a name when materialized, else the inline operation (parenthesized unless top).
  std::string expr(Expr e, bool top) {
    const Node* n = e.node();
    switch (n->op) {
      case Op::const_int:
        if (n->type == Type::boolean) return n->ival ? "true" : "false";
        return n->ival < 0 && !top ? "(" + std::to_string(n->ival) + ")" : std::to_string(n->ival);
      case Op::const_float: return float_literal(n->fval);
      case Op::var: {
        auto raw = raw_halves_.find(n);  // a value held as its stored bits, used as a float here
        return raw == raw_halves_.end() ? name_of(n) : widen(*raw->second, name_of(n));
      }
      default: break;
    }
    if (in_scope(n)) return names_[n];
    std::string t = op_text(n);
    const bool call = n->op == Op::min || n->op == Op::max || n->op == Op::cast || n->op == Op::exp ||
                      n->op == Op::round_tf32 || n->op == Op::warp_uniform ||
                      n->op == Op::broadcast || n->op == Op::extract ||
                      // a lane-by-lane vector literal such as OpenCL's (float4)(...) takes parentheses
                      ((n->op == Op::interleave || n->op == Op::slice) && !d_.types.shuffle.empty());
    return top || call ? t : "(" + t + ")";
  }

  // min/max lane by lane (no dialect has one spelling for vector min/max).
  std::string vector_min_max(const Node* n) {
    const bool f = n->type.scalar == Scalar::f32;
    const std::string& fn = n->op == Op::min ? (f ? d_.fmin : d_.imin) : (f ? d_.fmax : d_.imax);
    const std::string x = expr(n->args[0], false), y = expr(n->args[1], false);
    std::vector<std::string> lanes;
    for (int i = 0; i < n->type.lanes; ++i)
      lanes.push_back(fn + "(" + lane_text(d_.types, x, i) + ", " + lane_text(d_.types, y, i) + ")");
    return make_text(d_.types, n->type, lanes);
  }

  // An interleave or a slice: the dialect's shuffle, else a vector made of the chosen lanes.
  std::string shuffle_text(const Node* n) {
    const bool two = n->op == Op::interleave;
    const std::string x = expr(n->args[0], false), y = two ? expr(n->args[1], false) : x;
    const int lanes = n->args[0]->type.lanes;
    std::vector<std::string> picks;
    for (int i = 0; i < n->type.lanes; ++i) {
      const int from = two ? ir::interleave_lane(lanes, n->ival, i) : static_cast<int>(n->ival) + i;
      picks.push_back(d_.types.shuffle.empty() ? lane_text(d_.types, from < lanes ? x : y, from % lanes)
                                               : std::to_string(from));
    }
    if (d_.types.shuffle.empty()) return make_text(d_.types, n->type, picks);
    std::string indices;
    for (const std::string& p : picks) indices += (indices.empty() ? "" : ", ") + p;
    return fill(d_.types.shuffle, {{"%a", x}, {"%b", y}, {"%i", indices}});
  }

  std::string op_text(const Node* n) {
    auto a = [&](int i) { return expr(n->args[i], false); };
    if ((n->op == Op::min || n->op == Op::max) && n->type.is_vector()) return vector_min_max(n);
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
      case Op::round_tf32: return "wino_round_tf32(" + expr(n->args[0], true) + ")";
      case Op::warp_uniform:  // lane 0's (all lanes run it: the plans use it where they all do)
        return d_.dialect == Dialect::cuda ? "__shfl_sync(0xffffffffu, " + expr(n->args[0], true) + ", 0)" : a(0);
      case Op::logical_not: return "!" + a(0);
      case Op::select: return a(0) + " ? " + a(1) + " : " + a(2);
      case Op::cast: return "(" + ctype(n->type) + ")" + a(0);
      case Op::broadcast: return make_text(d_.types, n->type, std::vector<std::string>(n->type.lanes, expr(n->args[0], true)));
      case Op::extract: return lane_text(d_.types, a(0), static_cast<int>(n->ival));
      case Op::interleave:
      case Op::slice: return shuffle_text(n);
      default: throw Error(std::string("renderer: unexpected node ") + op_name(n->op));
    }
  }

  const Kernel& k_;
  const DialectSpec& d_;
  const AsyncOperands async_operands_ = AsyncOperands::of(k_);
  bool after_mma_async_ = false;  // the statement just rendered in this block was an mma_async
  std::unordered_map<const Node*, std::vector<const Memory*>> shared_bases_;  // in the order first seen
  std::map<std::pair<const Node*, const Memory*>, std::string> pointer_names_;  // base_pointer's
  std::unordered_map<const Node*, const Memory*> raw_halves_;
  ValuePlan plan_;
  std::ostringstream out_;
  int indent_ = 0;
  std::unordered_map<const Node*, std::string> names_;
  std::unordered_map<std::string, int> hint_counts_;
  const Stmt* roles_ = nullptr;  // the roles statement whose role statements are rendered
  bool fence_arrivals_ = false;  // in a role that stores what mma_asyncs read
  std::vector<std::unordered_set<const Node*>> scopes_;
  // The conversion and its value, or pair of values packed in one register.
  using OperandKey = std::tuple<std::string, const Node*, const Node*>;
  std::vector<std::map<OperandKey, std::string>> operand_scopes_;
  // mma_async descriptors by (array, start's base, leading and stride bytes, swizzle mode).
  using DescKey = std::tuple<const Memory*, const Node*, int64_t, int64_t, int>;
  std::vector<std::map<DescKey, std::string>> desc_scopes_;
};

}  // namespace

std::string render_kernel(const Kernel& kernel, Dialect dialect) {
  return Renderer(kernel, dialect_spec(dialect)).run();
}

int64_t dynamic_shared_bytes(const Kernel& kernel, Dialect dialect) {
  const int64_t bytes = shared_array_bytes(kernel);
  // Arrays that reuse others' bytes (Memory::reuses) need the one block to lie over them.
  const bool reuse = std::any_of(kernel.arrays.begin(), kernel.arrays.end(), [](const auto& a) { return a->reuses; });
  return !dialect_spec(dialect).dynamic_shared_decl.empty() && (bytes > kStaticSharedBytes || reuse) ? bytes : 0;
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

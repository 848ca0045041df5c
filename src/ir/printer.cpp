#include "ir/printer.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "ir/values.h"

namespace wino::ir {

namespace {

std::string leaf(const Node* n) {
  std::ostringstream s;
  if (n->op == Op::const_int) {
    if (n->type == Type::boolean) return n->ival ? "true" : "false";
    s << n->ival;
  } else if (n->op == Op::const_float) {
    s << n->fval << "f";
  } else {
    s << n->name << "." << n->id;
  }
  return s.str();
}

class Printer {
 public:
  explicit Printer(const Kernel& k) : k_(k), plan_(plan_values(k)) {}

  std::string run() {
    out_ << "kernel " << k_.name << " groups=" << k_.num_groups << " threads=" << k_.threads_per_group;
    if (k_.min_groups_per_multiprocessor > 1) out_ << " min_groups_per_multiprocessor=" << k_.min_groups_per_multiprocessor;
    out_ << "\n";
    for (const auto& b : k_.buffers)
      out_ << "  buffer " << b->name << ": " << type_name(b->type) << "[" << b->size << "]"
           << (b->read_only ? " read_only" : "") << "\n";
    for (const auto& a : k_.arrays)
      out_ << "  " << space_name(a->space) << " " << a->name << ": " << type_name(a->type) << "["
           << a->size << "]" << (a->reuses ? " reuses" : a->kept ? " kept" : "") << "\n";
    block(k_.body, 1);
    return out_.str();
  }

  std::string expr(const Node* n) {
    if (n->nargs == 0) return leaf(n);
    if (auto it = names_.find(n); it != names_.end()) return it->second;
    std::string s = std::string(op_name(n->op)) + "(";
    for (int i = 0; i < n->nargs; ++i) s += (i ? ", " : "") + expr(n->args[i]);
    if (n->op == Op::extract) s += ", " + std::to_string(n->ival);
    if (n->op == Op::slice) s += ", from " + std::to_string(n->ival);
    if (n->op == Op::interleave) s += ", group " + std::to_string(n->ival / 2) + (n->ival % 2 ? ", odd" : ", even");
    if (n->op == Op::broadcast) s += ", " + std::to_string(n->type.lanes);
    return s + ")";
  }

 private:
  void line(int indent, const std::string& s) { out_ << std::string(2 * indent, ' ') << s << "\n"; }

  void block(const Block& b, int indent) {
    for (const StmtPtr& sp : b) {
      const Stmt& s = *sp;
      if (auto it = plan_.defs_before.find(&s); it != plan_.defs_before.end())
        for (const Node* n : it->second) {
          std::string rhs = expr(n);
          std::string name = "%" + std::to_string(n->id);
          line(indent, name + " = " + rhs);
          names_[n] = name;
        }
      std::string mask = s.cond ? " if " + expr(s.cond.node()) : "";
      switch (s.kind) {
        case StmtKind::let:
          line(indent, "let " + leaf(s.var.node()) + " = " + expr(s.value.node()));
          break;
        case StmtKind::load:
          line(indent, "load " + leaf(s.var.node()) + " = " + s.memory->name + "[" +
                           expr(s.index.node()) + "]" + mask + (s.in_register ? " (in a register)" : "") + (s.aligned ? " (aligned)" : ""));
          break;
        case StmtKind::store:
          line(indent, std::string(s.accumulate ? "accumulate " : "store ") + s.memory->name + "[" +
                           expr(s.index.node()) + "] = " + expr(s.value.node()) + mask +
                           (s.aligned ? " (aligned)" : ""));
          break;
        case StmtKind::loop:
          line(indent, std::string(s.loop_kind == LoopKind::unrolled ? "unrolled " : "") + "for " +
                           leaf(s.var.node()) + " in 0.." + std::to_string(s.extent) + ":");
          block(s.body, indent + 1);
          break;
        case StmtKind::if_then:
          line(indent, "if " + expr(s.cond.node()) + ":");
          block(s.body, indent + 1);
          break;
        case StmtKind::threads:
          line(indent, "threads " + leaf(k_.thread_id.node()) + ":");
          block(s.body, indent + 1);
          break;
        case StmtKind::barrier:
          line(indent, "barrier");
          break;
        case StmtKind::comment:
          line(indent, "# " + s.text);
          break;
        case StmtKind::mma: {
          std::string text = "mma." + mma_name(s.mma) + " " + s.memory->name + "[";
          for (size_t i = 0; i < s.slots.size(); ++i) text += (i ? "," : "") + std::to_string(s.slots[i]);
          text += "] +=";
          for (size_t i = 0; i < s.args.size(); ++i)
            text += std::string(i == 0 ? " A{" : i == size_t(mma_a_values(s.mma)) ? "} x B{" : ", ") + expr(s.args[i].node());
          const auto [ra, rb] = s.operands_rounded;
          line(indent, text + "}" + (ra && rb ? " (operands rounded)" : ra ? " (A rounded)" : rb ? " (B rounded)" : ""));
          break;
        }
        case StmtKind::copy_async: {
          std::string text = "copy_async " + s.memory->name + "[" + expr(s.index.node()) + "] <- " + s.source->name +
                             "[" + expr(s.source_index.node()) + "] x" + std::to_string(s.extent);
          line(indent, text + mask + (s.source_in_bounds ? " (index in bounds)" : ""));
          break;
        }
        case StmtKind::copy_bulk:
          line(indent, "copy_bulk " + s.memory->name + "[" + expr(s.index.node()) + "] <- " + s.source->name + "[" +
                           expr(s.source_index.node()) + "] x" + std::to_string(s.extent) + " on " + s.mbarrier->name +
                           "[" + expr(s.value.node()) + "]");
          break;
        case StmtKind::mbarrier_init:
        case StmtKind::mbarrier_expect:
        case StmtKind::mbarrier_wait:
          line(indent, std::string(stmt_kind_name(s.kind)) + " " + s.memory->name + "[" + expr(s.index.node()) + "] " +
                           (s.kind == StmtKind::mbarrier_wait ? "parity " + expr(s.value.node())
                                                              : std::to_string(s.extent) +
                                                                    (s.kind == StmtKind::mbarrier_init ? " arrivals" : " bytes")));
          break;
        case StmtKind::copy_commit:
          line(indent, "copy_commit");
          break;
        case StmtKind::mbarrier_arrive:
          line(indent, "mbarrier_arrive " + s.memory->name + "[" + expr(s.index.node()) + "]");
          break;
        case StmtKind::roles:
          line(indent, "roles: the last " + std::to_string(s.producer_threads) + " threads produce, the others consume, " +
                           std::to_string(s.stages) + " stages ahead" +
                           (s.role_registers[0] ? ", registers " + std::to_string(s.role_registers[0]) + " and " +
                                                      std::to_string(s.role_registers[1])
                                                : "") +
                           ":");
          block(s.body, indent + 1);
          break;
        case StmtKind::role:
          line(indent, "role for " + leaf(s.var.node()) + " in 0.." + std::to_string(s.extent) + ":");
          block(s.body, indent + 1);
          break;
        case StmtKind::mma_async: {
          std::string text = "mma_async." + mma_operand_name(s.mma) + ".m64n" + std::to_string(s.extent) + " " +
                             s.memory->name + "[";
          for (size_t i = 0; i < s.slots.size(); ++i) text += (i ? "," : "") + std::to_string(s.slots[i]);
          text += s.value ? "] = (" + expr(s.value.node()) + " ? acc : 0) +" : "] +=";
          for (int side = 0; side < 2; ++side) {
            const SharedMatrix& m = s.matrices[side];
            text += std::string(side ? " x B " : " A ") + m.memory->name + "[" + expr(m.start.node()) + "] (rows " +
                    std::to_string(m.rows_stride) + ", depth " + std::to_string(m.depth_stride) +
                    (m.swizzle ? ", swizzle " + std::to_string(m.swizzle) : "") + ")";
          }
          line(indent, text);
          break;
        }
        case StmtKind::mma_async_commit:
          line(indent, "mma_async_commit");
          break;
        case StmtKind::mma_async_wait:
          line(indent, "mma_async_wait " + std::to_string(s.extent));
          break;
        case StmtKind::copy_wait:
          line(indent, "copy_wait " + std::to_string(s.extent));
          break;
        case StmtKind::load_matrix: {
          std::string text = "load_matrix";
          for (size_t i = 0; i < s.vars.size(); ++i) text += (i ? ", " : " ") + leaf(s.vars[i].node());
          line(indent, text + " = " + s.memory->name + "[" + expr(s.index.node()) + "] x" + std::to_string(s.extent) +
                           (s.transposed ? " (transposed)" : ""));
          break;
        }
      }
    }
  }

  const Kernel& k_;
  ValuePlan plan_;
  std::ostringstream out_;
  std::unordered_map<const Node*, std::string> names_;
};

}  // namespace

std::string print(const Kernel& kernel) { return Printer(kernel).run(); }

std::string print(Expr e) {
  if (e->nargs == 0) return leaf(e.node());
  std::string s = std::string(op_name(e->op)) + "(";
  for (int i = 0; i < e->nargs; ++i) s += (i ? ", " : "") + print(Expr(e->args[i]));
  return s + ")";
}

}  // namespace wino::ir

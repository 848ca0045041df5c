// The static analysis of a kernel for the machine (internal to src/interp; see analysis.cpp).
#pragma once

#include <climits>
#include <string>
#include <vector>

#include "interp/bounds.h"
#include "interp/machine.h"

namespace wino::interp::detail {

class Analysis {
 public:
  /// Sizes the machine's slots and clocks for the kernel's nodes.
  explicit Analysis(Machine& m);
  ~Analysis();
  Analysis(const Analysis&) = delete;
  Analysis& operator=(const Analysis&) = delete;
  /// Fills the slots of every node the kernel uses: constants, variables, uniform or varying,
  /// keys. Throws wino::Error when a variable is defined twice or used outside its scope.
  void run();

 private:
  struct Facts {
    // Scope: where the node may be used.
    int last_def = -3;          // the largest definition number of its variables
    int scope_end = INT_MAX;    // the smallest scope end of its variables
    bool thread = false;        // depends on the thread id
    // Memoization: the variables whose assignment invalidates the node's value.
    int memo_def = -3;          // the largest definition number among them
    uint32_t key = 0;           // the variable of memo_def (or the machine's sentinel: none)
    bool done = false;
    Bounds bounds;
  };
  [[noreturn]] void reject(const std::string& what) const;
  const ir::Node* checked(const ir::Node* n) const;
  Slot& leaf(const ir::Node* n, bool varying);
  static void set_slot_bounds(Slot& s, const Bounds& b);
  /// A variable's values are in [lo, hi] (a let's: its value's; infinite: unknown).
  void bound_var(const ir::Node* v, double lo, double hi);
  void define(ir::Expr var, int pos, int end_of_scope);
  void define_block(const ir::Block& b);
  void use_block(const ir::Block& b, bool in_region);
  void access(const ir::Stmt& s, int pos, bool in_region);
  void use(ir::Expr e, int pos, bool in_region);
  bool varying(ir::Expr e) const;
  const Facts& facts(const ir::Node* n);

  struct Tables {
    std::vector<Facts> facts;            // by node id
    std::vector<int> def_pos, def_end;   // by variable id
  };
  static thread_local Tables kept_;

  Machine& m_;
  const ir::Kernel& k_;
  Tables t_;
  uint32_t sentinel_ = 0;   // the clock index no assignment moves
  int counter_ = 0;         // statement numbers
};

}  // namespace wino::interp::detail

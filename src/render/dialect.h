// The declarative differences between the C-style dialects: everything the base renderer asks.
#pragma once

#include <string>

#include "render/render.h"

namespace wino::render {

/// How a language spells the IR's types (ir::Type): scalar names, and vectors of `lanes` lanes.
/// Patterns: %e = element type name, %n = lanes, %t = vector type name, %a = the lanes
/// (comma-separated), %v = a vector value, %i = lane index, %p = an element's address.
struct TypeTable {
  std::string i32 = "int", f32 = "float", boolean = "bool";
  std::string half_bits = "unsigned short";  // f16 and bf16 memory: the bits; the prelude converts
  int max_lanes = 4;                          // the widest vector the language has
  std::string vector;                         // "%e%n" (float4) or "wino_%ex%n" (C)
  std::string make;                           // a vector from its lanes
  std::string lane;                           // lane access: "[%i]", ".s%i" (hex), ".%i" (x y z w)
  std::string load, store;                    // whole-vector memory access, "" = lane by lane
  std::string aligned_store;                  // an lvalue for Stmt::aligned stores ("" = as `store`)
  std::string aligned_load;                   // an rvalue for Stmt::aligned loads ("" = as `load`)
  std::string shuffle;                        // lanes of %a and %b by the indices %i, "" = lane by lane
};

struct DialectSpec {
  Dialect dialect;
  TypeTable types;
  std::string prelude;            // emitted once per program
  std::string kernel_prefix;      // before the function name ("extern \"C\" __global__ void")
  std::string global_const_ptr;   // parameter type of a read-only buffer, "%s" = element type
  std::string global_ptr;         // parameter type of a written buffer
  std::string shared_decl;        // qualifier of work-group-local arrays
  // Above kStaticSharedBytes the arrays are carved from one `extern` array of this qualifier,
  // sized at launch ("" = static arrays only).
  std::string dynamic_shared_decl;
  std::string barrier;            // statement
  std::string group_id, thread_id;  // expressions of the ids (GPU dialects)
  std::string kernel_entry;       // statement each kernel begins with ("" = none)
  std::string unroll_pragma;      // before an unrolled loop, "" for none
  std::string fmin, fmax;         // float min/max
  std::string fexp;               // float e^x
  std::string imin, imax;         // int min/max ("" = use a conditional expression)
  bool emulate_threads = false;   // CPU: thread regions become loops, per-thread arrays gain [T]
  bool metal_params = false;      // buffers and ids are attributed parameters
  bool launch_bounds = false;     // CUDA __launch_bounds__ / OpenCL reqd_work_group_size
  bool mma = false;               // has wino_mma_<operands>(d0..d3, a..., b...) for ir::StmtKind::mma
  std::string pin;                // keeps value %v of %b bytes in a register (Stmt::in_register), "" = none
  std::string array_align;        // after a per-thread array's declarator: starts it on a cache line
  bool copy_async = false;        // has wino_copy_async<bytes>(dst, src, ok) and cp.async groups
  bool copy_bulk = false;         // has wino_copy_bulk and wino_mbarrier_* (sm_90 bulk copies and their barriers)
  bool mma_async = false;         // has wino_wgmma_desc, for ir::StmtKind::mma_async as wgmma (sm_90a)
  // Work-group memory at `base + constant` is addressed as (array + base)[constant]: NVRTC's PTX
  // addresses work-group memory with 64 bits and sign-extends each index (base + constant) anew,
  // which ptxas cannot fold into the access's immediate offset; the pointer is shared instead.
  bool shared_pointer_offsets = false;
};

const DialectSpec& dialect_spec(Dialect d);

}  // namespace wino::render

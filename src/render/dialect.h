// The declarative differences between the C-style dialects: everything the base renderer asks.
#pragma once

#include <string>

#include "render/render.h"

namespace wino::render {

struct DialectSpec {
  Dialect dialect;
  std::string prelude;            // emitted once per program
  std::string kernel_prefix;      // before the function name ("extern \"C\" __global__ void")
  std::string global_const_ptr;   // parameter type of a read-only buffer, "%s" = element type
  std::string global_ptr;         // parameter type of a written buffer
  std::string shared_decl;        // qualifier of work-group-local arrays
  std::string barrier;            // statement
  std::string group_id, thread_id;  // expressions of the ids (GPU dialects)
  std::string unroll_pragma;      // before an unrolled loop, "" for none
  std::string fmin, fmax;         // float min/max
  std::string fexp;               // float e^x
  std::string imin, imax;         // int min/max ("" = use a conditional expression)
  bool emulate_threads = false;   // CPU: thread regions become loops, per-thread arrays gain [T]
  bool metal_params = false;      // buffers and ids are attributed parameters
  bool launch_bounds = false;     // CUDA __launch_bounds__ / OpenCL reqd_work_group_size
};

const DialectSpec& dialect_spec(Dialect d);

}  // namespace wino::render

#include "render/dialect.h"

namespace wino::render {

const char* dialect_name(Dialect d) {
  switch (d) {
    case Dialect::c: return "c";
    case Dialect::cuda: return "cuda";
    case Dialect::opencl: return "opencl";
    case Dialect::metal: return "metal";
  }
  return "?";
}

namespace {

DialectSpec make_c() {
  DialectSpec s;
  s.dialect = Dialect::c;
  s.prelude = "#include <math.h>\n#include <stdbool.h>\n#define WINO_IMIN(a, b) ((a) < (b) ? (a) : (b))\n"
              "#define WINO_IMAX(a, b) ((a) > (b) ? (a) : (b))\n";
  s.kernel_prefix = "void";
  s.global_const_ptr = "const %s* restrict";
  s.global_ptr = "%s* restrict";
  s.barrier = "/* barrier: thread regions run one after another */";
  s.unroll_pragma = "#pragma GCC unroll 64";
  s.fmin = "fminf";
  s.fmax = "fmaxf";
  s.fexp = "expf";
  s.imin = "WINO_IMIN";
  s.imax = "WINO_IMAX";
  s.emulate_threads = true;
  return s;
}

DialectSpec make_cuda() {
  DialectSpec s;
  s.dialect = Dialect::cuda;
  s.kernel_prefix = "extern \"C\" __global__ void";
  s.global_const_ptr = "const %s* __restrict__";
  s.global_ptr = "%s* __restrict__";
  s.shared_decl = "__shared__ __align__(16)";  // 16-byte runs become vector loads
  s.barrier = "__syncthreads();";
  s.group_id = "(int)blockIdx.x";
  s.thread_id = "(int)threadIdx.x";
  s.unroll_pragma = "#pragma unroll";
  s.fmin = "fminf";
  s.fmax = "fmaxf";
  s.fexp = "expf";
  s.imin = "min";
  s.imax = "max";
  s.launch_bounds = true;
  return s;
}

DialectSpec make_opencl() {
  DialectSpec s;
  s.dialect = Dialect::opencl;
  s.kernel_prefix = "__kernel void";
  s.global_const_ptr = "__global const %s* restrict";
  s.global_ptr = "__global %s* restrict";
  s.shared_decl = "__local";
  s.barrier = "barrier(CLK_LOCAL_MEM_FENCE);";
  s.group_id = "(int)get_group_id(0)";
  s.thread_id = "(int)get_local_id(0)";
  s.unroll_pragma = "#pragma unroll";
  s.fmin = "fmin";
  s.fmax = "fmax";
  s.fexp = "exp";
  s.imin = "min";
  s.imax = "max";
  s.launch_bounds = true;
  return s;
}

DialectSpec make_metal() {
  DialectSpec s;
  s.dialect = Dialect::metal;
  s.prelude = "#include <metal_stdlib>\nusing namespace metal;\n";
  s.kernel_prefix = "kernel void";
  s.global_const_ptr = "device const %s*";
  s.global_ptr = "device %s*";
  s.shared_decl = "threadgroup";
  s.barrier = "threadgroup_barrier(mem_flags::mem_threadgroup);";
  s.group_id = "(int)gid_";
  s.thread_id = "(int)tid_";
  s.unroll_pragma = "#pragma unroll";
  s.fmin = "fmin";
  s.fmax = "fmax";
  s.fexp = "exp";
  s.imin = "min";
  s.imax = "max";
  s.metal_params = true;
  return s;
}

}  // namespace

const DialectSpec& dialect_spec(Dialect d) {
  static const DialectSpec c = make_c(), cuda = make_cuda(), opencl = make_opencl(),
                           metal = make_metal();
  switch (d) {
    case Dialect::c: return c;
    case Dialect::cuda: return cuda;
    case Dialect::opencl: return opencl;
    case Dialect::metal: return metal;
  }
  return c;
}

}  // namespace wino::render

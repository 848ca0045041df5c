#include "render/dialect.h"

#include <string>
#include <utility>

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

// Which instructions convert f16 where a dialect has them.
enum class HalfInstructions {
  none,  // the C subset every dialect shares
  cuda,  // cvt.f32.f16 and cvt.rn.f16.f32
  f16c,  // C: x86's F16C (vcvtph2ps, vcvtps2ph) where the compiler targets it, else the C subset
};

// float <-> f16 / bf16 conversions, round to nearest even (as src/common/half.h on the host),
// in the C subset every dialect shares or by the dialect's instructions, and float rounded to
// tf32 (ir::round_tf32's bits; the IR's round_tf32); `qual` qualifies the functions, BITS/FLOAT
// are the dialect's bit casts.
std::string half_conversions(const std::string& qual, const std::string& bits, const std::string& flt,
                             HalfInstructions instructions = HalfInstructions::none) {
  const std::string f16_to_f32 = R"(
QUAL float wino_f16_to_f32(unsigned short h) {
  const unsigned sign = (unsigned)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return FLOAT(sign | 0x7f800000u | (m << 13));
  if (e != 0u) return FLOAT(sign | ((e + 112u) << 23) | (m << 13));
  const float v = (float)m * 5.9604644775390625e-8f;
  return sign ? -v : v;
}
)";
  const std::string f32_to_f16 = R"(QUAL unsigned short wino_f32_to_f16(float f) {
  const unsigned u = BITS(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);
  if (a < 0x38800000u) {
    const float scaled = FLOAT(a) * 16777216.0f;
    unsigned q = (unsigned)scaled;
    const float rest = scaled - (float)q;
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    return (unsigned short)(sign | q);
  }
  return (unsigned short)(sign | ((a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u) >> 13));
}
)";
  // CUDA: one cvt instruction each way (round to nearest even, overflow to inf, subnormals kept,
  // as above; only a NaN's payload may differ) where each value would otherwise cost about ten,
  // and the branches of the widening one kept the compiler from batching an f16 tensor's loads
  // (the NHWC input transform ran 2.2x longer on f16 than on float32 tensors).
  const std::string f16_to_f32_cvt = R"(
QUAL float wino_f16_to_f32(unsigned short h) {
  float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f;
}
)";
  const std::string f32_to_f16_cvt = R"(QUAL unsigned short wino_f32_to_f16(float f) {
  unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h;
}
)";
  const std::string bf16_narrow = R"(
  const unsigned u = BITS(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
)";
  // CUDA sm_80+: one cvt (F2FP) where the C subset took about eight instructions per value (the
  // bf16 NHWC input transform ran 14% longer than f16's, which has its cvt).
  const std::string bf16_narrow_cvt = "\n#if __CUDA_ARCH__ >= 800\n"
                                      "  unsigned short h; asm(\"cvt.rn.bf16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f)); return h;\n"
                                      "#else" + bf16_narrow + "#endif\n";
  const std::string bf16 = R"(QUAL float wino_bf16_to_f32(unsigned short h) { return FLOAT((unsigned)h << 16); }
QUAL unsigned short wino_f32_to_bf16(float f) {)" + (instructions == HalfInstructions::cuda ? bf16_narrow_cvt : bf16_narrow) + R"(}
QUAL float wino_round_tf32(float f) {
  const unsigned u = BITS(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return f;
  return FLOAT((u + 0x1000u) & 0xffffe000u);
}
)";
  // x86 with F16C: one instruction each way (imm 0: round to nearest even), where the C subset
  // took 2.5-4.5x as long to pad an f16 image and 2-3.5x to store the output (resnet50.c3 on a
  // Zen 3, bench/results/cpu_f16_c3_f16c_ab.txt).
  const std::string f16c = "#if defined(__F16C__)\n#include <immintrin.h>\n"
                           "QUAL float wino_f16_to_f32(unsigned short h) { return _cvtsh_ss(h); }\n"
                           "QUAL unsigned short wino_f32_to_f16(float f) { return _cvtss_sh(f, 0); }\n#else";
  std::string s;
  switch (instructions) {
    case HalfInstructions::none: s = f16_to_f32 + f32_to_f16; break;
    case HalfInstructions::cuda: s = f16_to_f32_cvt + f32_to_f16_cvt; break;
    case HalfInstructions::f16c: s = f16c + f16_to_f32 + f32_to_f16 + "#endif\n"; break;
  }
  s += bf16;
  for (auto [from, to] : {std::pair<std::string, std::string>{"QUAL", qual}, {"BITS", bits}, {"FLOAT", flt}})
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
      s.replace(at, from.size(), to);
  return s;
}

// Element-wise operators of CUDA's vector structs (CUDA defines the types, not the arithmetic).
std::string cuda_vector_operators() {
  std::string out;
  for (const char* e : {"float", "int"})
    for (int n : {2, 4}) {
      const std::string t = std::string(e) + std::to_string(n);
      const char* lanes[] = {"x", "y", "z", "w"};
      for (const char* op : {"+", "-", "*", "/"}) {
        out += "__device__ __forceinline__ " + t + " operator" + op + "(" + t + " a, " + t + " b) { return make_" + t + "(";
        for (int i = 0; i < n; ++i) out += std::string(i ? ", " : "") + "a." + lanes[i] + " " + op + " b." + lanes[i];
        out += "); }\n";
        out += "__device__ __forceinline__ " + t + "& operator" + op + "=(" + t + "& a, " + t + " b) { return a = a " + op + " b; }\n";
      }
      out += "__device__ __forceinline__ " + t + " operator-(" + t + " a) { return make_" + t + "(";
      for (int i = 0; i < n; ++i) out += std::string(i ? ", " : "") + "-a." + lanes[i];
      out += "); }\n";
    }
  return out;
}

// GCC vector types for the C dialect, 2 to 16 lanes, aligned like their elements (vector loads
// from any element address).
std::string c_vector_types() {
  std::string out;
  for (const char* e : {"float", "int"})
    for (int n : {2, 4, 8, 16})
      out += "typedef " + std::string(e) + " wino_" + e + "x" + std::to_string(n) + " __attribute__((vector_size(" +
             std::to_string(4 * n) + "), aligned(4)));\n";
  return out;
}

// WINO_PIN<bytes>(v): an empty asm that takes the value in a vector register ("v": any of
// AVX-512's 32 where the ISA has them), so that GCC and clang keep it there instead of folding a
// memory read into each use (Stmt::in_register); a no-op where the ISA has no register that wide.
std::string c_pins() {
  std::string out;
  for (const auto& [bytes, x86] : {std::pair{4, "__SSE__"}, {8, "__SSE__"}, {16, "__SSE__"}, {32, "__AVX__"},
                                  {64, "__AVX512F__"}}) {
    const std::string name = "WINO_PIN" + std::to_string(bytes) + "(v)";
    out += std::string("#if defined(") + x86 + ")\n#define " + name + " __asm__(\"\" : \"+v\"(v))\n";
    if (bytes <= 16) out += "#elif defined(__aarch64__)\n#define " + name + " __asm__(\"\" : \"+w\"(v))\n";
    out += "#else\n#define " + name + " ((void)0)\n#endif\n";
  }
  return out;
}

DialectSpec make_c() {
  DialectSpec s;
  s.dialect = Dialect::c;
  s.types = {.max_lanes = 16, .vector = "wino_%ex%n", .make = "(%t){%a}", .lane = "[%i]",
             .load = "*(const %t*)(%p)", .store = "*(%t*)(%p)", .shuffle = "__builtin_shufflevector(%a, %b, %i)"};
  // The lane moves (interleave, slice) are __builtin_shufflevector: GCC has it from version 12.
  s.prelude = "#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 12\n"
              "#error \"Wino's CPU kernels need GCC 12 or newer, or clang (for __builtin_shufflevector): set CC\"\n"
              "#endif\n"
              "#include <math.h>\n#include <stdbool.h>\n#define WINO_IMIN(a, b) ((a) < (b) ? (a) : (b))\n"
              "#define WINO_IMAX(a, b) ((a) > (b) ? (a) : (b))\n"
              "static inline unsigned wino_bits(float f) { union { float f; unsigned u; } v; v.f = f; return v.u; }\n"
              "static inline float wino_float(unsigned u) { union { float f; unsigned u; } v; v.u = u; return v.f; }\n" +
              half_conversions("static inline", "wino_bits", "wino_float", HalfInstructions::f16c) + c_vector_types() +
              c_pins();
  s.pin = "WINO_PIN%b(%v)";
  // The CPU plans' arrays (a block's accumulators, the fused plan's V and M) hold rows of whole
  // vectors: from a cache line, no 64-byte vector straddles two (the stack only promises 16 bytes).
  s.array_align = " __attribute__((aligned(64)))";
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

// The mma statement (ir/mma.h) as sm_80 mma.sync: wino_mma_<operands>_bits(d0..d3, a..., b...) on
// registers the kernel converts once per value (wino_tf32: cvt.rna) or pair (wino_f16x2,
// wino_bf16x2: cvt.rn packed); 3xtf32's wino_mma_tf32x3 takes the f32 values and splits them.
std::string cuda_mma() {
  return R"(
__device__ __forceinline__ unsigned wino_tf32(float x) {
  unsigned r; asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x)); return r;
}
__device__ __forceinline__ unsigned wino_tf32_bits(float x) { return __float_as_uint(x); }  // x is tf32 already
// Two stored f16/bf16 values as one register, lo in the low half (one PRMT).
__device__ __forceinline__ unsigned wino_halves(unsigned short lo, unsigned short hi) {
  return (unsigned)lo | ((unsigned)hi << 16);
}
__device__ __forceinline__ unsigned wino_f16x2(float lo, float hi) {
  unsigned r; asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r;
}
__device__ __forceinline__ unsigned wino_bf16x2(float lo, float hi) {
  unsigned r; asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r;
}
// A pair of f16/bf16 (lo in the low half) widened to float, as wino_f16_to_f32 and wino_bf16_to_f32 do.
__device__ __forceinline__ float2 wino_f16x2_to_float2(unsigned w) {
  float lo, hi;
  asm("{.reg .f16 l, h; mov.b32 {l, h}, %2; cvt.f32.f16 %0, l; cvt.f32.f16 %1, h;}" : "=f"(lo), "=f"(hi) : "r"(w));
  return make_float2(lo, hi);
}
__device__ __forceinline__ float2 wino_bf16x2_to_float2(unsigned w) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}
__device__ __forceinline__ float4 wino_f16x4_to_float4(uint2 w) {
  const float2 lo = wino_f16x2_to_float2(w.x), hi = wino_f16x2_to_float2(w.y);
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ __forceinline__ float4 wino_bf16x4_to_float4(uint2 w) {
  const float2 lo = wino_bf16x2_to_float2(w.x), hi = wino_bf16x2_to_float2(w.y);
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ __forceinline__ void wino_mma_tf32_bits(float& d0, float& d1, float& d2, float& d3, unsigned a0,
    unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// 3xtf32's split in integer operations, 4x the rate of cvt on sm_80/sm_90: big = x rounded to
// tf32 (ties away, as cvt.rna, for finite x), small = x - big truncated (a NaN stays one).
__device__ __forceinline__ unsigned wino_tf32_big(float x) { return (__float_as_uint(x) + 0x1000u) & 0xffffe000u; }
#define WINO_SMALL(x, big) (__float_as_uint((x) - __uint_as_float(big)) & 0xffffe000u)
__device__ __forceinline__ void wino_mma_tf32x3(float& d0, float& d1, float& d2, float& d3, float a0, float a1,
    float a2, float a3, float b0, float b1) {
  const unsigned A0 = wino_tf32_big(a0), A1 = wino_tf32_big(a1), A2 = wino_tf32_big(a2), A3 = wino_tf32_big(a3);
  const unsigned B0 = wino_tf32_big(b0), B1 = wino_tf32_big(b1);
  wino_mma_tf32_bits(d0, d1, d2, d3, WINO_SMALL(a0, A0), WINO_SMALL(a1, A1), WINO_SMALL(a2, A2),
                     WINO_SMALL(a3, A3), B0, B1);
  wino_mma_tf32_bits(d0, d1, d2, d3, A0, A1, A2, A3, WINO_SMALL(b0, B0), WINO_SMALL(b1, B1));
  wino_mma_tf32_bits(d0, d1, d2, d3, A0, A1, A2, A3, B0, B1);
}
#define WINO_MMA_HALF(NAME, TYPE)                                                                            \
  __device__ __forceinline__ void NAME(float& d0, float& d1, float& d2, float& d3, unsigned a01, unsigned a23,  \
      unsigned a45, unsigned a67, unsigned b01, unsigned b23) {                                                \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." TYPE "." TYPE ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "  \
                 "{%8,%9}, {%0,%1,%2,%3};"                                                                    \
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)                                                     \
                 : "r"(a01), "r"(a23), "r"(a45), "r"(a67), "r"(b01), "r"(b23));                               \
  }
WINO_MMA_HALF(wino_mma_f16_bits, "f16")
WINO_MMA_HALF(wino_mma_bf16_bits, "bf16")
// ir::StmtKind::load_matrix: kMatrices 8 x 8 matrices of 16-bit values, one register of a pair
// each per lane; this lane's element `row` of work-group array `a` starts one matrix row (16
// aligned bytes).
template <int kMatrices, bool kTransposed>
__device__ __forceinline__ void wino_load_matrix(unsigned* r, const unsigned short* a, int row) {
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(a)) + 2u * static_cast<unsigned>(row);
  if constexpr (kMatrices == 4 && kTransposed)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at));
  else if constexpr (kMatrices == 4)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at));
  else if constexpr (kMatrices == 2 && kTransposed)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(at));
  else if constexpr (kMatrices == 2)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(at));
  else if constexpr (kTransposed)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(at));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(at));
}
)";
}

// ir::StmtKind::copy_async as sm_80 cp.async (16 bytes bypass L1: .cg takes that size only).
std::string cuda_copy_async() {
  return R"(
template <int kBytes>
__device__ __forceinline__ void wino_copy_async(void* dst, const void* src, bool ok) {
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (kBytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(at), "l"(src), "r"(ok ? 16 : 0) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;" :: "r"(at), "l"(src), "n"(kBytes), "r"(ok ? kBytes : 0) : "memory");
}
)";
}

// An mma_async matrix's wgmma descriptor (ir::SharedMatrix): its start's work-group address, the
// bytes between core matrices along the reduction (the leading offset) and 8 rows apart (the
// stride offset), each in 16-byte units, and the swizzle mode (bits 62-63).
std::string cuda_wgmma_desc() {
  return R"(
__device__ __forceinline__ unsigned long long wino_wgmma_desc(const void* at, unsigned depth_bytes, unsigned rows_bytes,
                                                             unsigned mode) {
  const unsigned long long a = (unsigned)__cvta_generic_to_shared(at);
  return ((a & 0x3FFFFull) >> 4) | ((unsigned long long)((depth_bytes >> 4) & 0x3FFF) << 16) |
         ((unsigned long long)((rows_bytes >> 4) & 0x3FFF) << 32) | ((unsigned long long)mode << 62);
}
)";
}

// ir::StmtKind::copy_bulk and the mbarrier statements as sm_90 cp.async.bulk and mbarrier. The
// copying thread orders the work-group's earlier reads of the destination (generic proxy, across
// the barrier before it) before the copy's writes (async proxy) with a proxy fence. A wait spins on
// try_wait, which suspends the thread for a while in hardware before it fails.
std::string cuda_copy_bulk() {
  return R"(
#if __CUDA_ARCH__ >= 900
__device__ __forceinline__ unsigned wino_shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void wino_mbarrier_init(void* bar, unsigned arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n\tfence.mbarrier_init.release.cluster;"
               :: "r"(wino_shared_address(bar)), "r"(arrivals) : "memory");
}
__device__ __forceinline__ void wino_mbarrier_expect(void* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(wino_shared_address(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void wino_mbarrier_arrive(void* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" :: "r"(wino_shared_address(bar)) : "memory");
}
__device__ __forceinline__ void wino_mbarrier_wait(void* bar, unsigned parity) {
  asm volatile("{\n\t.reg .pred done;\n\tWINO_WAIT:\n\t"
               "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n\t@!done bra WINO_WAIT;\n\t}"
               :: "r"(wino_shared_address(bar)), "r"(parity) : "memory");
}
__device__ __forceinline__ void wino_copy_bulk(void* dst, const void* src, unsigned bytes, void* bar) {
  asm volatile("fence.proxy.async.shared::cta;\n\t"
               "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
               :: "r"(wino_shared_address(dst)), "l"(src), "r"(bytes), "r"(wino_shared_address(bar)) : "memory");
}
#endif
)";
}

// Programmatic dependent launch (sm_90): a run's later kernels are launched to overlap the end of
// the one before them (runtime::Backend::launch's after_previous), so each waits here until that
// one's writes are complete and visible, then lets the next one start launching: its work-groups
// take the multiprocessors the last wave leaves. Launched the usual way, both return at once.
std::string cuda_grid_dependency() {
  return R"(
__device__ __forceinline__ void wino_follow_previous_grid() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
)";
}

DialectSpec make_cuda() {
  DialectSpec s;
  s.dialect = Dialect::cuda;
  // Lane by lane in memory: a float4 access needs 16-byte alignment the IR does not promise,
  // except for aligned loads and stores (Stmt::aligned).
  s.types = {.vector = "%e%n",
             .make = "make_%t(%a)",
             .lane = ".%i",
             .load = "",
             .store = "",
             .aligned_store = "*reinterpret_cast<%t*>(%p)",
             .aligned_load = "*reinterpret_cast<const %t*>(%p)",
             .shuffle = ""};
  s.prelude = half_conversions("__device__ __forceinline__", "__float_as_uint", "__uint_as_float", HalfInstructions::cuda) +
              cuda_vector_operators() + cuda_mma() + cuda_copy_async() + cuda_copy_bulk() + cuda_wgmma_desc() +
              cuda_grid_dependency();
  s.mma = true;
  s.mma_async = true;
  s.copy_async = true;
  s.copy_bulk = true;
  s.shared_pointer_offsets = true;
  s.kernel_prefix = "extern \"C\" __global__ void";
  s.global_const_ptr = "const %s* __restrict__";
  s.global_ptr = "%s* __restrict__";
  s.shared_decl = "__shared__ __align__(16)";  // 16-byte runs become vector loads
  s.dynamic_shared_decl = "extern __shared__ __align__(16)";
  s.barrier = "__syncthreads();";
  s.group_id = "(int)blockIdx.x";
  s.thread_id = "(int)threadIdx.x";
  s.kernel_entry = "wino_follow_previous_grid();";
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
  s.types = {.max_lanes = 16, .vector = "%e%n", .make = "(%t)(%a)", .lane = ".s%i",
             .load = "vload%n(0, %p)", .store = "vstore%n(%v, 0, %p)", .shuffle = ""};
  s.prelude = half_conversions("static inline", "as_uint", "as_float");
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
  s.types = {.vector = "%e%n", .make = "%t(%a)", .lane = "[%i]", .load = "", .store = "", .shuffle = ""};
  s.prelude = "#include <metal_stdlib>\nusing namespace metal;\n" +
              half_conversions("inline", "as_type<unsigned>", "as_type<float>");
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

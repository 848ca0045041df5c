// Kernels of the IR: buffers and arrays, statements, and the kernel itself.
//
// Execution model (shared by every dialect): a kernel runs `num_groups` work-groups of
// `threads_per_group` threads. Work-group-level statements run uniformly (every thread the same);
// a `threads` region is where the threads diverge and where memory is read and written; barriers
// stand between thread regions. This is the structure a CPU lowering needs (PoCL-style: each
// thread region becomes a loop over the threads), so GPU-style kernels run on the CPU unchanged.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/mma.h"

namespace wino::ir {

enum class Space : uint8_t {
  global,      // a buffer parameter of the kernel
  shared,      // work-group-local memory (CUDA __shared__, OpenCL __local, Metal threadgroup)
  per_thread,  // a private array of each thread (registers when indexed by constants)
};
const char* space_name(Space s);

/// A buffer parameter or an array. Identified by object; `name` is for printing.
struct Memory {
  std::string name;
  Space space = Space::global;
  Type type = Type::f32;
  int64_t size = 0;        // elements
  bool read_only = false;  // global buffers only
  int param_index = -1;    // global buffers: position in the parameter list
  int binding = -1;        // global buffers: the program buffer a launch passes here
  // Work-group arrays: placed at the start of work-group memory, over the other shared arrays
  // (those with neither this flag nor `kept` nor `barriers`), so that a later phase reuses their
  // bytes. The kernel never uses both kinds between two barriers, and a switch from one kind to
  // the other leaves the first's data undefined where the other's bytes lie over them (the
  // interpreter checks both, by the bytes ir::shared_array_offsets places). Dialects without
  // one block of work-group memory (OpenCL, Metal, C) give it bytes of its own.
  bool reuses = false;
  // Work-group arrays no reusing array lies over: placed past both kinds (before the barriers), so
  // that their data outlive a reusing phase (the persistent tile ring's next patches land during
  // its exchange; a resident U outlives it). Neither kind to the interpreter's reuse checks.
  bool kept = false;
  // Work-group arrays of barriers (mbarrier objects, 2 i32 elements each: copy_bulk): placed past
  // the end of every other array, the reusing ones too, so that no later phase writes over a barrier
  // (which PTX leaves undefined for a barrier not invalidated).
  bool barriers = false;
  // Work-group arrays: where their bytes start, a multiple of this (16 or a larger power of two;
  // a swizzled SharedMatrix's memory starts on 1024 bytes, so that its pattern is the array's).
  int64_t align = 16;
};

enum class LoopKind : uint8_t { serial, unrolled };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

enum class StmtKind : uint8_t {
  let,      // var = value (a pure expression, computed once here)
  load,     // var = mask ? memory[index] : 0
  store,    // if (mask) memory[index] = value   (or += value when accumulate)
  loop,     // for var in [0, extent): body
  if_then,  // if (cond) body
  threads,  // the thread region: body runs once per thread of the work-group
  barrier,  // work-group barrier (between thread regions)
  comment,  // text for the reader
  mma,      // memory[slots] += A x B: a warp-level matrix op in a thread region (ir/mma.h)
  // Asynchronous copies global -> work-group memory (CUDA cp.async; other dialects refuse them):
  copy_async,   // memory[index + i] = cond ? source[source_index + i] : 0 for i < extent (4, 8 or
                // 16 bytes), landing at the thread's copy_wait that retires its group, not before
  copy_commit,  // closes the thread's group of copies issued since the last commit
  copy_wait,    // waits until at most `extent` of the thread's committed groups are still in flight
  // A warp's 8 x 8 matrices of 16-bit values from work-group memory (CUDA ldmatrix; other
  // dialects refuse it): each lane gives the element index of one matrix row of 8 (lanes 8 j ..
  // 8 j + 7 the rows of matrix j), and gets two values of each of the `extent` (1, 2 or 4)
  // matrices in `vars`: lane 4 g + t row g, columns 2 t and 2 t + 1; with `transposed`, column
  // g, rows 2 t and 2 t + 1 (ir/mma.h: an mma's f16/bf16 fragment from rows of its reduction).
  load_matrix,
  // A bulk copy global -> work-group memory and the barrier its arrival completes (CUDA sm_90
  // cp.async.bulk and mbarrier; other dialects refuse them). A barrier is 8 bytes of an i32
  // work-group array of barriers (Memory::barriers): `memory`, element `index` (even). One thread
  // inits and arms it; the copy's bytes count against the phase it was armed for, and the threads
  // read what landed after an mbarrier_wait sees that phase complete.
  copy_bulk,        // memory[index + i] = source[source_index + i] for i < extent (a multiple of 16 bytes,
                    // both starts 16-byte aligned): one thread's copy, landing with `mbarrier`'s phase
  mbarrier_init,    // a barrier whose phases complete after `extent` arrivals and their expected bytes
  mbarrier_expect,  // arrives on the barrier, expecting `extent` more bytes of copies this phase
  mbarrier_wait,    // waits until the phase of parity `value` (0 or 1) is complete
  // A warpgroup's (128 threads') matrix multiply from work-group memory, asynchronous (CUDA sm_90a
  // wgmma; other dialects refuse it): D[64 x n] += A[64 x k] x B[k x n], A and B read from the
  // work-group arrays `matrices` describe (SharedMatrix), n = `extent`, k the kind's depth. Each
  // thread's n / 2 elements of D are `slots` of the per-thread f32 array `memory`, where lane
  // 4 g + t of warp w holds row 16 w + g (+ 8) and columns 8 j + 2 t (+ 1) (mma_async_c_pos). The
  // product lands at the mma_async_wait that retires its group: until then the thread must not
  // touch those slots, and no thread may write what the matrices read. `value` (boolean, the same
  // in the whole warpgroup; null: true) says whether D adds to the slots; false writes A x B over
  // them (a block's first product: no zeros to store first).
  mma_async,
  mma_async_commit,  // closes the thread's group of mma_asyncs issued since the last commit
  mma_async_wait,    // waits until at most `extent` of the thread's committed groups are in flight
  mbarrier_arrive,   // arrives on the barrier (one of its phase's arrivals), expecting no bytes
  // Warps with roles (CUDA sm_90; other dialects refuse it): a pipeline of `extent` steps whose
  // producer threads (the last producer_threads) and consumer threads (the first) run their own loops and
  // meet only at mbarriers, never at a work-group barrier. Its body is two `role` statements, the
  // producers' then the consumers': each a loop over the steps (`var`, `extent` iterations) that
  // only its threads run. Its meaning is the schedule produce(0 .. stages - 1), then consume(i)
  // before produce(i + stages): every mbarrier wait must be complete when that schedule meets it,
  // and a thread may touch what another wrote (or write what another read) in the same barrier
  // interval once the other's later arrival is on a barrier phase this thread has waited for (an
  // mma_async reads until the mma_async_wait that retires it).
  roles,
  role,
};
const char* stmt_kind_name(StmtKind k);

/// An mma_async operand in work-group memory, "K-major": element (row, kk) of the operand (A: row
/// = output row m, B: row = column n; kk along the reduction) of `memory`, per = 16 / type-bytes
/// elements in 16 bytes, lies
///  - without swizzle, in core matrices of 8 rows x 16 bytes (128 contiguous bytes), at element
///    start + (row / 8) rows_stride + (kk / per) depth_stride + (row % 8) per + kk % per;
///  - with a swizzle of W = 32, 64 or 128 bytes, in rows of W bytes, 8 rows (rows_stride apart)
///    a pattern: at byte b = B (start + (row / 8) rows_stride + kk) + (row % 8) W of the array (B
///    the element's bytes), its 16-byte unit b / 16 xor'ed with (b / 128) % (W / 16) (a thread's
///    stores of a row then spread over the banks). The array starts on 1024 bytes.
/// Strides in elements, multiples of per.
struct SharedMatrix {
  const Memory* memory = nullptr;
  Expr start;                  // i32: the same in every thread of a warpgroup
  int64_t rows_stride = 0;     // between core matrices (swizzled: patterns) 8 rows apart
  int64_t depth_stride = 0;    // between core matrices next to each other along the reduction (swizzled: unused, 0)
  int swizzle = 0;             // bytes: 0, 32, 64 or 128
  /// Element (row, kk) of the operand, from the start's value (layout above).
  int64_t element(int64_t start_value, int64_t row, int64_t kk, int elem_bytes) const;
};

struct Stmt {
  StmtKind kind;
  Expr var;              // let, load, loop: the variable defined
  Expr value;            // let, store
  Expr index;            // load, store
  Expr cond;             // load/store mask (null: always), if_then condition
  const Memory* memory = nullptr;  // load, store
  bool accumulate = false;         // store: += instead of =
  // load: the value is reused across a loop body; keep it in a register (the C dialect stops the
  // compiler from re-reading memory at each use, which costs load slots in micro-kernels)
  bool in_register = false;
  // load or store of a vector: its index is a multiple of its lanes, in memory that starts on the
  // vector's size (the plan's promise; the interpreter checks it), so it may be one wide access
  bool aligned = false;
  // copy_async: the source index is an element of the buffer even where the mask is false (the
  // plan clamps it), so the address needs no guard of its own (the interpreter checks)
  bool source_in_bounds = false;
  int64_t extent = 0;  // loop: iterations; copy_async, copy_bulk: elements; copy_wait: groups left;
                       // mbarrier_init: arrivals a phase; mbarrier_expect: bytes
  LoopKind loop_kind = LoopKind::serial;
  Block body;            // loop, if_then, threads
  std::string text;      // comment
  // mma: every thread of every warp runs it together (all threads active); `args` are the
  // lane's values of A then B, `slots` the 4 elements of the per-thread f32 array `memory`
  // holding its part of C (read) and D (written).
  MmaKind mma = MmaKind::tf32_m16n8k8;
  // mma, per side (A, B): the operands are values of the mma's type already (tf32, f16 or bf16:
  // the plan stored them so; the interpreter checks), so they go to the tensor cores as they are,
  // without a conversion. f16/bf16 operands so marked are loads from memory of that type (their
  // bits become the registers; the verifier checks).
  std::array<bool, 2> operands_rounded{};
  std::vector<Expr> args;
  std::vector<int64_t> slots;
  // copy_async: the global buffer read and the element index of the first value read.
  const Memory* source = nullptr;
  Expr source_index;
  // copy_bulk: the barrier (an i32 work-group array) whose phase the copy completes; `value` is
  // the barrier's element index there.
  const Memory* mbarrier = nullptr;
  // load_matrix: the variables defined (two per matrix), and whether the matrices are transposed.
  std::vector<Expr> vars;
  bool transposed = false;
  // mma_async: A (64 x k) and B (n x k, the transpose of the product's k x n).
  std::array<SharedMatrix, 2> matrices;
  // roles: the ring's stages (how many steps the producers may run ahead) and the producer
  // threads (whole warps: the work-group's last producer_threads, so that the consumers' thread
  // ids are those of a kernel without them).
  int64_t stages = 0;
  int producer_threads = 0;
  // roles: the registers a thread of each role (producers, consumers) keeps, set where its loop
  // starts (CUDA setmaxnreg: whole warpgroups, multiples of 8 in [24, 256]); 0: the kernel's own.
  std::array<int, 2> role_registers{};
};

/// Static facts the plan knows about a kernel, for the report.
struct KernelInfo {
  std::string plan, stage;  // e.g. "unfused", "input_transform"
  int m = 0, r = 0;         // F(m, r); 0 for direct
};

struct Kernel {
  std::string name;
  KernelInfo info;
  std::shared_ptr<Context> ctx;
  std::vector<std::unique_ptr<Memory>> buffers;  // parameters, in order
  std::vector<std::unique_ptr<Memory>> arrays;   // shared and per-thread arrays
  int64_t num_groups = 1;
  int threads_per_group = 1;
  // Work-groups the compiler must fit on one multiprocessor at once (CUDA's __launch_bounds__
  // minimum): a register budget for memory-bound kernels that need many warps in flight; 1
  // leaves registers to the compiler.
  int min_groups_per_multiprocessor = 1;
  Expr group_id, thread_id;  // i32 variables
  Block body;                // work-group-level statements
};

/// Registers each thread of the kernel has at launch, as its launch bounds give them (CUDA: the
/// 64 Ki of a multiprocessor over its threads and the work-groups it must hold, at most 255, in
/// steps of 8): what setmaxnreg redistributes between roles (Stmt::role_registers).
inline int launch_registers(const Kernel& k) {
  const int64_t per = 65536 / (int64_t{k.threads_per_group} * k.min_groups_per_multiprocessor);
  return static_cast<int>(std::min<int64_t>(per, 255) / 8 * 8);
}

/// Bytes a shared array takes when each starts on a 16-byte boundary.
inline int64_t aligned_shared_bytes(const Memory& a) { return (a.size * type_bytes(a.type) + 15) / 16 * 16; }
/// Bytes of work-group memory a kernel's shared arrays take (each starts on a 16-byte boundary;
/// those that reuse memory (Memory::reuses) over the others, kept arrays (Memory::kept) past both,
/// barrier arrays past them all).
int64_t shared_array_bytes(const Kernel& k);
/// Where each shared array starts in one block of work-group memory: those that reuse memory at 0,
/// the others one after another from 0 (16-byte aligned; by the kernel's array order), kept arrays
/// (Memory::kept) past the end of both, barrier arrays (Memory::barriers) past them all.
std::vector<int64_t> shared_array_offsets(const Kernel& k);

/// Deep copy of a statement tree (expressions are shared: they are immutable).
StmtPtr clone(const Stmt& s);
Block clone(const Block& b);

}  // namespace wino::ir

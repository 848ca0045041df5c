// KernelBuilder: the convenient way for plans to write kernels. It keeps a stack of open blocks,
// so nested loops and regions read like the code they produce.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ir/kernel.h"

namespace wino::ir {

class KernelBuilder {
 public:
  KernelBuilder(std::shared_ptr<Context> ctx, std::string name, int64_t num_groups,
                int threads_per_group);

  Context& ctx() { return *kernel_->ctx; }
  Expr group_id() const { return kernel_->group_id; }
  Expr thread_id() const { return kernel_->thread_id; }
  KernelInfo& info() { return kernel_->info; }
  /// Asks the compiler to fit `groups` work-groups on a multiprocessor (Kernel::min_groups_per_multiprocessor).
  void set_min_groups_per_multiprocessor(int groups) { kernel_->min_groups_per_multiprocessor = groups; }

  /// A buffer parameter; `binding` names the program buffer every launch passes here.
  const Memory* buffer(const std::string& name, int64_t size, bool read_only, Type type = Type::f32,
                       int binding = -1);
  /// A work-group array; `reuses`: over the other work-group arrays' bytes, for a later phase
  /// (Memory::reuses); `align`: bytes its start is a multiple of (Memory::align).
  const Memory* shared_array(const std::string& name, int64_t size, Type type = Type::f32, bool reuses = false,
                             int64_t align = 16);
  /// A work-group array no reusing array lies over (Memory::kept), its start a multiple of `align` bytes.
  const Memory* kept_shared_array(const std::string& name, int64_t size, Type type, int64_t align = 16);
  const Memory* thread_array(const std::string& name, int64_t size, Type type = Type::f32);
  /// A work-group array of `count` barriers for bulk copies (Memory::barriers), barrier i at element 2 i.
  const Memory* barrier_array(const std::string& name, int count);

  Expr let(const std::string& hint, Expr value);
  /// mem[index] (lanes > 1: the vector mem[index .. index + lanes)); 0 where `mask` is false.
  Expr load(const std::string& hint, const Memory* mem, Expr index, Expr mask = {}, int lanes = 1);
  /// A vector load whose index the plan promises is a multiple of its lanes, from memory that starts
  /// on the vector's size (Stmt::aligned; the interpreter checks it). Rendered on CUDA as one access
  /// for f32 vectors and for 2 or 4 f16 or bf16 (4 or 8 bytes, then widened); elsewhere as load()
  /// renders it. 0 where `mask` is false.
  Expr aligned_load(const std::string& hint, const Memory* mem, Expr index, int lanes, Expr mask = {});
  /// A load whose value stays in a register for its uses (Stmt::in_register).
  Expr register_load(const std::string& hint, const Memory* mem, Expr index, int lanes = 1);
  void store(const Memory* mem, Expr index, Expr value, Expr mask = {});
  /// A vector store whose index the plan promises is a multiple of its lanes, into memory that
  /// starts on the vector's size (Stmt::aligned): one wide store where the language has it.
  void aligned_store(const Memory* mem, Expr index, Expr value, Expr mask = {});
  void accumulate(const Memory* mem, Expr index, Expr value, Expr mask = {});
  void loop(const std::string& hint, int64_t extent, LoopKind kind,
            const std::function<void(Expr)>& body);
  void if_then(Expr cond, const std::function<void()>& body);
  /// A thread region; where region threads are set (set_region_threads), its body runs on the first
  /// of them only, unless `all`.
  void threads(const std::function<void(Expr)>& body, bool all = false);
  /// Thread regions from now on run their bodies on threads [0, n) only (0: on all): a kernel
  /// whose last threads have a role of their own (StmtKind::roles) keeps them out of the others'.
  void set_region_threads(int n) { region_threads_ = n; }
  void barrier();
  /// acc[slots] += A x B, warp by warp (ir/mma.h): `a` and `b` are this lane's fragment values.
  /// `operands_rounded` (A, B): that side's values are of the mma's type already (Stmt::operands_rounded).
  void mma(MmaKind kind, const Memory* acc, std::vector<int64_t> slots, std::vector<Expr> a, std::vector<Expr> b,
           std::array<bool, 2> operands_rounded = {});
  /// dst[index + i] = mask ? src[src_index + i] : 0 for i < elements (4, 8 or 16 bytes: 1 to 4 floats,
  /// 2 to 8 halves), asynchronously: the
  /// values land in work-group memory at the copy_wait that retires the thread's group.
  void copy_async(const Memory* dst, Expr index, const Memory* src, Expr src_index, int elements, Expr mask = {},
                  bool source_in_bounds = false);
  /// `matrices` (1, 2 or 4) 8 x 8 matrices of a 16-bit work-group array, warp by warp
  /// (StmtKind::load_matrix): this lane gives the element index where one matrix row of 8 values
  /// starts and gets two values of each matrix (transposed: of its columns), returned in order.
  std::vector<Expr> load_matrix(const std::string& hint, const Memory* mem, Expr row_index, int matrices,
                                bool transposed);
  /// dst[index + i] = src[src_index + i] for i < elements (a multiple of 16 bytes, both starts on
  /// 16 bytes), by the thread that runs it, landing with the phase of the barrier at element
  /// `barrier_index` of the barrier array `barriers` that it is counted in (StmtKind::copy_bulk).
  void copy_bulk(const Memory* dst, Expr index, const Memory* src, Expr src_index, int64_t elements,
                 const Memory* barriers, Expr barrier_index);
  /// The barrier at element `index` (even) of the barrier array `barriers`: init for
  /// `arrivals` a phase; arrive expecting `bytes` of copies; wait for the phase of `parity`.
  void mbarrier_init(const Memory* barriers, Expr index, int arrivals);
  void mbarrier_expect(const Memory* barriers, Expr index, int64_t bytes);
  void mbarrier_wait(const Memory* barriers, Expr index, Expr parity);
  /// Arrives on the barrier at element `index` of `barriers` (one of its phase's arrivals, no bytes).
  void mbarrier_arrive(const Memory* barriers, Expr index);
  /// Warps with roles (StmtKind::roles), in a thread region: the last producer_threads threads run
  /// produce(i) and the others consume(i) for i < steps, each on its own, meeting at mbarriers;
  /// the producers may run `stages` steps ahead. `registers`: what each role's threads keep
  /// (Stmt::role_registers; 0: the kernel's own).
  void roles(int producer_threads, int64_t stages, int64_t steps, const std::function<void(Expr)>& produce,
             const std::function<void(Expr)>& consume, std::array<int, 2> registers = {});
  /// Closes the thread's group of copies issued since the last commit.
  void copy_commit();
  /// Waits until at most `groups_left` of the thread's committed groups are in flight.
  void copy_wait(int groups_left);
  /// acc[slots] += A x B for each warpgroup, asynchronously (StmtKind::mma_async): A 64 x k and B
  /// n x k in work-group memory as `a` and `b` describe them, n = 2 slots.size(), k the kind's
  /// depth (tf32: 8; f16, bf16: 16); the thread's slots hold D's values mma_async_c_pos places.
  /// Where `accumulate` (boolean; null: true) is false, acc[slots] = A x B.
  void mma_async(MmaKind kind, const Memory* acc, std::vector<int64_t> slots, const SharedMatrix& a,
                 const SharedMatrix& b, Expr accumulate = {});
  /// Closes the thread's group of mma_asyncs issued since the last commit.
  void mma_async_commit();
  /// Waits until at most `groups_left` of the thread's committed mma_async groups are in flight.
  void mma_async_wait(int groups_left);
  void comment(const std::string& text);

  Expr i32(int64_t v) { return ctx().i32(v); }
  Expr f32(double v) { return ctx().f32(v); }

  /// Finishes and returns the kernel. The builder is empty afterwards.
  std::unique_ptr<Kernel> finish();

 private:
  Memory* new_shared_array(const std::string& name, int64_t size, Type type);
  Block& current() { return *blocks_.back(); }
  void push(StmtPtr s) { current().push_back(std::move(s)); }
  std::unique_ptr<Kernel> kernel_;
  std::vector<Block*> blocks_;
  int region_threads_ = 0;
};

}  // namespace wino::ir

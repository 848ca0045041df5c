#include "ir/builder.h"

#include <algorithm>

#include "common/error.h"

namespace wino::ir {

const char* space_name(Space s) {
  switch (s) {
    case Space::global: return "global";
    case Space::shared: return "shared";
    case Space::per_thread: return "thread";
  }
  return "?";
}

const char* stmt_kind_name(StmtKind k) {
  switch (k) {
    case StmtKind::let: return "let";
    case StmtKind::load: return "load";
    case StmtKind::store: return "store";
    case StmtKind::loop: return "loop";
    case StmtKind::if_then: return "if";
    case StmtKind::threads: return "threads";
    case StmtKind::barrier: return "barrier";
    case StmtKind::comment: return "comment";
    case StmtKind::mma: return "mma";
    case StmtKind::copy_async: return "copy_async";
    case StmtKind::copy_commit: return "copy_commit";
    case StmtKind::copy_wait: return "copy_wait";
    case StmtKind::copy_bulk: return "copy_bulk";
    case StmtKind::mbarrier_init: return "mbarrier_init";
    case StmtKind::mbarrier_expect: return "mbarrier_expect";
    case StmtKind::mbarrier_wait: return "mbarrier_wait";
    case StmtKind::load_matrix: return "load_matrix";
    case StmtKind::mma_async: return "mma_async";
    case StmtKind::mma_async_commit: return "mma_async_commit";
    case StmtKind::mma_async_wait: return "mma_async_wait";
    case StmtKind::mbarrier_arrive: return "mbarrier_arrive";
    case StmtKind::roles: return "roles";
    case StmtKind::role: return "role";
  }
  return "?";
}

std::vector<int64_t> shared_array_offsets(const Kernel& k) {
  std::vector<int64_t> at(k.arrays.size(), 0);
  int64_t next = 0, end = 0;
  for (size_t i = 0; i < k.arrays.size(); ++i) {
    const Memory& a = *k.arrays[i];
    if (a.barriers || a.kept || a.space != Space::shared) continue;
    if (!a.reuses) next = (next + a.align - 1) / a.align * a.align;
    at[i] = a.reuses ? 0 : next;
    if (!a.reuses) next += aligned_shared_bytes(a);
    end = std::max(end, at[i] + aligned_shared_bytes(a));
  }
  // The kept arrays past the end of both kinds, so that no reusing array lies over them.
  for (size_t i = 0; i < k.arrays.size(); ++i)
    if (k.arrays[i]->kept) {
      end = (end + k.arrays[i]->align - 1) / k.arrays[i]->align * k.arrays[i]->align;
      at[i] = end, end += aligned_shared_bytes(*k.arrays[i]);
    }
  // The barriers past them all, so that no later phase writes over one. (The others stay where
  // they start at 0: placed 16 bytes past the barriers instead, the tensor-core fused ring's bulk
  // copies of U ran it 1.3-1.45x slower, H100, session 52.)
  for (size_t i = 0; i < k.arrays.size(); ++i)
    if (k.arrays[i]->barriers) at[i] = end, end += aligned_shared_bytes(*k.arrays[i]);
  return at;
}

int64_t shared_array_bytes(const Kernel& k) {
  const std::vector<int64_t> at = shared_array_offsets(k);
  int64_t bytes = 0;
  for (size_t i = 0; i < k.arrays.size(); ++i)
    if (k.arrays[i]->space == Space::shared) bytes = std::max(bytes, at[i] + aligned_shared_bytes(*k.arrays[i]));
  return bytes;
}

StmtPtr clone(const Stmt& s) {
  auto c = std::make_unique<Stmt>();
  c->kind = s.kind;
  c->var = s.var;
  c->value = s.value;
  c->index = s.index;
  c->cond = s.cond;
  c->memory = s.memory;
  c->accumulate = s.accumulate;
  c->in_register = s.in_register;
  c->aligned = s.aligned;
  c->source_in_bounds = s.source_in_bounds;
  c->extent = s.extent;
  c->loop_kind = s.loop_kind;
  c->body = clone(s.body);
  c->text = s.text;
  c->mma = s.mma;
  c->operands_rounded = s.operands_rounded;
  c->args = s.args;
  c->slots = s.slots;
  c->source = s.source;
  c->source_index = s.source_index;
  c->mbarrier = s.mbarrier;
  c->vars = s.vars;
  c->transposed = s.transposed;
  c->matrices = s.matrices;
  c->stages = s.stages;
  c->producer_threads = s.producer_threads;
  c->role_registers = s.role_registers;
  return c;
}

Block clone(const Block& b) {
  Block out;
  for (const StmtPtr& s : b) out.push_back(clone(*s));
  return out;
}

KernelBuilder::KernelBuilder(std::shared_ptr<Context> ctx, std::string name, int64_t num_groups,
                             int threads_per_group)
    : kernel_(std::make_unique<Kernel>()) {
  if (num_groups < 1 || num_groups > INT32_MAX)
    throw Error("kernel " + name + ": work-group count " + std::to_string(num_groups) +
                " is outside [1, 2^31)");
  if (threads_per_group < 1 || threads_per_group > 1024)
    throw Error("kernel " + name + ": " + std::to_string(threads_per_group) +
                " threads per work-group is outside [1, 1024]");
  kernel_->ctx = std::move(ctx);
  kernel_->name = std::move(name);
  kernel_->num_groups = num_groups;
  kernel_->threads_per_group = threads_per_group;
  kernel_->group_id = kernel_->ctx->var("gid", Type::i32);
  kernel_->thread_id = kernel_->ctx->var("tid", Type::i32);
  blocks_.push_back(&kernel_->body);
}

const Memory* KernelBuilder::buffer(const std::string& name, int64_t size, bool read_only, Type type,
                                    int binding) {
  auto m = std::make_unique<Memory>();
  m->name = name;
  m->space = Space::global;
  m->type = type;
  m->size = size;
  m->read_only = read_only;
  m->param_index = static_cast<int>(kernel_->buffers.size());
  m->binding = binding;
  kernel_->buffers.push_back(std::move(m));
  return kernel_->buffers.back().get();
}

Memory* KernelBuilder::new_shared_array(const std::string& name, int64_t size, Type type) {
  auto m = std::make_unique<Memory>();
  m->name = name;
  m->space = Space::shared;
  m->type = type;
  m->size = size;
  kernel_->arrays.push_back(std::move(m));
  return kernel_->arrays.back().get();
}

const Memory* KernelBuilder::shared_array(const std::string& name, int64_t size, Type type, bool reuses, int64_t align) {
  Memory* m = new_shared_array(name, size, type);
  m->reuses = reuses;
  m->align = align;
  return m;
}

int64_t SharedMatrix::element(int64_t start_value, int64_t row, int64_t kk, int elem_bytes) const {
  const int64_t per = 16 / elem_bytes;
  if (!swizzle) return start_value + row / 8 * rows_stride + kk / per * depth_stride + row % 8 * per + kk % per;
  const int64_t b = (start_value + row / 8 * rows_stride + kk) * elem_bytes + row % 8 * swizzle;
  return (b ^ (((b >> 7) & (swizzle / 16 - 1)) << 4)) / elem_bytes;
}

const Memory* KernelBuilder::kept_shared_array(const std::string& name, int64_t size, Type type, int64_t align) {
  Memory* m = new_shared_array(name, size, type);
  m->kept = true;
  m->align = align;
  return m;
}

const Memory* KernelBuilder::barrier_array(const std::string& name, int count) {
  auto m = std::make_unique<Memory>();
  m->name = name;
  m->space = Space::shared;
  m->type = Type::i32;
  m->size = 2 * int64_t{count};
  m->barriers = true;
  kernel_->arrays.push_back(std::move(m));
  return kernel_->arrays.back().get();
}

const Memory* KernelBuilder::thread_array(const std::string& name, int64_t size, Type type) {
  auto m = std::make_unique<Memory>();
  m->name = name;
  m->space = Space::per_thread;
  m->type = type;
  m->size = size;
  kernel_->arrays.push_back(std::move(m));
  return kernel_->arrays.back().get();
}

Expr KernelBuilder::let(const std::string& hint, Expr value) {
  if (value->op == Op::var || value->is_const()) return value;  // nothing to compute
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::let;
  s->var = ctx().var(hint, value.type());
  s->value = value;
  Expr v = s->var;
  push(std::move(s));
  return v;
}

Expr KernelBuilder::load(const std::string& hint, const Memory* mem, Expr index, Expr mask, int lanes) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::load;
  s->var = ctx().var(hint, value_type(mem->type).with_lanes(lanes));  // f16/bf16 memory loads as f32
  s->memory = mem;
  s->index = index;
  if (mask && !(mask->is_const() && mask->ival)) s->cond = mask;
  Expr v = s->var;
  push(std::move(s));
  return v;
}

Expr KernelBuilder::aligned_load(const std::string& hint, const Memory* mem, Expr index, int lanes, Expr mask) {
  Expr v = load(hint, mem, index, mask, lanes);
  current().back()->aligned = true;
  return v;
}

Expr KernelBuilder::register_load(const std::string& hint, const Memory* mem, Expr index, int lanes) {
  Expr v = load(hint, mem, index, {}, lanes);
  current().back()->in_register = true;
  return v;
}

void KernelBuilder::store(const Memory* mem, Expr index, Expr value, Expr mask) {
  if (mask && mask->is_const() && !mask->ival) return;  // never stored
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::store;
  s->memory = mem;
  s->index = index;
  s->value = value;
  if (mask && !mask->is_const()) s->cond = mask;
  push(std::move(s));
}

void KernelBuilder::aligned_store(const Memory* mem, Expr index, Expr value, Expr mask) {
  store(mem, index, value, mask);
  if (!(mask && mask->is_const() && !mask->ival)) current().back()->aligned = true;
}

void KernelBuilder::accumulate(const Memory* mem, Expr index, Expr value, Expr mask) {
  store(mem, index, value, mask);
  if (!(mask && mask->is_const() && !mask->ival)) current().back()->accumulate = true;
}

void KernelBuilder::loop(const std::string& hint, int64_t extent, LoopKind kind,
                         const std::function<void(Expr)>& body) {
  if (extent <= 0) return;
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::loop;
  s->var = ctx().var(hint, Type::i32);
  s->extent = extent;
  s->loop_kind = kind;
  Stmt* raw = s.get();
  push(std::move(s));
  blocks_.push_back(&raw->body);
  body(raw->var);
  blocks_.pop_back();
}

void KernelBuilder::if_then(Expr cond, const std::function<void()>& body) {
  if (cond->is_const()) {
    if (cond->ival) body();
    return;
  }
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::if_then;
  s->cond = cond;
  Stmt* raw = s.get();
  push(std::move(s));
  blocks_.push_back(&raw->body);
  body();
  blocks_.pop_back();
}

void KernelBuilder::threads(const std::function<void(Expr)>& body, bool all) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::threads;
  Stmt* raw = s.get();
  push(std::move(s));
  blocks_.push_back(&raw->body);
  if (region_threads_ && !all) if_then(lt(kernel_->thread_id, i32(region_threads_)), [&] { body(kernel_->thread_id); });
  else body(kernel_->thread_id);
  blocks_.pop_back();
}

void KernelBuilder::barrier() {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::barrier;
  push(std::move(s));
}

void KernelBuilder::mma(MmaKind kind, const Memory* acc, std::vector<int64_t> slots, std::vector<Expr> a,
                        std::vector<Expr> b, std::array<bool, 2> operands_rounded) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::mma;
  s->mma = kind;
  s->operands_rounded = operands_rounded;
  s->memory = acc;
  s->slots = std::move(slots);
  s->args = std::move(a);
  s->args.insert(s->args.end(), b.begin(), b.end());
  push(std::move(s));
}

namespace {
// A statement on memory[index] with its extent (copies, barriers).
StmtPtr memory_stmt(StmtKind kind, const Memory* memory, Expr index, int64_t extent) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->memory = memory;
  s->index = index;
  s->extent = extent;
  return s;
}

// A copy of `elements` from global `src` into work-group `dst` (copy_async, copy_bulk).
StmtPtr copy_stmt(StmtKind kind, const Memory* dst, Expr index, const Memory* src, Expr src_index, int64_t elements) {
  StmtPtr s = memory_stmt(kind, dst, index, elements);
  s->source = src;
  s->source_index = src_index;
  return s;
}
}  // namespace

void KernelBuilder::copy_async(const Memory* dst, Expr index, const Memory* src, Expr src_index, int elements,
                                Expr mask, bool source_in_bounds) {
  StmtPtr s = copy_stmt(StmtKind::copy_async, dst, index, src, src_index, elements);
  s->cond = mask;
  s->source_in_bounds = source_in_bounds;
  push(std::move(s));
}

std::vector<Expr> KernelBuilder::load_matrix(const std::string& hint, const Memory* mem, Expr row_index, int matrices,
                                             bool transposed) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::load_matrix;
  s->memory = mem;
  s->index = row_index;
  s->extent = matrices;
  s->transposed = transposed;
  for (int i = 0; i < 2 * matrices; ++i) s->vars.push_back(ctx().var(hint, value_type(mem->type)));
  std::vector<Expr> vars = s->vars;
  push(std::move(s));
  return vars;
}

void KernelBuilder::copy_bulk(const Memory* dst, Expr index, const Memory* src, Expr src_index, int64_t elements,
                              const Memory* barriers, Expr barrier_index) {
  StmtPtr s = copy_stmt(StmtKind::copy_bulk, dst, index, src, src_index, elements);
  s->mbarrier = barriers;
  s->value = barrier_index;
  push(std::move(s));
}

void KernelBuilder::mbarrier_init(const Memory* barriers, Expr index, int arrivals) {
  push(memory_stmt(StmtKind::mbarrier_init, barriers, index, arrivals));
}

void KernelBuilder::mbarrier_expect(const Memory* barriers, Expr index, int64_t bytes) {
  push(memory_stmt(StmtKind::mbarrier_expect, barriers, index, bytes));
}

void KernelBuilder::mbarrier_arrive(const Memory* barriers, Expr index) {
  push(memory_stmt(StmtKind::mbarrier_arrive, barriers, index, 0));
}

void KernelBuilder::roles(int producer_threads, int64_t stages, int64_t steps, const std::function<void(Expr)>& produce,
                          const std::function<void(Expr)>& consume, std::array<int, 2> registers) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::roles;
  s->role_registers = registers;
  s->stages = stages;
  s->producer_threads = producer_threads;
  s->extent = steps;
  for (const auto* body : {&produce, &consume}) {
    auto r = std::make_unique<Stmt>();
    r->kind = StmtKind::role;
    r->var = ctx().var(body == &produce ? "produced" : "consumed", Type::i32);
    r->extent = steps;
    Stmt* raw = r.get();
    s->body.push_back(std::move(r));
    blocks_.push_back(&raw->body);
    (*body)(raw->var);
    blocks_.pop_back();
  }
  push(std::move(s));
}

void KernelBuilder::mbarrier_wait(const Memory* barriers, Expr index, Expr parity) {
  StmtPtr s = memory_stmt(StmtKind::mbarrier_wait, barriers, index, 0);
  s->value = parity;
  push(std::move(s));
}

namespace {
// A commit or a wait of a thread's groups of asynchronous operations (copies, mma_asyncs).
StmtPtr group_stmt(StmtKind kind, int64_t groups_left = 0) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->extent = groups_left;
  return s;
}
}  // namespace

void KernelBuilder::copy_commit() { push(group_stmt(StmtKind::copy_commit)); }

void KernelBuilder::copy_wait(int groups_left) { push(group_stmt(StmtKind::copy_wait, groups_left)); }

void KernelBuilder::mma_async(MmaKind kind, const Memory* acc, std::vector<int64_t> slots, const SharedMatrix& a,
                              const SharedMatrix& b, Expr accumulate) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::mma_async;
  if (accumulate && !(accumulate.node()->is_const() && accumulate.node()->ival != 0)) s->value = accumulate;
  s->mma = kind;
  s->memory = acc;
  s->extent = static_cast<int64_t>(slots.size()) * 2;
  s->slots = std::move(slots);
  s->matrices = {a, b};
  push(std::move(s));
}

void KernelBuilder::mma_async_commit() { push(group_stmt(StmtKind::mma_async_commit)); }

void KernelBuilder::mma_async_wait(int groups_left) { push(group_stmt(StmtKind::mma_async_wait, groups_left)); }

void KernelBuilder::comment(const std::string& text) {
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::comment;
  s->text = text;
  push(std::move(s));
}

std::unique_ptr<Kernel> KernelBuilder::finish() {
  blocks_.clear();
  return std::move(kernel_);
}

}  // namespace wino::ir

// Conv's calls: set the weights and run, on host pointers (copied through staging buffers on a
// GPU) or on tensors already on the device (enqueued on the caller's stream, never copied).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "api/conv_impl.h"
#include "common/error.h"
#include "common/stats.h"
#include "common/tensor.h"

namespace wino {

namespace {

using plans::BufferRole;
using runtime::MemoryRef;

constexpr int64_t kWorkspaceAlign = 256;  // each intermediate starts on a 256-byte boundary

int64_t aligned(int64_t bytes) { return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign; }

// The caller's tensors: what each is called in errors, and its shape in the convolution's layout.
std::string role_label(BufferRole role, Layout layout) {
  const bool nhwc = layout == Layout::nhwc;
  switch (role) {
    case BufferRole::input: return nhwc ? "x (N, H, W, C)" : "x (N, C, H, W)";
    case BufferRole::output: return nhwc ? "y (N, out_h, out_w, K)" : "y (N, K, out_h, out_w)";
    case BufferRole::residual: return nhwc ? "residual (N, out_h, out_w, K)" : "residual (N, K, out_h, out_w)";
    case BufferRole::weights: return "weights (K, C/groups, R, S)";
    case BufferRole::bias: return "bias (K)";
    default: return "buffer";
  }
}

Shape role_shape(const ConvDesc& d, BufferRole role) {
  const bool nhwc = d.layout == Layout::nhwc;
  switch (role) {
    case BufferRole::input: return nhwc ? Shape{d.n, d.h, d.w, d.c} : Shape{d.n, d.c, d.h, d.w};
    case BufferRole::weights: return {d.k, d.c / d.groups, d.r, d.s};
    case BufferRole::bias: return {d.k};
    default: return nhwc ? Shape{d.n, d.out_h(), d.out_w(), d.k} : Shape{d.n, d.k, d.out_h(), d.out_w()};
  }
}

int64_t role_bytes(const Conv::Impl& impl, BufferRole role) {
  return impl.program.buffers.at(impl.program.buffer(role)).bytes();
}

// Checks the caller's tensor for `role` (dtype, shape, that it is the device's memory, where it
// starts).
MemoryRef tensor_memory(const Conv::Impl& impl, const char* call, const TensorRef& t, BufferRole role) {
  const std::string label = role_label(role, impl.desc.layout);
  const std::string what = std::string(call) + ": " + label.substr(0, label.find(' '));
  if (t.data == nullptr) throw Error(what + " is null");
  if (t.dtype != impl.desc.dtype)
    throw Error(what + " has dtype " + dtype_name(t.dtype) + ", but the convolution was compiled for " +
                dtype_name(impl.desc.dtype) + " (ConvDesc::dtype)");
  const Shape want = role_shape(impl.desc, role);
  if (t.shape != want)
    throw Error(what + " has shape " + shape_string(t.shape) + ", but the convolution needs " + label + " = " +
                shape_string(want));
  const int64_t bytes = role_bytes(impl, role);
  impl.backend->check_memory(t.data, bytes, what);
  const int64_t align = impl.start_alignments.at(static_cast<size_t>(impl.program.buffer(role)));
  if (const auto off = reinterpret_cast<uintptr_t>(t.data) % align)
    throw Error(what + " starts " + std::to_string(off) + " bytes past a " + std::to_string(align) +
                "-byte boundary, but plan " + impl.report.plan + " reads it " + std::to_string(align) +
                " bytes at a time: pass a tensor whose data starts on such a boundary (a contiguous copy), or "
                "compile with another plan");
  return {t.data, bytes};
}

// A host pointer as the memory of `role`, for host backends.
MemoryRef host_memory(const Conv::Impl& impl, BufferRole role, const void* data) {
  return {const_cast<void*>(data), role_bytes(impl, role)};
}

// An epilogue tensor is given exactly when the description's epilogue has it.
void check_epilogue_arg(const char* call, const char* what, bool wanted, const void* given) {
  if (wanted && !given)
    throw Error(std::string(call) + ": the convolution's epilogue has a " + what +
                ": pass it (or compile without it)");
  if (!wanted && given)
    throw Error(std::string(call) + ": a " + what + " was given but the convolution was compiled "
                "without one: set ConvDesc::epilogue." + what + " = true");
}

MemoryRef held(const Conv::Impl& impl, BufferRole role) {
  return impl.held.at(impl.program.buffer(role))->ref();
}

// The Conv's own buffer of `role` for host-pointer calls on a GPU, allocated at the first.
MemoryRef staged(Conv::Impl& impl, BufferRole role) {
  impl.staging.resize(impl.program.buffers.size());
  const int i = impl.program.buffer(role);
  if (!impl.staging[i]) impl.staging[i] = impl.backend->alloc(impl.program.buffers[i].bytes());
  return impl.staging[i]->ref();
}

// Host memory into device memory: a plain copy on host backends, an upload (counted) on others.
void copy_in(Conv::Impl& impl, MemoryRef dst, const void* src) {
  if (impl.backend->host_memory()) impl.backend->copy(dst, {const_cast<void*>(src), dst.bytes}, dst.bytes, nullptr);
  else impl.backend->copy_from_host(dst, src, dst.bytes, nullptr);
}

// The caller's workspace cut into the intermediates.
std::vector<MemoryRef> carve(const Conv::Impl& impl, const Workspace& ws, int64_t need) {
  if (ws.bytes < need)
    throw Error("run: the workspace holds " + std::to_string(ws.bytes) + " bytes; this convolution needs " +
                std::to_string(need) + " (Conv::workspace_bytes())");
  // The GEMM copies 16-byte runs of V (cp.async on CUDA), so V must start on a 16-byte boundary.
  if (const auto misaligned = reinterpret_cast<uintptr_t>(ws.data) % 16)
    throw Error("run: the workspace starts " + std::to_string(misaligned) +
                " bytes past a 16-byte boundary; give it memory from the device's allocator, or an offset into "
                "it that is a multiple of 16");
  std::vector<MemoryRef> out;
  int64_t offset = 0;
  for (int i : impl.scratch) {
    const int64_t bytes = impl.program.buffers[i].bytes();
    out.push_back(impl.backend->sub_range({ws.data, ws.bytes}, offset, bytes));
    offset += aligned(bytes);
  }
  impl.backend->check_memory(ws.data, ws.bytes, "run: workspace");
  return out;
}

// The memory of every program buffer of one call, then its launches.
std::vector<runtime::LaunchRef> launch_refs(const Conv::Impl& impl, const std::vector<plans::Launch>& launches,
                                            MemoryRef x, MemoryRef y, MemoryRef residual,
                                            const std::vector<MemoryRef>& scratch) {
  std::vector<MemoryRef> refs(impl.program.buffers.size());
  for (size_t i = 0; i < refs.size(); ++i)
    if (impl.held[i]) refs[i] = impl.held[i]->ref();
  for (size_t s = 0; s < scratch.size(); ++s) refs[impl.scratch[s]] = scratch[s];
  refs[impl.program.buffer(BufferRole::input)] = x;
  refs[impl.program.buffer(BufferRole::output)] = y;
  if (impl.desc.epilogue.residual) refs[impl.program.buffer(BufferRole::residual)] = residual;
  std::vector<runtime::LaunchRef> seq;
  for (const plans::Launch& l : launches) {
    runtime::LaunchRef r{l.kernel, {}};
    for (int b : l.buffers) r.args.push_back(refs.at(b));
    seq.push_back(std::move(r));
  }
  return seq;
}

void require_weights(const Conv::Impl& impl) {
  if (!impl.weights_set) throw Error("run: set_weights() must be called before run()");
}

// Enqueues one run on `stream`; the caller holds weights_mutex (shared).
void enqueue_run(Conv::Impl& impl, MemoryRef x, MemoryRef y, MemoryRef residual, runtime::StreamRef stream,
                 const Workspace& workspace, int64_t workspace_bytes) {
  require_weights(impl);
  std::optional<api::Workspaces::Lease> lease;
  std::vector<MemoryRef> scratch;
  if (workspace.data != nullptr || workspace.bytes != 0) {
    scratch = carve(impl, workspace, workspace_bytes);
  } else {
    lease.emplace(impl.workspaces->acquire(stream));
    scratch = lease->refs();
  }
  const std::vector<runtime::LaunchRef> launches = launch_refs(impl, impl.program.launches, x, y, residual, scratch);
  for (size_t i = 0; i < launches.size(); ++i) impl.backend->launch(launches[i].kernel, launches[i].args, stream, i > 0);
}

// The weights are in their buffers: makes the plan's layout of them on `stream` and waits for it.
void prepare_weights(Conv::Impl& impl, runtime::StreamRef stream) {
  for (const runtime::LaunchRef& l : launch_refs(impl, impl.program.prepare_launches, {}, {}, {}, {}))
    impl.backend->launch(l.kernel, l.args, stream);
  impl.backend->synchronize(stream);
  impl.weights_set = true;
}

// Runs still in flight may read the weights about to be replaced.
void wait_for_runs(Conv::Impl& impl) {
  if (impl.weights_set) impl.backend->synchronize(nullptr);
}

void check_host_args(const Conv::Impl& impl, const void* x, const void* y, const void* residual) {
  if (!x || !y) throw Error("run: null input or output");
  check_epilogue_arg("run", "residual", impl.desc.epilogue.residual, residual);
}

// The memory of a host-pointer call's tensors: the caller's own on host backends; elsewhere the
// Conv's staging buffers, x and the residual copied in (the caller holds host_mutex).
struct HostCall {
  MemoryRef x, y, residual;
  bool staged = false;
};

HostCall begin_host_call(Conv::Impl& impl, const void* x, const void* y, const void* residual) {
  if (impl.backend->host_memory())
    return {host_memory(impl, BufferRole::input, x), host_memory(impl, BufferRole::output, y),
            residual ? host_memory(impl, BufferRole::residual, residual) : MemoryRef{}, false};
  HostCall c{staged(impl, BufferRole::input), staged(impl, BufferRole::output),
             residual ? staged(impl, BufferRole::residual) : MemoryRef{}, true};
  impl.backend->copy_from_host(c.x, x, c.x.bytes, nullptr);
  if (residual) impl.backend->copy_from_host(c.residual, residual, c.residual.bytes, nullptr);
  return c;
}

// Copies y back when it was staged (synchronous).
void end_host_call(Conv::Impl& impl, const HostCall& c, void* y) {
  if (c.staged) impl.backend->copy_to_host(y, c.y, c.y.bytes, nullptr);
}

double microseconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t Conv::workspace_bytes() const {
  int64_t total = 0;
  for (int i : impl_->scratch) total += aligned(impl_->program.buffers[i].bytes());
  return total;
}

void Conv::set_weights(const void* weights, const void* bias) {
  Impl& impl = *impl_;
  if (!weights) throw Error("set_weights: null weights");
  check_epilogue_arg("set_weights", "bias", impl.desc.epilogue.bias, bias);
  std::lock_guard host_lock(impl.host_mutex);
  std::unique_lock lock(impl.weights_mutex);
  const auto t0 = std::chrono::steady_clock::now();
  wait_for_runs(impl);
  copy_in(impl, held(impl, BufferRole::weights), weights);
  if (bias) copy_in(impl, held(impl, BufferRole::bias), bias);
  prepare_weights(impl, nullptr);
  impl.report.weight_transform_us = microseconds_since(t0);
}

void Conv::set_weights(const TensorRef& weights, const TensorRef* bias, Stream stream) {
  Impl& impl = *impl_;
  check_epilogue_arg("set_weights", "bias", impl.desc.epilogue.bias, bias);
  const MemoryRef w = tensor_memory(impl, "set_weights", weights, BufferRole::weights);
  const MemoryRef b = bias ? tensor_memory(impl, "set_weights", *bias, BufferRole::bias) : MemoryRef{};
  impl.backend->check_stream(stream.handle);
  std::lock_guard host_lock(impl.host_mutex);
  std::unique_lock lock(impl.weights_mutex);
  const auto t0 = std::chrono::steady_clock::now();
  wait_for_runs(impl);
  impl.backend->copy(held(impl, BufferRole::weights), w, w.bytes, stream.handle);
  if (bias) impl.backend->copy(held(impl, BufferRole::bias), b, b.bytes, stream.handle);
  prepare_weights(impl, stream.handle);
  impl.report.weight_transform_us = microseconds_since(t0);
}

void Conv::run(const TensorRef& x, const TensorRef& y, Stream stream, const TensorRef* residual,
               Workspace workspace) {
  Impl& impl = *impl_;
  check_epilogue_arg("run", "residual", impl.desc.epilogue.residual, residual);
  const MemoryRef xm = tensor_memory(impl, "run", x, BufferRole::input);
  const MemoryRef ym = tensor_memory(impl, "run", y, BufferRole::output);
  const MemoryRef rm = residual ? tensor_memory(impl, "run", *residual, BufferRole::residual) : MemoryRef{};
  impl.backend->check_stream(stream.handle);
  std::shared_lock lock(impl.weights_mutex);
  enqueue_run(impl, xm, ym, rm, stream.handle, workspace, workspace_bytes());
}

void Conv::run(const void* x, void* y, const void* residual) {
  Impl& impl = *impl_;
  check_host_args(impl, x, y, residual);
  // Host backends read and write the caller's memory: no staging, so calls need not be serialized.
  std::unique_lock<std::mutex> host_lock(impl.host_mutex, std::defer_lock);
  if (!impl.backend->host_memory()) host_lock.lock();
  std::shared_lock lock(impl.weights_mutex);
  require_weights(impl);
  const HostCall c = begin_host_call(impl, x, y, residual);
  enqueue_run(impl, c.x, c.y, c.residual, nullptr, {}, 0);
  end_host_call(impl, c, y);
}

void Conv::benchmark(const void* x, void* y, int repeats, int warmup, const void* residual) {
  if (repeats < 1 || warmup < 0) throw Error("benchmark: needs repeats >= 1 and warmup >= 0");
  Impl& impl = *impl_;
  check_host_args(impl, x, y, residual);
  std::lock_guard host_lock(impl.host_mutex);
  std::shared_lock lock(impl.weights_mutex);
  require_weights(impl);
  runtime::Backend& be = *impl.backend;
  const HostCall c = begin_host_call(impl, x, y, residual);
  api::Workspaces::Lease lease = impl.workspaces->acquire(nullptr);
  const std::vector<runtime::LaunchRef> seq = launch_refs(impl, impl.program.launches, c.x, c.y, c.residual, lease.refs());
  impl.report.time_us = median(be.timed_runs(seq, warmup, repeats));
  std::vector<std::vector<double>> times(impl.program.kernels.size());
  for (int rep = 0; rep < repeats; ++rep) {
    std::vector<double> us = be.timed_launches(seq);
    for (size_t i = 0; i < seq.size(); ++i) times[seq[i].kernel].push_back(us[i]);
  }
  end_host_call(impl, c, y);
  for (size_t k = 0; k < times.size(); ++k) impl.report.kernels[k].time_us = median(times[k]);
}

Report Conv::report() const {
  std::lock_guard lock(impl_->host_mutex);
  Report r = impl_->report;
  r.host_copies = impl_->backend->host_copies();
  return r;
}

}  // namespace wino

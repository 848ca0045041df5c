// wino::compile and wino::Conv: ConvDesc -> planner -> lower() -> backend compile -> run, with a
// report of every kernel.
#include <algorithm>
#include <chrono>
#include <mutex>

#include "api/compile_program.h"
#include "api/kernel_report.h"
#include "common/error.h"
#include "common/half.h"
#include "common/stats.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "plans/program.h"
#include "runtime/backend.h"
#include "wino/wino.h"

namespace wino {

struct Conv::Impl {
  ConvDesc desc;
  plans::Program program;
  std::unique_ptr<runtime::Backend> backend;
  std::vector<int> buffer_ids;  // backend buffer of each program buffer
  Report report;
  bool weights_set = false;
  std::mutex mutex;  // one call at a time: the backend's buffers hold one call's tensors
};

namespace {

// lower() for the backend's dialect, then compile on the backend and allocate the buffers.
Conv compile_lowered(const Device& device, const ConvDesc& desc, const Options& options,
                     const lower::LowerOptions& lower_options) {
  validate(desc);
  auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_shared<Conv::Impl>();
  impl->desc = desc;
  const Device resolved = Device::resolve(device);
  impl->backend = runtime::make_backend(resolved, options);
  const render::Dialect dialect = impl->backend->dialect();
  lower::Lowered low =
      lower::lower(desc, planner::choose_plan(desc, options, resolved), dialect, lower_options);
  impl->program = std::move(low.program);
  const plans::Program& prog = impl->program;
  std::vector<const ir::Kernel*> kernels;
  for (const auto& k : prog.kernels) kernels.push_back(k.get());
  std::vector<runtime::BackendKernelStats> backend_stats = impl->backend->compile(kernels, runtime::compile_sources(low.kernel_sources, impl->backend->dialect()));

  Report& rep = impl->report;
  rep.plan = prog.plan;
  rep.m = prog.m;
  rep.r = prog.r;
  rep.device = impl->backend->name();
  for (size_t i = 0; i < kernels.size(); ++i) {
    KernelReport kr = api::static_kernel_report(*kernels[i], low.kernel_sources[i]);
    kr.regs = backend_stats.at(i).regs;
    kr.spill_bytes = backend_stats.at(i).spill_bytes;
    rep.kernels.push_back(std::move(kr));
  }
  for (const plans::ProgramBuffer& b : prog.buffers)
    impl->buffer_ids.push_back(impl->backend->alloc(b.bytes()));
  rep.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Conv(impl);
}

}  // namespace

Conv compile(const Device& device, const ConvDesc& desc, const Options& options) {
  return compile_lowered(device, desc, options, {});
}

namespace api {

Conv compile_edited(const Device& device, const ConvDesc& desc, const Options& options,
                    const std::function<void(plans::Program&)>& edit) {
  lower::LowerOptions lower_options;
  lower_options.edit = edit;
  return compile_lowered(device, desc, options, lower_options);
}

}  // namespace api

const ConvDesc& Conv::desc() const { return impl_->desc; }

namespace {

// Host copies of the buffer with `role`.
void upload(Conv::Impl& impl, plans::BufferRole role, const void* data) {
  const int i = impl.program.buffer(role);
  impl.backend->upload(impl.buffer_ids.at(i), data, impl.program.buffers[i].bytes());
}
void download(Conv::Impl& impl, plans::BufferRole role, void* data) {
  const int i = impl.program.buffer(role);
  impl.backend->download(impl.buffer_ids.at(i), data, impl.program.buffers[i].bytes());
}

// `n` values of the description's dtype as float32 (the weights and bias are prepared in f32).
std::vector<float> to_float32(const void* data, int64_t n, DType dtype) {
  std::vector<float> out(static_cast<size_t>(n));
  const auto* bits = static_cast<const uint16_t*>(data);
  for (int64_t i = 0; i < n; ++i)
    out[i] = dtype == DType::f16    ? f16_to_float(bits[i])
             : dtype == DType::bf16 ? bf16_to_float(bits[i])
                                    : static_cast<const float*>(data)[i];
  return out;
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

// Checks a run's arguments and uploads its input and residual.
void begin_run(Conv::Impl& impl, const void* x, const void* y, const void* residual) {
  if (!impl.weights_set) throw Error("run: set_weights() must be called before run()");
  if (!x || !y) throw Error("run: null input or output");
  check_epilogue_arg("run", "residual", impl.desc.epilogue.residual, residual);
  upload(impl, plans::BufferRole::input, x);
  if (residual) upload(impl, plans::BufferRole::residual, residual);
}

std::vector<std::pair<int, std::vector<int>>> launch_sequence(const Conv::Impl& impl,
                                                              const std::vector<plans::Launch>& launches) {
  std::vector<std::pair<int, std::vector<int>>> seq;
  for (const plans::Launch& l : launches) {
    std::vector<int> bufs;
    for (int b : l.buffers) bufs.push_back(impl.buffer_ids.at(b));
    seq.emplace_back(l.kernel, bufs);
  }
  return seq;
}

}  // namespace

void Conv::set_weights(const void* weights, const void* bias) {
  std::lock_guard lock(impl_->mutex);
  if (!weights) throw Error("set_weights: null weights");
  const ConvDesc& d = impl_->desc;
  check_epilogue_arg("set_weights", "bias", d.epilogue.bias, bias);
  auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> kcrs = to_float32(weights, d.k * (d.c / d.groups) * d.r * d.s, d.dtype);
  upload(*impl_, plans::BufferRole::weights, kcrs.data());
  if (bias) upload(*impl_, plans::BufferRole::bias, to_float32(bias, d.k, d.dtype).data());
  // The plan's layout of the weights (Winograd: U = G g G^T) is made on the device.
  for (const auto& [kernel, buffers] : launch_sequence(*impl_, impl_->program.prepare_launches))
    impl_->backend->launch(kernel, buffers);
  impl_->backend->synchronize();
  impl_->report.weight_transform_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  impl_->weights_set = true;
}

void Conv::run(const void* x, void* y, const void* residual) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  begin_run(impl, x, y, residual);
  for (const auto& [kernel, buffers] : launch_sequence(impl, impl.program.launches))
    impl.backend->launch(kernel, buffers);
  download(impl, plans::BufferRole::output, y);
}

void Conv::benchmark(const void* x, void* y, int repeats, int warmup, const void* residual) {
  if (repeats < 1 || warmup < 0) throw Error("benchmark: needs repeats >= 1 and warmup >= 0");
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  begin_run(impl, x, y, residual);
  runtime::Backend& be = *impl.backend;
  auto seq = launch_sequence(impl, impl.program.launches);
  impl.report.time_us = median(be.timed_runs(seq, warmup, repeats));
  std::vector<std::vector<double>> times(impl.program.kernels.size());
  for (int rep = 0; rep < repeats; ++rep) {
    std::vector<double> us = be.timed_launches(seq);
    for (size_t i = 0; i < seq.size(); ++i) times[seq[i].first].push_back(us[i]);
  }
  download(impl, plans::BufferRole::output, y);
  for (size_t k = 0; k < times.size(); ++k) impl.report.kernels[k].time_us = median(times[k]);
}

Report Conv::report() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->report;
}

}  // namespace wino

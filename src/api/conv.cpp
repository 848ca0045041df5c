// wino::compile and wino::Conv: ConvDesc -> planner -> lower() -> backend compile -> run, with a
// report of every kernel.
#include <algorithm>
#include <chrono>
#include <optional>

#include "api/compile_program.h"
#include "api/conv_impl.h"
#include "api/kernel_report.h"
#include "common/error.h"
#include "common/random.h"
#include "common/tensor.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "planner/tile_choice.h"
#include "planner/tuning_cache.h"
#include "plans/program.h"
#include "runtime/backend.h"
#include "wino/wino.h"

namespace wino {

namespace {

// Plan "auto" on a device: tune mode measures and stores its pick in the tuning cache; otherwise
// a stored pick is taken, and without one the cost model decides.
planner::Choice plan_on_device(const Device& device, const planner::DeviceCaps& caps, const ConvDesc& desc,
                               const Options& options) {
  planner::Measure measure;
  if (options.tune)
    measure = [&](const plans::PlanOptions& p, std::string* rejected) {
      return api::measure_plan(device, desc, options, p, rejected);
    };
  const bool automatic = options.plan == "auto";
  const std::string key = automatic ? planner::tuning_key(caps.identity, desc, options) : "";
  std::optional<PlanCandidate> remembered;
  if (automatic && !options.tune) remembered = planner::load_tuned(key);
  planner::Choice choice = planner::plan_convolution(desc, options, caps, measure, remembered);
  if (automatic && options.tune && !choice.candidates.empty() && choice.candidates.front().measured_us >= 0)
    planner::store_tuned(key, choice.candidates.front());
  return choice;
}

// The Conv's own memory (weights, prepared weights, bias) and its workspaces' layout.
void allocate_buffers(Conv::Impl& impl) {
  std::vector<int64_t> scratch_bytes;
  for (size_t i = 0; i < impl.program.buffers.size(); ++i) {
    const plans::ProgramBuffer& b = impl.program.buffers[i];
    const bool held = b.role == plans::BufferRole::weights || b.role == plans::BufferRole::prepared_weights ||
                      b.role == plans::BufferRole::bias;
    impl.held.push_back(held ? impl.backend->alloc(b.bytes()) : nullptr);
    if (b.role == plans::BufferRole::scratch) {
      impl.scratch.push_back(static_cast<int>(i));
      scratch_bytes.push_back(b.bytes());
    }
  }
  impl.workspaces = std::make_unique<api::Workspaces>(*impl.backend, scratch_bytes);
}

// lower() for the backend's dialect, then compile on the backend and allocate the buffers. With
// `fixed`, that plan exactly (a candidate of the planner's); otherwise the planner's choice.
Conv compile_lowered(const Device& device, const ConvDesc& desc, const Options& options,
                     const lower::LowerOptions& lower_options, const plans::PlanOptions* fixed = nullptr) {
  validate(desc);
  auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_shared<Conv::Impl>();
  impl->desc = desc;
  const Device resolved = Device::resolve(device);
  impl->backend = runtime::make_backend(resolved, options);
  const render::Dialect dialect = impl->backend->dialect();
  const planner::DeviceCaps caps = planner::caps_for_device(resolved);
  planner::Choice choice =
      fixed ? planner::Choice{planner::resolve_plan(desc, *fixed), {}, false} : plan_on_device(resolved, caps, desc, options);
  lower::LowerOptions lowering = lower_options;
  lowering.ir_as_source = resolved.kind == Device::Kind::interp;  // it runs the IR: nothing to render
  lower::Lowered low = lower::lower(desc, choice.plan, dialect, lowering);
  impl->program = std::move(low.program);
  const plans::Program& prog = impl->program;
  impl->start_alignments = prog.start_alignments();
  std::vector<runtime::KernelSpec> specs;
  for (const auto& k : prog.kernels) specs.push_back(runtime::KernelSpec::of(*k));
  const std::vector<runtime::BackendKernelStats> backend_stats =
      impl->backend->compile(specs, runtime::compile_sources(low.kernel_sources, dialect));

  Report& rep = impl->report;
  rep.plan = prog.plan;
  rep.m = prog.m;
  rep.r = prog.r;
  rep.precision = choice.plan.precision;
  rep.device = impl->backend->name();
  rep.candidates = std::move(choice.candidates);
  if (!rep.candidates.empty()) rep.planned_for = caps.name + ": " + caps.budget_text();
  for (size_t i = 0; i < prog.kernels.size(); ++i) {
    KernelReport kr = api::static_kernel_report(*prog.kernels[i], low.kernel_sources[i]);
    kr.regs = backend_stats.at(i).regs;
    kr.spill_bytes = backend_stats.at(i).spill_bytes;
    rep.kernels.push_back(std::move(kr));
  }
  allocate_buffers(*impl);
  rep.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Conv(impl);
}

}  // namespace

Conv compile(const Device& device, const ConvDesc& desc, const Options& options) {
  return compile_lowered(device, desc, options, {});
}

namespace api {

Conv compile_candidate(const Device& device, const ConvDesc& desc, const Options& options,
                       const plans::PlanOptions& plan) {
  return compile_lowered(device, desc, options, {}, &plan);  // the planner (and tune mode) stays out
}

double measure_plan(const Device& device, const ConvDesc& d, const Options& base, const plans::PlanOptions& p,
                    std::string* rejected) {
  try {
    Conv conv = compile_candidate(device, d, base, p);
    for (const KernelReport& k : conv.report().kernels)
      if (k.spill_bytes > 0) {
        *rejected = k.name + " spills " + std::to_string(k.spill_bytes) + " bytes";
        return -1;
      }
    const Tensor w = random_normal(d.dtype, {d.k, d.c / d.groups, d.r, d.s}, 2);
    const Tensor bias = random_normal(d.dtype, {d.k}, 3);
    const Tensor x = random_normal(d.dtype, {d.n, d.c, d.h, d.w}, 1);
    const Tensor z = random_normal(d.dtype, {d.n, d.k, d.out_h(), d.out_w()}, 4);
    Tensor y(d.dtype, {d.n, d.k, d.out_h(), d.out_w()});
    conv.set_weights(w.data(), d.epilogue.bias ? bias.data() : nullptr);
    // A first estimate, then samples for about 5 ms of runs (5 to 100): small layers are noisy. (On
    // CUDA a sample is itself runs back to back, about a millisecond of them: Conv::benchmark.)
    conv.benchmark(x.data(), y.data(), 3, 2, d.epilogue.residual ? z.data() : nullptr);
    const double first = std::max(conv.report().time_us, 1.0);
    const double sample_us = Device::resolve(device).kind == Device::Kind::cuda ? std::max(first, 1000.0) : first;
    const int repeats = static_cast<int>(std::clamp(5000.0 / sample_us, 5.0, 100.0));
    conv.benchmark(x.data(), y.data(), repeats, 1, d.epilogue.residual ? z.data() : nullptr);
    return conv.report().time_us;
  } catch (const Error& e) {
    *rejected = e.what();
    return -1;
  }
}

Conv compile_edited(const Device& device, const ConvDesc& desc, const Options& options,
                    const std::function<void(plans::Program&)>& edit) {
  lower::LowerOptions lower_options;
  lower_options.edit = edit;
  return compile_lowered(device, desc, options, lower_options);
}

}  // namespace api

const ConvDesc& Conv::desc() const { return impl_->desc; }

}  // namespace wino

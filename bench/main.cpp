// wino_cudnn_bench: every layer of a layer file on the GPU, Wino's fastest spill-free plan against
// cuDNN's fastest fp32 algorithm, on the same data in the same process. Prints a table and
// (--json) writes the numbers. See docs/performance.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "args.h"
#include "common/json.h"
#include "common/random.h"
#include "common/stats.h"
#include "cudnn_conv.h"
#include "io/layers_file.h"
#include "reference/reference_check.h"
#include "reference/tolerance.h"
#include "report_format.h"
#include "planner/choose_plan.h"
#include "planner/device_caps.h"
#include "planner/tile_choice.h"
#include "runtime/backend.h"
#include "runtime/cuda/cuda_driver.h"

namespace wino::bench {

namespace {

using cli::Args;
using cli::fmt;

constexpr uint64_t kInputSeed = 1, kWeightSeed = 2;

struct Timing {
  double us = -1, tflops = -1, rel_err = -1;
};

struct Candidate {
  std::string plan;
  int m = 0;
  std::string tiles;  // the planner's (PlanCandidate::tiles; empty: the plan's defaults)
  Precision precision = Precision::fp32;
  Report report;
  Timing t;
  std::string rejected;  // why it cannot be the answer (error, spills, failure); empty if it can
  bool named_only = false;  // a plan auto leaves out (it runs where named)
};

struct LayerResult {
  const io::Layer* layer = nullptr;
  std::string cudnn_algo, cudnn_error;
  std::string cudnn_mode = "fp32";  // the row's cuDNN: fp32 FMA math, or "f16 nhwc" and the like
  Timing cudnn;
  std::string tf32_algo, tf32_error;  // cuDNN with TF32 allowed (PyTorch's default), with --precision
  Timing cudnn_tf32;
  std::map<Precision, const Candidate*> best_asked;  // the fastest eligible candidate of each --precision
  std::vector<Candidate> candidates;
  const Candidate* best = nullptr;
  const Candidate* auto_best = nullptr;   // the fastest candidate plan "auto" may pick: fp32 or the asked precision
  const Candidate* model_pick = nullptr;  // plan "auto" by the cost model (Options::max_rel_err 1e-5)
  const Candidate* tuned_pick = nullptr;  // plan "auto" with Options::tune
  double ratio() const { return best && cudnn.us > 0 ? cudnn.us / best->t.us : -1; }
};

double tflops(const ConvDesc& d, double us) { return d.direct_flops() / (us * 1e6); }

// The accuracy targets of the benchmark: F(4,3) and smaller 1e-5, larger tiles 3e-5.
double tolerance(int m, int r) { return m == 0 || m + r - 1 <= 6 ? 1e-5 : 3e-5; }

Candidate candidate(const PlanCandidate& pc) {
  Candidate c;
  c.plan = pc.plan;
  c.m = pc.m;
  c.precision = pc.precision;
  // Measured all the same, but neither plan auto's nor the precision's best where the planner
  // leaves its F(m, r) out for its error (the half modes' bound, planner::kHalfErrorFactor).
  if (pc.over_error_bound) c.rejected = pc.rejected;
  c.tiles = pc.tiles;
  return c;
}

// What Wino tries on a layer: every candidate of the planner (plan x m x tile shapes), whatever
// the cost model thinks of it, the planner's own pick first, and plans auto leaves out that run
// where named (the tensor-core fused at m = 2 and 4).
std::vector<Candidate> candidate_plans(const ConvDesc& d, const planner::DeviceCaps& caps,
                                       const std::vector<Precision>& precisions) {
  Options o;
  o.max_rel_err = 1.0;  // measure every F(m, r); the error target below decides
  std::vector<Candidate> out;
  for (const PlanCandidate& pc : planner::plan_convolution(d, o, caps).candidates) out.push_back(candidate(pc));
  for (Precision p : precisions) {  // each tensor-core precision's own candidates
    o.precision = p;
    for (const PlanCandidate& pc : planner::plan_convolution(d, o, caps).candidates)
      if (pc.precision == p && p != Precision::fp32) out.push_back(candidate(pc));
    // and the tensor-core fused at m = 2 and 4, which plan auto leaves out (it runs where named),
    // where the layer is Winograd's (the planner offers unfused)
    const bool winograd = std::any_of(out.begin(), out.end(), [](const Candidate& c) { return c.plan == "unfused"; });
    for (int m : {2, 4})
      if (winograd && p != Precision::fp32 && caps.mma && planner::tensor_core_plan("fused", m + static_cast<int>(d.r) - 1)) {
        Candidate c;
        c.plan = "fused";
        c.m = m;
        c.precision = p;
        c.named_only = true;
        if (p == Precision::fp16 || p == Precision::bf16) c.rejected = planner::half_error_rejection(d, m, p, false);
        out.push_back(c);
      }
  }
  return out;
}

// The measured candidate the planner's pick `pc` stands for.
const Candidate* find_pick(const std::vector<Candidate>& cands, const std::vector<PlanCandidate>& planned) {
  for (const PlanCandidate& pc : planned)
    if (pc.chosen) {
      const Candidate want = candidate(pc);
      for (const Candidate& c : cands)
        if (c.plan == want.plan && c.m == want.m && c.tiles == want.tiles && c.precision == want.precision)
          return &c;
    }
  return nullptr;
}

// Plan "auto" on the layer, by the cost model and with tune mode, matched to the sweep's
// measurements of the same candidates.
void planner_picks(LayerResult& lr, const ConvDesc& d, const planner::DeviceCaps& caps, Precision precision) {
  Options model;
  model.precision = precision;
  lr.model_pick = find_pick(lr.candidates, planner::plan_convolution(d, model, caps).candidates);
  Options tune = model;
  tune.tune = true;
  lr.tuned_pick = find_pick(lr.candidates, compile(Device::cuda(), d, tune).report().candidates);
}

void run_wino(Candidate& c, const ConvDesc& d, const Tensor& x, const Tensor& w,
              const ReferenceCheck& ref, int warmup, int repeats) {
  try {
    Options o;
    o.plan = c.plan;
    o.m = c.m;
    o.precision = c.precision;
    planner::apply_candidate_tiles(c.tiles, o);
    Conv conv = compile(Device::cuda(), d, o);
    conv.set_weights(w.data());
    const bool nhwc = d.layout == Layout::nhwc;  // x and y channels last for the kernels; y back to NCHW
    const Tensor xl = nhwc ? nchw_to_nhwc(x) : x;
    Tensor yl(d.dtype, nhwc ? Shape{d.n, d.out_h(), d.out_w(), d.k} : Shape{d.n, d.k, d.out_h(), d.out_w()});
    conv.benchmark(xl.data(), yl.data(), repeats, warmup);
    const Tensor y = nhwc ? nhwc_to_nchw(yl) : yl;
    c.report = conv.report();
    c.t.us = c.report.time_us;
    c.t.tflops = tflops(d, c.t.us);
    c.t.rel_err = ref.relative_error(y);
    for (const KernelReport& k : c.report.kernels)
      if (k.spill_bytes > 0) c.rejected = k.name + " spills " + std::to_string(k.spill_bytes) + " bytes";
    const bool fp32_accurate = (c.precision == Precision::fp32 || c.precision == Precision::tf32x3) && d.dtype == DType::f32;
    const double tol = fp32_accurate ? tolerance(c.report.m, c.report.r)
                                     : error_tolerance(c.report.m, c.report.r, d.dtype, c.precision);
    if (!(c.t.rel_err <= tol))
      c.rejected = "relative error " + std::to_string(c.t.rel_err) + " over the target";
  } catch (const Error& e) {
    c.rejected = e.what();
  }
}

void run_cudnn(const ConvDesc& d, bool tf32, std::string& algo, std::string& error, Timing& t, const Tensor& x,
               const Tensor& w, const ReferenceCheck& ref, int warmup, int repeats) {
  try {
    CudnnConv conv(d, x, w, tf32);
    algo = conv.algorithm();
    t.us = median(conv.time_us(warmup, repeats));
    t.tflops = tflops(d, t.us);
    t.rel_err = ref.relative_error(conv.run());
  } catch (const Error& e) {
    error = e.what();
  }
}

std::string plan_label(const Candidate& c) {
  std::string label = c.report.m ? c.report.plan + " F(" + std::to_string(c.report.m) + "," +
                                       std::to_string(c.report.r) + ")"
                                 : c.plan + (c.m ? " m=" + std::to_string(c.m) : "");
  if (!c.tiles.empty()) label += " t" + c.tiles;  // as scripts/planner_replay.py labels the planner's candidates
  return c.precision == Precision::fp32 ? label : label + " " + precision_name(c.precision);
}

std::string pick_text(const LayerResult& lr, const Candidate* pick) {
  if (!pick) return "none";
  return plan_label(*pick) + " " + fmt("%.1f", pick->t.us) + " us (" +
         (lr.auto_best ? fmt("%.3f", pick->t.us / lr.auto_best->t.us) : std::string("-")) + "x the sweep's best)";
}

// The GEMM kernel's real TFLOP/s (its own FLOPs over its own time), and its share of the
// precision's peak on this GPU (planner::nvidia_peak_gflops), for tensor-core rows.
std::string gemm_tflops(const Candidate& c, const cuda::DeviceInfo& gpu) {
  const double peak = planner::nvidia_peak_gflops(gpu.cc_major, gpu.sm_count, c.precision) / 1e3;
  for (const KernelReport& k : c.report.kernels)
    if (k.name.find("_gemm_") != std::string::npos && k.time_us > 0) {
      const double tflops = k.flops / (k.time_us * 1e6);
      return fmt("%.1f TFLOP/s", tflops) +
             (peak > 0 ? fmt(", %.0f%%", 100 * tflops / peak) + " of the " + precision_name(c.precision) +
                             fmt(" peak %.0f", peak)
                       : std::string());
    }
  return "-";
}

void print_header(std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof line, "%-15s %-22s %9s %7s %8s | %-36s %9s %7s %8s %8s | %10s\n",
                "layer", "cuDNN algorithm", "cuDNN us", "TFLOP/s", "rel_err", "Wino plan", "Wino us",
                "TFLOP/s", "rel_err", "wt us", "cuDNN/Wino");
  out << line << std::string(std::string(line).size() - 1, '-') << "\n";
}

void print_result(std::ostream& out, const LayerResult& lr, const cuda::DeviceInfo& gpu, bool all_plans) {
  char line[512];
  const std::string algo = lr.cudnn_error.empty() ? lr.cudnn_algo.substr(0, lr.cudnn_algo.find(' ')) : "failed";
  const Candidate* b = lr.best;
  std::snprintf(line, sizeof line, "%-15s %-22s %9.1f %7.2f %8.1e | %-36s %9.1f %7.2f %8.1e %8.0f | %10s\n",
                lr.layer->name.c_str(), algo.c_str(), lr.cudnn.us, lr.cudnn.tflops, lr.cudnn.rel_err,
                b ? plan_label(*b).c_str() : "none", b ? b->t.us : -1, b ? b->t.tflops : -1,
                b ? b->t.rel_err : -1, b ? b->report.weight_transform_us : -1,
                lr.ratio() > 0 ? fmt("%.2f", lr.ratio()).c_str() : "-");
  out << line;
  if (!lr.cudnn_error.empty()) out << "    cuDNN: " << lr.cudnn_error << "\n";
  out << "    auto (cost model): " << pick_text(lr, lr.model_pick) << "; auto (tune): " << pick_text(lr, lr.tuned_pick)
      << "\n";
  if (lr.cudnn_tf32.us > 0 || !lr.tf32_error.empty())
    out << "    cuDNN TF32 " << (lr.tf32_error.empty() ? lr.tf32_algo.substr(0, lr.tf32_algo.find(' ')) : "failed: " + lr.tf32_error)
        << " " << fmt("%.1f", lr.cudnn_tf32.us) << " us (err " << fmt("%.1e", lr.cudnn_tf32.rel_err) << ")\n";
  for (const auto& [p, a] : lr.best_asked)
    out << "    best " << precision_name(p) << ": "
        << (a ? plan_label(*a) + " " + fmt("%.1f", a->t.us) + " us (err " + fmt("%.1e", a->t.rel_err) + ", GEMM " +
                    gemm_tflops(*a, gpu) + "): " +
                    (lr.cudnn_tf32.us > 0 ? "cuDNN TF32/Wino " + fmt("%.2f", lr.cudnn_tf32.us / a->t.us) + ", " : "") +
                    "cuDNN " + lr.cudnn_mode + "/Wino " + fmt("%.2f", lr.cudnn.us / a->t.us)
              : std::string("none eligible"))
        << "\n";
  if (!all_plans) return;
  for (const Candidate& c : lr.candidates) {
    int regs = 0, spill = 0;
    for (const KernelReport& k : c.report.kernels) {
      regs = std::max(regs, k.regs);
      spill = std::max(spill, k.spill_bytes);
    }
    std::snprintf(line, sizeof line, "    %-36s %9.1f us %7.2f TFLOP/s  err %8.1e  max regs %3d  spill %d  %s\n",
                  plan_label(c).c_str(), c.t.us, c.t.tflops, c.t.rel_err, regs, spill,
                  c.rejected.empty() ? "" : ("rejected: " + c.rejected).c_str());
    out << line;
  }
}

void write_timing(JsonWriter& j, const Timing& t) {
  j.key("us_med").value(t.us).key("tflops").value(t.tflops).key("rel_err").value(t.rel_err);
}

void write_json(const std::string& path, const std::vector<LayerResult>& results,
                const std::string& device, int warmup, int repeats) {
  JsonWriter j;
  j.begin_object();
  j.key("device").value(device).key("cudnn").value(CudnnConv::version());
  j.key("warmup").value(warmup).key("repeats").value(repeats);
  j.key("layers").begin_array();
  for (const LayerResult& lr : results) {
    const ConvDesc& d = lr.layer->desc;
    j.begin_object().key("layer").value(lr.layer->name).key("problem").value(d.str());
    j.key("N").value(d.n).key("C").value(d.c).key("K").value(d.k).key("H").value(d.h).key("W").value(d.w);
    j.key("flops").value(d.direct_flops()).key("mode").value(lr.cudnn_mode);
    j.key("cudnn").begin_object().key("algorithm").value(lr.cudnn_algo);
    if (!lr.cudnn_error.empty()) j.key("error").value(lr.cudnn_error);
    write_timing(j, lr.cudnn);
    j.end_object();
    if (lr.cudnn_tf32.us > 0) {
      j.key("cudnn_tf32").begin_object().key("algorithm").value(lr.tf32_algo);
      write_timing(j, lr.cudnn_tf32);
      j.end_object();
    }
    j.key("ratio_cudnn_over_wino").value(lr.ratio());
    for (const auto& [key, pick] : {std::pair{"auto_model", lr.model_pick}, std::pair{"auto_tuned", lr.tuned_pick}}) {
      j.key(key).begin_object().key("label").value(pick ? plan_label(*pick) : "none");
      j.key("us_med").value(pick ? pick->t.us : -1.0);
      j.key("over_best").value(pick && lr.auto_best ? pick->t.us / lr.auto_best->t.us : -1.0).end_object();
    }
    j.key("wino").begin_array();
    for (const Candidate& c : lr.candidates) {
      j.begin_object().key("plan").value(c.plan).key("m").value(c.m).key("label").value(plan_label(c));
      j.key("precision").value(precision_name(c.precision));
      j.key("best").value(&c == lr.best);
      if (!c.rejected.empty()) j.key("rejected").value(c.rejected);
      write_timing(j, c.t);
      j.key("weight_transform_us").value(c.report.weight_transform_us);
      cli::write_kernels_json(j, c.report);
      j.end_object();
    }
    j.end_array().end_object();
  }
  j.end_array().end_object();
  std::ofstream out(path);
  out << j.str() << "\n";
  if (!out) throw Error("cannot write " + path);
}

void print_summary(std::ostream& out, const std::vector<LayerResult>& results) {
  std::vector<double> batched;
  out << "\n";
  for (const LayerResult& lr : results)
    if (lr.layer->desc.n >= 8 && lr.ratio() > 0) batched.push_back(lr.ratio());
  if (!batched.empty())
    out << "geometric mean of cuDNN/Wino over the " << batched.size()
        << " layers with batch >= 8: " << fmt("%.2f", geometric_mean(batched)) << "\n";
  for (const LayerResult& lr : results)
    if (lr.layer->desc.n < 8 && lr.ratio() > 0)
      out << "batch " << lr.layer->desc.n << " " << lr.layer->name << ": cuDNN/Wino "
          << fmt("%.2f", lr.ratio()) << "\n";
  double model_worst = 0, tuned_worst = 0;
  for (const LayerResult& lr : results) {
    if (!lr.auto_best) continue;
    if (lr.model_pick) model_worst = std::max(model_worst, lr.model_pick->t.us / lr.auto_best->t.us);
    if (lr.tuned_pick) tuned_worst = std::max(tuned_worst, lr.tuned_pick->t.us / lr.auto_best->t.us);
  }
  std::map<Precision, std::pair<std::vector<double>, std::vector<double>>> ratios;  // cuDNN TF32, the row's over Wino
  for (const LayerResult& lr : results)
    for (const auto& [p, a] : lr.best_asked)
      if (lr.layer->desc.n >= 8 && a && lr.cudnn.us > 0) {
        if (lr.cudnn_tf32.us > 0) ratios[p].first.push_back(lr.cudnn_tf32.us / a->t.us);
        ratios[p].second.push_back(lr.cudnn.us / a->t.us);
      }
  for (const auto& [p, r] : ratios)
    out << "best " << precision_name(p) << " over the " << r.second.size() << " layers with batch >= 8: "
        << (r.first.empty() ? "" : "cuDNN TF32/Wino " + fmt("%.2f", geometric_mean(r.first)) + ", ") << "cuDNN "
        << results.front().cudnn_mode << "/Wino " << fmt("%.2f", geometric_mean(r.second)) << " (geometric means)\n";
  out << "plan auto against the exhaustive sweep's best, worst layer: cost model " << fmt("%.3f", model_worst)
      << "x, tune " << fmt("%.3f", tuned_worst) << "x\n";
}

// What one run compares: the tensors' type and layout (both libraries), and Wino's precisions.
struct Mode {
  DType dtype = DType::f32;
  Layout layout = Layout::nchw;
  std::vector<Precision> precisions;
  bool tensor = false;  // a tensor-core precision is among them (cuDNN TF32 is measured too)
};

Mode read_mode(const Args& args) try {
  Mode m;
  for (const std::string& p : cli::split_commas(args.get_or("precision", "fp32"), "--precision"))
    m.precisions.push_back(parse_precision(p));
  m.tensor = std::any_of(m.precisions.begin(), m.precisions.end(), [](Precision p) { return p != Precision::fp32; });
  const std::string dtype = args.get_or("dtype", "f32");
  m.dtype = dtype == "f16" ? DType::f16 : dtype == "bf16" ? DType::bf16 : DType::f32;
  if (dtype != "f32" && m.dtype == DType::f32) throw cli::UsageError("--dtype takes f32, f16 or bf16, got '" + dtype + "'");
  m.layout = parse_layout(args.get_or("layout", "nchw"));
  return m;
} catch (const cli::UsageError&) {
  throw;
} catch (const Error& e) {  // an unknown precision or layout is a command-line mistake
  throw cli::UsageError(e.what());
}

// cuDNN and every Wino candidate on one layer, the bests picked, the planner's picks matched.
LayerResult measure_layer(const io::Layer& l, const Mode& mode, const planner::DeviceCaps& caps, int warmup,
                          int repeats) {
  ConvDesc d = l.desc;
  d.dtype = mode.dtype;
  d.layout = mode.layout;
  // Drawn in float32 and rounded to the type: cuDNN, Wino and the reference see the same values.
  Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, kInputSeed).to(d.dtype);
  Tensor w = random_normal(DType::f32, {d.k, d.c / d.groups, d.r, d.s}, kWeightSeed).to(d.dtype);
  ReferenceCheck ref(d, x, w);
  LayerResult lr;
  lr.layer = &l;
  if (d.dtype != DType::f32 || d.layout != Layout::nchw)
    lr.cudnn_mode = std::string(dtype_name(d.dtype)) + " " + layout_name(d.layout);
  run_cudnn(d, false, lr.cudnn_algo, lr.cudnn_error, lr.cudnn, x, w, ref, warmup, repeats);
  if (mode.tensor && d.dtype == DType::f32)  // half types run on tensor cores in the row above already
    run_cudnn(d, true, lr.tf32_algo, lr.tf32_error, lr.cudnn_tf32, x, w, ref, warmup, repeats);
  for (Candidate c : candidate_plans(d, caps, mode.precisions)) {
    run_wino(c, d, x, w, ref, warmup, repeats);
    lr.candidates.push_back(std::move(c));
  }
  for (const Candidate& c : lr.candidates)  // the table's row: fp32 against cuDNN fp32
    if (c.rejected.empty() && c.precision == Precision::fp32 && (!lr.best || c.t.us < lr.best->t.us)) lr.best = &c;
  for (Precision p : mode.precisions) {
    const Candidate*& a = lr.best_asked[p];
    for (const Candidate& c : lr.candidates)
      if (c.rejected.empty() && c.precision == p && (!a || c.t.us < a->t.us)) a = &c;
  }
  // Plan auto is asked for the first precision: it picks among fp32 plans and that precision's.
  const Precision asked = mode.precisions.front();
  for (const Candidate& c : lr.candidates)
    if (c.rejected.empty() && !c.named_only && (c.precision == Precision::fp32 || c.precision == asked) &&
        (!lr.auto_best || c.t.us < lr.auto_best->t.us))
      lr.auto_best = &c;
  planner_picks(lr, d, caps, asked);
  return lr;
}

int run(int argc, char** argv) {
  Args args("wino_cudnn_bench",
            "Wino's fastest spill-free plan against cuDNN's fastest algorithm in the matching mode (fp32 with "
            "TF32 off; with --precision also cuDNN TF32; with --dtype f16/bf16 cuDNN's tensor-core math), layer by "
            "layer on one CUDA GPU: median time with CUDA events (each sample the mean of up to 20 runs back to "
            "back, about a millisecond of them, for both), effective TFLOP/s, the ratio cuDNN/Wino, and the "
            "relative L2 error of both vs the float64 reference.");
  args.option("layers", "FILE", "layer file: 'name N C K H W R S pad' lines (default bench/layers.txt)");
  args.option("only", "NAME,...", "run only these layers");
  args.option("repeat", "N", "timed runs per measurement, median counts (default 30, at least 20)");
  args.option("warmup", "N", "untimed runs before timing (default 5)");
  args.option("json", "FILE", "also write every number as JSON to FILE");
  args.flag("all-plans", "print every plan tried on each layer, not just the fastest");
  args.option("dtype", "T", "tensor type of x, w and y for both libraries: f32 (default), f16 or bf16");
  args.option("layout", "L", "memory order of x and y for both libraries: nchw (default) or nhwc");
  args.option("precision", "P,...",
              "also measure Wino's tensor-core GEMM in these precisions (3xtf32, tf32, fp16, bf16) and cuDNN with TF32 "
              "allowed (PyTorch's default); default fp32 (FMA only)");
  args.epilog(
      "Wino's time excludes the weight transform (done once in set_weights; column 'wt us').\n"
      "Wino's candidates are the planner's (every plan x m x GEMM tile shape, as plan 'auto' sees\n"
      "them); each layer's 'auto' line is the planner's pick by its cost model and in tune mode,\n"
      "timed in this sweep, against the fastest candidate it may pick (fp32, or the first\n"
      "--precision).\n"
      "A plan is eligible when no kernel spills and its error is within the targets (1e-5 for\n"
      "alpha <= 6, 3e-5 above). Layers over 2 GFLOP are checked at 2000 sampled outputs.\n"
      "example:\n  wino_cudnn_bench --only seed,resnet50.c2 --all-plans --json out.json");
  std::vector<std::string> argv_list(argv + 1, argv + argc);
  if (!args.parse(argv_list)) return 0;
  const int repeats = static_cast<int>(args.get_int_opt("repeat", 20, 100000).value_or(30));
  const int warmup = static_cast<int>(args.get_int_opt("warmup", 0, 100000).value_or(5));
  const std::string layers_path = args.get_or("layers", "bench/layers.txt");
  const std::vector<io::Layer> layers = io::read_layers_file(layers_path);
  std::vector<std::string> names;
  if (args.has("only")) names = cli::split_commas(args.get("only"), "--only");
  const std::vector<const io::Layer*> selected = io::select_layers(layers, names, layers_path);
  if (args.has("json") && !std::ofstream(args.get("json"), std::ios::app))  // fail before the hours of runs
    throw Error("cannot write " + args.get("json") + ": check that its directory exists and is writable");

  const Mode mode = read_mode(args);  // usage errors before any device work
  const std::string device = runtime::make_backend(Device::cuda(), {})->name();
  std::cout << device << ", " << CudnnConv::version() << "; median of " << repeats
            << " samples after " << warmup
            << " warm-up calls, CUDA events, each sample the mean of up to 20 runs back to back\n\n";
  print_header(std::cout);
  const planner::DeviceCaps caps = planner::caps_for_device(Device::cuda());
  const cuda::DeviceInfo gpu = cuda::list_cuda_devices().at(0);  // the device Device::cuda() runs on
  std::vector<LayerResult> results;
  for (const io::Layer* l : selected) {
    results.push_back(measure_layer(*l, mode, caps, warmup, repeats));
    print_result(std::cout, results.back(), gpu, args.has("all-plans"));
    std::cout.flush();
  }
  print_summary(std::cout, results);
  if (args.has("json")) write_json(args.get("json"), results, device, warmup, repeats);
  return 0;
}

}  // namespace

}  // namespace wino::bench

int main(int argc, char** argv) { return wino::cli::tool_main("wino_cudnn_bench", wino::bench::run, argc, argv); }

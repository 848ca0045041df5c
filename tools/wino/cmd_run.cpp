// `wino run`: one convolution through the whole pipeline, with its per-kernel report and, with
// --check, the relative L2 error against the float64 reference.
#include <iostream>
#include <optional>

#include "args.h"
#include "commands.h"
#include "common/json.h"
#include "conv_options.h"
#include "io/npy.h"
#include "reference/reference_check.h"
#include "report_format.h"

namespace wino::cli {

namespace {

void print_run(const Args& args, const Problem& prob, const Report& rep, int repeats,
               const std::optional<CheckVerdict>& check) {
  const double total_us = rep.time_us;  // whole runs, not the sum of per-kernel medians
  if (args.has("json")) {
    JsonWriter j;
    j.begin_object();
    j.key("problem").value(prob.desc.str()).key("device").value(rep.device);
    j.key("plan").value(rep.plan).key("m").value(rep.m).key("r").value(rep.r);
    j.key("precision").value(precision_name(rep.precision));
    if (check) {
      if (check->kind == CheckVerdict::Kind::not_comparable) j.key("rel_err").null();
      else j.key("rel_err").value(check->rel_err);
      j.key("tolerance").value(check->tolerance);
      j.key("check").value(check->kind == CheckVerdict::Kind::pass   ? "ok"
                           : check->kind == CheckVerdict::Kind::fail ? "failed"
                                                                     : "not comparable");
    }
    j.key("time_us").value(total_us);
    j.key("gflops").value(prob.desc.direct_flops() / (total_us * 1e3));
    j.key("weight_transform_us").value(rep.weight_transform_us);
    j.key("compile_ms").value(rep.compile_ms);
    write_candidates_json(j, rep);
    write_kernels_json(j, rep);
    j.end_object();
    std::cout << j.str() << "\n";
    return;
  }
  std::cout << "problem " << prob.desc.str() << " (" << prob.source << ")\n"
            << "device  " << rep.device << "\n"
            << "plan    " << rep.plan;
  if (rep.m) std::cout << " F(" << rep.m << "x" << rep.m << ", " << rep.r << "x" << rep.r << ")";
  if (rep.precision != Precision::fp32) std::cout << " " << precision_name(rep.precision) << " GEMM (tensor cores)";
  std::cout << ", compiled in " << rep.compile_ms << " ms, weights prepared in "
            << rep.weight_transform_us << " us\n\n";
  if (args.has("tune")) print_candidate_table(std::cout, rep);
  print_kernel_table(std::cout, rep);
  std::cout << "\ntotal " << total_us << " us (median of " << repeats << "), "
            << prob.desc.direct_flops() / (total_us * 1e3) << " effective GFLOP/s\n";
  if (check) std::cout << "relative L2 error vs float64 reference: " << check->describe(rep.m, rep.r) << "\n";
  if (args.has("output")) std::cout << "wrote " << args.get("output") << "\n";
}

}  // namespace

int cmd_run(const Argv& argv) {
  Args args("run", "Run one convolution with a chosen plan and report every kernel it used.");
  add_problem_options(args);
  add_plan_options(args, false);
  args.flag("tune", "with --plan auto: measure the cost model's best six candidates here and run the "
                    "fastest; prints the candidate table");
  args.option("output", "y.npy", "write the result here (float32)");
  args.flag("check", "compare with the float64 reference: print the relative L2 error and exit 1 "
                     "when it is over the tolerance of the plan's F(m, r) (docs/accuracy.md)");
  args.option("repeat", "N",
              "run N times and report median kernel times (default 1; on CUDA each time is the mean of up to 20 "
              "runs, or launches of a kernel, back to back)");
  args.flag("json", "print one JSON object instead of the table");
  args.epilog(
      "examples:\n"
      "  wino run --shape 1,8,32,32 --k 8 --pad 1 --plan unfused --m 4 --check\n"
      "  wino run --shape 1,64,56,56 --k 64 --pad 1 --bias random --residual random --activation relu --check\n"
      "  wino run --input x.npy --weights w.npy --pad 1 --output y.npy\n"
      "  wino run --shape 8,64,56,56 --k 64 --pad 1 --dtype f16 --device cuda --check");
  if (!args.parse(argv)) return 0;

  Problem prob = read_problem(args, true);
  if (args.has("output")) {
    for (const char* in : {"input", "weights", "bias", "residual"})
      if (args.has(in) && same_file(args.get(in), args.get("output")))
        throw UsageError("--output " + args.get("output") + " is the same file as --" + in +
                         ": choose another output path (inputs are never overwritten)");
    check_npy_output_path(args.get("output"));  // fail now, not after the computation
  }
  const int repeats = static_cast<int>(args.get_int_opt("repeat", 1, 100000).value_or(1));
  Options options = read_options(args);
  Conv conv = compile(read_device(args), prob.desc, options);
  const Epilogue& e = prob.desc.epilogue;
  conv.set_weights(prob.w.data(), e.bias ? prob.bias.data() : nullptr);
  Tensor y(prob.desc.dtype, {prob.desc.n, prob.desc.k, prob.desc.out_h(), prob.desc.out_w()});
  if (prob.desc.layout == Layout::nhwc) {  // the kernels run channels last; the files stay NCHW
    Tensor x = nchw_to_nhwc(prob.x), yl = nchw_to_nhwc(y), z = e.residual ? nchw_to_nhwc(prob.residual) : Tensor();
    conv.benchmark(x.data(), yl.data(), repeats, /*warmup=*/1, e.residual ? z.data() : nullptr);
    y = nhwc_to_nchw(yl);
  } else {
    conv.benchmark(prob.x.data(), y.data(), repeats, /*warmup=*/1, e.residual ? prob.residual.data() : nullptr);
  }
  Report rep = conv.report();

  std::optional<CheckVerdict> check;
  if (args.has("check"))
    check = ReferenceCheck(prob.desc, prob.x, prob.w, &prob.bias, &prob.residual).judge(y, rep.m, rep.r, rep.precision);
  // .npy has no bfloat16: its results are written as float32 (exactly).
  if (args.has("output")) write_npy(args.get("output"), y.dtype() == DType::bf16 ? y.to(DType::f32) : y);
  print_run(args, prob, rep, repeats, check);
  if (check && check->kind == CheckVerdict::Kind::fail)
    throw Error("--check failed: the relative L2 error " + check->describe(rep.m, rep.r) +
                (args.has("output") ? "; the output was written anyway for inspection" : ""));
  return 0;
}

}  // namespace wino::cli

// `wino bench`: every plan on every layer of a layer file, on one device: median time, effective
// GFLOP/s, speed-up over `direct`, and (--check) the relative L2 error vs the float64 reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "args.h"
#include "bench_rows.h"
#include "commands.h"
#include "common/json.h"
#include "common/random.h"
#include "conv_options.h"
#include "io/layers_file.h"
#include "plans/program.h"
#include "reference/reference_check.h"
#include "report_format.h"
#include "runtime/backend.h"

namespace wino::cli {

namespace {

constexpr uint64_t kInputSeed = 1, kWeightSeed = 2;

void run_plan(Row& row, const Device& device, const Options& o, const Tensor& x, const Tensor& w,
              const ReferenceCheck* ref, int repeats) {
  const ConvDesc& d = row.layer->desc;
  try {
    Conv conv = compile(device, d, o);
    conv.set_weights(w.f32());
    Tensor y(DType::f32, {d.n, d.k, d.out_h(), d.out_w()});
    conv.benchmark(x.f32(), y.f32(), repeats, /*warmup=*/1);
    row.report = conv.report();
    row.time_us = row.report.time_us;
    row.gflops = d.direct_flops() / (row.time_us * 1e3);
    if (ref) {
      row.sampled = ref->sampled();
      row.check = ref->judge(y, row.report.m, row.report.r, row.report.precision);
    }
  } catch (const Error& e) {
    row.error = e.what();
  }
}

void print_header(std::ostream& out, size_t name_width) {
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %-14s %-8s %12s %9s %9s  %s\n", static_cast<int>(name_width),
                "layer", "plan", "F(m,r)", "time_us", "GFLOP/s", "vs direct", "rel_err");
  out << line;
}

void print_row(std::ostream& out, const Row& row, size_t name_width) {
  char line[512];
  if (!row.error.empty()) {
    std::snprintf(line, sizeof line, "%-*s %-14s not run: ", static_cast<int>(name_width),
                  row.layer->name.c_str(), row.plan.c_str());
    out << line << row.error << "\n";
    return;
  }
  const Report& rep = row.report;
  std::string tile = rep.m ? "F(" + std::to_string(rep.m) + "," + std::to_string(rep.r) + ")" : "-";
  std::string err = "-";
  if (row.check && row.check->kind == CheckVerdict::Kind::not_comparable) err = "not comparable";
  else if (row.check)
    err = fmt("%.2e", row.check->rel_err) + (row.sampled ? " (sampled)" : "") +
          (row.wrong() ? fmt(" WRONG: over the tolerance %.0e, not ranked", row.check->tolerance) : "");
  std::snprintf(line, sizeof line, "%-*s %-14s %-8s %12.1f %9.2f %9s  %s\n",
                static_cast<int>(name_width), row.layer->name.c_str(), rep.plan.c_str(),
                tile.c_str(), row.time_us, row.gflops,
                row.vs_direct > 0 ? fmt("%.2f", row.vs_direct).c_str() : "-", err.c_str());
  out << line;
}

void write_row_json(JsonWriter& j, const Row& row) {
  j.begin_object();
  j.key("layer").value(row.layer->name).key("problem").value(row.layer->desc.str());
  j.key("plan").value(row.error.empty() ? row.report.plan : row.plan);
  if (!row.error.empty()) {
    j.key("error").value(row.error).end_object();
    return;
  }
  j.key("m").value(row.report.m).key("r").value(row.report.r).key("device").value(row.report.device);
  j.key("time_us").value(row.time_us).key("gflops").value(row.gflops);
  if (row.vs_direct > 0) j.key("vs_direct").value(row.vs_direct); else j.key("vs_direct").null();
  if (row.check && row.check->kind != CheckVerdict::Kind::not_comparable) j.key("rel_err").value(row.check->rel_err);
  else j.key("rel_err").null();
  if (row.check) {
    j.key("tolerance").value(row.check->tolerance);
    j.key("check").value(row.check->passed() ? "ok" : row.wrong() ? "failed" : "not comparable");
  }
  j.key("sampled").value(row.sampled).key("fastest").value(row.fastest);
  write_kernels_json(j, row.report);
  j.end_object();
}

std::vector<std::string> read_plans(const Args& args) {
  if (!args.has("plans")) return plans::plan_names();
  std::vector<std::string> list = split_commas(args.get("plans"), "--plans");
  const auto& names = plans::plan_names();
  for (const std::string& p : list)
    if (p != "auto" && std::find(names.begin(), names.end(), p) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += n + ", ";
      throw UsageError("--plans: unknown plan '" + p + "' (known: " + known + "auto)");
    }
  reject_duplicates(list, "--plans");
  return list;
}

}  // namespace

int cmd_bench(const Argv& argv) {
  Args args("bench", "Time plans on the layers of a layer file: median time, effective GFLOP/s, "
                     "speed-up over direct and, with --check, the error vs the float64 reference.");
  args.option("layers", "FILE", "layer file: lines of 'name N C K H W R S pad', '#' comments", true);
  args.option("only", "NAME,...", "run only these layers of the file");
  args.option("plans", "P,...", "plans to run (default: every plan)");
  add_m_option(args);
  add_tiles_option(args);
  args.option("device", "D", "auto, cpu, cuda[:N] or opencl[:N] (default auto)");
  args.option("repeat", "N",
              "timed runs after one warm-up; the median per kernel counts (default 5; on CUDA each the mean of up "
              "to 20 back to back)");
  args.flag("check", "relative L2 error vs the float64 reference (at 2000 sampled outputs for "
                     "layers over 2 GFLOP)");
  args.flag("list", "print the layers of the file (after --only) and exit");
  args.flag("json", "print a JSON list of rows instead of the table");
  args.epilog(
      "examples:\n"
      "  wino bench --layers layers.txt --only seed,resnet50.c4 --check\n"
      "  wino bench --layers layers.txt --plans direct,unfused --device cuda --json");
  if (!args.parse(argv)) return 0;

  const std::vector<std::string> plan_list = read_plans(args);
  const int repeats = static_cast<int>(args.get_int_opt("repeat", 1, 100000).value_or(5));
  Options base = read_options(args);
  if (args.has("tiles") && std::none_of(plan_list.begin(), plan_list.end(), plan_uses_tiles))
    throw UsageError("--tiles does not apply to --plans " + args.get("plans") +
                     ", which have no GEMM tiles: leave --tiles out, or add a Winograd plan");
  const Device device = read_device(args);
  const std::vector<io::Layer> layers = io::read_layers_file(args.get("layers"));
  const std::vector<const io::Layer*> selected = select_layers(args, layers);
  size_t name_width = 5;
  for (const io::Layer* l : selected) name_width = std::max(name_width, l->name.size());

  if (args.has("list")) {
    for (const io::Layer* l : selected)
      std::cout << l->name << std::string(name_width + 2 - l->name.size(), ' ') << l->desc.str()
                << "  " << fmt("%.3f", l->desc.direct_flops() / 1e9) << " GFLOP\n";
    return 0;
  }
  // Fails here, once, when the device is missing, rather than in every row.
  const std::string device_name = runtime::make_backend(device, base)->name();
  const bool json = args.has("json");
  if (!json) {
    std::cout << "device " << device_name << ", median of " << repeats
              << " timed runs after one warm-up (CUDA: each the mean of up to 20 back to back)\n\n";
    print_header(std::cout, name_width);
  }

  std::vector<Row> rows;
  for (const io::Layer* l : selected) {
    const ConvDesc& d = l->desc;
    Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, kInputSeed);
    Tensor w = random_normal(DType::f32, {d.k, d.c / d.groups, d.r, d.s}, kWeightSeed);
    std::optional<ReferenceCheck> ref;
    if (args.has("check")) ref.emplace(d, x, w);
    const size_t first = rows.size();
    for (const std::string& plan : plan_list) {
      Row row;
      row.layer = l;
      row.plan = plan;
      Options o = base;
      o.plan = plan;
      run_plan(row, device, o, x, w, ref ? &*ref : nullptr, repeats);
      rows.push_back(std::move(row));
    }
    rank_layer(rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end());
    for (size_t i = first; i < rows.size(); ++i)
      if (!json) print_row(std::cout, rows[i], name_width);
    if (!json) print_fastest(std::cout, rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end());
    std::cout.flush();
  }
  if (json) {
    JsonWriter j;
    j.begin_array();
    for (const Row& row : rows) write_row_json(j, row);
    j.end_array();
    std::cout << j.str() << "\n";
  }
  throw_if_wrong(rows);
  return 0;
}

}  // namespace wino::cli

// `wino tune`: plan auto's tune mode over every layer of a layer file, filling the tuning cache
// that later compiles of plan auto on the same device read (`wino run`, the C++ API).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "conv_options.h"
#include "planner/tuning_cache.h"
#include "report_format.h"
#include "runtime/backend.h"

namespace wino::cli {

namespace {

// One line on stderr, redrawn in place: the layer, candidates measured, the best so far.
void progress(size_t index, size_t count, const std::string& layer, int done, int total, const PlanCandidate& best) {
  std::fprintf(stderr, "\r[%zu/%zu] %-16s %d/%d candidates measured, best so far %-30s %9.1f us", index, count,
               layer.c_str(), done, total, candidate_label(best).c_str(), best.measured_us);
  std::fflush(stderr);
}

}  // namespace

int cmd_tune(const Argv& argv) {
  Args args("tune", "Measure plan auto's best candidates on a device, for every layer of a layer file, and "
                    "store the fastest in the tuning cache: later runs of plan auto on this device (wino run, "
                    "the C++ API) take it from there without measuring.");
  args.option("layers", "FILE", "layer file: lines of 'name N C K H W R S pad', '#' comments", true);
  args.option("only", "NAME,...", "tune only these layers of the file");
  args.option("device", "D", "auto, cpu, cuda[:N] or opencl[:N] (default auto)");
  args.flag("quick", "measure the cost model's best 3 candidates instead of 6");
  add_accuracy_option(args);
  args.epilog(
      "The cache is $WINO_CACHE_DIR/tuning, else ~/.cache/wino/tuning; one file per layer, device and\n"
      "Wino version. example:\n  wino tune --layers bench/layers.txt --only vgg16.3_2.b8 --device cuda");
  if (!args.parse(argv)) return 0;
  Options o = read_options(args);
  o.tune = true;
  o.tune_top = args.has("quick") ? 3 : 6;
  const Device device = read_device(args);
  const std::vector<io::Layer> layers = io::read_layers_file(args.get("layers"));
  const std::vector<const io::Layer*> selected = select_layers(args, layers);
  std::printf("device %s; tuning cache %s\n\n", runtime::make_backend(device, o)->name().c_str(),
              planner::tuning_cache_dir().c_str());
  std::printf("%-16s %-32s %11s %9s %9s\n", "layer", "tuned plan", "measured_us", "measured", "seconds");
  for (size_t i = 0; i < selected.size(); ++i) {
    const io::Layer& l = *selected[i];
    o.tune_progress = [&](int done, int total, const PlanCandidate& best) {
      progress(i + 1, selected.size(), l.name, done, total, best);
    };
    const auto t0 = std::chrono::steady_clock::now();
    const Report rep = compile(device, l.desc, o).report();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "\r%*s\r", 120, "");
    int measured = 0;
    for (const PlanCandidate& c : rep.candidates) measured += c.measured_us >= 0;
    const PlanCandidate& pick = rep.candidates.front();
    std::printf("%-16s %-32s %11.1f %9d %9.2f\n", l.name.c_str(), candidate_label(pick).c_str(), pick.measured_us,
                measured, seconds);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace wino::cli

// wino_onednn_bench: Wino against oneDNN on the CPU, layer by layer, same data, same thread
// count: oneDNN's direct, winograd and auto algorithms (in their preferred layouts, reorders not
// timed) and Wino's plan auto in tune mode, taking turns; median times, the ratio of oneDNN's best over Wino,
// and every result's relative L2 error against float64. See docs/performance.md.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <iostream>
#include <thread>

#include "args.h"
#include "common/error.h"
#include "common/json.h"
#include "common/random.h"
#include "common/stats.h"
#include "io/layers_file.h"
#include "onednn_conv.h"
#include "reference/reference_check.h"
#include "report_format.h"

namespace wino::bench {

namespace {

using cli::Args;
using cli::fmt;

struct Timing {
  std::string name, detail, error;  // error: why it did not run
  double us = -1, rel_err = -1;
  std::vector<double> rounds;  // the median of each round, in order
};

struct Row {
  const io::Layer* layer = nullptr;
  std::vector<Timing> onednn;  // direct, winograd, auto
  Timing wino;
  const Timing* best_onednn() const {
    const Timing* b = nullptr;
    for (const Timing& t : onednn)
      if (t.us > 0 && (!b || t.us < b->us)) b = &t;
    return b;
  }
  // oneDNN's best over Wino within each round (turns at most a few hundred ms apart), median over
  // the rounds: a slow phase of the machine that lasts seconds slows both sides of a round alike.
  double paired_ratio() const {
    const Timing* b = best_onednn();
    if (!b || wino.us <= 0 || b->rounds.size() != wino.rounds.size()) return -1;
    std::vector<double> ratios;
    for (size_t i = 0; i < wino.rounds.size(); ++i) ratios.push_back(b->rounds[i] / wino.rounds[i]);
    return median(ratios);
  }
};

// Both libraries' threads spin for a while after their last run (OpenMP's for milliseconds), and
// on a machine with few cores a spinning thread of one slows the other: each measurement starts
// after a pause long enough for them to go to sleep.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }

// One library's convolution, built once and timed in rounds (see measure_rounds).
struct Contender {
  Timing timing;
  std::function<double(int)> time_us;  // median of that many runs (after two warm-ups)
};

Contender onednn_contender(const ConvDesc& d, const std::string& algo, const Tensor& x, const Tensor& w,
                           const ReferenceCheck& ref) {
  Contender c;
  c.timing.name = algo;
  try {
    auto conv = std::make_shared<OneDnnConv>(d, algo, x.f32(), w.f32());
    c.timing.detail = conv->implementation();
    Tensor y(DType::f32, {d.n, d.k, d.out_h(), d.out_w()});
    conv->run(y.f32());
    c.timing.rel_err = ref.relative_error(y);
    c.time_us = [conv](int runs) { return median(conv->time_us(2, runs)); };
  } catch (const std::exception& e) {
    c.timing.error = e.what();
  }
  return c;
}

// Wino in `layout`: NHWC takes x and gives y channels last (converted outside the timing, as
// oneDNN's reorders are; the error is of y converted back).
Contender wino_contender(ConvDesc d, Layout layout, int threads, const Tensor& x_nchw, const Tensor& w,
                         const ReferenceCheck& ref) {
  Contender c;
  c.timing.name = "wino";
  d.layout = layout;
  const bool nhwc = layout == Layout::nhwc;
  auto x = std::make_shared<Tensor>(nhwc ? nchw_to_nhwc(x_nchw) : x_nchw);
  try {
    Options o;
    o.threads = threads;
    o.tune = true;
    o.tune_top = 3;
    settle();
    auto conv = std::make_shared<Conv>(compile(Device::cpu(), d, o));
    conv->set_weights(w.f32());
    const std::vector<int64_t> y_shape = nhwc ? std::vector<int64_t>{d.n, d.out_h(), d.out_w(), d.k}
                                               : std::vector<int64_t>{d.n, d.k, d.out_h(), d.out_w()};
    auto y = std::make_shared<Tensor>(DType::f32, y_shape);
    conv->run(x->f32(), y->f32());
    const Report r = conv->report();
    c.timing.detail = r.plan + (r.m ? " F(" + std::to_string(r.m) + "," + std::to_string(r.r) + ")" : "");
    if (!r.candidates.empty() && !r.candidates.front().tiles.empty()) c.timing.detail += " t" + r.candidates.front().tiles;
    c.timing.rel_err = ref.relative_error(nhwc ? nhwc_to_nchw(*y) : *y);
    c.time_us = [conv, y, x](int runs) {
      conv->benchmark(x->f32(), y->f32(), runs, 2);
      return conv->report().time_us;
    };
  } catch (const std::exception& e) {
    c.timing.error = e.what();
  }
  return c;
}

// Machines like this one are shared and their speed drifts over seconds (Zen 4, 2 cores: the
// transforms and pads of a run 4-7x slower for a few seconds at a time): the contenders take
// turns, `rounds` times (7 by default; 3 left single layers 1.5-1.9x apart from run to run), each
// turn warmed up and then the median of its runs, and each keeps the median of its turns.
void measure_rounds(std::vector<Contender>& cs, int repeats, int rounds) {
  for (int round = 0; round < rounds; ++round)
    for (Contender& c : cs)
      if (c.time_us) {
        settle();
        // Warm up for 20 ms: caches, the threads' wake-up and the core's clock after the pause.
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        while (std::chrono::steady_clock::now() < until) c.time_us(3);
        c.timing.rounds.push_back(c.time_us(std::max(3, repeats / rounds)));  // the header prints this total
      }
  for (Contender& c : cs)
    if (!c.timing.rounds.empty()) c.timing.us = median(c.timing.rounds);
}

std::string cell(const Timing& t) { return t.us > 0 ? fmt("%.1f", t.us) : "-"; }

void print_row(const Row& r) {
  const Timing* best = r.best_onednn();
  const double paired = r.paired_ratio();
  std::printf("%-16s %10s %10s %10s | %-28s %10s | %6s %6s | %8s %8s\n", r.layer->name.c_str(), cell(r.onednn[0]).c_str(),
              cell(r.onednn[1]).c_str(), cell(r.onednn[2]).c_str(), r.wino.detail.c_str(), cell(r.wino).c_str(),
              best && r.wino.us > 0 ? fmt("%.2f", best->us / r.wino.us).c_str() : "-",
              paired > 0 ? fmt("%.2f", paired).c_str() : "-",
              best ? fmt("%.1e", best->rel_err).c_str() : "-", r.wino.us > 0 ? fmt("%.1e", r.wino.rel_err).c_str() : "-");
  for (const Timing& t : r.onednn)
    if (!t.error.empty()) std::printf("    oneDNN %s: %s\n", t.name.c_str(), t.error.substr(0, 150).c_str());
  if (!r.wino.error.empty()) std::printf("    Wino: %s\n", r.wino.error.c_str());
}

void write_json(const std::string& path, const std::vector<Row>& rows, int threads, const std::string& layout_name) {
  JsonWriter j;
  j.begin_object().key("onednn").value(OneDnnConv::version()).key("threads").value(threads);
  j.key("wino_layout").value(layout_name).key("layers").begin_array();
  for (const Row& r : rows) {
    j.begin_object().key("layer").value(r.layer->name).key("problem").value(r.layer->desc.str());
    for (const Timing* t : {&r.onednn[0], &r.onednn[1], &r.onednn[2], &r.wino}) {
      j.key(t->name).begin_object().key("us_med").value(t->us).key("rel_err").value(t->rel_err);
      j.key("us_rounds").begin_array();
      for (double us : t->rounds) j.value(us);
      j.end_array();
      j.key("detail").value(t->detail).key("error").value(t->error).end_object();
    }
    j.key("paired_ratio").value(r.paired_ratio()).end_object();
  }
  j.end_array().end_object();
  std::ofstream(path) << j.str() << "\n";
}

int run(int argc, char** argv) {
  Args args("wino_onednn_bench",
            "Wino's plan auto (tune mode) against oneDNN's direct, winograd and auto algorithms on the CPU, "
            "same data and threads: median times, oneDNN's best over Wino, relative L2 errors vs float64.");
  args.option("layers", "FILE", "layer file (default bench/cpu_layers.txt: issue 17's table)");
  args.option("only", "NAME,...", "run only these layers");
  args.option("repeat", "N", "timed runs per library and layer, split over the rounds, at least 3 a round (default 60)");
  args.option("rounds", "R", "turns the libraries take, the runs split between them (default 7)");
  args.option("threads", "T", "threads for both libraries (default: every core)");
  args.option("layout", "L", "Wino's memory order for x and y: nchw (default) or nhwc (PyTorch's channels_last); "
              "oneDNN always runs in its own preferred layout");
  args.option("json", "FILE", "also write every number as JSON");
  args.epilog("examples:\n  wino_onednn_bench --only seed,resnet50.c3 --threads 2\n  wino_onednn_bench --layout nhwc");
  std::vector<std::string> argv_list(argv + 1, argv + argc);
  if (!args.parse(argv_list)) return 0;
  const int repeats = static_cast<int>(args.get_int_opt("repeat", 3, 100000).value_or(60));
  const int rounds = static_cast<int>(args.get_int_opt("rounds", 1, 1000).value_or(7));
  const int threads = static_cast<int>(args.get_int_opt("threads", 1, 1024).value_or(
      static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()))));
  omp_set_num_threads(threads);
  const std::string layout_name = args.get_or("layout", "nchw");
  if (layout_name != "nchw" && layout_name != "nhwc")
    throw Error("--layout " + layout_name + ": expected nchw or nhwc");
  const Layout layout = layout_name == "nhwc" ? Layout::nhwc : Layout::nchw;
  const std::string path = args.get_or("layers", "bench/cpu_layers.txt");
  const std::vector<io::Layer> layers = io::read_layers_file(path);
  std::vector<std::string> names;
  if (args.has("only")) names = cli::split_commas(args.get("only"), "--only");
  const std::vector<const io::Layer*> selected = io::select_layers(layers, names, path);
  std::printf("%s, %d threads for both; %d runs each in %d alternating rounds, median of the rounds' medians; "
              "times in us; Wino in %s\n\n", OneDnnConv::version().c_str(), threads, rounds * std::max(3, repeats / rounds),
              rounds, layout_name.c_str());
  std::printf("%-16s %10s %10s %10s | %-28s %10s | %6s %6s | %8s %8s\n", "layer", "dnn direct", "dnn wino", "dnn auto",
              "Wino plan", "Wino", "best/W", "paired", "dnn err", "Wino err");
  std::vector<Row> rows;
  std::vector<double> ratios, paired;
  for (const io::Layer* l : selected) {
    const ConvDesc& d = l->desc;
    const Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 1);
    const Tensor w = random_normal(DType::f32, {d.k, d.c / d.groups, d.r, d.s}, 2);
    const ReferenceCheck ref(d, x, w);
    Row r;
    r.layer = l;
    std::vector<Contender> cs;
    for (const char* algo : {"direct", "winograd", "auto"}) cs.push_back(onednn_contender(d, algo, x, w, ref));
    cs.push_back(wino_contender(d, layout, threads, x, w, ref));
    measure_rounds(cs, repeats, rounds);
    for (size_t i = 0; i < 3; ++i) r.onednn.push_back(cs[i].timing);
    r.wino = cs[3].timing;
    print_row(r);
    std::fflush(stdout);
    if (const Timing* b = r.best_onednn(); b && r.wino.us > 0) ratios.push_back(b->us / r.wino.us);
    if (const double p = r.paired_ratio(); p > 0) paired.push_back(p);
    rows.push_back(std::move(r));
  }
  if (!ratios.empty())
    std::printf("\ngeometric mean of oneDNN's best over Wino: %.3f (>1: Wino faster); slowest layer %.3f\n",
                geometric_mean(ratios), *std::min_element(ratios.begin(), ratios.end()));
  if (!paired.empty())
    std::printf("the same from each round's own pair of times (paired): %.3f; slowest layer %.3f\n",
                geometric_mean(paired), *std::min_element(paired.begin(), paired.end()));
  if (args.has("json")) write_json(args.get("json"), rows, threads, layout_name);
  return 0;
}

}  // namespace

}  // namespace wino::bench

int main(int argc, char** argv) { return wino::cli::tool_main("wino_onednn_bench", wino::bench::run, argc, argv); }

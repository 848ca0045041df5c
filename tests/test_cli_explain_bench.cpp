// End-to-end tests of `wino explain` and `wino bench`, running the real binary on small shapes.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "plans/program.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using testing::run_wino;
using testing::TempDir;

using testing::contains;

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// The numbers that follow each occurrence of `"key": ` in a JSON text (null values skipped).
std::vector<double> json_numbers(const std::string& json, const std::string& key) {
  std::vector<double> values;
  const std::string pattern = "\"" + key + "\": ";
  for (size_t at = json.find(pattern); at != std::string::npos; at = json.find(pattern, at + 1)) {
    const char* start = json.c_str() + at + pattern.size();
    char* end = nullptr;
    double v = std::strtod(start, &end);
    if (end != start) values.push_back(v);
  }
  return values;
}

const std::vector<std::string> kSeed = {"--shape", "1,8,32,32", "--k", "8", "--pad", "1"};

std::vector<std::string> explain_args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"explain"};
  a.insert(a.end(), kSeed.begin(), kSeed.end());
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(CliExplain, AllPlansForTheCpuTarget) {
  auto r = run_wino(explain_args({"--plan", "all", "--target", "cpu"}));
  ASSERT_EQ(r.status, 0) << r.err;
  for (const std::string& plan : plans::plan_names())
    EXPECT_TRUE(contains(r.out, "== " + plan + ",") || contains(r.out, "== " + plan + " F("))
        << plan << "\n" << r.out;
  EXPECT_TRUE(contains(r.out, "target  cpu"));
  EXPECT_TRUE(contains(r.out, "wino_direct_conv"));
  // pad to channels last, input, GEMM, output, weights (plans/cpu_unfused.h)
  EXPECT_TRUE(contains(r.out, "== unfused F(4x4, 3x3), target cpu: 5 kernels"));
  EXPECT_TRUE(contains(r.out, "== direct, target cpu: 2 kernels,"));  // the kernel, its weight panels
}

// --ir: the IR of every kernel after the build and after each pass, in text and in JSON; the
// epilogue and the tensor type show in the IR (a bias load, f16 buffers).
TEST(CliExplain, IrAfterEachLoweringStep) {
  auto r = run_wino(explain_args({"--plan", "unfused", "--m", "2", "--target", "cpu", "--ir", "--bias",
                                  "random", "--activation", "relu", "--dtype", "f16"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "-- IR after build"), 1) << r.out;
  EXPECT_EQ(count(r.out, "-- IR after sink_to_first_use"), 1) << r.out;
  EXPECT_EQ(count(r.out, "kernel wino_unfused_output_f2x3"), 2) << r.out;  // once per step
  EXPECT_TRUE(contains(r.out, "buffer x: f16[")) << r.out;
  EXPECT_TRUE(contains(r.out, "buffer bias: f16[8] read_only")) << r.out;
  r = run_wino(explain_args({"--plan", "direct", "--target", "cpu", "--ir", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "\"after\": "), 2) << r.out;
  r = run_wino(explain_args({"--plan", "direct", "--target", "cpu"}));
  EXPECT_FALSE(contains(r.out, "-- IR after")) << "the IR is printed only when asked for";
}

TEST(CliExplain, JsonListsPlansAndKernels) {
  auto r = run_wino(explain_args({"--plan", "all", "--target", "cpu", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const int plans = static_cast<int>(plans::plan_names().size());
  EXPECT_EQ(r.out.front(), '[');
  EXPECT_EQ(count(r.out, "\"plan\": "), plans);
  EXPECT_EQ(count(r.out, "\"target\": \"cpu\""), plans);
  EXPECT_EQ(count(r.out, "\"device\": null"), plans);
  EXPECT_EQ(count(r.out, "\"kernels\": ["), plans);
  EXPECT_TRUE(contains(r.out, "\"plan\": \"direct\", \"problem\": \"1x8x32x32 k8 3x3 pad 1,1,1,1\""));
  const int kernels = count(r.out, "\"name\": ");
  EXPECT_GE(kernels, 4);  // direct 1 + unfused 3 at least
  for (const char* key : {"lines", "ssa_values", "pred_regs"}) {
    std::vector<double> v = json_numbers(r.out, key);
    ASSERT_EQ(static_cast<int>(v.size()), kernels) << key;
    for (double x : v) EXPECT_GT(x, 0) << key;
  }
  EXPECT_EQ(count(r.out, "\"regs\": null"), kernels);
  EXPECT_EQ(count(r.out, "\"time_us\": null"), kernels);
}

TEST(CliExplain, Sm90ReportsRegistersAndNoSpills) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  auto r = run_wino(explain_args({"--plan", "all", "--target", "sm_90", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const int kernels = count(r.out, "\"name\": ");
  std::vector<double> regs = json_numbers(r.out, "regs"), spills = json_numbers(r.out, "spill_bytes");
  ASSERT_EQ(static_cast<int>(regs.size()), kernels);
  ASSERT_EQ(static_cast<int>(spills.size()), kernels);
  for (double v : regs) EXPECT_GT(v, 0);
  for (double v : spills) EXPECT_EQ(v, 0);

  r = run_wino(explain_args({"--plan", "direct", "--target", "sm_90"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "(NVRTC ")) << r.out;
  EXPECT_TRUE(contains(r.out, "0 spill bytes")) << r.out;
}

TEST(CliExplain, UnsupportedPlanIsOneLineOfAll) {
  auto r = run_wino(explain_args({"--plan", "all", "--target", "cpu", "--groups", "2"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "== direct, target cpu: 1 kernel")) << r.out;
  EXPECT_TRUE(contains(r.out, "== unfused: not supported: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "groups")) << r.out;
  r = run_wino(explain_args({"--plan", "all", "--target", "cpu", "--groups", "2", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"plan\": \"unfused\", \"problem\": \"1x8x32x32 k8 3x3 pad 1,1,1,1 "
                              "groups 2\", \"target\": \"cpu\", \"error\": "))
      << r.out;
  // A single plan that does not apply is an error of the command.
  r = run_wino(explain_args({"--plan", "unfused", "--target", "cpu", "--groups", "2"}));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "groups")) << r.err;
}

TEST(CliExplain, SourceAndDeviceRun) {
  auto r = run_wino(explain_args({"--plan", "direct", "--target", "opencl", "--device", "cpu", "--source"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "us on cpu")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n// wino_direct_conv")) << r.out;
  EXPECT_TRUE(contains(r.out, "__kernel")) << r.out;  // the OpenCL dialect
  r = run_wino(explain_args({"--plan", "direct", "--target", "cpu", "--device", "cpu", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<double> times = json_numbers(r.out, "time_us");
  ASSERT_EQ(times.size(), 1u) << r.out;
  EXPECT_GT(times[0], 0);
  EXPECT_TRUE(contains(r.out, "\"device\": \"cpu")) << r.out;
}

TEST(CliExplain, UsageErrors) {
  auto r = run_wino({"explain", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino explain"));
  EXPECT_TRUE(contains(r.out, "--target"));
  r = run_wino(explain_args({"--target", "vulkan"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--target")) << r.err;
  r = run_wino(explain_args({"--plan", "bogus"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "unknown plan 'bogus'")) << r.err;
  r = run_wino({"explain", "--k", "8"});
  EXPECT_EQ(r.status, 2);
  r = run_wino(explain_args({"--device", "tpu"}));
  EXPECT_EQ(r.status, 2);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(CliBench, TinyLayersWithCheck) {
  TempDir dir;
  write_file(dir.file("layers.txt"),
             "# name N C K H W R S pad\n"
             "tiny 1 4 4 8 8 3 3 1\n"
             "odd  2 3 5 9 7 3 3 0   # a trailing comment\n");
  auto r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "direct,unfused",
                     "--repeat", "2", "--check", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "\"layer\": "), 4) << r.out;
  EXPECT_EQ(count(r.out, "\"layer\": \"tiny\""), 2);
  EXPECT_EQ(count(r.out, "\"layer\": \"odd\""), 2);
  EXPECT_EQ(count(r.out, "\"sampled\": false"), 4);
  std::vector<double> errs = json_numbers(r.out, "rel_err");
  ASSERT_EQ(errs.size(), 4u) << r.out;
  for (double e : errs) EXPECT_LT(e, 1e-4);
  std::vector<double> ratio = json_numbers(r.out, "vs_direct");
  ASSERT_EQ(ratio.size(), 4u);
  EXPECT_EQ(ratio[0], 1.0);  // direct against itself
  for (double g : json_numbers(r.out, "gflops")) EXPECT_GT(g, 0);

  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "unfused,direct",
                "--only", "odd", "--repeat", "1", "--check"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "device cpu")) << r.out;
  EXPECT_TRUE(contains(r.out, "odd   unfused        F(4,3)")) << r.out;
  EXPECT_TRUE(contains(r.out, "odd   direct         -")) << r.out;
  EXPECT_FALSE(contains(r.out, "tiny")) << r.out;
}

TEST(CliBench, UnsupportedPlanIsAnErrorRow) {
  TempDir dir;
  write_file(dir.file("layers.txt"), "rect 1 4 4 8 8 3 1 0\n");
  auto r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "unfused,direct",
                     "--repeat", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "rect  unfused        not run: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "rect  direct         -")) << r.out;
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "unfused", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"plan\": \"unfused\", \"error\": ")) << r.out;
}

// A plan or layer listed twice would run twice and print two rows for one measurement.
TEST(CliBench, DuplicatePlansOrLayersAreRejected) {
  TempDir dir;
  write_file(dir.file("layers.txt"), "tiny 1 4 4 8 8 3 3 1\nother 1 4 4 8 8 3 3 0\n");
  auto r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "direct,unfused,direct"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--plans lists 'direct' twice")) << r.err;
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--only", "tiny,other,tiny", "--list"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--only lists 'tiny' twice")) << r.err;
}

TEST(CliBench, UsageAndFileErrors) {
  TempDir dir;
  write_file(dir.file("layers.txt"), "tiny 1 4 4 8 8 3 3 1\n");
  auto r = run_wino({"bench", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino bench"));
  r = run_wino({"bench"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--layers")) << r.err;
  r = run_wino({"bench", "--layers", dir.file("missing.txt")});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "missing.txt")) << r.err;
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "direct,bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "unknown plan 'bogus'")) << r.err;
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--only", "tiny,huge"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "no layer 'huge'")) << r.err;
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--repeat", "0"});
  EXPECT_EQ(r.status, 2);
  r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--device", "tpu"});
  EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace wino

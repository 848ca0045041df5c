// A check that fails must fail: `wino run --check` exits 1 over the plan's documented tolerance,
// says "not comparable" when the reference holds NaN or Inf, and `wino bench` never ranks a wrong
// row. Also the warning for float64 inputs that overflow float32.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "bench_rows.h"
#include "cli_runner.h"
#include "common/error.h"
#include "common/random.h"
#include "io/npy.h"
#include "plans/program.h"
#include "reference/reference.h"
#include "reference/reference_check.h"
#include "reference/tolerance.h"

namespace wino::testing {
namespace {

ConvDesc small_desc() {
  ConvDesc d;
  d.n = 1, d.c = 2, d.h = 8, d.w = 8, d.k = 2, d.r = d.s = 3, d.pad = Padding::all(1);
  return d;
}

TEST(CheckVerdict, PassesWithinFailsOverAndNaNFails) {
  const ConvDesc d = small_desc();
  Tensor x = random_normal(DType::f32, {1, 2, 8, 8}, 1), w = random_normal(DType::f32, {2, 2, 3, 3}, 2);
  ReferenceCheck check(d, x, w);
  Tensor y = reference_conv2d(x, w, d.pad).to(DType::f32);
  EXPECT_TRUE(check.judge(y, 4, 3).passed());
  y.f32()[5] += 1.0f;  // one wrong element
  CheckVerdict v = check.judge(y, 4, 3);
  EXPECT_EQ(v.kind, CheckVerdict::Kind::fail);
  EXPECT_EQ(v.tolerance, error_tolerance(4, 3));
  EXPECT_NE(v.describe(4, 3).find("FAILED"), std::string::npos) << v.describe(4, 3);
  y.f32()[5] = std::nanf("");
  EXPECT_EQ(check.judge(y, 4, 3).kind, CheckVerdict::Kind::fail);  // NaN is never within tolerance
}

TEST(CheckVerdict, NonFiniteReferenceIsNotComparable) {
  const ConvDesc d = small_desc();
  Tensor x = random_normal(DType::f32, {1, 2, 8, 8}, 1), w = random_normal(DType::f32, {2, 2, 3, 3}, 2);
  x.f32()[10] = std::numeric_limits<float>::infinity();
  ReferenceCheck check(d, x, w);
  CheckVerdict v = check.judge(reference_conv2d(x, w, d.pad).to(DType::f32), 0, 3);
  EXPECT_EQ(v.kind, CheckVerdict::Kind::not_comparable);
  EXPECT_GT(v.nonfinite_reference, 0);
  EXPECT_NE(v.describe(0, 3).find("not comparable"), std::string::npos);
}

TEST(CheckVerdict, ToleranceGrowsWithAlpha) {
  double last = 0;
  for (int alpha = 2; alpha <= 16; ++alpha) {
    EXPECT_GE(error_tolerance(alpha - 2, 3), last) << "alpha " << alpha;
    last = error_tolerance(alpha - 2, 3);
  }
}

// Channel 1 is channel 0 times (1 + 1e-6) and the filters of the two channels are opposite, so
// the output is a 1e-6 remainder of terms a million times larger: float32 cannot resolve it and
// the error is far over the tolerance, on every plan. The check must say so and exit 1.
TEST(CheckCli, RunCheckOverToleranceExitsNonZero) {
  TempDir dir;
  Tensor x = random_normal(DType::f64, {1, 2, 8, 8}, 1), w = random_normal(DType::f64, {2, 2, 3, 3}, 2);
  for (int64_t i = 0; i < 64; ++i) x.f64()[64 + i] = x.f64()[i] * (1 + 1e-6);
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t i = 0; i < 9; ++i) w.f64()[(k * 2 + 1) * 9 + i] = -w.f64()[k * 2 * 9 + i];
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  for (const char* plan : {"direct", "unfused"}) {
    CliResult r = run_wino({"run", "--device", "cpu", "--input", dir.file("x.npy"), "--weights",
                            dir.file("w.npy"), "--pad", "1", "--plan", plan, "--check"});
    EXPECT_EQ(r.status, 1) << plan << "\n" << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "FAILED")) << r.out;
    EXPECT_TRUE(contains(r.err, "--check failed")) << r.err;
  }
}

TEST(CheckCli, RunCheckWithinToleranceExitsZeroAndNaNInputIsNotComparable) {
  TempDir dir;
  Tensor x = random_normal(DType::f32, {1, 2, 8, 8}, 1), w = random_normal(DType::f32, {2, 2, 3, 3}, 2);
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  const std::vector<std::string> base = {"run", "--device", "cpu", "--input", dir.file("x.npy"),
                                         "--weights", dir.file("w.npy"), "--pad", "1", "--check"};
  CliResult ok = run_wino(base);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, ": ok")) << ok.out;
  x.f32()[3] = std::nanf("");
  write_npy(dir.file("x.npy"), x);
  CliResult nc = run_wino(base);
  EXPECT_EQ(nc.status, 0) << nc.err;
  EXPECT_TRUE(contains(nc.out, "not comparable")) << nc.out;
  EXPECT_FALSE(contains(nc.out, "error vs float64 reference: 0")) << nc.out;
}

TEST(CheckCli, Float64InputOverflowingFloat32Warns) {
  TempDir dir;
  Tensor x = random_normal(DType::f64, {1, 1, 6, 6}, 1), w = random_normal(DType::f64, {1, 1, 3, 3}, 2);
  x.f64()[7] = 1e300;
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  CliResult r = run_wino({"run", "--device", "cpu", "--input", dir.file("x.npy"), "--weights",
                          dir.file("w.npy"), "--plan", "direct"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "warning: " + dir.file("x.npy") + ": 1 float64 values exceed the float32 range"))
      << r.err;
}

TEST(BenchRows, WrongRowsAreMarkedNeverRankedAndFailTheCommand) {
  io::Layer layer;
  layer.name = "seed";
  std::vector<cli::Row> rows(3);
  const char* plans[] = {"direct", "unfused", "fused"};
  const double times[] = {10, 8, 2};  // the fastest one is wrong
  for (int i = 0; i < 3; ++i) {
    rows[i].layer = &layer;
    rows[i].plan = rows[i].report.plan = plans[i];
    rows[i].time_us = times[i];
    rows[i].check = CheckVerdict{CheckVerdict::Kind::pass, 1e-7, 2e-6, 0};
  }
  rows[2].check->kind = CheckVerdict::Kind::fail;
  rows[2].check->rel_err = 3.1;
  cli::rank_layer(rows.begin(), rows.end());
  EXPECT_TRUE(rows[1].fastest);
  EXPECT_FALSE(rows[2].fastest);
  EXPECT_LT(rows[2].vs_direct, 0);
  EXPECT_DOUBLE_EQ(rows[1].vs_direct, 10.0 / 8);
  std::ostringstream out;
  cli::print_fastest(out, rows.begin(), rows.end());
  EXPECT_TRUE(contains(out.str(), "fastest: unfused")) << out.str();
  EXPECT_TRUE(contains(out.str(), "WRONG (not ranked): fused")) << out.str();
  try {
    cli::throw_if_wrong(rows);
    ADD_FAILURE() << "a wrong row must fail the command";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "--check failed")) << e.what();
    EXPECT_TRUE(contains(e.what(), "seed fused")) << e.what();
  }
}

TEST(BenchRows, BenchCheckRanksOnlyCheckedRows) {
  TempDir dir;
  {
    std::ofstream f(dir.file("layers.txt"));
    f << "tiny 1 4 4 9 9 3 3 1\n";
  }
  CliResult r = run_wino({"bench", "--layers", dir.file("layers.txt"), "--device", "interp", "--plans",
                          "direct,fused", "--m", "3", "--repeat", "1", "--check"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "fastest: ")) << r.out;
  EXPECT_FALSE(contains(r.out, "WRONG")) << r.out;
}

}  // namespace
}  // namespace wino::testing

namespace wino::testing {
namespace {

TEST(PlanHelp, RunAndExplainHelpListEveryPlan) {
  for (const char* cmd : {"run", "explain"}) {
    CliResult r = run_wino({cmd, "--help"});
    EXPECT_EQ(r.status, 0) << r.err;
    for (const std::string& n : plans::plan_names()) EXPECT_TRUE(contains(r.out, n + ",")) << cmd << ": " << n;
    EXPECT_TRUE(contains(r.out, "auto")) << r.out;
  }
}

}  // namespace
}  // namespace wino::testing

// Stride and dilation: the reference against a brute-force sum, the direct plan against the
// reference on the CPU, `auto` falling back to direct, forced Winograd plans rejected clearly,
// and the CLI options.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cli_runner.h"
#include "common/error.h"
#include "common/random.h"
#include "io/npy.h"
#include "reference/reference.h"
#include "wino/wino.h"

namespace wino {
namespace {

using testing::run_wino;

ConvDesc strided(int64_t stride, int64_t dilation) {
  ConvDesc d;
  d.n = 2, d.c = 3, d.h = 11, d.w = 9, d.k = 4, d.r = d.s = 3;
  d.pad = {2, 1, 0, 3};
  d.stride = stride;
  d.dilation = dilation;
  return d;
}

// The definition, one output at a time, with every index checked.
double brute_force(const Tensor& x, const Tensor& w, const ConvDesc& d, int64_t n, int64_t k,
                   int64_t oh, int64_t ow) {
  double acc = 0;
  for (int64_t c = 0; c < d.c; ++c)
    for (int64_t r = 0; r < d.r; ++r)
      for (int64_t s = 0; s < d.s; ++s) {
        const int64_t ih = oh * d.stride + r * d.dilation - d.pad.top;
        const int64_t iw = ow * d.stride + s * d.dilation - d.pad.left;
        if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
        acc += x.get(((n * d.c + c) * d.h + ih) * d.w + iw) * w.get(((k * d.c + c) * d.r + r) * d.s + s);
      }
  return acc;
}

TEST(StrideDilation, OutputExtentFollowsTheFormula) {
  ConvDesc d = strided(2, 1);  // (11 + 3 - 3) / 2 + 1 = 6, (9 + 3 - 3) / 2 + 1 = 5
  EXPECT_EQ(d.out_h(), 6);
  EXPECT_EQ(d.out_w(), 5);
  d = strided(1, 2);  // 14 - 4 = 10, 12 - 4 = 8
  EXPECT_EQ(d.out_h(), 10);
  EXPECT_EQ(d.out_w(), 8);
  d = strided(3, 2);  // (10 - 1) / 3 + 1 = 4, (8 - 1) / 3 + 1 = 3
  EXPECT_EQ(d.out_h(), 4);
  EXPECT_EQ(d.out_w(), 3);
}

TEST(StrideDilation, ReferenceMatchesTheDefinition) {
  for (auto [stride, dilation] : {std::pair{2, 1}, {1, 2}, {3, 2}, {2, 3}}) {
    const ConvDesc d = strided(stride, dilation);
    Tensor x = random_normal(DType::f64, {d.n, d.c, d.h, d.w}, 5);
    Tensor w = random_normal(DType::f64, {d.k, d.c, d.r, d.s}, 6);
    Tensor y = reference_conv2d(x, w, d.pad, 1, stride, dilation);
    ASSERT_EQ(y.shape(), (Shape{d.n, d.k, d.out_h(), d.out_w()}));
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t k = 0; k < d.k; ++k)
        for (int64_t oh = 0; oh < d.out_h(); ++oh)
          for (int64_t ow = 0; ow < d.out_w(); ++ow) {
            const double want = brute_force(x, w, d, n, k, oh, ow);
            const int64_t i = ((n * d.k + k) * d.out_h() + oh) * d.out_w() + ow;
            ASSERT_NEAR(y.get(i), want, 1e-12) << stride << "/" << dilation << " at " << i;
            ASSERT_EQ(reference_conv2d_at(x, w, d.pad, 1, n, k, oh, ow, stride, dilation), y.get(i));
          }
  }
}

TEST(StrideDilation, DirectPlanOnCpuMatchesReferenceAndAutoPicksIt) {
  for (auto [stride, dilation] : {std::pair{2, 1}, {1, 2}, {3, 2}}) {
    const ConvDesc d = strided(stride, dilation);
    Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, 7);
    Tensor w = random_normal(DType::f32, {d.k, d.c, d.r, d.s}, 8);
    for (const char* plan : {"direct", "auto"}) {
      Conv conv = compile(Device::cpu(), d, {.plan = plan});
      EXPECT_EQ(conv.report().plan, "direct") << plan;
      conv.set_weights(w.f32());
      Tensor y(DType::f32, {d.n, d.k, d.out_h(), d.out_w()});
      conv.run(x.f32(), y.f32());
      EXPECT_LT(relative_l2_error(y, reference_conv2d(x, w, d.pad, 1, stride, dilation)), 1e-6)
          << plan << " stride " << stride << " dilation " << dilation;
    }
  }
}

TEST(StrideDilation, ForcedWinogradPlansAreRejectedClearly) {
  for (const char* plan : {"unfused", "fused-input", "fused-output", "fused", "naive-fused"})
    for (auto [stride, dilation] : {std::pair{2, 1}, {1, 2}}) {
      try {
        compile(Device::cpu(), strided(stride, dilation), {.plan = plan});
        ADD_FAILURE() << plan << " accepted stride " << stride << " dilation " << dilation;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("supports stride 1 and dilation 1 only"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("--plan direct"), std::string::npos) << e.what();
      }
    }
}

TEST(StrideDilation, InvalidValuesAndEmptyOutputs) {
  ConvDesc d = strided(0, 1);
  EXPECT_THROW(validate(d), Error);
  d = strided(1, -1);
  EXPECT_THROW(validate(d), Error);
  d = strided(1, 1);
  d.h = 5, d.pad = Padding::all(0), d.dilation = 3;  // dilated filter spans 7 > 5
  try {
    validate(d);
    ADD_FAILURE() << "empty output accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dilated by 3"), std::string::npos) << e.what();
  }
}

TEST(StrideDilation, CliRunsDirectAndRejectsWinogradAndBadValues) {
  auto ok = run_wino({"run", "--shape", "1,3,12,12", "--k", "2", "--pad", "1", "--stride", "2",
                      "--dilation", "2", "--check"});
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("plan    direct"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("stride 2 dilation 2"), std::string::npos) << ok.out;

  auto forced = run_wino({"run", "--shape", "1,3,12,12", "--k", "2", "--stride", "2", "--plan", "fused"});
  EXPECT_EQ(forced.status, 1);
  EXPECT_NE(forced.err.find("plan fused supports stride 1 and dilation 1 only"), std::string::npos)
      << forced.err;

  // `wino reference` takes them too, and `run --output` agrees with it.
  testing::TempDir dir;
  write_npy(dir.file("x.npy"), random_normal(DType::f32, {1, 3, 12, 12}, 3));
  write_npy(dir.file("w.npy"), random_normal(DType::f32, {2, 3, 3, 3}, 4));
  auto ref = run_wino({"reference", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"),
                       "--pad", "1", "--stride", "2", "--dilation", "2", "--output", dir.file("ref.npy")});
  ASSERT_EQ(ref.status, 0) << ref.err;
  auto run = run_wino({"run", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"), "--pad",
                       "1", "--stride", "2", "--dilation", "2", "--output", dir.file("y.npy")});
  ASSERT_EQ(run.status, 0) << run.err;
  const Tensor r = read_npy(dir.file("ref.npy")), y = read_npy(dir.file("y.npy"));
  EXPECT_EQ(r.shape(), (Shape{1, 2, 5, 5}));  // (12 + 2 - 4 - 1) / 2 + 1
  EXPECT_LT(relative_l2_error(y, r), 1e-6);

  for (const char* bad : {"0", "-2", "x"}) {
    auto r = run_wino({"run", "--shape", "1,3,12,12", "--k", "2", "--stride", bad});
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_NE(r.err.find("--stride"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace wino

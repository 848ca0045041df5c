// `wino run` with the fused epilogue (--bias, --residual, --activation, from files and random)
// and with f16/bf16 tensors (--dtype), checked against the float64 reference with the same
// epilogue on the same rounded inputs; bad inputs are refused.
#include <gtest/gtest.h>

#include <string>

#include "cli_runner.h"
#include "common/error.h"
#include "common/half.h"
#include "common/random.h"
#include "io/npy.h"
#include "reference/reference.h"

namespace wino {
namespace {

using testing::contains;
using testing::run_wino;
using testing::TempDir;

TEST(CliEpilogue, RandomBiasResidualAndEachActivationPassTheCheck) {
  for (const char* act : {"relu", "relu6", "silu"}) {
    auto r = run_wino({"run", "--shape", "2,5,9,7", "--k", "6", "--pad", "1", "--device", "interp",
                       "--plan", "unfused", "--m", "2", "--bias", "random", "--residual", "random",
                       "--activation", act, "--check"});
    EXPECT_EQ(r.status, 0) << act << ": " << r.err;
    EXPECT_TRUE(contains(r.out, std::string("+ bias + residual ") + act)) << r.out;
    EXPECT_TRUE(contains(r.out, ": ok")) << r.out;
  }
}

// Files in, output out: the output equals the float64 reference with the epilogue.
TEST(CliEpilogue, FromFilesMatchesTheReference) {
  TempDir dir;
  const Tensor x = random_normal(DType::f32, {1, 3, 6, 6}, 5), w = random_normal(DType::f32, {4, 3, 3, 3}, 6);
  const Tensor b = random_normal(DType::f32, {4}, 7), z = random_normal(DType::f32, {1, 4, 6, 6}, 8);
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  write_npy(dir.file("b.npy"), b);
  write_npy(dir.file("z.npy"), z);
  auto r = run_wino({"run", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"), "--pad", "1",
                     "--bias", dir.file("b.npy"), "--residual", dir.file("z.npy"), "--activation", "relu",
                     "--device", "cpu", "--plan", "direct", "--output", dir.file("y.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  Tensor ref = reference_conv2d(x, w, Padding::all(1));
  Epilogue e{true, true, Activation::relu};
  apply_reference_epilogue(ref, e, &b, &z);
  const Tensor y = read_npy(dir.file("y.npy"));
  EXPECT_LT(relative_l2_error(y, ref), 1e-6);
  int zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) zeros += y.get(i) == 0;
  EXPECT_GT(zeros, 0) << "relu clipped nothing";
}

TEST(CliEpilogue, BadEpilogueInputsAreRefused) {
  TempDir dir;
  write_npy(dir.file("b5.npy"), random_normal(DType::f32, {5}, 1));
  write_npy(dir.file("b4.npy"), random_normal(DType::f32, {4}, 1));
  const std::vector<std::string> base = {"run", "--shape", "1,2,6,6", "--k", "4", "--pad", "1", "--device", "cpu"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_wino(a);
  };
  auto r = with({"--bias", dir.file("b5.npy")});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--bias must have shape (4,), got (5,)")) << r.err;
  r = with({"--residual", dir.file("b5.npy")});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--residual must have shape (1, 4, 6, 6)")) << r.err;
  r = with({"--activation", "gelu"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "expected none, relu, relu6 or silu")) << r.err;
  r = with({"--bias", dir.file("missing.npy")});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "missing.npy")) << r.err;
  // The output may not overwrite an epilogue input.
  r = with({"--bias", dir.file("b4.npy"), "--output", dir.file("b4.npy")});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "same file as --bias")) << r.err;
}

TEST(CliDtype, Float16FilesInFloat16Out) {
  TempDir dir;
  const Tensor x = random_normal(DType::f32, {1, 3, 7, 6}, 5).to(DType::f16);
  const Tensor w = random_normal(DType::f32, {4, 3, 3, 3}, 6).to(DType::f16);
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  auto r = run_wino({"run", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"), "--pad", "1",
                     "--dtype", "f16", "--device", "cpu", "--plan", "fused", "--m", "2", "--check",
                     "--output", dir.file("y.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, " f16 (")) << r.out;
  const Tensor y = read_npy(dir.file("y.npy"));
  ASSERT_EQ(y.dtype(), DType::f16);
  EXPECT_LT(relative_l2_error(y, reference_conv2d(x, w, Padding::all(1))), 1e-3);
}

TEST(CliDtype, Bfloat16ReadsFloat32AndWritesFloat32) {
  TempDir dir;
  const Tensor x = random_normal(DType::f32, {2, 2, 5, 5}, 5), w = random_normal(DType::f32, {3, 2, 3, 3}, 6);
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  auto r = run_wino({"run", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"), "--dtype", "bf16",
                     "--device", "interp", "--check", "--output", dir.file("y.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  const Tensor y = read_npy(dir.file("y.npy"));
  ASSERT_EQ(y.dtype(), DType::f32);
  // Every value is a bfloat16: the low 16 bits of its float32 are zero.
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(float_bits(y.f32()[i]) & 0xffffu, 0u) << i;
  const Tensor ref = reference_conv2d(x.to(DType::bf16), w.to(DType::bf16), Padding::all(0));
  EXPECT_LT(relative_l2_error(y, ref), 8e-3);
  r = run_wino({"run", "--shape", "1,1,4,4", "--k", "1", "--dtype", "f64"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "expected f32, f16 or bf16")) << r.err;
}

TEST(ApiEpilogue, MissingOrUnexpectedEpilogueTensorsAreClearErrors) {
  ConvDesc d;
  d.c = 2, d.h = d.w = 5, d.k = 3, d.pad = Padding::all(1);
  d.epilogue.bias = true;
  const Tensor w = random_normal(DType::f32, {3, 2, 3, 3}, 1), x = random_normal(DType::f32, {1, 2, 5, 5}, 2);
  std::vector<float> y(3 * 25), bias(3, 0.5f);
  Conv conv = compile(Device::interpreter(), d, {});
  try {
    conv.set_weights(w.f32());
    FAIL() << "no bias accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "epilogue has a bias")) << e.what();
  }
  conv.set_weights(w.f32(), bias.data());
  try {
    conv.run(x.f32(), y.data(), y.data());
    FAIL() << "an unexpected residual was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "epilogue.residual = true")) << e.what();
  }
  conv.run(x.f32(), y.data());
}

// --layout nhwc runs the kernels channels last on the same NCHW files: the same numbers come out.
TEST(CliLayout, NhwcRunsChannelsLastWithTheSameResult) {
  const std::vector<std::string> base = {"run", "--shape", "2,5,13,11", "--k", "7", "--pad", "1", "--residual",
                                         "random", "--bias", "random", "--activation", "silu", "--plan",
                                         "fused", "--device", "interp", "--check", "--json"};
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--layout", "nhwc"});
  const testing::CliResult nchw = run_wino(base), nhwc = run_wino(args);
  ASSERT_EQ(nchw.status, 0) << nchw.err;
  ASSERT_EQ(nhwc.status, 0) << nhwc.err;
  EXPECT_TRUE(contains(nhwc.out, "nhwc")) << nhwc.out;
  auto err_of = [](const std::string& out) { return out.substr(out.find("\"rel_err\""), 30); };
  EXPECT_EQ(err_of(nchw.out), err_of(nhwc.out));
  const testing::CliResult bad = run_wino({"run", "--shape", "1,2,4,4", "--k", "2", "--layout", "nwhc"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "expected nchw or nhwc")) << bad.err;
}

}  // namespace
}  // namespace wino

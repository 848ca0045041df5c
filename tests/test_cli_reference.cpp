// End-to-end tests of `wino random` and `wino reference`, running the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/random.h"
#include "common/tensor.h"
#include "io/npy.h"
#include "reference/reference.h"

namespace wino {
namespace {

using testing::run_wino;
using testing::slurp;
using testing::TempDir;

using testing::contains;

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.get(i), b.get(i)) << i;
}

// Writes x and w with `wino random` into `dir`.
void make_inputs(const TempDir& dir, const std::string& x_shape, const std::string& w_shape) {
  auto r = run_wino({"random", "--shape", x_shape, "--seed", "1", "--output", dir.file("x.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_wino({"random", "--shape", w_shape, "--seed", "2", "--dtype", "float64", "--output",
                dir.file("w.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
}

TEST(CliReference, RandomWritesTheSeededTensor) {
  TempDir dir;
  auto r = run_wino({"random", "--shape", "2,3,4", "--seed", "9", "--output", dir.file("r.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "(2, 3, 4)"));
  expect_same(read_npy(dir.file("r.npy")), random_normal(DType::f32, {2, 3, 4}, 9));

  r = run_wino({"random", "--shape", "5", "--dtype", "float64", "--output", dir.file("d.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_same(read_npy(dir.file("d.npy")), random_normal(DType::f64, {5}, 0));

  r = run_wino({"random", "--shape", "0,3", "--output", dir.file("z.npy")});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--shape")) << r.err;
  r = run_wino({"random", "--shape", "3", "--dtype", "int8", "--output", dir.file("z.npy")});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--dtype")) << r.err;
  r = run_wino({"random", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino random"));
}

TEST(CliReference, ComputesTheReferenceConvolution) {
  TempDir dir;
  make_inputs(dir, "2,3,7,6", "4,3,3,3");
  auto r = run_wino({"reference", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"),
                     "--pad", "1", "--output", dir.file("y.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "-> (2, 4, 7, 6) float64")) << r.err;
  EXPECT_EQ(r.out, "");
  Tensor expected = reference_conv2d(read_npy(dir.file("x.npy")), read_npy(dir.file("w.npy")),
                                     Padding::all(1));
  expect_same(read_npy(dir.file("y.npy")), expected);
}

TEST(CliReference, PerSidePaddingGroupsAndFloat32Output) {
  TempDir dir;
  make_inputs(dir, "1,4,6,5", "6,2,3,2");
  auto r = run_wino({"reference", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"),
                     "--pad", "1,0,2,1", "--groups", "2", "--dtype", "float32", "--output",
                     dir.file("y.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  Tensor expected = reference_conv2d(read_npy(dir.file("x.npy")), read_npy(dir.file("w.npy")),
                                     Padding{1, 0, 2, 1}, 2);
  ASSERT_EQ(expected.shape(), (Shape{1, 6, 5, 7}));
  expect_same(read_npy(dir.file("y.npy")), expected.to(DType::f32));
}

TEST(CliReference, PrintsSmallAndLargeOutputs) {
  TempDir dir;
  Tensor x(DType::f32, {1, 1, 3, 3}), w(DType::f32, {1, 1, 2, 2});
  for (int i = 0; i < 9; ++i) x.set(i, i + 1);
  for (int i = 0; i < 4; ++i) w.set(i, i + 1);
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("w.npy"), w);
  auto r = run_wino({"reference", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"),
                     "--pad", "0", "--output", dir.file("y.npy"), "--print"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "shape (1, 1, 2, 2), float64")) << r.out;
  EXPECT_TRUE(contains(r.out, "[n=0, k=0]\n  37  47\n  67  77\n")) << r.out;

  make_inputs(dir, "1,8,20,20", "8,8,3,3");
  r = run_wino({"reference", "--input", dir.file("x.npy"), "--weights", dir.file("w.npy"),
                "--pad", "1", "--output", dir.file("y.npy"), "--print"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "first 16 of 3200 values")) << r.out;
}

TEST(CliReference, UsageErrors) {
  TempDir dir;
  make_inputs(dir, "1,2,5,5", "3,2,3,3");
  const std::string x = dir.file("x.npy"), w = dir.file("w.npy"), y = dir.file("y.npy");

  auto r = run_wino({"reference", "--weights", w, "--pad", "1", "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "missing required option '--input")) << r.err;

  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1,2", "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "1 value (all sides) or 4 values")) << r.err;
  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1,-1,0,0", "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, ">= 0")) << r.err;
  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "one", "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--pad must be an integer")) << r.err;
  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1", "--groups", "0",
                "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--groups")) << r.err;
  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1", "--dtype", "float16",
                "--output", y});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--dtype")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(y));

  r = run_wino({"reference", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino reference")) << r.out;
}

TEST(CliReference, NeverOverwritesTheInputs) {
  TempDir dir;
  make_inputs(dir, "1,2,5,5", "3,2,3,3");
  const std::string x = dir.file("x.npy"), w = dir.file("w.npy");
  const std::string x_before = slurp(x), w_before = slurp(w);
  std::filesystem::create_directory(dir.file("sub"));
  // The same files under other spellings, and through a symbolic link.
  std::filesystem::create_symlink(x, dir.file("link.npy"));
  for (const std::string& out : {x, dir.file("sub/../x.npy"), dir.file("./w.npy"),
                                 dir.file("link.npy")}) {
    auto r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1", "--output", out});
    EXPECT_EQ(r.status, 2) << out;
    EXPECT_TRUE(contains(r.err, "is the same file as")) << r.err;
  }
  EXPECT_EQ(slurp(x), x_before);
  EXPECT_EQ(slurp(w), w_before);
}

// `wino reference` checks the headers against each other before reading a byte of data.
TEST(CliReference, HugeInputsAreCheckedBeforeTheirDataIsRead) {
  TempDir dir;
  make_inputs(dir, "1,2,5,5", "3,2,3,3");
  const std::string huge = dir.file("huge.npy");
  testing::write_sparse_f32_npy(huge, {1, 4, 1 << 18, 1 << 18});  // 1 TiB, 4 channels
  auto r = run_wino({"reference", "--input", huge, "--weights", dir.file("w.npy"), "--pad", "1",
                     "--output", dir.file("y.npy")});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "channel mismatch: input has C = 4 channels")) << r.err;
}

TEST(CliReference, FileAndShapeErrors) {
  TempDir dir;
  make_inputs(dir, "1,2,5,5", "3,2,3,3");
  const std::string x = dir.file("x.npy"), w = dir.file("w.npy"), y = dir.file("y.npy");

  auto r = run_wino({"reference", "--input", dir.file("nope.npy"), "--weights", w, "--pad", "1",
                     "--output", y});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "nope.npy: file not found")) << r.err;

  write_npy(dir.file("w3.npy"), random_normal(DType::f32, {3, 3, 3, 3}, 3));
  r = run_wino({"reference", "--input", x, "--weights", dir.file("w3.npy"), "--pad", "1",
                "--output", y});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "channel mismatch")) << r.err;

  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1", "--groups", "2",
                "--output", y});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "groups (2) must divide")) << r.err;

  write_npy(dir.file("v.npy"), random_normal(DType::f32, {2, 5, 5}, 4));
  r = run_wino({"reference", "--input", dir.file("v.npy"), "--weights", w, "--pad", "1",
                "--output", y});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "v.npy: --input must be a 4-D")) << r.err;

  write_npy(dir.file("big_w.npy"), random_normal(DType::f32, {3, 2, 9, 9}, 5));
  r = run_wino({"reference", "--input", x, "--weights", dir.file("big_w.npy"), "--pad", "1",
                "--output", y});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "output is empty")) << r.err;

  const std::string unwritable = dir.file("no_such_dir/y.npy");
  r = run_wino({"reference", "--input", x, "--weights", w, "--pad", "1", "--output", unwritable});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, unwritable + ": cannot write: directory")) << r.err;
  EXPECT_TRUE(contains(r.err, "does not exist")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(y));
}

}  // namespace
}  // namespace wino

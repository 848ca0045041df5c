// The lane moves of the IR (ir/expr.h), interleave, transpose_lanes and slice: the lane each
// result lane takes, the refusals, and a lanes x lanes transpose stored in slices, run on every
// backend that is here and checked element by element: the interpreter, C through gcc
// (__builtin_shufflevector), OpenCL and CUDA (lane by lane).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"
#include "error_of.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "opencl_skip.h"
#include "render/render.h"
#include "runtime/backend.h"
#include "runtime/cuda/cuda_driver.h"

namespace wino::ir {
namespace {

TEST(IrInterleave, TakesAlternateGroupsOfEachOperand) {
  // Lanes 0..7 are a's, 8..15 b's; group 2, even: a0 a1 b0 b1 a4 a5 b4 b5.
  const std::vector<int> even2 = {0, 1, 8, 9, 4, 5, 12, 13}, odd1 = {1, 9, 3, 11, 5, 13, 7, 15};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(interleave_lane(8, 2 * 2 + 0, i), even2[i]) << i;
    EXPECT_EQ(interleave_lane(8, 2 * 1 + 1, i), odd1[i]) << i;
  }
  EXPECT_EQ(interleave_lane(8, 2 * 4 + 1, 0), 4);  // group 4, odd: a's upper half, then b's
  EXPECT_EQ(interleave_lane(8, 2 * 4 + 1, 4), 12);
}

using testing::error_of;

TEST(IrInterleave, RefusesWhatItCannotDoByName) {
  Context c;
  Expr x = c.var("x", Type::f32.with_lanes(4)), y = c.var("y", Type::f32.with_lanes(8));
  EXPECT_NE(error_of([&] { interleave(x, y, 1, false); }).find("interleave of f32x4 and f32x8"), std::string::npos);
  EXPECT_NE(error_of([&] { interleave(x, x, 4, false); }).find("groups of at most half"), std::string::npos);
  EXPECT_NE(error_of([&] { interleave(c.f32(1), c.f32(2), 1, false); }).find("interleave of f32"), std::string::npos);
  EXPECT_NE(error_of([&] { transpose_lanes({x, x}); }).find("2 vectors of 2 lanes"), std::string::npos);
  EXPECT_NE(error_of([&] { slice(y, 6, 4); }).find("slice of lanes 6..9 of f32x8"), std::string::npos);
  EXPECT_NE(error_of([&] { slice(y, 0, 3); }).find("1, 2, 4, 8 or 16 lanes"), std::string::npos);
  EXPECT_EQ(slice(y, 0, 8), y);
  EXPECT_EQ(slice(y, 5, 1), extract(y, 5));
  EXPECT_EQ(slice(y, 2, 4).type(), Type::f32.with_lanes(4));
}

// One group: y = the transpose of x, a lanes x lanes matrix, row by row; each row stored in
// slices of halving width (lanes/2, lanes/4, ..., 1, 1) to exercise slice too.
std::unique_ptr<Kernel> transpose_kernel(int lanes) {
  KernelBuilder b(std::make_shared<Context>(), "transpose_kernel", 1, 1);
  const Memory* x = b.buffer("x", lanes * lanes, true);
  const Memory* y = b.buffer("y", lanes * lanes, false);
  b.threads([&](Expr) {
    std::vector<Expr> rows;
    for (int r = 0; r < lanes; ++r) rows.push_back(b.load("row", x, b.i32(r * lanes), {}, lanes));
    const std::vector<Expr> cols = transpose_lanes(rows);
    for (int r = 0; r < lanes; ++r)
      for (int first = 0, count = lanes / 2; first < lanes; first += count, count = std::max(count / 2, 1))
        b.store(y, b.i32(r * lanes + first), slice(cols[r], first, count));
  });
  return b.finish();
}

void expect_transposes(const Device& device, int lanes) {
  auto k = transpose_kernel(lanes);
  ASSERT_TRUE(verify(*k).empty());
  auto backend = runtime::make_backend(device, {});
  const render::Dialect dialect = backend->dialect();
  backend->compile({runtime::KernelSpec::of(*k)}, runtime::compile_sources({render::render_kernel(*k, dialect)}, dialect));
  const int64_t n = int64_t{lanes} * lanes;
  std::vector<float> x(n), y(n, -1.0f);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i) + 0.5f;
  auto bx = backend->alloc(n * 4), by = backend->alloc(n * 4);
  backend->copy_from_host(bx->ref(), x.data(), n * 4, nullptr);
  backend->copy_from_host(by->ref(), y.data(), n * 4, nullptr);
  backend->launch(0, {bx->ref(), by->ref()}, nullptr);
  backend->synchronize(nullptr);
  backend->copy_to_host(y.data(), by->ref(), n * 4, nullptr);
  for (int r = 0; r < lanes; ++r)
    for (int c = 0; c < lanes; ++c)
      EXPECT_EQ(y[r * lanes + c], x[c * lanes + r]) << lanes << " lanes, y[" << r << "][" << c << "]";
}

TEST(IrInterleave, InterpreterTransposes) {
  for (int lanes : {2, 4, 8, 16}) expect_transposes(Device::interpreter(), lanes);
}

TEST(IrInterleave, CpuGccTransposesWithShuffles) {
  const std::string c = render::render_kernel(*transpose_kernel(16), render::Dialect::c);
  EXPECT_NE(c.find("__builtin_shufflevector("), std::string::npos) << c;
  for (int lanes : {2, 4, 8, 16}) expect_transposes(Device::cpu(), lanes);
}

TEST(IrInterleave, OpenClTransposesLaneByLane) {
  SKIP_WITHOUT_OPENCL();
  for (int lanes : {4, 16}) expect_transposes(Device::opencl(), lanes);
}

TEST(CudaInterleave, Transposes) {
  std::string why;
  if (!cuda::cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  expect_transposes(Device::cuda(), 4);
}

}  // namespace
}  // namespace wino::ir

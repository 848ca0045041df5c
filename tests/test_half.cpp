// float16 / bfloat16 conversions on the host (round to nearest even, NaN, infinities,
// subnormals), on the GPU against the host, and float16 .npy files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/half.h"
#include "cuda_run.h"
#include "cuda_skip.h"
#include "ir/builder.h"
#include "common/random.h"
#include "common/error.h"
#include "io/npy.h"

namespace wino {
namespace {

TEST(Half, Float16ExactValuesAndRounding) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // halfway past the largest: rounds to infinity
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(1.0f + 1.0f / 2048), 0x3c00);       // a tie: to even (down)
  EXPECT_EQ(float_to_f16(1.0f + 3.0f / 2048), 0x3c02);       // a tie: to even (up)
  EXPECT_EQ(float_to_f16(5.9604645e-8f), 0x0001);            // the smallest subnormal
  EXPECT_EQ(float_to_f16(2.9802322e-8f), 0x0000);            // half of it: a tie, to even (zero)
  EXPECT_EQ(float_to_f16(6.097555e-5f), 0x03ff);             // the largest subnormal
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(std::nanf("")))));
  EXPECT_EQ(f16_to_float(0x0001), 5.9604645e-8f);
  EXPECT_EQ(f16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_float(0x8000), -0.0f);
}

TEST(Half, EveryFloat16RoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16(f), h) << std::hex << h;
  }
}

TEST(Half, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3f80);  // a tie: to even
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_EQ(bf16_to_float(0x3f81), 1.0078125f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_bf16(f), h) << std::hex << h;
  }
}

// The CUDA dialect widens f16 with one cvt instruction: every one of the 65536 values (NaNs as
// NaNs) must come out as the host's conversion gives it.
TEST(Half, CudaWidensEveryFloat16AsTheHostDoes) {
  SKIP_WITHOUT_CUDA();
  constexpr int64_t n = 0x10000, threads = 256;
  ir::KernelBuilder b(std::make_shared<ir::Context>(), "widen_every_f16", n / threads, threads);
  const ir::Memory* h = b.buffer("h", n, true, ir::Type::f16);
  const ir::Memory* y = b.buffer("y", n, false);
  b.threads([&](ir::Expr tid) {
    ir::Expr e = b.let("e", b.group_id() * threads + tid);
    b.store(y, e, b.load("v", h, e));
  });
  std::vector<uint16_t> halves(n);
  for (int64_t i = 0; i < n; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> packed(n / 2);  // the f16 buffer's bytes, as run_on_cuda uploads floats
  std::memcpy(packed.data(), halves.data(), n * 2);
  const std::vector<float> out = run_on_cuda(*b.finish(), packed, n);
  for (int64_t i = 0; i < n; ++i) {
    const float want = f16_to_float(halves[i]);
    if (std::isnan(want)) ASSERT_TRUE(std::isnan(out[i])) << std::hex << i;
    else ASSERT_EQ(std::memcmp(&out[i], &want, 4), 0) << std::hex << i << ": " << out[i] << " vs " << want;
  }
}

TEST(Half, Float16NpyRoundTripAndTensorConversions) {
  const std::string path = (std::filesystem::temp_directory_path() / "wino_half_test.npy").string();
  const Tensor x = random_normal(DType::f32, {2, 3, 5}, 4).to(DType::f16);
  write_npy(path, x);
  const Tensor back = read_npy(path);
  std::filesystem::remove(path);
  ASSERT_EQ(back.dtype(), DType::f16);
  ASSERT_EQ(back.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(back.u16()[i], x.u16()[i]);
  EXPECT_THROW(write_npy(path, x.to(DType::bf16)), Error);  // .npy has no bfloat16
}

}  // namespace
}  // namespace wino

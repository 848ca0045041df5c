// float16 / bfloat16 conversions on the host (round to nearest even, NaN, infinities,
// subnormals), in the kernels of every dialect against the host, and float16 .npy files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/half.h"
#include "device_run.h"
#include "cuda_skip.h"
#include "opencl_skip.h"
#include "ir/builder.h"
#include "ir/verifier.h"
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

// A kernel that copies every element of one buffer into another of the other type: `from` f16
// widened to float, or float narrowed to f16.
std::unique_ptr<ir::Kernel> convert_kernel(int64_t n, ir::Type from, ir::Type to) {
  constexpr int64_t threads = 256;
  ir::KernelBuilder b(std::make_shared<ir::Context>(), "convert_every_value", n / threads, threads);
  const ir::Memory* x = b.buffer("x", n, true, from);
  const ir::Memory* y = b.buffer("y", n, false, to);
  b.threads([&](ir::Expr tid) {
    ir::Expr e = b.let("e", b.group_id() * threads + tid);
    b.store(y, e, b.load("v", x, e));
  });
  return b.finish();
}

// A half type's host conversions and its first bits past the finite values (infinity).
struct HalfType {
  ir::Type type;
  float (*widen)(uint16_t);
  uint16_t (*narrow)(float);
  uint32_t infinity;
};
const HalfType kF16{ir::Type::f16, f16_to_float, float_to_f16, 0x7c00};
const HalfType kBf16{ir::Type::bf16, bf16_to_float, float_to_bf16, 0x7f80};

// The kernels' own conversions of a half type on `device` against the host's: every one of the
// 65536 values widened, and floats narrowed: each finite value, the midpoints between neighbours
// (ties, to even), the floats just either side of them, and past the largest (to infinity).
// NaNs need only stay NaNs.
void expect_conversions_match_host(const Device& device, const HalfType& ht = kF16) {
  SCOPED_TRACE(ir::type_name(ht.type));
  constexpr int64_t n = 0x10000;
  std::vector<uint16_t> halves(n);
  for (int64_t i = 0; i < n; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> packed(n / 2);  // the half buffer's bytes, as run_on_device uploads floats
  std::memcpy(packed.data(), halves.data(), n * 2);
  const std::vector<float> wide = run_on_device(device, *convert_kernel(n, ht.type, ir::Type::f32), packed, n);
  for (int64_t i = 0; i < n; ++i) {
    const float want = ht.widen(halves[i]);
    if (std::isnan(want)) ASSERT_TRUE(std::isnan(wide[i])) << std::hex << i;
    else ASSERT_EQ(std::memcmp(&wide[i], &want, 4), 0) << std::hex << i << ": " << wide[i] << " vs " << want;
  }
  std::vector<float> floats;
  for (uint32_t h = 0; h < ht.infinity; ++h)
    for (float sign : {1.0f, -1.0f}) {
      const float f = sign * ht.widen(static_cast<uint16_t>(h)), next = sign * ht.widen(static_cast<uint16_t>(h + 1));
      const float mid = f / 2 + next / 2;  // exact: one more significant bit than the type (f16: 12, bf16: 9)
      for (float x : {f, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 2 * next)}) floats.push_back(x);
    }
  for (float x : {65520.0f, 1e6f, -1e6f, std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                  std::nanf("")})
    floats.push_back(x);
  floats.resize((floats.size() + 511) / 512 * 512, 0.5f);  // whole work-groups, whole floats of output
  const std::vector<float> narrow_packed =
      run_on_device(device, *convert_kernel(static_cast<int64_t>(floats.size()), ir::Type::f32, ht.type), floats,
                    floats.size() / 2);
  std::vector<uint16_t> narrow(floats.size());
  std::memcpy(narrow.data(), narrow_packed.data(), narrow.size() * 2);
  for (size_t i = 0; i < floats.size(); ++i) {
    if (std::isnan(floats[i])) ASSERT_TRUE(std::isnan(ht.widen(narrow[i]))) << floats[i];
    else ASSERT_EQ(narrow[i], ht.narrow(floats[i])) << std::hexfloat << floats[i];
  }
}

// The C dialect converts with x86's F16C where the compiler targets it (this machine: -march=native).
TEST(Half, CpuKernelsConvertAsTheHostDoes) {
  expect_conversions_match_host(Device::cpu());
  expect_conversions_match_host(Device::cpu(), kBf16);
}

// The CUDA dialect converts with one cvt instruction each way (bf16: narrowing; its widening is a shift).
TEST(Half, CudaKernelsConvertAsTheHostDoes) {
  SKIP_WITHOUT_CUDA();
  expect_conversions_match_host(Device::cuda());
  expect_conversions_match_host(Device::cuda(), kBf16);
}

// OpenCL has the C subset every dialect shares.
TEST(Half, OpenclKernelsConvertAsTheHostDoes) {
  SKIP_WITHOUT_OPENCL();
  expect_conversions_match_host(Device::opencl());
  expect_conversions_match_host(Device::opencl(), kBf16);
}

// Work-group memory may hold f16 or bf16 (the GEMM stages a half V there): out[i] = x[n - 1 - i]
// through such an array, rounded to its type, in every dialect and the interpreter; a per-thread
// array of a half type is refused.
std::unique_ptr<ir::Kernel> half_shared_kernel(ir::Type type) {
  using namespace ir;
  KernelBuilder b(std::make_shared<Context>(), "half_shared", 1, 64);
  const Memory* x = b.buffer("x", 64, true);
  const Memory* y = b.buffer("y", 64, false);
  const Memory* s = b.shared_array("s", 64, type);
  b.threads([&](Expr tid) { b.store(s, tid, b.load("x", x, tid)); });
  b.barrier();
  b.threads([&](Expr tid) { b.store(y, tid, b.load("s", s, b.i32(63) - tid)); });
  return b.finish();
}

void expect_half_shared_rounds(const Device& device) {
  Rng rng(5);
  std::vector<float> in(64);
  for (float& v : in) v = static_cast<float>(rng.normal()) * 3.0f;
  for (ir::Type type : {ir::Type::f16, ir::Type::bf16}) {
    auto k = half_shared_kernel(type);
    ASSERT_TRUE(ir::verify(*k).empty()) << ir::verify(*k)[0];
    const std::vector<float> out = run_on_device(device, *k, in, 64);
    for (int i = 0; i < 64; ++i) {
      const float x = in[63 - i];
      const float want = type == ir::Type::f16 ? f16_to_float(float_to_f16(x)) : bf16_to_float(float_to_bf16(x));
      EXPECT_EQ(out[i], want) << ir::type_name(type) << " element " << i;
    }
  }
}

TEST(Half, WorkGroupArraysKeepHalfValues) {
  expect_half_shared_rounds(Device::interpreter());
  expect_half_shared_rounds(Device::cpu());
  using namespace ir;
  KernelBuilder b(std::make_shared<Context>(), "half_own", 1, 32);
  const Memory* own = b.thread_array("own", 4, Type::f16);
  b.threads([&](Expr) { b.store(own, b.i32(0), b.f32(1)); });
  const std::vector<std::string> problems = verify(*b.finish());
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("per-thread array own has storage type f16"), std::string::npos) << problems[0];
}
TEST(Half, OpenclWorkGroupArraysKeepHalfValues) {
  SKIP_WITHOUT_OPENCL();
  expect_half_shared_rounds(Device::opencl());
}
TEST(Half, CudaWorkGroupArraysKeepHalfValues) {
  SKIP_WITHOUT_CUDA();
  expect_half_shared_rounds(Device::cuda());
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

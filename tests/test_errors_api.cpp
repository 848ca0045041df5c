// docs/errors.md, API side: each bad input to wino::validate / compile / explain gets a clear
// wino::Error (never a crash, an overflow or a wrong answer); NaN and Inf propagate as IEEE
// says; the same plan, device and input give bit-identical outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/random.h"
#include "plans/program.h"
#include "runtime/cpu/host_memory.h"
#include "wino/wino.h"

namespace wino {
namespace {

ConvDesc small() {
  ConvDesc d;
  d.n = 1, d.c = 3, d.h = 10, d.w = 9, d.k = 4, d.r = d.s = 3;
  d.pad = Padding::all(1);
  return d;
}

// Runs f, which must throw wino::Error, and returns its message.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no wino::Error was thrown";
  return "";
}

#define EXPECT_HAS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "'" << (text) << "' lacks '" << (part) << "'"

TEST(ErrorsApi, ZeroOrNegativeDimensionsNameTheField) {
  struct Field {
    int64_t ConvDesc::*member;
    const char* name;
  };
  for (Field f : {Field{&ConvDesc::n, "N (batch)"}, {&ConvDesc::c, "C (input channels)"},
                  {&ConvDesc::h, "H (height)"}, {&ConvDesc::w, "W (width)"},
                  {&ConvDesc::k, "K (output channels)"}, {&ConvDesc::r, "R (filter height)"},
                  {&ConvDesc::s, "S (filter width)"}, {&ConvDesc::groups, "groups"},
                  {&ConvDesc::stride, "stride"}, {&ConvDesc::dilation, "dilation"}})
    for (int64_t bad : {int64_t{0}, int64_t{-1}, INT64_MIN}) {
      ConvDesc d = small();
      d.*f.member = bad;
      const std::string msg = error_of([&] { validate(d); });
      EXPECT_HAS(msg, std::string(f.name) + " must be >= 1, got " + std::to_string(bad));
      EXPECT_EQ(error_of([&] { compile(Device::cpu(), d); }), msg);
      EXPECT_EQ(error_of([&] { explain(d, {}, "cpu"); }), msg);
    }
  ConvDesc d = small();
  d.pad.left = -1;
  EXPECT_HAS(error_of([&] { validate(d); }), "padding (left) must be >= 0, got -1");
  d = small();
  d.w = int64_t{1} << 31;
  EXPECT_HAS(error_of([&] { validate(d); }), "W (width) is too large: 2147483648 (the limit is 2^31 - 1)");
  d = small();
  d.pad.bottom = int64_t{1} << 40;
  EXPECT_HAS(error_of([&] { validate(d); }), "padding (bottom) is too large");
}

TEST(ErrorsApi, ElementCountsThatOverflowAreRejectedBeforeAnyArithmetic) {
  ConvDesc d = small();
  d.n = d.c = d.h = d.w = (int64_t{1} << 31) - 1;  // 2^124 input elements
  EXPECT_HAS(error_of([&] { validate(d); }), "the input N x C x H x W would have more than 2^52");
  d = small();
  d.k = d.c = int64_t{1} << 30;  // 2^60 weights
  EXPECT_HAS(error_of([&] { validate(d); }), "the weights");
  d = small();
  d.n = 1 << 20, d.h = d.w = 1, d.pad = Padding::all(int64_t{1} << 30);  // 2^20 x 4 x 2^62 outputs
  EXPECT_HAS(error_of([&] { validate(d); }), "the output N x K x OH x OW");
  d = small();
  d.c = 1 << 30, d.h = d.w = 1, d.pad = Padding::all(1 << 20);  // C x OH x OW = 2^72
  EXPECT_HAS(error_of([&] { validate(d); }), "C x N x OH x OW");
  // Within 2^52 but beyond the kernels' 32-bit indices: every plan says so.
  d = small();
  d.n = 1 << 12, d.c = 64, d.h = d.w = 128;  // 2^32 input elements
  for (const std::string& plan : plans::plan_names())
    EXPECT_HAS(error_of([&] { explain(d, {.plan = plan}, "cpu"); }), "split the batch");
  // With N = 1 there is no batch to split: the advice is about the image and the channels.
  d.n = 1, d.c = 1 << 18;  // 2^32 input elements in one image
  for (const std::string& plan : plans::plan_names()) {
    const std::string what = error_of([&] { explain(d, {.plan = plan}, "cpu"); });
    EXPECT_HAS(what, "the batch is already 1: use a smaller image or fewer channels");
    EXPECT_EQ(what.find("split the batch"), std::string::npos) << what;
  }
}

TEST(ErrorsApi, OutOfHostMemoryIsAClearErrorBeforeAllocating) {
  EXPECT_GT(cpu::available_host_bytes(), 0);  // Linux has /proc/meminfo
  EXPECT_NO_THROW(cpu::check_host_allocation(0, 1 << 20, 1 << 30));
  EXPECT_NO_THROW(cpu::check_host_allocation(0, 1 << 20, -1));  // unknown: allowed
  const std::string msg = error_of([] { cpu::check_host_allocation(int64_t{3} << 30, int64_t{2} << 30, int64_t{4} << 30); });
  EXPECT_HAS(msg, "out of host memory: the CPU buffers of this convolution need 5120 MiB but only 4096 MiB");
  EXPECT_HAS(msg, "smaller batch");
}

TEST(ErrorsApi, EmptyOutputSaysWhy) {
  ConvDesc d = small();
  d.h = 2, d.r = d.s = 5, d.pad = Padding::all(1);  // 2 + 2 < 5
  const std::string msg = error_of([&] { validate(d); });
  EXPECT_HAS(msg, "the output would be empty: input 2x9 with padding is smaller than the 5x5 filter");
}

TEST(ErrorsApi, GroupsFallBackUnderAutoAndAreRejectedWhenForced) {
  ConvDesc d = small();
  d.c = d.k = 4, d.groups = 2;
  EXPECT_EQ(explain(d, {.plan = "auto"}, "cpu").plan, "direct");
  for (const char* plan : {"unfused", "fused-input", "fused-output", "fused", "naive-fused"})
    EXPECT_HAS(error_of([&] { explain(d, {.plan = plan}, "cpu"); }),
               std::string("plan ") + plan + " supports groups = 1 only (got 2): use --plan direct");
  EXPECT_HAS(error_of([&] { explain(small(), {.plan = "winograd"}, "cpu"); }), "unknown plan 'winograd'");
  // Found by the conv_cli fuzzer: naive-fused F(8, 3) took 8 s and 600 MB to build (14 s under
  // ASan); every fused plan stops at alpha 8 with a message instead.
  for (const char* plan : {"naive-fused", "fused", "fused-input", "fused-output"})
    EXPECT_HAS(error_of([&] { explain(small(), {.plan = plan, .m = 8}, "cpu"); }),
               std::string("plan ") + plan + " supports alpha = m + r - 1 <= 8, got 10");
  d = small();
  d.r = 3, d.s = 5;
  EXPECT_EQ(explain(d, {.plan = "auto"}, "cpu").plan, "direct");
  EXPECT_HAS(error_of([&] { explain(d, {.plan = "unfused"}, "cpu"); }), "need square filters");
}

TEST(ErrorsApi, DeviceThatIsNotThere) {
  EXPECT_HAS(error_of([] { Device::parse("tpu"); }), "unknown device 'tpu'");
  EXPECT_HAS(error_of([] { Device::parse("cuda:x"); }), "bad device index");
  EXPECT_HAS(error_of([] { Device::parse("opencl:"); }), "missing device index after 'opencl:'");
  EXPECT_HAS(error_of([] { compile(Device{Device::Kind::opencl, 99}, small()); }),
             "no OpenCL device opencl:99");
}

}  // namespace
}  // namespace wino

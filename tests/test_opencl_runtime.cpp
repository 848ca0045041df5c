// The OpenCL runtime on its own: discovery, the PoCL cache directory, program builds (the build
// log in the error, the program cache), buffers, and event timing. Skips without OpenCL.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "common/error.h"
#include "common/random.h"
#include "cli_runner.h"
#include "conv_tester.h"
#include "opencl_skip.h"
#include "runtime/backend.h"
#include "runtime/opencl/opencl_device.h"
#include "scoped_env.h"

namespace wino {
namespace {

TEST(OpenClRuntime, DevicesAreNumberedAcrossPlatforms) {
  SKIP_WITHOUT_OPENCL();
  std::vector<opencl::DeviceInfo> devices = opencl::list_devices();
  std::vector<opencl::PlatformInfo> platforms = opencl::list_platforms();
  ASSERT_FALSE(platforms.empty());
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(devices[i].index, static_cast<int>(i));
    EXPECT_LT(devices[i].platform, static_cast<int>(platforms.size()));
    EXPECT_FALSE(devices[i].name.empty());
    EXPECT_GE(devices[i].max_work_group_size, 1u);
  }
}

TEST(OpenClRuntime, PoclGetsAWritableCacheDirectory) {
  SKIP_WITHOUT_OPENCL();
  const char* dir = std::getenv("POCL_CACHE_DIR");
  ASSERT_TRUE(dir && *dir) << "POCL_CACHE_DIR was not set before loading OpenCL";
  EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir;
}

TEST(OpenClRuntime, BuildFailureCarriesTheBuildLog) {
  SKIP_WITHOUT_OPENCL();
  auto dev = opencl::DeviceContext::get(0);
  try {
    dev->program("__kernel void broken(__global float* x) { x[0] = no_such_name; }\n", "broken");
    FAIL() << "a kernel with an undeclared name built";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("OpenCL program broken failed to build"), std::string::npos) << msg;
    EXPECT_NE(msg.find("build log:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no_such_name"), std::string::npos) << msg;
  }
}

TEST(OpenClRuntime, ProgramCacheBuildsEachSourceOnce) {
  SKIP_WITHOUT_OPENCL();
  auto dev = opencl::DeviceContext::get(0);
  const std::string a = "__kernel void twice(__global float* x) { x[get_global_id(0)] *= 2.0f; }\n";
  const std::string b = "__kernel void thrice(__global float* x) { x[get_global_id(0)] *= 3.0f; }\n";
  const int before = dev->builds();
  opencl::cl_program first = dev->program(a, "twice");
  EXPECT_EQ(dev->program(a, "twice"), first);
  EXPECT_EQ(dev->builds(), before + 1);
  EXPECT_NE(dev->program(b, "thrice"), first);
  EXPECT_EQ(dev->builds(), before + 2);
  EXPECT_EQ(opencl::DeviceContext::get(0), dev);  // one context per device and process
}

TEST(OpenClRuntime, BuffersRoundTrip) {
  SKIP_WITHOUT_OPENCL();
  auto backend = runtime::make_backend(Device::opencl(), {});
  EXPECT_EQ(backend->name().rfind("opencl:0 ", 0), 0u) << backend->name();
  std::vector<float> in(1000), out(1000, -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.5f * static_cast<float>(i);
  auto a = backend->alloc(4000), b = backend->alloc(7);  // bytes
  EXPECT_NE(a->ref().native, b->ref().native);
  EXPECT_EQ(b->ref().bytes, 7);
  backend->copy_from_host(a->ref(), in.data(), 4000, nullptr);
  backend->copy_to_host(out.data(), a->ref(), 4000, nullptr);
  EXPECT_EQ(in, out);
  EXPECT_EQ(backend->host_copies(), 2);
}

TEST(OpenClRuntime, EveryLaunchIsTimedByItsEvent) {
  SKIP_WITHOUT_OPENCL();
  ConvDesc d;
  d.c = 4, d.h = d.w = 12, d.k = 4, d.pad = Padding::all(1);
  Options o;
  o.plan = "unfused";
  o.m = 2;
  Conv conv = compile(Device::opencl(), d, o);
  Tensor x = random_normal(DType::f32, {1, 4, 12, 12}, 1), w = random_normal(DType::f32, {4, 4, 3, 3}, 2);
  Tensor y(DType::f32, {1, 4, 12, 12});
  conv.set_weights(w.f32());
  conv.benchmark(x.f32(), y.f32(), 3);
  Report rep = conv.report();
  // input, GEMM, output (after a pad to channels last on a CPU device: plans/cpu_unfused.h); the
  // weight transform runs in set_weights
  const bool padded = rep.kernels[0].stage == "pad";
  ASSERT_EQ(rep.kernels.size(), padded ? 5u : 4u);
  for (const KernelReport& k : rep.kernels) {
    if (k.stage != "weight_transform") {
      EXPECT_GT(k.time_us, 0) << k.name;
    }
    EXPECT_EQ(k.regs, -1) << "OpenCL reports no registers";
  }
}

// Every file under Wino's PoCL cache is damaged in turn (cut to half: a truncated kernel
// library; bytes flipped: a garbled program.bc); each later run still succeeds with the same
// bits, rebuilding what it cannot trust, instead of dying of SIGBUS or an assertion in PoCL.
TEST(OpenClRuntime, DamagedPoclCacheFilesAreRebuiltNotLoaded) {
  SKIP_WITHOUT_OPENCL();
  testing::TempDir dir;
  testing::ScopedEnv cache("WINO_CACHE_DIR", dir.file("cache").c_str());
  testing::ScopedEnv pocl("POCL_CACHE_DIR", nullptr);  // the test process's own is set
  const std::string y = dir.file("y.npy");
  auto run = [&] {
    return testing::run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--pad", "1", "--plan",
                              "unfused", "--device", "opencl", "--output", y});
  };
  auto first = run();
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string y_first = testing::slurp(y);
  const std::filesystem::path pocl_dir = dir.file("cache/pocl");
  auto damage_every_file = [&](const std::function<void(const std::filesystem::path&)>& damage) {
    int damaged = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(pocl_dir))
      if (e.is_regular_file() && e.file_size() > 16) damage(e.path()), ++damaged;
    return damaged;
  };
  const std::vector<std::pair<std::string, std::function<void(const std::filesystem::path&)>>> damages = {
      {"truncated", [](const std::filesystem::path& f) {
         std::filesystem::resize_file(f, std::filesystem::file_size(f) / 2);
       }},
      {"garbled", [](const std::filesystem::path& f) {
         std::fstream io(f, std::ios::binary | std::ios::in | std::ios::out);
         io.seekp(static_cast<std::streamoff>(std::filesystem::file_size(f) / 3));
         io.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
       }},
  };
  for (const auto& [what, damage] : damages) {
    ASSERT_GT(damage_every_file(damage), 0) << "nothing cached under " << pocl_dir;
    auto again = run();
    ASSERT_EQ(again.status, 0) << what << ": " << again.err;
    EXPECT_NE(again.err.find("warning: corrupt OpenCL (PoCL) kernel cache entry"), std::string::npos)
        << what << ": " << again.err;
    EXPECT_EQ(testing::slurp(y), y_first) << what;
    auto clean = run();  // the rebuilt entry is trusted again, without a warning
    ASSERT_EQ(clean.status, 0) << clean.err;
    EXPECT_EQ(clean.err.find("warning"), std::string::npos) << clean.err;
  }
  // An intact entry of another program copied over this one's is not used either.
  std::set<std::filesystem::path> before;
  for (const auto& e : std::filesystem::directory_iterator(pocl_dir)) before.insert(e.path());
  auto other = testing::run_wino({"run", "--shape", "1,5,8,8", "--k", "4", "--plan", "direct",
                                  "--device", "opencl"});
  ASSERT_EQ(other.status, 0) << other.err;
  for (const auto& e : std::filesystem::directory_iterator(pocl_dir))
    if (!before.count(e.path()))
      for (const auto& mine : before) std::filesystem::copy_file(e.path(), mine, std::filesystem::copy_options::overwrite_existing);
  auto swapped = run();
  ASSERT_EQ(swapped.status, 0) << swapped.err;
  EXPECT_NE(swapped.err.find("holds the program of another key"), std::string::npos) << swapped.err;
  EXPECT_EQ(testing::slurp(y), y_first);
}

}  // namespace
}  // namespace wino

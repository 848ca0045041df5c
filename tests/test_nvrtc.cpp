// NVRTC compile path: the ptxas report parser (literal samples, no toolkit needed), then real
// compiles for sm_90 with the in-memory and on-disk caches (skipped where NVRTC is missing).
#include <gtest/gtest.h>

#include "scoped_env.h"
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "common/error.h"
#include "runtime/cuda/nvrtc.h"
#include "runtime/cuda/ptxas_log.h"

namespace wino::cuda {
namespace {

// ---- parse_ptxas_log ---------------------------------------------------------------------

// Exactly what NVRTC 13.0 printed here for two kernels and a non-inlined device function.
const char* kCuda13Log =
    "ptxas info    : 0 bytes gmem\n"
    "ptxas info    : Compiling entry function 'small' for 'sm_90'\n"
    "ptxas info    : Function properties for small\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 12 registers, used 1 barriers, 256 bytes smem\n"
    "ptxas info    : Compile time = 2.803 ms\n"
    "ptxas info    : Compiling entry function 'big' for 'sm_90'\n"
    "ptxas info    : Function properties for big\n"
    "ptxas         .     1816 bytes stack frame, 2324 bytes spill stores, 2512 bytes spill loads\n"
    "ptxas info    : Used 255 registers, used 0 barriers, 1816 bytes cumulative stack size\n"
    "ptxas info    : Compile time = 1817.580 ms\n"
    "ptxas info    : Function properties for _Z6helperPfi\n"
    "ptxas         .     8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n";

// The CUDA 10/11 format: mangled names, no prefix on the stack line, constant banks listed.
const char* kCuda11Log =
    "ptxas info    : 0 bytes gmem, 24 bytes cmem[3]\n"
    "ptxas info    : Compiling entry function '_Z4convPfPKfi' for 'sm_70'\n"
    "ptxas info    : Function properties for _Z4convPfPKfi\n"
    "    32 bytes stack frame, 16 bytes spill stores, 12 bytes spill loads\n"
    "ptxas info    : Used 64 registers, 4096 bytes smem, 372 bytes cmem[0], 8 bytes cmem[2]\n"
    "ptxas info    : Compiling entry function '_Z4copyPf' for 'sm_70'\n"
    "ptxas info    : Function properties for _Z4copyPf\n"
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 4 registers, 328 bytes cmem[0]\n";

TEST(PtxasLog, ParsesTheCuda13Report) {
  auto stats = parse_ptxas_log(kCuda13Log);
  ASSERT_EQ(stats.size(), 2u) << "device function _Z6helperPfi must not be listed";
  const KernelResourceStats& small = stats.at("small");
  EXPECT_EQ(small.registers, 12);
  EXPECT_EQ(small.barriers, 1);
  EXPECT_EQ(small.shared_bytes, 256);
  EXPECT_FALSE(small.spills());
  const KernelResourceStats& big = stats.at("big");
  EXPECT_EQ(big.registers, 255);
  EXPECT_EQ(big.stack_frame_bytes, 1816);
  EXPECT_EQ(big.spill_store_bytes, 2324);
  EXPECT_EQ(big.spill_load_bytes, 2512);
  EXPECT_EQ(big.cumulative_stack_bytes, 1816);
  EXPECT_EQ(big.shared_bytes, 0);
  EXPECT_TRUE(big.spills());
}

TEST(PtxasLog, ParsesTheCuda11ReportWithConstantBanks) {
  auto stats = parse_ptxas_log(kCuda11Log);
  ASSERT_EQ(stats.size(), 2u);
  const KernelResourceStats& conv = stats.at("_Z4convPfPKfi");
  EXPECT_EQ(conv.registers, 64);
  EXPECT_EQ(conv.stack_frame_bytes, 32);
  EXPECT_EQ(conv.spill_store_bytes, 16);
  EXPECT_EQ(conv.spill_load_bytes, 12);
  EXPECT_EQ(conv.shared_bytes, 4096);
  EXPECT_EQ(conv.constant_bytes, 380);
  EXPECT_EQ(stats.at("_Z4copyPf").registers, 4);
  EXPECT_EQ(stats.at("_Z4copyPf").constant_bytes, 328);
}

TEST(PtxasLog, ReadsStackAndSpillsFromTheUsedLineToo) {
  auto stats = parse_ptxas_log(
      "ptxas info    : Compiling entry function 'k' for 'sm_90'\n"
      "ptxas info    : Used 255 registers, used 0 barriers, 1816 bytes stack frame, 2012 bytes spill stores, "
      "2012 bytes spill loads, 360 bytes cmem[0]\n");
  const KernelResourceStats& k = stats.at("k");
  EXPECT_EQ(k.registers, 255);
  EXPECT_EQ(k.stack_frame_bytes, 1816);
  EXPECT_EQ(k.spill_store_bytes, 2012);
  EXPECT_EQ(k.spill_load_bytes, 2012);
  EXPECT_EQ(k.constant_bytes, 360);
}

TEST(PtxasLog, EmptyOrForeignTextGivesNoKernels) {
  EXPECT_TRUE(parse_ptxas_log("").empty());
  EXPECT_TRUE(parse_ptxas_log("k.cu(3): warning: variable \"x\" was declared but never referenced\n").empty());
  // Windows line endings and a kernel with no "Used" line still parse.
  auto stats = parse_ptxas_log("ptxas info    : Compiling entry function 'w' for 'sm_90'\r\n"
                               "ptxas info    : Used 7 registers\r\n"
                               "ptxas info    : Compiling entry function 'bare' for 'sm_90'\r\n");
  EXPECT_EQ(stats.at("w").registers, 7);
  EXPECT_EQ(stats.at("bare"), KernelResourceStats{});
}

TEST(PtxasLog, FormatsOneLinePerKernel) {
  auto stats = parse_ptxas_log(kCuda13Log);
  EXPECT_EQ(format_kernel_stats("big", stats.at("big")),
            "big: 255 registers, 1816 B stack, 2324 B spill stores, 2512 B spill loads, 0 B smem");
}

// ---- nvrtc_compile -----------------------------------------------------------------------

const char* kSmallKernel = R"(
extern "C" __global__ void scale_add(float* y, const float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
})";

// The probe's kernel (shared/examples/nvrtc_probe.cpp): N floats live at once; N=600 spills.
const char* kSpillingKernel = R"(
extern "C" __global__ void big(float* out, const float* in, int n) {
  float v[N];
  #pragma unroll
  for (int i = 0; i < N; i++) v[i] = in[(threadIdx.x + i * 37) % n];
  float acc = 0.f;
  #pragma unroll
  for (int i = 0; i < N; i++) acc += v[i] * v[(i * 7) % N];
  out[threadIdx.x + blockIdx.x * blockDim.x] = acc;
})";

using wino::testing::ScopedEnv;

// Each test gets a fresh disk cache in a temporary directory and an empty memory cache.
class Nvrtc : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!nvrtc_available(&why)) GTEST_SKIP() << "NVRTC is not available: " << why;
    char pattern[] = "/tmp/wino_nvrtc_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    env_.emplace("WINO_CACHE_DIR", root_.c_str());
    nvrtc_clear_memory_cache();
    nvrtc_reset_cache_stats();
  }
  void TearDown() override {
    env_.reset();
    if (!root_.empty()) std::filesystem::remove_all(root_);
    nvrtc_clear_memory_cache();
  }
  std::string root_;
  std::optional<ScopedEnv> env_;
};

TEST_F(Nvrtc, CompilesASmallKernelForSm90) {
  NvrtcOutput out = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  ASSERT_GE(out.cubin.size(), 4u);
  EXPECT_EQ(std::string(out.cubin.data(), 4), "\x7f" "ELF");
  EXPECT_NE(out.ptx.find(".entry scale_add"), std::string::npos);
  EXPECT_EQ(out.source, NvrtcSource::compiled);
  EXPECT_EQ(out.arch, "sm_90");
  ASSERT_EQ(out.kernels.count("scale_add"), 1u) << out.log;
  const KernelResourceStats& k = out.kernels.at("scale_add");
  EXPECT_GT(k.registers, 0);
  EXPECT_LE(k.registers, 32);
  EXPECT_FALSE(k.spills());
  EXPECT_EQ(k.stack_frame_bytes, 0);
  RecordProperty("compile_ms", std::to_string(out.elapsed_ms));
}

// Several programs at once (the kernels of one convolution): each result is its own kernel's, in
// input order, the same as a serial compile's; a failing program's error names it after every
// compile has ended.
TEST_F(Nvrtc, ParallelCompileKeepsEachKernelsReportInOrder) {
  std::vector<std::string> sources, names;
  for (int n : {8, 64, 16, 200}) {
    sources.push_back("#define N " + std::to_string(n) + "\n" + std::string(kSpillingKernel));
    names.push_back("big_" + std::to_string(sources.size() - 1) + "_n" + std::to_string(n));
  }
  std::vector<NvrtcOutput> outs = nvrtc_compile_parallel(sources, names, std::vector<std::string>(sources.size(), "sm_90"));
  ASSERT_EQ(outs.size(), 4u);
  for (size_t i = 0; i < outs.size(); ++i) {
    ASSERT_EQ(outs[i].kernels.count("big"), 1u) << names[i];
    nvrtc_clear_memory_cache();
    EXPECT_EQ(outs[i].kernels.at("big").registers, nvrtc_compile(sources[i], names[i], "sm_90").kernels.at("big").registers)
        << names[i];
  }
  EXPECT_LT(outs[0].kernels.at("big").registers, outs[3].kernels.at("big").registers);
  sources[2] = "extern \"C\" __global__ void broken( {";
  try {
    nvrtc_compile_parallel(sources, names, std::vector<std::string>(sources.size(), "sm_90"));
    FAIL() << "a broken program compiled";
  } catch (const wino::Error& e) {
    EXPECT_NE(std::string(e.what()).find("big_2_n16"), std::string::npos) << e.what();
  }
}

TEST_F(Nvrtc, SpillingKernelReportsSpills) {
  NvrtcOutput out = nvrtc_compile(kSpillingKernel, "big", "sm_90", {"-DN=600"});
  const KernelResourceStats& k = out.kernels.at("big");
  EXPECT_EQ(k.registers, 255);
  EXPECT_GT(k.spill_store_bytes, 0);
  EXPECT_GT(k.spill_load_bytes, 0);
  EXPECT_GT(k.stack_frame_bytes, 0);
  NvrtcOutput small = nvrtc_compile(kSpillingKernel, "big", "sm_90", {"-DN=16"});
  EXPECT_FALSE(small.kernels.at("big").spills());
  EXPECT_LT(small.kernels.at("big").registers, 255);
}

TEST_F(Nvrtc, SyntaxErrorNamesTheKernelAndCarriesTheLog) {
  const std::string broken = "extern \"C\" __global__ void broken_kernel(float* y) { y[0] = undefined_thing; }";
  try {
    nvrtc_compile(broken, "broken_kernel", "sm_90");
    FAIL() << "a syntax error must throw";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("broken_kernel"), std::string::npos) << what;
    EXPECT_NE(what.find("sm_90"), std::string::npos) << what;
    EXPECT_NE(what.find("undefined_thing"), std::string::npos) << what;
    EXPECT_NE(what.find("is undefined"), std::string::npos) << what;
  }
  EXPECT_EQ(nvrtc_cache_stats().compiles, 1);
}

TEST_F(Nvrtc, SecondCompileIsAMemoryCacheHit) {
  NvrtcOutput first = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  NvrtcOutput second = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  EXPECT_EQ(second.source, NvrtcSource::memory_cache);
  EXPECT_EQ(second.cubin, first.cubin);
  EXPECT_EQ(second.kernels, first.kernels);
  NvrtcCacheStats s = nvrtc_cache_stats();
  EXPECT_EQ(s.compiles, 1);
  EXPECT_EQ(s.memory_hits, 1);
  EXPECT_LT(second.elapsed_ms, first.elapsed_ms);
}

// NVRTC 12.9+ has its own cache (in the driver's compute cache, where libcuda is loaded) whose
// hits carry no ptxas report; our compiles turn it off, so a recompile still reports stats.
TEST_F(Nvrtc, RecompileStillHasThePtxasReport) {
  NvrtcOutput first = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  nvrtc_clear_memory_cache();
  std::filesystem::remove_all(root_ + "/cuda");
  NvrtcOutput again = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  EXPECT_EQ(again.source, NvrtcSource::compiled);
  EXPECT_EQ(again.kernels, first.kernels) << again.log;
  EXPECT_EQ(nvrtc_cache_stats().compiles, 2);
}

TEST_F(Nvrtc, ArchAndOptionsArePartOfTheKey) {
  nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  nvrtc_compile(kSmallKernel, "scale_add", "sm_80");
  nvrtc_compile(kSmallKernel, "scale_add", "sm_90", {"-DUNUSED=1"});
  nvrtc_compile(std::string(kSmallKernel) + "\n// changed\n", "scale_add", "sm_90");
  EXPECT_EQ(nvrtc_cache_stats().compiles, 4);
  EXPECT_EQ(nvrtc_cache_stats().memory_hits, 0);
}

TEST_F(Nvrtc, DiskCacheKeepsCubinAndStatsAcrossMemoryClears) {
  NvrtcOutput first = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  EXPECT_EQ(nvrtc_cache_stats().disk_writes, 1);
  nvrtc_clear_memory_cache();
  NvrtcOutput again = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  EXPECT_EQ(again.source, NvrtcSource::disk_cache);
  EXPECT_EQ(again.cubin, first.cubin);
  EXPECT_EQ(again.ptx, first.ptx);
  EXPECT_EQ(again.log, first.log);
  EXPECT_EQ(again.kernels, first.kernels);
  EXPECT_EQ(nvrtc_cache_stats().compiles, 1);
  EXPECT_EQ(nvrtc_cache_stats().disk_hits, 1);
  // The directory is private to the user, and no temporary file is left behind.
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/cuda").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root_ + "/cuda")) {
    EXPECT_EQ(entry.path().extension(), ".nvrtc") << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(Nvrtc, CorruptDiskEntryIsRecompiled) {
  NvrtcOutput first = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  auto entry = std::filesystem::directory_iterator(root_ + "/cuda")->path();
  for (int damage = 0; damage < 2; ++damage) {
    nvrtc_clear_memory_cache();
    if (damage == 0) {
      std::filesystem::resize_file(entry, std::filesystem::file_size(entry) / 2);  // truncated
    } else {
      std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);  // one flipped byte
      auto at = static_cast<std::streamoff>(std::filesystem::file_size(entry) - 10);
      f.seekg(at);
      char c = static_cast<char>(f.get());
      f.seekp(at);
      f.put(static_cast<char>(c ^ 0x5a));
    }
    NvrtcOutput again = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
    EXPECT_EQ(again.source, NvrtcSource::compiled) << "damage " << damage;
    EXPECT_EQ(again.cubin, first.cubin);
  }
  EXPECT_EQ(nvrtc_cache_stats().corrupt_entries, 2);
  EXPECT_EQ(nvrtc_cache_stats().compiles, 3);
}

TEST_F(Nvrtc, UnwritableCacheDirectoryOnlyCostsRecompiles) {
  ScopedEnv env("WINO_CACHE_DIR", "/proc/wino_cannot_write_here");
  NvrtcOutput out = nvrtc_compile(kSmallKernel, "scale_add", "sm_90");
  EXPECT_FALSE(out.cubin.empty());
  EXPECT_EQ(nvrtc_cache_stats().disk_writes, 0);
}

TEST_F(Nvrtc, MalformedArchIsAnError) {
  for (const char* arch : {"90", "sm90", "compute_90", "sm_9", "sm_90x", ""}) {
    try {
      nvrtc_compile(kSmallKernel, "scale_add", arch);
      FAIL() << "arch '" << arch << "' must be rejected";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("scale_add"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(nvrtc_cache_stats().compiles, 0);
}

TEST(NvrtcCacheDir, FollowsWinoThenXdgThenHome) {
  {
    ScopedEnv a("WINO_CACHE_DIR", "/w"), b("XDG_CACHE_HOME", "/x"), c("HOME", "/h");
    EXPECT_EQ(nvrtc_disk_cache_dir(), "/w/cuda");
  }
  {
    ScopedEnv a("WINO_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", "/x"), c("HOME", "/h");
    EXPECT_EQ(nvrtc_disk_cache_dir(), "/x/wino/cuda");
  }
  {
    ScopedEnv a("WINO_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", nullptr), c("HOME", "/h");
    EXPECT_EQ(nvrtc_disk_cache_dir(), "/h/.cache/wino/cuda");
  }
}

TEST(NvrtcLibrary, ReportsAVersionOrAReason) {
  std::string why;
  if (nvrtc_available(&why)) {
    EXPECT_NE(nvrtc_version().find('.'), std::string::npos);
  } else {
    EXPECT_NE(why.find("libnvrtc"), std::string::npos) << why;
    EXPECT_THROW(nvrtc_version(), Error);
  }
}

}  // namespace
}  // namespace wino::cuda

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "scoped_env.h"
#include "common/error.h"
#include "common/random.h"
#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_launch.h"
#include "runtime/cpu/kernel_cache_dir.h"
#include "runtime/cpu/sha256.h"

namespace wino::cpu {
namespace {

using wino::testing::TempDir;
namespace fs = std::filesystem;

/// y[i] = 2 * x[i] + 1 over groups of 64 elements, the last group masked to n.
std::string affine_source(long n, const std::string& name = "affine") {
  return "#define N " + std::to_string(n) + "L\n" + "void " + name +
         "(void* const* buffers, long group_begin, long group_end) {\n"
         "  const float* x = (const float*)buffers[0];\n"
         "  float* y = (float*)buffers[1];\n"
         "  for (long g = group_begin; g < group_end; ++g)\n"
         "    for (long i = g * 64; i < g * 64 + 64 && i < N; ++i) y[i] = 2.0f * x[i] + 1.0f;\n"
         "}\n"
         "void count(void* const* buffers, long group_begin, long group_end) {\n"
         "  for (long g = group_begin; g < group_end; ++g) ((float*)buffers[0])[g] += 1.0f;\n"
         "}\n";
}

std::vector<float> random_floats(long n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = static_cast<float>(rng.normal());
  return v;
}

/// Runs the affine kernel over n elements and checks every output.
void check_affine(KernelFn fn, long n, int threads, bool launch = true) {
  std::vector<float> x = random_floats(n, 42 + n), y(n, -7.0f);
  void* bufs[] = {x.data(), y.data()};
  long groups = (n + 63) / 64;
  if (launch) cpu_launch(fn, bufs, groups, threads);
  else fn(bufs, 0, groups);
  for (long i = 0; i < n; ++i) ASSERT_EQ(y[i], 2.0f * x[i] + 1.0f) << "element " << i;
}

/// Sets or unsets an environment variable for one scope.
using wino::testing::ScopedEnv;

CompileOptions in_dir(const TempDir& dir) { return CompileOptions{(dir.path() / "cache").string(), true, ""}; }

bool under(const std::string& path, const fs::path& dir) { return path.rfind(dir.string() + "/", 0) == 0; }

TEST(Sha256, MatchesKnownDigests) {
  auto hex = [](const std::string& s) {
    Sha256 sha;
    sha.update(s);
    return to_hex(sha.digest());
  };
  EXPECT_EQ(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CpuRuntime, CompilesAndRunsKernelOverGroups) {
  TempDir dir;
  CpuCompiler compiler(in_dir(dir));
  auto module = compiler.compile(affine_source(1000));
  KernelFn fn = module->function("affine");
  for (int threads : {0, 1, 2, 3, 7, 64}) check_affine(fn, 1000, threads);
  check_affine(fn, 1000, 0, /*launch=*/false);

  // Every group runs exactly once, whatever the thread count (more threads than groups too).
  KernelFn count = module->function("count");
  for (int threads : {1, 2, 5, 16, 200}) {
    for (long groups : {1L, 3L, 17L, 100L, 1001L}) {
      std::vector<float> hits(groups, 0.0f);
      void* bufs[] = {hits.data()};
      for (int rep = 0; rep < 3; ++rep) cpu_launch(count, bufs, groups, threads);
      for (long g = 0; g < groups; ++g) ASSERT_EQ(hits[g], 3.0f) << threads << " threads, group " << g;
    }
  }
}

TEST(CpuRuntime, FollowsIeeeForNanAndInf) {
  TempDir dir;
  CpuCompiler compiler(in_dir(dir));
  // Under -ffast-math both tests below fold to constants; with IEEE semantics they must not.
  auto module = compiler.compile(
      "void ieee(void* const* v, long g0, long g1) {\n"
      "  float* const* b = (float* const*)v;\n"
      "  for (long i = g0; i < g1; ++i) { b[1][i] = b[0][i] != b[0][i] ? 1.0f : 0.0f; b[2][i] = b[0][i] - b[0][i]; }\n"
      "}\n");
  std::vector<float> x = {std::nanf(""), std::numeric_limits<float>::infinity(), 2.5f}, isnan(3), diff(3);
  void* bufs[] = {x.data(), isnan.data(), diff.data()};
  cpu_launch(module->function("ieee"), bufs, 3, 1);
  EXPECT_EQ(isnan, (std::vector<float>{1.0f, 0.0f, 0.0f}));
  EXPECT_TRUE(std::isnan(diff[0]));
  EXPECT_TRUE(std::isnan(diff[1]));
  EXPECT_EQ(diff[2], 0.0f);
}

TEST(CpuRuntime, RepeatedCompilesHitMemoryThenDiskCache) {
  TempDir dir;
  std::string source = affine_source(777);
  CompileStats cold, memory, disk;
  std::string so_path;
  {
    CpuCompiler compiler(in_dir(dir));
    auto module = compiler.compile(source, &cold);
    EXPECT_FALSE(cold.cache_hit);
    EXPECT_EQ(cold.key.size(), 32u);
    EXPECT_TRUE(under(cold.so_path, dir.path() / "cache")) << cold.so_path;
    EXPECT_TRUE(fs::exists(cold.so_path));
    auto again = compiler.compile(source, &memory);
    EXPECT_TRUE(memory.cache_hit && memory.memory_hit);
    EXPECT_EQ(again.get(), module.get());
    // Only the published library stays: temporary sources and outputs are gone.
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path() / "cache")) files += entry.is_regular_file();
    EXPECT_EQ(files, 1);
  }
  CpuCompiler fresh(in_dir(dir));
  auto module = fresh.compile(source, &disk);
  EXPECT_TRUE(disk.cache_hit);
  EXPECT_FALSE(disk.memory_hit);
  EXPECT_EQ(disk.so_path, cold.so_path);
  check_affine(module->function("affine"), 777, 2);

  fresh.clear_memory_cache();
  CompileStats after_clear;
  fresh.compile(source, &after_clear);
  EXPECT_TRUE(after_clear.cache_hit && !after_clear.memory_hit);
  std::cout << "[ timing   ] cold compile " << cold.wall_ms << " ms, disk hit " << disk.wall_ms
            << " ms, memory hit " << memory.wall_ms << " ms\n";
  EXPECT_LT(disk.wall_ms, cold.wall_ms);
}

TEST(CpuRuntime, CorruptCacheEntryIsRebuilt) {
  TempDir dir;
  std::string source = affine_source(300);
  std::string so_path = CpuCompiler(in_dir(dir)).compile(source)->so_path();  // compiler and module released
  size_t size = fs::file_size(so_path);
  const std::vector<std::pair<std::string, std::function<void()>>> corruptions = {
      {"garbage", [&] { std::ofstream(so_path, std::ios::binary | std::ios::trunc) << "not an ELF file"; }},
      {"truncated", [&] { fs::resize_file(so_path, size / 2); }},
      {"flipped byte", [&] {
         std::fstream f(so_path, std::ios::binary | std::ios::in | std::ios::out);
         f.seekg(static_cast<std::streamoff>(size / 2));
         char c = static_cast<char>(f.get());
         f.seekp(static_cast<std::streamoff>(size / 2));
         f.put(static_cast<char>(~c));
       }},
      {"empty", [&] { fs::resize_file(so_path, 0); }},
  };
  for (const auto& [what, corrupt] : corruptions) {
    corrupt();
    CpuCompiler compiler(in_dir(dir));
    CompileStats stats;
    ::testing::internal::CaptureStderr();
    auto module = compiler.compile(source, &stats);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(stats.rebuilt) << what;
    EXPECT_FALSE(stats.cache_hit) << what;
    EXPECT_EQ(stats.so_path, so_path);
    check_affine(module->function("affine"), 300, 3);
    size = fs::file_size(so_path);
    EXPECT_TRUE(has_valid_checksum_trailer(so_path)) << what;
    if (what == "garbage") {
      EXPECT_NE(err.find("corrupt CPU kernel cache entry"), std::string::npos) << err;
    }
  }
}

// A valid entry of another kernel copied over this one's name passes the checksum: the key
// compiled into the library tells them apart before any kernel runs.
TEST(CpuRuntime, EntryOfAnotherKernelIsRebuiltNotRun) {
  TempDir dir;
  const std::string source = affine_source(300), other = affine_source(100000);
  std::string so_path, other_path;
  {
    CpuCompiler compiler(in_dir(dir));
    so_path = compiler.compile(source)->so_path();
    other_path = compiler.compile(other)->so_path();
  }
  ASSERT_NE(so_path, other_path);
  fs::copy_file(other_path, so_path, fs::copy_options::overwrite_existing);
  CpuCompiler compiler(in_dir(dir));
  CompileStats stats;
  ::testing::internal::CaptureStderr();
  auto module = compiler.compile(source, &stats);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(stats.rebuilt) << "the other kernel (N = 100000) was loaded as this one: " << err;
  EXPECT_NE(err.find("corrupt CPU kernel cache entry " + so_path + " (it holds the kernels of another key"),
            std::string::npos) << err;
  check_affine(module->function("affine"), 300, 3);
  CpuCompiler again(in_dir(dir));
  CompileStats hit;
  again.compile(source, &hit);
  EXPECT_TRUE(hit.cache_hit && !hit.rebuilt) << "the rebuilt entry is used from then on";
}

// An entry replaced by a directory (or anything but a regular file) is removed and rebuilt.
TEST(CpuRuntime, EntryThatIsNotARegularFileIsRebuilt) {
  TempDir dir;
  const std::string source = affine_source(300);
  const std::string so_path = CpuCompiler(in_dir(dir)).compile(source)->so_path();
  fs::remove(so_path);
  fs::create_directory(so_path);
  std::ofstream(so_path + "/inside") << "x";
  CpuCompiler compiler(in_dir(dir));
  CompileStats stats;
  ::testing::internal::CaptureStderr();
  auto module = compiler.compile(source, &stats);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(stats.rebuilt);
  EXPECT_NE(err.find("corrupt CPU kernel cache entry " + so_path + " (it is not a regular file)"),
            std::string::npos) << err;
  check_affine(module->function("affine"), 300, 3);
  EXPECT_TRUE(fs::is_regular_file(so_path));
  EXPECT_TRUE(has_valid_checksum_trailer(so_path));
}

TEST(CpuRuntime, SyntaxErrorReportsDiagnosticsAndKeepsSource) {
  TempDir dir;
  CpuCompiler compiler(in_dir(dir));
  std::string source = "void broken(void* const* b, long g0, long g1) { this is not C; }\n";
  try {
    compiler.compile(source);
    FAIL() << "expected a wino::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(compiler.compiler_path()), std::string::npos) << msg;
    EXPECT_NE(msg.find("exit status"), std::string::npos) << msg;
    EXPECT_NE(msg.find("error"), std::string::npos) << msg;
    size_t at = msg.find("kept at ");
    ASSERT_NE(at, std::string::npos) << msg;
    std::string kept = msg.substr(at + 8, msg.find(".c:", at) + 2 - (at + 8));
    EXPECT_TRUE(under(kept, dir.path() / "cache")) << kept;
    const std::string kept_text = wino::testing::slurp(kept);  // the source, then the key string
    EXPECT_EQ(kept_text.substr(0, source.size()), source);
    EXPECT_NE(kept_text.find("wino_cache_key[] = \""), std::string::npos) << kept_text;
  }
}

TEST(CpuRuntime, MissingFunctionNamesSymbolAndLibrary) {
  TempDir dir;
  CpuCompiler compiler(in_dir(dir));
  auto module = compiler.compile(affine_source(10));
  try {
    module->function("no_such_kernel");
    FAIL() << "expected a wino::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no_such_kernel"), std::string::npos) << msg;
    EXPECT_NE(msg.find(module->so_path()), std::string::npos) << msg;
  }
}

TEST(CpuRuntime, CacheDirIsCreatedPrivate) {
  TempDir dir;
  fs::path cache = dir.path() / "a" / "b";
  CpuCompiler compiler(CompileOptions{cache.string(), true, ""});
  EXPECT_EQ(compiler.output_dir(), cache.string());
  for (const fs::path& p : {dir.path() / "a", cache}) {
    struct stat st;
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << p;
  }
}

TEST(CpuRuntime, UnsafeOrUnwritableCacheDirFallsBackWithWarning) {
  TempDir dir;
  fs::path open_dir = dir.path() / "open";
  fs::create_directories(open_dir);
  fs::permissions(open_dir, fs::perms::all);  // 0777: others could plant libraries here
  std::ofstream(dir.file("plain")) << "a file, not a directory";
  for (const fs::path& bad : {open_dir, dir.path() / "plain" / "cache"}) {
    CpuCompiler compiler(CompileOptions{bad.string(), true, ""});
    ::testing::internal::CaptureStderr();
    CompileStats stats;
    auto module = compiler.compile(affine_source(50), &stats);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("cannot use the CPU kernel cache"), std::string::npos) << err;
    EXPECT_FALSE(under(stats.so_path, bad)) << stats.so_path;
    check_affine(module->function("affine"), 50, 2);
  }
  EXPECT_TRUE(fs::is_empty(open_dir));
}

TEST(CpuRuntime, DisabledDiskCacheUsesPrivateDirRemovedWithCompiler) {
  std::shared_ptr<const CpuModule> module;
  std::string out_dir;
  {
    CpuCompiler compiler(CompileOptions{"", false, ""});
    module = compiler.compile(affine_source(90));
    out_dir = compiler.output_dir();
    struct stat st;
    ASSERT_EQ(stat(out_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_TRUE(under(module->so_path(), out_dir));
  }
  EXPECT_FALSE(fs::exists(out_dir));
  check_affine(module->function("affine"), 90, 2);  // the loaded image outlives its file
}

TEST(CpuRuntime, ConcurrentThreadsCompilingSameNewSourceAllSucceed) {
  TempDir dir;
  std::string source = affine_source(4321);
  constexpr int kThreads = 4;
  CpuCompiler shared_compiler(in_dir(dir));
  std::barrier start(kThreads);
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        CpuCompiler own(in_dir(dir));
        start.arrive_and_wait();
        auto module = (t % 2 ? own : shared_compiler).compile(source);
        check_affine(module->function("affine"), 4321, 1, /*launch=*/false);
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& f : failures) EXPECT_EQ(f, "");
}

TEST(CpuRuntime, ConcurrentProcessesCompilingSameNewSourceAllSucceed) {
  TempDir dir;
  std::string source = affine_source(2345);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 3; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // child: wait for the start signal, compile, run the kernel serially
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) != 0) _exit(3);
      try {
        CpuCompiler compiler(in_dir(dir));
        auto module = compiler.compile(source);
        std::vector<float> x = random_floats(2345, 5), y(2345);
        void* bufs[] = {x.data(), y.data()};
        module->function("affine")(bufs, 0, (2345 + 63) / 64);
        for (long k = 0; k < 2345; ++k) {
          if (y[k] != 2.0f * x[k] + 1.0f) _exit(2);
        }
        _exit(0);
      } catch (...) {
        _exit(1);
      }
    }
    children.push_back(pid);
  }
  close(go[0]);
  close(go[1]);  // EOF releases every child at once
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  CompileStats stats;
  CpuCompiler(in_dir(dir)).compile(source, &stats);
  EXPECT_TRUE(stats.cache_hit);
}

TEST(CpuRuntime, NonexistentCcIsAClearError) {
  TempDir dir;
  {
    ScopedEnv cc("CC", "/nonexistent/wino-cc");
    CpuCompiler compiler(in_dir(dir));
    try {
      compiler.compile(affine_source(10));
      FAIL() << "expected a wino::Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CC=/nonexistent/wino-cc does not name an executable"), std::string::npos)
          << e.what();
    }
  }
  CpuCompiler named(CompileOptions{(dir.path() / "cache").string(), true, "no-such-compiler-xyz"});
  EXPECT_THROW(named.compile(affine_source(10)), Error);
}

TEST(CpuRuntime, NoCompilerOnPathIsAClearError) {
  TempDir dir;
  ScopedEnv cc("CC", nullptr);
  ScopedEnv path("PATH", dir.path().c_str());
  CpuCompiler compiler(in_dir(dir));
  try {
    compiler.compile(affine_source(10));
    FAIL() << "expected a wino::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "no C compiler found for the CPU runtime: install gcc (apt-get install gcc) or set CC");
  }
}

TEST(CpuRuntime, DefaultCacheLocationFollowsEnvironment) {
  ScopedEnv wino("WINO_CACHE_DIR", "/x/wino-cache");
  ScopedEnv xdg("XDG_CACHE_HOME", "/x/xdg");
  ScopedEnv home("HOME", "/x/home");
  EXPECT_EQ(default_cache_location().path, "/x/wino-cache");
  unsetenv("WINO_CACHE_DIR");
  EXPECT_EQ(default_cache_location().path, "/x/xdg/wino/cpu");
  setenv("XDG_CACHE_HOME", "relative", 1);  // invalid per the XDG spec: ignored
  EXPECT_EQ(default_cache_location().path, "/x/home/.cache/wino/cpu");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  EXPECT_EQ(default_cache_location().path, "/tmp/wino-" + std::to_string(geteuid()) + "/cpu");
  EXPECT_EQ(default_cache_location().private_levels, 2);
}

TEST(CpuLaunch, RejectsBadArgumentsAndIgnoresEmptyGrids) {
  void* bufs[] = {nullptr};
  EXPECT_THROW(cpu_launch(nullptr, bufs, 10), Error);
  auto never = [](void* const*, long, long) { ADD_FAILURE() << "kernel ran on an empty grid"; };
  EXPECT_THROW(cpu_launch(never, bufs, 10, -1), Error);
  cpu_launch(never, bufs, 0);
  cpu_launch(never, bufs, -5, 4);
}

TEST(CpuLaunch, ConcurrentLaunchesFromSeveralThreadsAreEachComplete) {
  KernelFn count = [](void* const* b, long g0, long g1) {
    for (long g = g0; g < g1; ++g) static_cast<float*>(b[0])[g] += 1.0f;
  };
  constexpr int kCallers = 3, kLaunches = 200;
  std::vector<std::vector<float>> hits(kCallers, std::vector<float>(257, 0.0f));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      void* bufs[] = {hits[c].data()};
      for (int i = 0; i < kLaunches; ++i) cpu_launch(count, bufs, 257, 2 + c);
    });
  }
  for (std::thread& t : callers) t.join();
  for (const auto& h : hits) {
    for (float v : h) ASSERT_EQ(v, static_cast<float>(kLaunches));
  }
}

}  // namespace
}  // namespace wino::cpu

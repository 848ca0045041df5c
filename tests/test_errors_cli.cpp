// docs/errors.md, command-line side: every bad input to `wino run` gets a clear message on
// stderr and a non-zero exit status (2 for a mistake in the command line, 1 for the rest),
// never a crash, and no file the user gave is overwritten.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/random.h"
#include "io/npy.h"
#include "io/npy_format.h"
#include "runtime/cuda/cuda_driver.h"
#include "scoped_env.h"

namespace wino {
namespace {

using testing::CliResult;
using testing::run_wino;
using testing::ScopedEnv;
using testing::slurp;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The run failed with exit status `code` and `part` in its message.
void expect_fails(const CliResult& r, int code, const std::string& part) {
  EXPECT_EQ(r.status, code) << "expected exit " << code << " with '" << part << "'; stderr: " << r.err;
  EXPECT_TRUE(contains(r.err, part)) << "stderr '" << r.err << "' lacks '" << part << "'";
}

// x (1, 3, 8, 8) and w (4, 3, 3, 3) in `dir`.
struct Files {
  TempDir dir;
  std::string x = dir.file("x.npy"), w = dir.file("w.npy"), y = dir.file("y.npy");
  Files() {
    write_npy(x, random_normal(DType::f32, {1, 3, 8, 8}, 1));
    write_npy(w, random_normal(DType::f32, {4, 3, 3, 3}, 2));
  }
  CliResult run(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"run", "--input", x, "--weights", w, "--pad", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_wino(args);
  }
};

TEST(ErrorsCli, ZeroOrNegativeDimensions) {
  expect_fails(run_wino({"run", "--shape", "0,3,8,8", "--k", "4"}), 2, "--shape must be in [1,");
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "-4"}), 2, "--k must be in [1,");
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--pad", "-1"}), 2,
               "--pad values must be >= 0, got -1");
  Files f;
  write_npy(f.dir.file("x0.npy"), Tensor(DType::f32, {1, 0, 8, 8}));
  expect_fails(run_wino({"run", "--input", f.dir.file("x0.npy"), "--weights", f.w}), 1,
               "x0.npy, " + f.w + ": C (input channels) must be >= 1, got 0");
}

// An out-of-range --pad names the range it accepts, not the parser's internal lower bound.
TEST(ErrorsCli, PadOutOfRangeNamesTheAcceptedRange) {
  auto r = run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--pad", "2147483648"});
  expect_fails(r, 2, "--pad must be in [0, 1073741824], got 2147483648");
  EXPECT_FALSE(contains(r.err, "-9223372036854775808")) << r.err;
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--pad", "1,1,1,2147483648"}), 2,
               "--pad must be in [0, 1073741824], got 2147483648");
}

// Weights whose C/groups dimension is 0: the message says so instead of "expect 0 x 1 groups".
TEST(ErrorsCli, WeightsWithZeroChannelsSayCMustBeAtLeastOne) {
  Files f;
  const std::string w0 = f.dir.file("w0.npy");
  write_npy(w0, Tensor(DType::f32, {4, 0, 3, 3}));
  auto r = run_wino({"run", "--input", f.x, "--weights", w0});
  expect_fails(r, 1, w0 + ": the weights' C/groups (dimension 1) must be >= 1, got 0");
  EXPECT_FALSE(contains(r.err, "expect 0 x")) << r.err;
}

// --tiles only shapes the GEMM of the Winograd plans: a plan without one refuses it by name.
TEST(ErrorsCli, TilesWithAPlanWithoutGemmTilesAreRefused) {
  for (const char* plan : {"direct", "naive-fused"})
    expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--plan", plan, "--tiles",
                           "32,32,4,4,4"}),
                 2, std::string("--tiles does not apply to plan ") + plan);
  expect_fails(run_wino({"explain", "--shape", "1,3,8,8", "--k", "4", "--plan", "direct", "--tiles",
                         "32,32,4,4,4"}),
               2, "--tiles does not apply to plan direct");
  TempDir dir;
  std::ofstream(dir.file("layers.txt")) << "tiny 1 4 4 8 8 3 3 1\n";
  expect_fails(run_wino({"bench", "--layers", dir.file("layers.txt"), "--plans", "direct,naive-fused",
                         "--tiles", "32,32,4,4,4"}),
               2, "--tiles does not apply to --plans direct,naive-fused");
  // auto and all apply the tiles to the plans that have GEMM tiles.
  auto r = run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--plan", "auto", "--tiles", "32,32,4,4,4"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_wino({"explain", "--shape", "1,3,8,8", "--k", "4", "--plan", "all", "--tiles", "32,32,4,4,4"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// --tile-block shapes the tensor-core fused ring's tiles: 2D blocks show in the kernel's name
// ("_b8x4"), runs do not; a plan or a convolution without the ring, or a count that does not
// divide its tiles, is refused with what to do.
TEST(ErrorsCli, TileBlockShapesTheTensorCoreFusedRing) {
  const std::vector<std::string> ring = {"explain", "--shape", "2,64,32,32", "--k", "64", "--pad", "1", "--plan", "fused",
                                         "--m", "2", "--precision", "fp16", "--dtype", "f16", "--layout", "nhwc",
                                         "--target", "sm_90"};
  auto with = [&](std::vector<std::string> args, const std::string& block) {
    args.push_back("--tile-block");
    args.push_back(block);
    return run_wino(args);
  };
  auto r = with(ring, "4");
  ASSERT_EQ(r.status, 0) << r.err;
  // U by bulk copies, warpgroup mmas on sm_90, U and V staged twice (2D blocks leave room for them)
  EXPECT_TRUE(contains(r.out, "_s2_d2_b8x4_ub_wg_f16_")) << r.out;
  {  // and where asked, the input transform on the tensor cores (2D blocks only)
    ScopedEnv on("WINO_MMA_TRANSFORM", "1");
    r = with(ring, "4");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "_s2_d2_b8x4_ub_wg_tm_f16_")) << r.out;
  }
  r = with(ring, "runs");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "_s2_ub_wg_f16_")) << r.out;
  expect_fails(with(ring, "3"), 1, "must divide the 32 tiles");
  expect_fails(with(ring, "0"), 2, "--tile-block");
  expect_fails(with(ring, "wide"), 2, "--tile-block");
  expect_fails(with({"run", "--shape", "1,3,8,8", "--k", "4", "--plan", "direct"}, "4"), 2,
               "--tile-block applies to plan fused only");
  expect_fails(with({"run", "--shape", "1,16,8,8", "--k", "4", "--plan", "fused"}, "4"), 1,
               "applies to the tensor-core fused plan's ring of input patches only");
}

// A sixth value of --tiles sets the points per thread of plans whose work-groups hold all alpha^2
// points: it shows in the kernel's name; a count that does not divide alpha^2, or a seventh value,
// is refused with what to give instead.
TEST(ErrorsCli, TilesTakeThePointsPerThreadSixth) {
  auto r = run_wino({"explain", "--shape", "1,8,16,16", "--k", "32", "--plan", "fused", "--m", "4", "--tiles",
                     "32,16,4,4,4,6", "--target", "cpu"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "_p6")) << r.out;
  expect_fails(run_wino({"explain", "--shape", "1,8,16,16", "--k", "32", "--plan", "fused", "--m", "4", "--tiles",
                         "32,16,4,4,4,5", "--target", "cpu"}),
               1, "5 points per thread do not divide the work-group's 36 points (alpha = 6): give a divisor of 36");
  // Plans that would ignore it refuse it.
  expect_fails(run_wino({"explain", "--shape", "1,8,16,16", "--k", "32", "--plan", "unfused", "--m", "4", "--tiles",
                         "32,16,4,4,4,6", "--target", "cpu"}),
               1, "a work-group holds one Winograd point; the sixth value is for fused (a divisor of alpha^2 = 36)");
  expect_fails(run_wino({"explain", "--shape", "1,8,16,16", "--k", "32", "--plan", "fused", "--m", "4", "--tiles",
                         "32,16,0,0,0,6", "--target", "cpu"}),
               1, "the CPU-shaped plan has one thread per work-group");
  expect_fails(run_wino({"run", "--shape", "1,8,16,16", "--k", "32", "--plan", "fused", "--tiles", "32,16,4,4,4,6,1"}),
               2, "--tiles takes 5 values BK,BP,RK,RP,CC, or 6 with PPT, got 7");
}

TEST(ErrorsCli, TooLargeProblems) {
  expect_fails(run_wino({"run", "--shape", "1073741824,1073741824,1073741824,1073741824", "--k", "1"}),
               1, "would have more than 2^52 elements");
  expect_fails(run_wino({"explain", "--shape", "4096,64,128,128", "--k", "8", "--plan", "direct"}), 1,
               "exceeds the 32-bit index range");
}

TEST(ErrorsCli, ShapesThatDoNotFit) {
  Files f;
  write_npy(f.dir.file("w5.npy"), random_normal(DType::f32, {4, 5, 3, 3}, 3));
  expect_fails(run_wino({"run", "--input", f.x, "--weights", f.dir.file("w5.npy")}), 1,
               "input has 3 channels but the weights expect 5");
  write_npy(f.dir.file("w3d.npy"), random_normal(DType::f32, {4, 3, 3}, 3));
  expect_fails(run_wino({"run", "--input", f.x, "--weights", f.dir.file("w3d.npy")}), 1,
               "w3d.npy: weights must be 4-D K x C/groups x R x S, got shape (4, 3, 3)");
  write_npy(f.dir.file("w9.npy"), random_normal(DType::f32, {4, 3, 9, 9}, 3));
  expect_fails(run_wino({"run", "--input", f.x, "--weights", f.dir.file("w9.npy")}), 1,
               "the output would be empty: input 8x8 with padding is smaller than the 9x9 filter");
}

TEST(ErrorsCli, PlansThatDoNotApplyFallBackOrFail) {
  Files f;
  write_npy(f.dir.file("w4g.npy"), random_normal(DType::f32, {4, 1, 3, 3}, 3));
  expect_fails(run_wino({"run", "--input", f.x, "--weights", f.dir.file("w4g.npy"), "--groups", "3"}), 1,
               "groups (3) must divide C (3) and K (4)");
  write_npy(f.dir.file("wg.npy"), random_normal(DType::f32, {3, 1, 3, 3}, 3));
  const std::string wg = f.dir.file("wg.npy");
  expect_fails(run_wino({"run", "--input", f.x, "--weights", wg, "--groups", "3", "--plan", "fused"}), 1,
               "plan fused supports groups = 1 only (got 3): use --plan direct or --plan auto");
  auto r = run_wino({"run", "--input", f.x, "--weights", wg, "--groups", "3", "--check"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "plan    direct")) << r.out;
  expect_fails(f.run({"--plan", "winograd"}), 1, "unknown plan 'winograd'");
}

TEST(ErrorsCli, MalformedNpyNamesTheFile) {
  Files f;
  const std::string bad = f.dir.file("bad.npy");
  std::ofstream(bad) << "this is not numpy";
  expect_fails(run_wino({"run", "--input", bad, "--weights", f.w}), 1, bad + ": not a .npy file");
  expect_fails(run_wino({"run", "--input", f.dir.file("missing.npy"), "--weights", f.w}), 1,
               "missing.npy: file not found");
}

// Inputs of hundreds of GiB (sparse files): the headers are checked against each other and
// the data against the memory available before anything is read or allocated.
TEST(ErrorsCli, HugeInputsAreCheckedBeforeTheirDataIsRead) {
  Files f;
  const std::string huge = f.dir.file("huge.npy");
  testing::write_sparse_f32_npy(huge, {1, 4, 1 << 18, 1 << 18});  // 1 TiB, 4 channels
  expect_fails(run_wino({"run", "--input", huge, "--weights", f.w}), 1,
               "input has 4 channels but the weights expect 3 x 1 groups");
  testing::write_sparse_f32_npy(huge, {1, 3, 1 << 18, 1 << 18});  // 768 GiB, 3 channels
  expect_fails(run_wino({"run", "--input", huge, "--weights", f.w}), 1,
               huge + ": reading its data needs 786432 MiB of memory but only ");
}

// A FIFO as --input: refused at once, never waiting for a writer.
TEST(ErrorsCli, FifoAsInputIsRefusedWithoutWaiting) {
  Files f;
  const std::string fifo = f.dir.file("x.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  testing::FifoUnblocker unblocker(fifo);  // a wrongly blocking open fails the test, not hangs it
  expect_fails(run_wino({"run", "--input", fifo, "--weights", f.w}), 1,
               fifo + ": is a FIFO (named pipe), not a regular .npy file");
  EXPECT_FALSE(unblocker.unblocked()) << "wino waited for a writer";
}

TEST(ErrorsCli, OutputNeverOverwritesAnInputAndIsCheckedBeforeComputing) {
  Files f;
  const std::string x_before = slurp(f.x);
  expect_fails(f.run({"--output", f.x}), 2, "is the same file as --input");
  const std::string alias = f.dir.file("sub/../x.npy");
  std::filesystem::create_directory(f.dir.file("sub"));
  expect_fails(f.run({"--output", alias}), 2, "is the same file as --input");
  std::filesystem::create_symlink(f.w, f.dir.file("link.npy"));
  expect_fails(f.run({"--output", f.dir.file("link.npy")}), 2, "is the same file as --weights");
  EXPECT_EQ(slurp(f.x), x_before);

  auto r = f.run({"--output", f.dir.file("no_dir/y.npy")});
  expect_fails(r, 1, "no_dir/y.npy: cannot write: directory");
  EXPECT_TRUE(contains(r.err, "does not exist")) << r.err;
  EXPECT_EQ(r.out, "") << "nothing may run before the output is known to be writable";
  expect_fails(f.run({"--output", f.dir.path().string()}), 1, "is a directory");
  if (geteuid() != 0) {  // root may write anywhere
    std::filesystem::create_directory(f.dir.file("ro"));
    std::filesystem::permissions(f.dir.file("ro"), std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::owner_exec);
    expect_fails(f.run({"--output", f.dir.file("ro/y.npy")}), 1, "is not writable");
  }
}

// --output that is a device, a FIFO or a symlink is written, not replaced by a regular file;
// a replaced regular file keeps its mode.
TEST(ErrorsCli, OutputToDevicesFifosSymlinksKeepsThemWhatTheyAre) {
  TempDir dir;
  const std::string null = testing::char_device(dir, "null", 3), full = testing::char_device(dir, "full", 7);
  if (!null.empty() && !full.empty()) {
    auto r = run_wino({"random", "--shape", "2", "--output", null});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(testing::is_char_device(null));
    expect_fails(run_wino({"random", "--shape", "2", "--output", full}), 1,
                 full + ": write failed: No space left on device");
    EXPECT_TRUE(testing::is_char_device(full));
  }
  const std::string expected = encode_npy(random_normal(DType::f32, {2}, 3));
  const std::string fifo = dir.file("y.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    testing::FifoReader reader(fifo);
    auto r = run_wino({"random", "--shape", "2", "--seed", "3", "--output", fifo});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(reader.take(), expected);
  }
  expect_fails(run_wino({"random", "--shape", "2", "--output", fifo}), 1,
               fifo + ": is a FIFO with no reader");

  std::filesystem::create_symlink("real.npy", dir.file("link.npy"));
  auto r = run_wino({"random", "--shape", "2", "--seed", "3", "--output", dir.file("link.npy")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("link.npy")));
  EXPECT_EQ(slurp(dir.file("real.npy")), expected);

  ASSERT_EQ(::chmod(dir.file("real.npy").c_str(), 0640), 0);
  r = run_wino({"random", "--shape", "2", "--output", dir.file("real.npy")});
  EXPECT_EQ(r.status, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("real.npy").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// SIGINT or SIGTERM while the output is being written: the temporary is removed, the previous
// file is untouched, and the process still dies of the signal.
TEST(ErrorsCli, InterruptedWriteLeavesNoTemporaryFile) {
  for (int sig : {SIGINT, SIGTERM}) {
    TempDir dir;
    const std::string out = dir.file("big.npy");
    write_npy(out, random_normal(DType::f32, {4}, 1));
    const std::string before = slurp(out);
    std::vector<std::string> args = {testing::wino_cli(), "random", "--shape", "67108864", "--output", out};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    bool writing = false;  // 256 MiB: the write and fsync take far longer than one poll
    for (int i = 0; i < 60000 && !writing; ++i) {
      for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        writing |= e.path().extension() == ".tmp";
      if (!writing) usleep(1000);
    }
    EXPECT_TRUE(writing) << "no temporary file appeared";
    kill(pid, sig);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"big.npy"}) << "signal " << sig;
    EXPECT_EQ(slurp(out), before);
  }
}

TEST(ErrorsCli, NanAndInfInTheInputRunAndPropagate) {
  Files f;
  Tensor x = read_npy(f.x);
  x.f32()[0] = std::nanf("");
  x.f32()[100] = INFINITY;
  write_npy(f.x, x);
  auto r = f.run({"--output", f.y, "--plan", "direct"});
  ASSERT_EQ(r.status, 0) << r.err;
  Tensor y = read_npy(f.y);
  int nan = 0, inf = 0, finite = 0;
  for (int64_t i = 0; i < y.numel(); ++i)
    (std::isnan(y.get(i)) ? nan : std::isinf(y.get(i)) ? inf : finite)++;
  EXPECT_EQ(nan, 4 * 4) << "x[0,0,0,0] is in 4 outputs of each of the 4 channels";
  EXPECT_EQ(inf, 4 * 9) << "x[0,1,4,4] is in 9 outputs of each of the 4 channels";
  EXPECT_EQ(finite, y.numel() - nan - inf);
  r = f.run({"--check", "--plan", "unfused"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "relative L2 error vs float64 reference: not comparable")) << r.out;
}

TEST(ErrorsCli, DeviceThatIsNotThere) {
  if (cuda::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--device", "cuda"}), 1,
               "CUDA device requested but not available");
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--device", "tpu"}), 2,
               "--device: unknown device 'tpu'");
}

// "opencl:" and "cuda:" name no device: a usage error, not the first device.
TEST(ErrorsCli, DeviceWithAnEmptyIndexIsRejected) {
  for (const char* device : {"opencl:", "cuda:", "cpu:"})
    expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--device", device}), 2,
                 std::string("--device: missing device index after '") + device + "'");
}

TEST(ErrorsCli, OpenClDeviceThatIsNotThere) {
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--device", "opencl:99"}), 1,
               "no OpenCL device opencl:99");
  TempDir no_drivers;  // ocl-icd reads its driver list from $OCL_ICD_VENDORS
  ScopedEnv vendors("OCL_ICD_VENDORS", no_drivers.path().c_str());
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4", "--device", "opencl"}), 1,
               "OpenCL device requested but not available");
}

TEST(ErrorsCli, NoCCompilerIsAClearError) {
  ScopedEnv cc("CC", "/nonexistent/wino-cc");
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4"}), 1,
               "CC=/nonexistent/wino-cc does not name an executable");
  ScopedEnv no_cc("CC", nullptr);
  TempDir empty;
  ScopedEnv path("PATH", empty.path().c_str());
  expect_fails(run_wino({"run", "--shape", "1,3,8,8", "--k", "4"}), 1,
               "no C compiler found for the CPU runtime: install gcc");
}

TEST(ErrorsCli, UnwritableOrCorruptKernelCacheIsRebuiltOrBypassed) {
  Files f;
  const std::string cache = f.dir.file("cache");
  ScopedEnv env("WINO_CACHE_DIR", cache.c_str());
  auto first = f.run({"--output", f.y, "--plan", "unfused"});
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string y_first = slurp(f.y);
  int corrupted = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache))
    if (e.path().extension() == ".so") std::ofstream(e.path(), std::ios::trunc) << "garbage", ++corrupted;
  ASSERT_GT(corrupted, 0);
  auto again = f.run({"--output", f.y, "--plan", "unfused"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(contains(again.err, "warning: corrupt CPU kernel cache entry")) << again.err;
  EXPECT_EQ(slurp(f.y), y_first);

  std::ofstream(f.dir.file("file")) << "x";
  ScopedEnv blocked("WINO_CACHE_DIR", f.dir.file("file/cache").c_str());  // under a regular file
  auto bypass = f.run({"--output", f.y, "--plan", "unfused"});
  ASSERT_EQ(bypass.status, 0) << bypass.err;
  EXPECT_TRUE(contains(bypass.err, "warning: cannot use the CPU kernel cache")) << bypass.err;
  EXPECT_EQ(slurp(f.y), y_first);
}

}  // namespace
}  // namespace wino

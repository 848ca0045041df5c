// End-to-end tests of `wino devices`, `--device opencl[:N]` and `--device auto` through the CLI,
// including a machine without OpenCL (the ICD loader pointed at an empty vendor directory).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "cli_runner.h"
#include "runtime/opencl/opencl_device.h"
#include "wino/wino.h"

namespace wino {
namespace {

using testing::run_wino;
using testing::TempDir;

using testing::contains;

// Runs wino with OpenCL made invisible: ocl-icd reads its drivers from $OCL_ICD_VENDORS, and
// also loads those $OCL_ICD_FILENAMES names (the GPU machine sets it: libpocl.so.2 and NVIDIA's).
testing::CliResult run_without_opencl(const std::vector<std::string>& args) {
  TempDir empty;
  const char* named = std::getenv("OCL_ICD_FILENAMES");
  const std::string filenames = named ? named : "";
  setenv("OCL_ICD_VENDORS", empty.path().c_str(), 1);
  unsetenv("OCL_ICD_FILENAMES");
  testing::CliResult r = run_wino(args);
  unsetenv("OCL_ICD_VENDORS");
  if (named) setenv("OCL_ICD_FILENAMES", filenames.c_str(), 1);
  return r;
}

TEST(CliDevices, ListsTheCpuCudaOpenClAndTheAutomaticChoice) {
  testing::CliResult r = run_wino({"devices"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "cpu       ")) << r.out;
  EXPECT_TRUE(contains(r.out, "\ncuda      ")) << r.out;
  EXPECT_TRUE(contains(r.out, "\nopencl    ")) << r.out;
  EXPECT_TRUE(contains(r.out, "\nauto      ")) << r.out;
  for (const opencl::DeviceInfo& d : opencl::list_devices())
    EXPECT_TRUE(contains(r.out, "opencl:" + std::to_string(d.index) + "  " + d.name)) << r.out;
}

TEST(CliDevices, HelpDescribesTheCommand) {
  testing::CliResult r = run_wino({"devices", "--help"});
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino devices")) << r.out;
  EXPECT_EQ(run_wino({"devices", "--json"}).status, 2);
  EXPECT_TRUE(contains(run_wino({"--help"}).out, "devices"));
}

TEST(CliDevices, WithoutOpenClListsTheCpuAndSaysNoneFound) {
  testing::CliResult r = run_without_opencl({"devices"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "cpu       ")) << r.out;
  EXPECT_TRUE(contains(r.out, "opencl    none found: ")) << r.out;
}

TEST(CliDevices, OpenClWhereThereIsNoneIsAClearError) {
  testing::CliResult r = run_without_opencl({"run", "--shape", "1,2,8,8", "--k", "2", "--device", "opencl"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "OpenCL device requested but not available")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliDevices, UnknownOpenClIndexAndDeviceNamesAreErrors) {
  EXPECT_EQ(run_wino({"run", "--shape", "1,2,8,8", "--k", "2", "--device", "gpu"}).status, 2);
  if (!opencl::opencl_available()) GTEST_SKIP() << "no OpenCL device";
  testing::CliResult r = run_wino({"run", "--shape", "1,2,8,8", "--k", "2", "--device", "opencl:99"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "no OpenCL device opencl:99")) << r.err;
}

TEST(CliDevices, RunOnOpenClReportsTheDeviceAndChecks) {
  if (!opencl::opencl_available()) GTEST_SKIP() << "no OpenCL device";
  testing::CliResult r = run_wino({"run", "--shape", "1,4,12,12", "--k", "4", "--pad", "1", "--plan",
                                   "fused", "--m", "2", "--device", "opencl:0", "--check"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "device  opencl:0 ")) << r.out;
  EXPECT_TRUE(contains(r.out, "relative L2 error")) << r.out;
}

TEST(CliDevices, AutoIsTheDefaultAndTheReportSaysWhichDeviceRan) {
  const Device chosen = Device::resolve(Device::automatic());
  const std::string expect = chosen.kind == Device::Kind::cpu    ? "device  cpu"
                             : chosen.kind == Device::Kind::cuda ? "device  cuda:"
                                                                 : "device  opencl:";
  for (const std::vector<std::string>& device : {std::vector<std::string>{}, {"--device", "auto"}}) {
    std::vector<std::string> args = {"run", "--shape", "1,2,8,8", "--k", "2", "--pad", "1"};
    args.insert(args.end(), device.begin(), device.end());
    testing::CliResult r = run_wino(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, expect)) << r.out;
  }
}

TEST(DeviceSelection, AutoNeverPicksAnOpenClCpuDevice) {
  std::string why;
  const Device d = Device::resolve(Device::automatic(), &why);
  EXPECT_FALSE(why.empty());
  if (d.kind == Device::Kind::opencl) {
    EXPECT_TRUE(opencl::list_devices().at(d.index).is_gpu());
  }
  EXPECT_EQ(Device::parse("auto").kind, Device::Kind::automatic);
  EXPECT_EQ(Device::parse("opencl:1").index, 1);
  EXPECT_EQ(Device::resolve(Device::cpu()).kind, Device::Kind::cpu);
}

}  // namespace
}  // namespace wino

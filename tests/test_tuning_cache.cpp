// The persistent tuning cache: tune mode's pick is taken by later compiles of plan auto without
// measuring; a damaged or foreign file is ignored (the cost model decides), and several writers
// at once leave a valid file.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "planner/device_caps.h"
#include "planner/tuning_cache.h"
#include "scoped_env.h"
#include "wino/wino.h"

namespace wino {
namespace {

ConvDesc small_layer() {
  ConvDesc d;
  d.n = 1, d.c = 3, d.h = d.w = 10, d.k = 4, d.pad = Padding::all(1);
  return d;
}

std::string key_of(const ConvDesc& d) {
  return planner::tuning_key(planner::caps_for_device(Device::interpreter()).identity, d, Options{});
}

bool same(const PlanCandidate& a, const PlanCandidate& b) {
  return a.plan == b.plan && a.m == b.m && a.tiles == b.tiles;
}

TEST(TuningCache, ALaterCompileTakesTheTunedPick) {
  testing::TempDir dir;
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  const ConvDesc d = small_layer();
  Options tune;
  tune.tune = true;
  tune.tune_top = 3;
  const PlanCandidate tuned = compile(Device::interpreter(), d, tune).report().candidates.front();
  ASSERT_GE(tuned.measured_us, 0);
  const Report later = compile(Device::interpreter(), d, {}).report();
  const PlanCandidate& pick = later.candidates.front();
  EXPECT_TRUE(same(pick, tuned)) << pick.plan << " m=" << pick.m << " vs " << tuned.plan << " m=" << tuned.m;
  EXPECT_NEAR(pick.measured_us, tuned.measured_us, 1e-3);
  EXPECT_NE(later.candidates.at(1).rejected.find("the tuning cache holds a measured pick"), std::string::npos)
      << later.candidates.at(1).rejected;
  ConvDesc other = d;
  other.k = 5;  // another convolution has no entry: the cost model decides
  EXPECT_LT(compile(Device::interpreter(), other, {}).report().candidates.front().measured_us, 0);
}

TEST(TuningCache, DamagedAndForeignFilesAreIgnored) {
  testing::TempDir dir;
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  const ConvDesc d = small_layer();
  const std::string path = planner::tuned_path(key_of(d));
  PlanCandidate pick;
  pick.plan = "direct";
  pick.measured_us = 1.0;
  for (const char* damage : {"truncated", "garbage"}) {
    planner::store_tuned(key_of(d), pick);
    ASSERT_TRUE(planner::load_tuned(key_of(d)).has_value());
    if (std::string(damage) == "truncated") std::filesystem::resize_file(path, 20);
    else std::ofstream(path, std::ios::binary | std::ios::trunc) << "wino tuning 1\nkey x\nplan fused\n";
    EXPECT_FALSE(planner::load_tuned(key_of(d)).has_value()) << damage;
    EXPECT_LT(compile(Device::interpreter(), d, {}).report().candidates.front().measured_us, 0) << damage;
  }
  // A valid file of another key at this key's path (copied from elsewhere) is not trusted.
  ConvDesc other = d;
  other.k = 7;
  planner::store_tuned(key_of(other), pick);
  std::filesystem::copy_file(planner::tuned_path(key_of(other)), path, std::filesystem::copy_options::overwrite_existing);
  EXPECT_FALSE(planner::load_tuned(key_of(d)).has_value());
}

TEST(TuningCache, WritersAtOnceLeaveAValidFile) {
  testing::TempDir dir;
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  const std::string key = key_of(small_layer());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      PlanCandidate p;
      p.plan = "unfused";
      p.m = 2 + 2 * (t % 2);
      for (int i = 0; i < 25; ++i) {
        p.measured_us = t * 100 + i;
        planner::store_tuned(key, p);
        if (std::optional<PlanCandidate> got = planner::load_tuned(key)) {
          EXPECT_EQ(got->plan, "unfused");
        }
      }
    });
  for (std::thread& w : writers) w.join();
  const std::optional<PlanCandidate> last = planner::load_tuned(key);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->m == 2 || last->m == 4);
  for (const auto& e : std::filesystem::directory_iterator(dir.file("cache/tuning")))
    EXPECT_EQ(e.path().extension(), ".tune") << "a temporary file was left: " << e.path();
}

TEST(TuningCache, WinoTuneFillsTheCacheThatRunUses) {
  testing::TempDir dir;
  testing::ScopedEnv env("WINO_CACHE_DIR", dir.file("cache").c_str());
  std::ofstream(dir.file("layers.txt")) << "tiny 1 3 4 10 10 3 3 1\n";
  const auto tuned = testing::run_wino({"tune", "--layers", dir.file("layers.txt"), "--device", "interp", "--quick"});
  ASSERT_EQ(tuned.status, 0) << tuned.err;
  EXPECT_TRUE(testing::contains(tuned.out, "tiny")) << tuned.out;
  EXPECT_TRUE(testing::contains(tuned.err, "candidates measured, best so far")) << tuned.err;  // the progress line
  EXPECT_TRUE(planner::load_tuned(key_of(small_layer())).has_value());
  const auto bad = testing::run_wino({"tune", "--layers", dir.file("layers.txt"), "--only", "nope"});
  EXPECT_EQ(bad.status, 2) << bad.err;
}

}  // namespace
}  // namespace wino

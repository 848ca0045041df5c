#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_runner.h"

namespace wino {
namespace {

using testing::run_wino;

using testing::contains;

// The raw JSON text of the value after "key": (a number, literal, string or nested [...]).
std::string json_value(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "";
  size_t start = at + key.size() + 4, end = start;
  int depth = 0;
  bool in_string = false;
  for (; end < json.size(); ++end) {
    char c = json[end];
    if (in_string) {
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) break;
  }
  return json.substr(start, end - start);
}

TEST(CliTransforms, PrintsMatricesCountsCheckAndError) {
  auto r = run_wino({"transforms", "--m", "4", "--r", "3", "--trials", "200"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "F(4, 3)")) << r.out;
  EXPECT_TRUE(contains(r.out, "points: 0, -1, 1, 1/2, -2, inf")) << r.out;
  EXPECT_TRUE(contains(r.out, "AT (4 x 6):")) << r.out;
  EXPECT_TRUE(contains(r.out, "G (6 x 3):")) << r.out;
  EXPECT_TRUE(contains(r.out, "BT (6 x 6):")) << r.out;
  EXPECT_TRUE(contains(r.out, "36 Winograd vs 144 direct (4.00x fewer)")) << r.out;
  EXPECT_TRUE(contains(r.out, "input  BT d B")) << r.out;
  EXPECT_TRUE(contains(r.out, "1D exact, 2D exact")) << r.out;
  EXPECT_TRUE(contains(r.out, "200 random normal tiles): max ")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliTransforms, AlignsColumnsOfFractions) {
  auto r = run_wino({"transforms", "--m", "2", "--r", "3", "--points", "0,1,-1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "G (4 x 3):\n    -1     0    0\n   1/2   1/2  1/2\n")) << r.out;
}

TEST(CliTransforms, JsonHasEveryKeyAndVerifies) {
  auto r = run_wino({"transforms", "--m", "2", "--r", "3", "--json", "--points=0,1,-1"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one JSON object on one line";
  EXPECT_EQ(json_value(r.out, "verified"), "true");
  EXPECT_EQ(json_value(r.out, "m"), "2");
  EXPECT_EQ(json_value(r.out, "r"), "3");
  EXPECT_EQ(json_value(r.out, "alpha"), "4");
  EXPECT_EQ(json_value(r.out, "points"), "[\"0\", \"1\", \"-1\"]");
  EXPECT_EQ(json_value(r.out, "AT"), "[[\"1\", \"1\", \"1\", \"0\"], [\"0\", \"1\", \"-1\", \"1\"]]");
  EXPECT_EQ(json_value(r.out, "G"),
            "[[\"-1\", \"0\", \"0\"], [\"1/2\", \"1/2\", \"1/2\"], [\"1/2\", \"-1/2\", \"1/2\"], "
            "[\"0\", \"0\", \"1\"]]");
  EXPECT_EQ(json_value(r.out, "mults_per_tile"), "16");
  EXPECT_EQ(json_value(r.out, "direct_mults_per_tile"), "36");
  EXPECT_EQ(json_value(r.out, "input_1d"), "{\"adds\": 4, \"mults\": 0}");
  EXPECT_EQ(json_value(r.out, "filter_2d"), "{\"adds\": 28, \"mults\": 42}");
  for (const char* key : {"BT", "fp32_max_rel_err", "fp32_mean_rel_err", "fp32_trials", "ops"})
    EXPECT_FALSE(json_value(r.out, key).empty()) << key;
  double max_err = std::stod(json_value(r.out, "fp32_max_rel_err"));
  EXPECT_GT(max_err, 0.0);
  EXPECT_LT(max_err, 1e-5);
}

TEST(CliTransforms, NegativePointsAsSeparateArgument) {
  auto r = run_wino({"transforms", "--m", "3", "--r", "2", "--points", "-1,0,1/2", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_value(r.out, "points"), "[\"-1\", \"0\", \"1/2\"]");
  EXPECT_EQ(json_value(r.out, "verified"), "true");
}

TEST(CliTransforms, UsageErrorsExitWith2) {
  struct Case { std::vector<std::string> args; std::string message; };
  const std::vector<Case> cases = {
      {{"--m", "0", "--r", "3"}, "--m must be in [1, 16], got 0"},
      {{"--m", "10", "--r", "10"}, "alpha = m + r - 1 = 19 exceeds the limit of 16"},
      {{"--m", "2", "--r", "3", "--points", "0,1"}, "--points needs alpha - 1 = 3 values"},
      {{"--m", "2", "--r", "3", "--points", "0,1,2/2"}, "--points must be distinct"},
      {{"--m", "2", "--r", "3", "--points", "0,1,x/2"}, "'x/2'"},
      {{"--m", "2", "--r", "3", "--points", "0,,1"}, "empty item"},
      {{"--m", "2", "--r", "3", "--bogus"}, "unknown option '--bogus'"},
      {{"--m", "2"}, "missing required option '--r R'"},
      {{"--m", "2", "--r", "3", "--trials", "0"}, "--trials must be in"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"transforms"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_wino(args);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliTransforms, OverflowExitsWith1) {
  std::string points = "1000";
  for (int i = 2; i <= 15; ++i) {
    points += ',';
    points += std::to_string(1000 * i);
  }
  auto r = run_wino({"transforms", "--m", "1", "--r", "16", "--points", points});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "overflowed int64 while building F(1, 16)")) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliTransforms, HelpExitsWith0) {
  auto r = run_wino({"transforms", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "usage: wino transforms --m M --r R")) << r.out;
  EXPECT_TRUE(contains(r.out, "--points")) << r.out;
}

}  // namespace
}  // namespace wino

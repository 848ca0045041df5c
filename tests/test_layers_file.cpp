// The layer-file parser of `wino bench`, through `wino bench --list`: good files, and malformed
// lines reported as file:line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "cli_runner.h"

namespace wino {
namespace {

using testing::run_wino;
using testing::TempDir;

using testing::contains;

// Writes `text` to dir/name and runs `wino bench --layers dir/name --list`.
testing::CliResult list_layers(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return run_wino({"bench", "--layers", dir.file(name), "--list"});
}

TEST(LayersFile, ParsesCommentsBlankLinesAndColumns) {
  TempDir dir;
  auto r = list_layers(dir, "good.txt",
                       "# name N C K H W R S pad\n"
                       "\n"
                       "seed   1 8 8 32 32 3 3 1\n"
                       "   # indented comment\n"
                       "wide\t2\t16\t4\t9\t20\t5\t5\t2   # trailing comment\n"
                       "s2     1 8 16 9 9 3 3 1 2  # the optional stride column\n"
                       "valid  1 3 6 4 4 3 3 0");  // no final newline
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "seed   1x8x32x32 k8 3x3 pad 1,1,1,1  0.001 GFLOP")) << r.out;
  EXPECT_TRUE(contains(r.out, "wide   2x16x9x20 k4 5x5 pad 2,2,2,2")) << r.out;
  EXPECT_TRUE(contains(r.out, "valid  1x3x4x4 k6 3x3 pad 0,0,0,0")) << r.out;
  EXPECT_TRUE(contains(r.out, "1x8x9x9 k16 3x3 pad 1,1,1,1 stride 2")) << r.out;
  r = run_wino({"bench", "--layers", dir.file("good.txt"), "--list", "--only", "valid,seed"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(r.out.find("valid"), r.out.find("seed"));  // in --only order
  EXPECT_FALSE(contains(r.out, "wide"));
}

TEST(LayersFile, MalformedLinesNameFileAndLine) {
  TempDir dir;
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"# header\nok 1 8 8 8 8 3 3 1\nshort 1 8 8 8 8 3 3\n",
       ":3: expected 9 or 10 columns (name N C K H W R S pad [stride]), got 8"},
      {"long 1 8 8 8 8 3 3 1 2 7\n", ":1: expected 9 or 10 columns"},
      {"stride0 1 8 8 8 8 3 3 1 0\n", ":1: column stride must be >= 1, got 0"},
      {"\n\nnum 1 8 eight 8 8 3 3 1\n", ":3: column K: 'eight' is not an integer"},
      {"frac 1 8 8 8.5 8 3 3 1\n", ":1: column H: '8.5' is not an integer"},
      {"zero 1 0 8 8 8 3 3 1\n", ":1: column C must be >= 1, got 0"},
      {"negpad 1 8 8 8 8 3 3 -1\n", ":1: column pad must be >= 0, got -1"},
      {"huge 1 8 8 99999999999999999999 8 3 3 1\n", ":1: column H: '99999999999999999999' is too large"},
      {"empty 1 8 8 2 2 5 5 0\n", ":1: empty: the output would be empty"},
      {"a 1 8 8 8 8 3 3 1\na 1 8 8 8 8 3 3 1\n", ":2: layer name 'a' already used on line 1"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string name = "bad" + std::to_string(i++) + ".txt";
    auto r = list_layers(dir, name, c.text);
    EXPECT_EQ(r.status, 1) << c.text;
    EXPECT_TRUE(contains(r.err, dir.file(name) + c.message)) << c.text << "\n" << r.err;
  }
  auto r = list_layers(dir, "comments.txt", "# only comments\n\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "comments.txt: no layers")) << r.err;
}

// A layer file that cannot be opened: the message says why (missing, a directory, not a file).
TEST(LayersFile, UnopenableFileSaysWhy) {
  TempDir dir;
  auto r = run_wino({"bench", "--layers", dir.file("missing.txt"), "--list"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "missing.txt': file not found (No such file or directory)")) << r.err;
  r = run_wino({"bench", "--layers", dir.path().string(), "--list"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "is a directory, not a layer file")) << r.err;
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
  {
    testing::FifoUnblocker unblocker(dir.file("fifo"));  // a wrongly blocking open fails, not hangs
    r = run_wino({"bench", "--layers", dir.file("fifo"), "--list"});
  }
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "fifo': not a regular file")) << r.err;
}

}  // namespace
}  // namespace wino

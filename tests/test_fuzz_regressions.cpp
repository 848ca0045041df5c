// Replays every fuzz input kept in the repository through the fuzz targets' bodies: the
// hand-written seeds (fuzz/seeds/<target>/), the minimized corpora (fuzz/corpus/<target>/) and
// the crashes found (fuzz/regressions/<target>/),
// so that what the fuzzers found stays fixed. Each input must be handled: a result or a
// wino::Error, never another exception or a sanitizer report (under the asan preset).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/error.h"
#include "fuzz_targets.h"
#include "io/npy.h"
#include "io/npy_format.h"

namespace wino {
namespace {

namespace fs = std::filesystem;
using Body = void (*)(const uint8_t*, size_t);

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* kind : {"seeds", "corpus", "regressions"}) {
    fs::path dir = fs::path(WINO_FUZZ_DIR) / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

// Returns how many inputs were replayed.
size_t replay(const std::string& target, Body body) {
  std::vector<fs::path> files = inputs_of(target);
  for (const fs::path& f : files) {
    const std::string bytes = testing::slurp(f.string());
    try {
      body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << f << ": " << e.what();
    }
  }
  return files.size();
}

// The corpora are committed: an empty replay means a wrong path, not a pass.
TEST(FuzzRegressions, NpyCorpusAndCrashes) { EXPECT_GT(replay("npy", fuzz::npy_one_input), 10u); }

TEST(FuzzRegressions, ConvCliCorpusAndCrashes) {
  EXPECT_GT(replay("conv_cli", fuzz::conv_cli_one_input), 10u);
}

TEST(FuzzRegressions, TransformsCorpusAndCrashes) {
  EXPECT_GT(replay("transforms", fuzz::transforms_one_input), 10u);
}

// A valid file passes the body's round-trip check; each truncation of it is rejected quietly.
TEST(FuzzRegressions, NpyBodyAcceptsValidAndRejectsTruncatedQuietly) {
  const std::string ok = encode_npy(Tensor(DType::f64, {2, 3}));
  for (size_t n = 0; n <= ok.size(); ++n)
    EXPECT_NO_THROW(fuzz::npy_one_input(reinterpret_cast<const uint8_t*>(ok.data()), n)) << n;
  EXPECT_NO_THROW(parse_npy("ok.npy", ok));
  EXPECT_THROW(parse_npy("cut.npy", ok.substr(0, ok.size() - 1)), Error);
}

// Found by the file-reading half of the npy target: a header length shorter than the 12 bytes
// read first made read_npy read the data over the end of its header buffer.
TEST(FuzzRegressions, ShortHeaderFollowedByDataIsMalformedNotAnOverflow) {
  testing::TempDir dir;
  const std::string path = dir.file("short.npy");
  std::ofstream(path, std::ios::binary) << std::string("\x93NUMPY\x01\x00\x00\x00", 10) + std::string(200, 'A');
  try {
    read_npy(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed .npy header"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wino

#include "planner/tuning_cache.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/cpu/kernel_cache_dir.h"
#include "runtime/cpu/sha256.h"

namespace wino::planner {

namespace {

constexpr const char* kMagic = "wino tuning 1";
// Part of every key: raised when kernels change so much that picks measured on the earlier ones
// may be wrong (2: fused's ring rebalanced, session 36; 3: the CPU fused plan's groups and blocks
// shared out between threads, session 37; 4: narrower CPU vectors, session 38; 5: odd m on GPUs
// and fused's 6 points a thread, session 39; 6: tune timed each candidate at the precision and
// vector width asked for rather than its own, session 40; 7: the tensor-core fused ring's 2D
// blocks of tiles, session 50; 8: CUDA times runs back to back, without the launch's latency,
// session 64; 9: fused's FMA ring at 8 x 8 register tiles, a point a thread, and a CPU plan's
// narrower vector on a tie, session 67; 10: the FMA ring's exchange and operand rows laid out for
// the banks, F(4,3)'s back on 4 x 4 tiles, session 68), so that tune measures again. A change of what the planner picks by its own rules
// (a candidate's tiles string names only what differs from them) takes one too.
constexpr int kKernelGeneration = 10;

}  // namespace

std::string tuning_cache_dir() {
  const cpu::CacheLocation loc = cpu::sibling_cache_location("tuning");
  const std::string why = cpu::prepare_cache_dir(loc);
  if (!why.empty()) {
    cpu::warn_once("the tuning cache is off: " + why);
    return "";
  }
  return loc.path;
}

namespace {

std::string file_name(const std::string& key) {
  cpu::Sha256 h;
  h.update(key);
  return cpu::to_hex(h.digest(), 16) + ".tune";
}

// "line\n" fields of a stored pick, after the magic and the key.
std::string payload(const std::string& key, const PlanCandidate& p) {
  std::ostringstream s;
  char us[32];
  std::snprintf(us, sizeof us, "%.3f", p.measured_us);
  s << kMagic << "\nkey " << key << "\nplan " << p.plan << "\nm " << p.m << "\ntiles " << p.tiles
    << "\nprecision " << precision_name(p.precision) << "\nmeasured_us " << us << "\n";
  return s.str();
}

// The value of `field` on its own line ("field value"); false when the line is missing.
bool field(const std::string& text, const std::string& name, std::string& value) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0 || line == name) {
      value = line.size() > name.size() ? line.substr(name.size() + 1) : "";
      return true;
    }
  return false;
}

}  // namespace

std::string tuning_key(const std::string& device, const ConvDesc& d, const Options& o) {
  char err[32];
  std::snprintf(err, sizeof err, "%g", o.max_rel_err);
  return device + " | wino " + WINO_VERSION + " kernels " + std::to_string(kKernelGeneration) + " | " + d.str() + " | groups " + std::to_string(d.groups) +
         " stride " + std::to_string(d.stride) + " dilation " + std::to_string(d.dilation) + " | m " +
         std::to_string(o.m) + " tiles " + std::to_string(o.block_k) + "," + std::to_string(o.block_tiles) + "," +
         std::to_string(o.reg_k) + "," + std::to_string(o.reg_tiles) + "," + std::to_string(o.chunk_c) +
         (o.points_per_thread ? "," + std::to_string(o.points_per_thread) : "") +
         (o.tile_block_cols ? " tile_block " + std::to_string(o.tile_block_cols) : "") + " threads " +
         std::to_string(o.threads) + " max_rel_err " + err + " precision " + precision_name(o.precision);
}

std::string tuned_path(const std::string& key) {
  const std::string dir = tuning_cache_dir();
  return dir.empty() ? "" : dir + "/" + file_name(key);
}

std::optional<PlanCandidate> load_tuned(const std::string& key) {
  const std::string path = tuned_path(key);
  if (path.empty() || !std::filesystem::exists(path)) return std::nullopt;
  std::string text, stored_key, m, us, precision;
  PlanCandidate p;
  if (!cpu::read_checksummed_payload(path, text) || text.rfind(std::string(kMagic) + "\n", 0) != 0 ||
      !field(text, "key", stored_key) || !field(text, "plan", p.plan) || !field(text, "m", m) ||
      !field(text, "tiles", p.tiles) || !field(text, "precision", precision) || !field(text, "measured_us", us)) {
    cpu::warn_once("ignoring the tuning cache file " + path + ": it is damaged (run `wino tune` again)");
    return std::nullopt;
  }
  if (stored_key != key) {
    cpu::warn_once("ignoring the tuning cache file " + path + ": it holds another convolution or device");
    return std::nullopt;
  }
  try {
    p.m = std::stoi(m);
    p.measured_us = std::stod(us);
    p.precision = parse_precision(precision);
  } catch (const std::exception&) {
    cpu::warn_once("ignoring the tuning cache file " + path + ": it is damaged (run `wino tune` again)");
    return std::nullopt;
  }
  return p;
}

void store_tuned(const std::string& key, const PlanCandidate& pick) {
  const std::string path = tuned_path(key);
  if (path.empty()) return;
  // A private temporary name in the same directory, renamed over the entry in one step.
  std::string tmp = path + ".XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) {
    cpu::warn_once("cannot write the tuning cache in " + path + ": " + std::strerror(errno));
    return;
  }
  close(fd);
  bool ok = static_cast<bool>(std::ofstream(tmp, std::ios::binary | std::ios::trunc) << payload(key, pick));
  try {
    if (ok) cpu::append_checksum_trailer(tmp);
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    cpu::warn_once("cannot write the tuning cache file " + path);
  }
}

}  // namespace wino::planner

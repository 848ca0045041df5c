#include "runtime/cpu/kernel_cache_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <set>
#include <vector>

#include "common/error.h"
#include "runtime/cpu/sha256.h"

namespace wino::cpu {
namespace {

namespace fs = std::filesystem;

constexpr char kTrailerMagic[8] = {'W', 'I', 'N', 'O', 'C', 'S', 'O', '1'};
constexpr size_t kDigestBytes = 16;
constexpr size_t kTrailerBytes = sizeof kTrailerMagic + 8 + kDigestBytes;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

/// The trailer for a payload: magic, little-endian size, digest prefix.
std::string make_trailer(const char* payload, size_t size) {
  Sha256 sha;
  sha.update(payload, size);
  auto digest = sha.digest();
  std::string t(kTrailerMagic, sizeof kTrailerMagic);
  for (int i = 0; i < 8; ++i) t += static_cast<char>((static_cast<uint64_t>(size) >> (8 * i)) & 0xff);
  t.append(reinterpret_cast<const char*>(digest.data()), kDigestBytes);
  return t;
}

}  // namespace

CacheLocation default_cache_location() {
  if (std::string dir = env("WINO_CACHE_DIR"); !dir.empty()) return {dir, 1};
  // The XDG spec says relative values are invalid and must be ignored.
  if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg[0] == '/') return {xdg + "/wino/cpu", 2};
  if (std::string home = env("HOME"); !home.empty()) return {home + "/.cache/wino/cpu", 2};
  return {"/tmp/wino-" + std::to_string(geteuid()) + "/cpu", 2};
}

CacheLocation sibling_cache_location(const std::string& name) {
  CacheLocation loc = default_cache_location();
  if (!env("WINO_CACHE_DIR").empty()) return {loc.path + "/" + name, loc.private_levels + 1};
  loc.path = fs::path(loc.path).parent_path().string() + "/" + name;
  return loc;
}

std::string prepare_cache_dir(const CacheLocation& location) {
  std::error_code ec;
  fs::path target = fs::absolute(location.path, ec).lexically_normal();
  if (ec) return "cannot resolve " + location.path + ": " + ec.message();
  if (!target.has_filename()) target = target.parent_path();  // "a/b/" -> "a/b"

  std::vector<fs::path> components;  // every prefix of the path, root first
  fs::path prefix;
  for (const fs::path& part : target) {
    prefix /= part;
    components.push_back(prefix);
  }
  for (const fs::path& dir : components) {
    if (mkdir(dir.c_str(), 0700) == 0) {
      chmod(dir.c_str(), 0700);  // whatever the umask says
    } else if (errno != EEXIST) {
      return "cannot create " + dir.string() + ": " + std::strerror(errno);
    }
  }
  uid_t uid = geteuid();
  size_t first_private = components.size() - std::min<size_t>(components.size(), location.private_levels);
  for (size_t i = first_private; i < components.size(); ++i) {
    const std::string dir = components[i].string();
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return "cannot stat " + dir + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
    if (st.st_uid != uid) return dir + " is owned by another user (uid " + std::to_string(st.st_uid) + ")";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return dir + " is writable by group or others";
  }
  if (access(target.c_str(), W_OK | X_OK) != 0) return target.string() + " is not writable: " + std::strerror(errno);
  return "";
}

void warn_once(const std::string& message) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (seen.insert(message).second) std::cerr << "wino: warning: " << message << std::endl;
}

PrivateTempDir::PrivateTempDir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string templ = (base / "wino-cpu-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {  // mkdtemp creates the directory with mode 0700
    throw Error("cannot create a private temporary directory under " + base.string() + ": " +
                std::strerror(errno) + "; set TMPDIR to a writable directory");
  }
  path_ = templ;
}

PrivateTempDir::~PrivateTempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void append_checksum_trailer(const std::string& path) {
  std::string payload;
  if (!read_file(path, payload)) throw Error("cannot read " + path + " to checksum it");
  std::string trailer = make_trailer(payload.data(), payload.size());
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(trailer.data(), static_cast<std::streamsize>(trailer.size()));
  out.close();
  if (!out) throw Error("cannot write the checksum to " + path);
}

bool has_valid_checksum_trailer(const std::string& path) {
  std::string payload;
  return read_checksummed_payload(path, payload);
}

bool read_checksummed_payload(const std::string& path, std::string& payload) {
  struct stat st;  // reading a directory through a filebuf throws
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (!read_file(path, payload) || payload.size() < kTrailerBytes) return false;
  const size_t size = payload.size() - kTrailerBytes;
  if (payload.compare(size, kTrailerBytes, make_trailer(payload.data(), size)) != 0) return false;
  payload.resize(size);
  return true;
}

}  // namespace wino::cpu

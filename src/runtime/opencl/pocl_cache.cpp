#include "runtime/opencl/pocl_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/cpu/kernel_cache_dir.h"

namespace wino::opencl::pocl_cache {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "WINO-POCL-ENTRY 1\n";
constexpr int kMaxFiles = 100000;
constexpr auto kStaleRunDirAge = std::chrono::hours(1);

// One PoCL cache entry: a directory such as "DO/BGJL..." (relative to PoCL's cache directory)
// holding program.bc, and one kernel library per kernel and work-group size.
struct StoredFile {
  std::string path;  // relative to the entry's directory
  unsigned mode = 0600;
  std::string bytes;
};
struct StoredEntry {
  std::string key, dir;
  std::vector<StoredFile> files;
};

// A relative path of plain names: nothing in a stored entry may point outside the directory.
bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 4096) return false;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view name = path.substr(start, slash - start);
    if (name.empty() || name == "." || name == "..") return false;
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
    start = slash + 1;
  }
  return true;
}

// ---- The stored form: the magic line, the key, the entry's directory, the file count, then
// ---- per file "<octal mode> <size> <path>\n" and its bytes. The checksum trailer follows.

std::string encode(const StoredEntry& e) {
  std::string out(kMagic);
  out += e.key + "\n" + e.dir + "\n" + std::to_string(e.files.size()) + "\n";
  for (const StoredFile& f : e.files) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%o", f.mode);
    out += std::string(mode) + " " + std::to_string(f.bytes.size()) + " " + f.path + "\n";
    out += f.bytes;
  }
  return out;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool line(std::string_view& out) {
    const size_t end = data_.find('\n', at_);
    if (end == std::string_view::npos) return false;
    out = data_.substr(at_, end - at_);
    at_ = end + 1;
    return true;
  }
  bool bytes(size_t n, std::string& out) {
    if (n > data_.size() - at_) return false;
    out.assign(data_.substr(at_, n));
    at_ += n;
    return true;
  }
  bool done() const { return at_ == data_.size(); }

 private:
  std::string_view data_;
  size_t at_ = 0;
};

template <typename T>
bool parse_number(std::string_view text, T& value, int base = 10) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// Parses one file's header line, "<octal mode> <size> <path>".
bool decode_file_line(std::string_view line, StoredFile& f, size_t& size) {
  const size_t a = line.find(' '), b = line.find(' ', a == std::string_view::npos ? a : a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) return false;
  f.path = std::string(line.substr(b + 1));
  return parse_number(line.substr(0, a), f.mode, 8) && parse_number(line.substr(a + 1, b - a - 1), size) &&
         is_safe_relative_path(f.path);
}

// "" when `data` is a well-formed stored entry (then in `e`), else what is wrong with it.
std::string decode(std::string_view data, StoredEntry& e) {
  if (data.substr(0, kMagic.size()) != kMagic) return "it is not a stored PoCL entry";
  Reader in(data.substr(kMagic.size()));
  std::string_view key, dir, count_text;
  size_t count = 0;
  if (!in.line(key) || !in.line(dir) || !in.line(count_text) || !parse_number(count_text, count) ||
      count > kMaxFiles || !is_safe_relative_path(dir))
    return "its header is malformed";
  e.key = key;
  e.dir = dir;
  e.files.resize(count);
  for (StoredFile& f : e.files) {
    std::string_view line;
    size_t size = 0;
    if (!in.line(line) || !decode_file_line(line, f, size) || !in.bytes(size, f.bytes))
      return "a file in it is malformed or cut short";
  }
  return in.done() ? "" : "it has trailing bytes";
}

// ---- The entry's files in PoCL's directory.

// Path, size and modification time of every file of the entry: changes when PoCL adds a
// kernel library, without reading any file.
std::string signature(const fs::path& entry_dir) {
  std::string sig;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(entry_dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    sig += it->path().lexically_relative(entry_dir).string() + " " + std::to_string(st.st_size) + " " +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  return sig;
}

bool read_whole_file(const fs::path& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[65536];
  ssize_t got = 0;
  while ((got = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(got));
  ::close(fd);
  return got == 0;
}

// The entry's regular files; false (with `why`) when one cannot be read.
bool collect_files(const fs::path& entry_dir, std::vector<StoredFile>& files, std::string& why) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(entry_dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    StoredFile f{it->path().lexically_relative(entry_dir).string(), st.st_mode & 0700u, ""};
    if (!is_safe_relative_path(f.path) || !read_whole_file(it->path(), f.bytes)) {
      why = "cannot read " + it->path().string();
      return false;
    }
    files.push_back(std::move(f));
  }
  if (ec) why = "cannot list " + entry_dir.string() + ": " + ec.message();
  return !ec;
}

bool write_new_file(const fs::path& path, const StoredFile& f) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (f.mode & 0700u) | 0600u);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < f.bytes.size()) {
    const ssize_t put = ::write(fd, f.bytes.data() + done, f.bytes.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) break;
    done += static_cast<size_t>(put);
  }
  return ::close(fd) == 0 && done == f.bytes.size();
}

// Puts a verified entry's files where PoCL will look (unless that entry is there already).
bool extract(const StoredEntry& e, const fs::path& pocl_dir, std::string& why) {
  const fs::path entry_dir = pocl_dir / e.dir;
  std::error_code ec;
  if (fs::exists(entry_dir, ec)) return true;
  for (const StoredFile& f : e.files) {
    const fs::path path = entry_dir / f.path;
    fs::create_directories(path.parent_path(), ec);
    if (ec || !write_new_file(path, f)) {
      why = "cannot write " + path.string();
      fs::remove_all(entry_dir, ec);  // PoCL must not see half an entry
      return false;
    }
  }
  return true;
}

// Writes the entry to a temporary beside `target` and renames it there: readers see the whole
// entry or none.
bool write_stored_entry(const StoredEntry& e, const std::string& target, std::string& why) {
  std::string tmp = target + ".XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    why = std::strerror(errno);
    return false;
  }
  const std::string bytes = encode(e);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t put = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) break;
    done += static_cast<size_t>(put);
  }
  bool ok = ::close(fd) == 0 && done == bytes.size();
  try {
    if (ok) cpu::append_checksum_trailer(tmp);
  } catch (const Error&) {
    ok = false;
  }
  if (!ok || std::rename(tmp.c_str(), target.c_str()) != 0) {
    why = std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// ---- The process's private PoCL directory.

// "run-<pid>-XXXXXX" under the store, removed when the process exits.
class RunDir {
 public:
  explicit RunDir(const std::string& store) {
    std::string templ = store + "/run-" + std::to_string(getpid()) + "-XXXXXX";
    if (mkdtemp(templ.data())) path_ = templ;  // mode 0700
  }
  ~RunDir() {
    std::error_code ec;
    // A forked child that exits normally must not remove its parent's directory.
    if (!path_.empty() && getpid() == owner_) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  pid_t owner_ = getpid();
};

// Removes the private directories of processes that were killed before they could (their
// pid is gone, and nothing has changed in them for an hour).
void remove_stale_run_dirs(const std::string& store) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (auto it = fs::directory_iterator(store, ec); !ec && it != fs::end(it); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    int pid = 0;
    const size_t dash = name.find('-', 4);
    if (name.rfind("run-", 0) != 0 || dash == std::string::npos ||
        !parse_number(std::string_view(name).substr(4, dash - 4), pid) || pid == getpid())
      continue;
    std::error_code time_ec;
    const auto changed = fs::last_write_time(it->path(), time_ec);
    if (time_ec || now - changed < kStaleRunDirAge) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
  }
}

struct State {
  std::mutex mu;
  bool active = false;
  std::string store;  // stored entries; "" when there is no store (nothing outlives the process)
  std::unique_ptr<RunDir> run_dir;
  std::unique_ptr<cpu::PrivateTempDir> fallback_dir;
  std::string pocl_dir;                        // POCL_CACHE_DIR
  std::map<std::string, std::string> dir_of;   // key -> its entry's directory
  std::map<std::string, std::string> stored;   // key -> signature of the files last stored
  std::set<std::string> attributed;            // entry directories already tied to a key
};

State& state() {
  static State s;
  return s;
}

std::string stored_path(const State& s, const std::string& key) { return s.store + "/" + key + ".pocl"; }

// The entries (two levels: "DO/BGJL...") now in PoCL's directory.
std::vector<std::string> entry_dirs(const std::string& pocl_dir) {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto top = fs::directory_iterator(pocl_dir, ec); !ec && top != fs::end(top); top.increment(ec)) {
    if (!top->is_directory()) continue;
    std::error_code inner_ec;
    for (auto e = fs::directory_iterator(top->path(), inner_ec); !inner_ec && e != fs::end(e); e.increment(inner_ec))
      if (e->is_directory()) dirs.push_back(top->path().filename().string() + "/" + e->path().filename().string());
  }
  return dirs;
}

// Loads and checks the stored entry of `key`; "" when it can be used, else why not.
std::string load_stored(const std::string& path, const std::string& key, StoredEntry& e) {
  std::string payload;
  if (!cpu::read_checksummed_payload(path, payload))
    return "it is not a regular file, or its checksum does not match its contents";
  if (std::string why = decode(payload, e); !why.empty()) return why;
  if (e.key != key) return "it holds the program of another key, " + e.key;
  return "";
}

}  // namespace

void set_up() {
  if (const char* set = std::getenv("POCL_CACHE_DIR"); set && *set) return;  // the user's
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const cpu::CacheLocation loc = cpu::sibling_cache_location("pocl");
  std::string why = cpu::prepare_cache_dir(loc);
  if (why.empty()) {
    s.store = fs::absolute(loc.path).lexically_normal().string();
    remove_stale_run_dirs(s.store);
    s.run_dir = std::make_unique<RunDir>(s.store);
    s.pocl_dir = s.run_dir->path();
    if (s.pocl_dir.empty()) why = "cannot create a directory in " + s.store + ": " + std::strerror(errno);
  }
  if (!why.empty()) {
    s.store.clear();
    try {
      s.fallback_dir = std::make_unique<cpu::PrivateTempDir>();
    } catch (const Error&) {
      return;  // PoCL then tries its own default
    }
    cpu::warn_once("OpenCL (PoCL) kernel cache disabled: " + why);
    s.pocl_dir = s.fallback_dir->path();
  }
  setenv("POCL_CACHE_DIR", s.pocl_dir.c_str(), 1);
  s.active = true;
}

void restore(const std::string& key) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.active || s.store.empty() || s.dir_of.count(key)) return;
  const std::string path = stored_path(s, key);
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;  // not stored yet
  StoredEntry e;
  std::string why = load_stored(path, key, e);
  if (!why.empty()) {
    cpu::warn_once("corrupt OpenCL (PoCL) kernel cache entry " + path + " (" + why + "); rebuilding it");
    std::error_code ec;
    fs::remove_all(path, ec);
    return;
  }
  if (!extract(e, s.pocl_dir, why)) {
    cpu::warn_once("cannot use the OpenCL (PoCL) kernel cache entry " + path + ": " + why);
    return;
  }
  s.dir_of[key] = e.dir;
  s.attributed.insert(e.dir);
  s.stored[key] = signature(fs::path(s.pocl_dir) / e.dir);
}

void note_built(const std::string& key) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.active || s.dir_of.count(key)) return;
  std::vector<std::string> fresh;
  for (const std::string& dir : entry_dirs(s.pocl_dir))
    if (s.attributed.insert(dir).second) fresh.push_back(dir);
  if (fresh.size() == 1) s.dir_of[key] = fresh[0];  // else unknown: that program is not stored
}

void save(const std::string& key) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.active || s.store.empty()) return;
  auto dir = s.dir_of.find(key);
  if (dir == s.dir_of.end()) return;
  const fs::path entry_dir = fs::path(s.pocl_dir) / dir->second;
  const std::string sig = signature(entry_dir);
  if (sig.empty() || s.stored[key] == sig) return;
  StoredEntry e{key, dir->second, {}};
  std::string why;
  const std::string path = stored_path(s, key);
  if (!collect_files(entry_dir, e.files, why) || !write_stored_entry(e, path, why)) {
    cpu::warn_once("cannot store " + path + " in the OpenCL (PoCL) kernel cache: " + why);
    return;
  }
  s.stored[key] = sig;
}

}  // namespace wino::opencl::pocl_cache

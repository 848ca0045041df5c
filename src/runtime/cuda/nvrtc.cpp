#include "runtime/cuda/nvrtc.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <exception>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/error.h"

namespace wino::cuda {
namespace {

// The few NVRTC types we need, declared here so that no CUDA header is required.
using nvrtcResult = int;
using nvrtcProgram = struct nvrtc_program_opaque*;
constexpr nvrtcResult kNvrtcSuccess = 0;

struct NvrtcLib {
  nvrtcResult (*nvrtcVersion)(int*, int*) = nullptr;
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                                    const char* const*) = nullptr;
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*) = nullptr;
  const char* (*nvrtcGetErrorString)(nvrtcResult) = nullptr;
  std::string version;  // "13.0"
  std::string path;     // the name dlopen succeeded with
  // NVRTC 12.9+ keeps its own cache in the driver's compute cache when libcuda is loaded; a hit
  // there returns a CUBIN with an empty log (no ptxas report), so we turn it off: ours keeps the log.
  bool has_own_cache = false;
};

template <class F>
bool resolve(void* handle, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(handle, name));
  if (fn == nullptr) missing = name;
  return fn != nullptr;
}

// Loads libnvrtc once per process. Returns nullptr with the reason in `why` on failure.
const NvrtcLib* load_nvrtc(std::string* why) {
  static std::string failure;
  static const NvrtcLib* lib = [] () -> const NvrtcLib* {
    const char* names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    std::vector<std::string> candidates(std::begin(names), std::end(names));
    for (const char* n : names) candidates.push_back(std::string("/usr/local/cuda/lib64/") + n);
    if (const char* home = std::getenv("CUDA_HOME"); home != nullptr && *home != '\0')
      for (const char* n : names) candidates.push_back(std::string(home) + "/lib64/" + n);
    void* handle = nullptr;
    std::string path;
    for (const std::string& c : candidates) {
      handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) {
        path = c;
        break;
      }
    }
    if (handle == nullptr) {
      failure = "NVRTC not found (libnvrtc.so.13): install the CUDA toolkit or add its lib64 to LD_LIBRARY_PATH";
      return nullptr;
    }
    auto* l = new NvrtcLib;  // lives for the whole process, like the library itself
    std::string missing;
    bool ok = resolve(handle, "nvrtcVersion", l->nvrtcVersion, missing) &&
              resolve(handle, "nvrtcCreateProgram", l->nvrtcCreateProgram, missing) &&
              resolve(handle, "nvrtcCompileProgram", l->nvrtcCompileProgram, missing) &&
              resolve(handle, "nvrtcGetProgramLogSize", l->nvrtcGetProgramLogSize, missing) &&
              resolve(handle, "nvrtcGetProgramLog", l->nvrtcGetProgramLog, missing) &&
              resolve(handle, "nvrtcGetCUBINSize", l->nvrtcGetCUBINSize, missing) &&
              resolve(handle, "nvrtcGetCUBIN", l->nvrtcGetCUBIN, missing) &&
              resolve(handle, "nvrtcGetPTXSize", l->nvrtcGetPTXSize, missing) &&
              resolve(handle, "nvrtcGetPTX", l->nvrtcGetPTX, missing) &&
              resolve(handle, "nvrtcDestroyProgram", l->nvrtcDestroyProgram, missing) &&
              resolve(handle, "nvrtcGetErrorString", l->nvrtcGetErrorString, missing);
    int major = 0, minor = 0;
    if (ok && l->nvrtcVersion(&major, &minor) != kNvrtcSuccess) {
      ok = false;
      missing = "nvrtcVersion()";
    }
    if (!ok) {
      failure = path + " is unusable (" + missing + " failed): it needs NVRTC from CUDA 11.1 or newer";
      delete l;
      return nullptr;
    }
    l->version = std::to_string(major) + "." + std::to_string(minor);
    l->has_own_cache = major > 12 || (major == 12 && minor >= 9);
    l->path = path;
    return l;
  }();
  if (lib == nullptr && why != nullptr) *why = failure;
  return lib;
}

const NvrtcLib& nvrtc() {
  std::string why;
  const NvrtcLib* lib = load_nvrtc(&why);
  if (lib == nullptr) throw Error(why);
  return *lib;
}

struct Counters {
  std::atomic<int64_t> compiles{0}, memory_hits{0}, disk_hits{0}, disk_writes{0}, corrupt_entries{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

// ---- keys -------------------------------------------------------------------------------

// Two independent 64-bit hashes of length-prefixed fields: a stable 128-bit key (std::hash
// is not stable across builds, and the key names files on disk).
class KeyHasher {
 public:
  void add(const std::string& s) {
    uint64_t n = s.size();
    for (int i = 0; i < 8; ++i) byte(static_cast<unsigned char>(n >> (8 * i)));
    for (char c : s) byte(static_cast<unsigned char>(c));
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a_),
                  static_cast<unsigned long long>(mix(b_)));
    return buf;
  }

 private:
  void byte(unsigned char c) {
    a_ = (a_ ^ c) * 0x100000001b3ULL;  // FNV-1a
    b_ = (b_ + c + 1) * 0x9e3779b97f4a7c15ULL;
    b_ ^= b_ >> 29;
  }
  static uint64_t mix(uint64_t x) {  // splitmix64 finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  uint64_t a_ = 0xcbf29ce484222325ULL, b_ = 0x2545f4914f6cdd1dULL;
};

uint64_t checksum(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

// ---- in-memory cache ----------------------------------------------------------------------

class MemoryCache {
 public:
  std::shared_ptr<const NvrtcOutput> find(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }
  void insert(const std::string& key, std::shared_ptr<const NvrtcOutput> value) {
    std::lock_guard lock(mutex_);
    if (map_.emplace(key, std::move(value)).second) order_.push_back(key);
    while (order_.size() > kCapacity) {  // oldest first: plans reuse recent kernels
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
  void clear() {
    std::lock_guard lock(mutex_);
    map_.clear();
    order_.clear();
  }

 private:
  static constexpr size_t kCapacity = 512;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const NvrtcOutput>> map_;
  std::deque<std::string> order_;
};

MemoryCache& memory_cache() {
  static MemoryCache c;
  return c;
}

// ---- disk cache ---------------------------------------------------------------------------
// One file per program: magic, four little-endian u64 (log, ptx and cubin sizes, FNV-1a of
// the payload), then log, ptx and cubin. Anything that does not check out is recompiled.

constexpr char kMagic[8] = {'W', 'I', 'N', 'O', 'C', 'U', '0', '1'};
constexpr size_t kHeaderSize = sizeof kMagic + 4 * 8;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t get_u64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return v;
}

// mkdir -p, new directories private to the user (the cache holds code we will run).
bool make_dirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  struct stat st {};
  return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string entry_path(const std::string& dir, const std::string& key) { return dir + "/" + key + ".nvrtc"; }

// Reads an entry into `out`; false when missing. Throws nothing: corrupt entries are reported
// through `corrupt` and removed.
bool read_entry(const std::string& path, NvrtcOutput& out, bool& corrupt) {
  corrupt = false;
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  corrupt = true;
  if (data.size() < kHeaderSize || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return false;
  uint64_t log_size = get_u64(data, 8), ptx_size = get_u64(data, 16), cubin_size = get_u64(data, 24);
  uint64_t sum = get_u64(data, 32);
  uint64_t payload = data.size() - kHeaderSize;
  if (log_size > payload || ptx_size > payload || cubin_size > payload || log_size + ptx_size + cubin_size != payload)
    return false;
  std::string body = data.substr(kHeaderSize);
  if (checksum(body) != sum || cubin_size < 4 || body.compare(log_size + ptx_size, 4, "\x7f" "ELF") != 0) return false;
  out.log = body.substr(0, log_size);
  out.ptx = body.substr(log_size, ptx_size);
  out.cubin.assign(body.begin() + static_cast<std::ptrdiff_t>(log_size + ptx_size), body.end());
  corrupt = false;
  return true;
}

// Writes via a temporary file and rename, so readers see a whole entry or none.
// Best effort: a cache that cannot be written only costs a recompile next time.
bool write_entry(const std::string& dir, const std::string& key, const NvrtcOutput& out) {
  if (!make_dirs(dir)) return false;
  std::string body = out.log + out.ptx + std::string(out.cubin.begin(), out.cubin.end());
  std::string data(kMagic, sizeof kMagic);
  put_u64(data, out.log.size());
  put_u64(data, out.ptx.size());
  put_u64(data, out.cubin.size());
  put_u64(data, checksum(body));
  data += body;
  std::ostringstream tmp_name;
  tmp_name << entry_path(dir, key) << ".tmp." << getpid() << "." << std::hash<std::thread::id>{}(std::this_thread::get_id());
  std::string tmp = tmp_name.str();
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = close(fd) == 0 && done == data.size() && rename(tmp.c_str(), entry_path(dir, key).c_str()) == 0;
  if (!ok) unlink(tmp.c_str());
  return ok;
}

// ---- compiling ----------------------------------------------------------------------------

std::string error_string(const NvrtcLib& lib, nvrtcResult r) {
  const char* s = lib.nvrtcGetErrorString(r);
  return s != nullptr ? s : "NVRTC error " + std::to_string(r);
}

std::string join(const std::vector<std::string>& options) {
  std::string s;
  for (const std::string& o : options) s += (s.empty() ? "" : " ") + o;
  return s;
}

NvrtcOutput compile_uncached(const NvrtcLib& lib, const std::string& source, const std::string& name,
                             const std::string& arch, const std::vector<std::string>& options) {
  counters().compiles++;
  auto fail = [&](const char* call, nvrtcResult r) {
    return Error("NVRTC " + std::string(call) + " failed for kernel '" + name + "' (" + arch + "): " + error_string(lib, r));
  };
  nvrtcProgram prog = nullptr;
  if (nvrtcResult r = lib.nvrtcCreateProgram(&prog, source.c_str(), name.c_str(), 0, nullptr, nullptr); r != kNvrtcSuccess)
    throw fail("nvrtcCreateProgram", r);
  struct ProgramGuard {
    const NvrtcLib& lib;
    nvrtcProgram& prog;
    ~ProgramGuard() { lib.nvrtcDestroyProgram(&prog); }
  } guard{lib, prog};
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  nvrtcResult compiled = lib.nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  NvrtcOutput out;
  size_t size = 0;
  if (lib.nvrtcGetProgramLogSize(prog, &size) == kNvrtcSuccess && size > 0) {
    std::string log(size, '\0');
    if (lib.nvrtcGetProgramLog(prog, log.data()) == kNvrtcSuccess) out.log.assign(log.c_str());
  }
  if (compiled != kNvrtcSuccess)
    throw Error("NVRTC failed to compile kernel '" + name + "' for " + arch + " (" + error_string(lib, compiled) +
                "), options: " + join(options) + "\ncompiler log:\n" + out.log);
  if (nvrtcResult r = lib.nvrtcGetCUBINSize(prog, &size); r != kNvrtcSuccess) throw fail("nvrtcGetCUBINSize", r);
  out.cubin.resize(size);
  if (nvrtcResult r = lib.nvrtcGetCUBIN(prog, out.cubin.data()); r != kNvrtcSuccess) throw fail("nvrtcGetCUBIN", r);
  if (out.cubin.empty()) throw Error("NVRTC produced no CUBIN for kernel '" + name + "' (" + arch + ")");
  if (lib.nvrtcGetPTXSize(prog, &size) == kNvrtcSuccess && size > 0) {
    std::string ptx(size, '\0');
    if (lib.nvrtcGetPTX(prog, ptx.data()) == kNvrtcSuccess) out.ptx.assign(ptx.c_str());
  }
  return out;
}

}  // namespace

bool nvrtc_available(std::string* why_not) { return load_nvrtc(why_not) != nullptr; }

std::string nvrtc_version() { return nvrtc().version; }

std::string nvrtc_disk_cache_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
  };
  if (std::string d = env("WINO_CACHE_DIR"); !d.empty()) return d + "/cuda";
  if (std::string d = env("XDG_CACHE_HOME"); !d.empty()) return d + "/wino/cuda";
  if (std::string d = env("HOME"); !d.empty()) return d + "/.cache/wino/cuda";
  return "";
}

NvrtcOutput nvrtc_compile(const std::string& source, const std::string& program_name, const std::string& arch,
                          const std::vector<std::string>& extra_options) {
  auto start = std::chrono::steady_clock::now();
  auto finish = [&](NvrtcOutput out, NvrtcSource from) {
    out.source = from;
    out.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return out;
  };
  static const std::regex arch_pattern(R"(sm_[0-9]{2,3}[af]?)");
  if (!std::regex_match(arch, arch_pattern))
    throw Error("invalid CUDA architecture '" + arch + "' for kernel '" + program_name + "': expected e.g. sm_90");
  const NvrtcLib& lib = nvrtc();
  std::vector<std::string> options = {"-arch=" + arch, "--ptxas-options=-v", "--std=c++17"};
  if (lib.has_own_cache) options.push_back("--no-cache");
  options.insert(options.end(), extra_options.begin(), extra_options.end());

  KeyHasher h;
  for (const std::string& field : {lib.version, program_name, arch, source}) h.add(field);
  for (const std::string& o : options) h.add(o);
  const std::string key = h.hex();

  if (auto hit = memory_cache().find(key)) {
    counters().memory_hits++;
    return finish(*hit, NvrtcSource::memory_cache);
  }
  const std::string dir = nvrtc_disk_cache_dir();
  if (!dir.empty()) {
    NvrtcOutput out;
    bool corrupt = false;
    if (read_entry(entry_path(dir, key), out, corrupt)) {
      counters().disk_hits++;
      out.kernels = parse_ptxas_log(out.log);
      out.arch = arch;
      memory_cache().insert(key, std::make_shared<const NvrtcOutput>(out));
      return finish(std::move(out), NvrtcSource::disk_cache);
    }
    if (corrupt) {
      counters().corrupt_entries++;
      unlink(entry_path(dir, key).c_str());
    }
  }
  NvrtcOutput out = compile_uncached(lib, source, program_name, arch, options);
  out.kernels = parse_ptxas_log(out.log);
  out.arch = arch;
  if (!dir.empty() && write_entry(dir, key, out)) counters().disk_writes++;
  memory_cache().insert(key, std::make_shared<const NvrtcOutput>(out));
  return finish(std::move(out), NvrtcSource::compiled);
}

std::string kernel_arch(const std::string& arch, bool own_features) {
  if (!own_features) return arch;
  if (arch == "sm_90" || arch == "sm_90a") return "sm_90a";
  throw Error("a kernel with warpgroup matrix ops (wgmma) compiles for sm_90 only, not " + arch +
              ": plan it for this device's architecture (--target " + arch + ")");
}

std::vector<NvrtcOutput> nvrtc_compile_parallel(const std::vector<std::string>& sources,
                                                const std::vector<std::string>& program_names,
                                                const std::vector<std::string>& archs) {
  if (sources.size() != program_names.size() || sources.size() != archs.size())
    throw Error("internal: nvrtc_compile_parallel: one name and arch per source");
  std::vector<NvrtcOutput> out(sources.size());
  std::vector<std::exception_ptr> failures(sources.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < sources.size(); i = next++) {
      try {
        out[i] = nvrtc_compile(sources[i], program_names[i], archs[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  };
  const size_t n = std::min<size_t>(sources.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& f : failures)
    if (f) std::rethrow_exception(f);
  return out;
}

NvrtcCacheStats nvrtc_cache_stats() {
  Counters& c = counters();
  return {c.compiles.load(), c.memory_hits.load(), c.disk_hits.load(), c.disk_writes.load(), c.corrupt_entries.load()};
}

void nvrtc_reset_cache_stats() {
  Counters& c = counters();
  c.compiles = c.memory_hits = c.disk_hits = c.disk_writes = c.corrupt_entries = 0;
}

void nvrtc_clear_memory_cache() { memory_cache().clear(); }

}  // namespace wino::cuda

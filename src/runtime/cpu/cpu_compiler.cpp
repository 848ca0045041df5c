#include "runtime/cpu/cpu_compiler.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "runtime/cpu/kernel_cache_dir.h"
#include "runtime/cpu/sha256.h"
#include "runtime/cpu/subprocess.h"

namespace wino::cpu {
namespace {

constexpr int kMaxDiagnosticLines = 40;

/// `cc --version`'s first line, run once per compiler path per process.
std::string compiler_version(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::string> versions;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = versions.find(path); it != versions.end()) return it->second;
  ProcessResult r = run_process({path, "--version"}, 64 * 1024);
  if (r.exit_status != 0) {
    throw Error("the C compiler " + path + " does not run (`" + path + " --version` " +
                (r.term_signal ? "was killed by signal " + std::to_string(r.term_signal)
                               : "exited with status " + std::to_string(r.exit_status)) +
                "): install gcc (apt-get install gcc) or set CC to a working C compiler");
  }
  std::string first = r.output.substr(0, r.output.find('\n'));
  return versions[path] = first;
}

/// Identifies the host CPU, since -march=native code may not run on another one sharing the
/// cache (a home directory on NFS): the model and feature lines of the first /proc/cpuinfo block.
const std::string& host_cpu_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line, out;
    while (std::getline(in, line) && !line.empty()) {
      for (const char* field : {"vendor_id", "model name", "flags", "Features", "CPU implementer", "CPU part"}) {
        if (line.rfind(field, 0) == 0) out += line + "\n";
      }
    }
    return out;
  }();
  return id;
}

void hash_field(Sha256& sha, const std::string& field) {
  uint64_t n = field.size();  // length-prefixed so that field boundaries can't shift
  sha.update(&n, sizeof n);
  sha.update(field);
}

/// The first kMaxDiagnosticLines lines of the compiler's output, noting how many were cut.
std::string head_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  int n = 0;
  while (std::getline(in, line)) {
    if (n++ < kMaxDiagnosticLines) out += line + "\n";
  }
  if (n > kMaxDiagnosticLines) out += "... (" + std::to_string(n - kMaxDiagnosticLines) + " more lines)\n";
  return out;
}

/// mkostemps() on "<dir>/<key>.XXXXXX<suffix>": a fresh file only this call uses.
std::string make_temp_file(const std::string& dir, const std::string& key, const std::string& suffix,
                           std::string& error) {
  std::string path = dir + "/" + key + ".XXXXXX" + suffix;
  int fd = mkostemps(path.data(), static_cast<int>(suffix.size()), O_CLOEXEC);
  if (fd < 0) {
    error = "cannot create a file in " + dir + ": " + std::strerror(errno);
    return "";
  }
  close(fd);
  return path;
}

constexpr char kKeySymbol[] = "wino_cache_key";

/// The source as compiled: the kernels, then the cache key as an exported string, so that a
/// loaded library can be proven to be the one its file name promises.
std::string with_key_symbol(const std::string& source, const std::string& key) {
  return source + "\n__attribute__((visibility(\"default\"))) const char " + kKeySymbol + "[] = \"" +
         key + "\";\n";
}

/// "" when the loaded library carries `key`, else why it is not that library. Reads data only:
/// nothing of the library runs before this says yes.
std::string key_mismatch(void* handle, const std::string& key) {
  const char* stored = static_cast<const char*>(dlsym(handle, kKeySymbol));
  if (!stored) return "it has no cache key";
  if (std::strncmp(stored, key.c_str(), key.size() + 1) != 0)
    return "it holds the kernels of another key, " + std::string(stored, strnlen(stored, key.size()));
  return "";
}

/// True for a regular file (not a directory, a symlink or a device standing at an entry's name).
bool is_regular_file(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool write_file(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

CpuModule::CpuModule(void* handle, std::string so_path, std::string key)
    : handle_(handle), so_path_(std::move(so_path)), key_(std::move(key)) {}

CpuModule::~CpuModule() { dlclose(handle_); }

KernelFn CpuModule::function(const std::string& name) const {
  void* sym = dlsym(handle_, name.c_str());
  if (!sym) throw Error("kernel function '" + name + "' not found in " + so_path_);
  // POSIX guarantees object and function pointers convert; the cast is the documented idiom.
  return reinterpret_cast<KernelFn>(sym);
}

CpuCompiler::CpuCompiler(CompileOptions options) : options_(std::move(options)) {}

CpuCompiler::~CpuCompiler() = default;

CpuCompiler& CpuCompiler::shared() {
  static CpuCompiler compiler;
  return compiler;
}

const std::vector<std::string>& CpuCompiler::flags() {
  static const std::vector<std::string> kFlags = {"-std=gnu11", "-O3",  "-march=native", "-ffp-contract=fast",
                                                  "-fPIC",      "-shared", "-fno-math-errno"};
  return kFlags;
}

const CpuCompiler::Toolchain& CpuCompiler::toolchain() {
  if (toolchain_) return *toolchain_;
  std::string path;
  std::string requested = options_.compiler;
  const char* cc_env = std::getenv("CC");
  bool from_env = requested.empty() && cc_env && *cc_env;
  if (from_env) requested = cc_env;
  if (!requested.empty()) {
    path = find_executable(requested);
    if (path.empty()) {
      throw Error((from_env ? "CC=" + requested : "the C compiler '" + requested + "'") +
                  " does not name an executable file (no such file, or not found in PATH); " +
                  (from_env ? "unset CC or set it to a C compiler such as gcc" : "name a C compiler such as gcc"));
    }
  } else {
    for (const char* name : {"cc", "gcc", "clang"}) {
      if (path = find_executable(name); !path.empty()) break;
    }
    if (path.empty()) throw Error("no C compiler found for the CPU runtime: install gcc (apt-get install gcc) or set CC");
  }
  path = std::filesystem::absolute(path).string();
  toolchain_ = std::make_unique<Toolchain>(Toolchain{path, compiler_version(path)});
  return *toolchain_;
}

std::string CpuCompiler::compiler_path() {
  std::lock_guard<std::mutex> lock(mu_);
  return toolchain().path;
}

const std::string& CpuCompiler::use_fallback_dir(const std::string& why) {
  if (!why.empty()) {
    warn_once("cannot use the CPU kernel cache (" + why +
              "); compiling into a private temporary directory instead (set WINO_CACHE_DIR to a "
              "private, writable directory to cache kernels)");
  }
  if (!private_dir_) private_dir_ = std::make_unique<PrivateTempDir>();
  return output_dir_ = private_dir_->path();
}

const std::string& CpuCompiler::output_dir_locked() {
  if (!output_dir_.empty()) return output_dir_;
  if (!options_.disk_cache) return use_fallback_dir("");
  CacheLocation location = options_.cache_dir.empty() ? default_cache_location() : CacheLocation{options_.cache_dir, 1};
  if (std::string why = prepare_cache_dir(location); !why.empty()) return use_fallback_dir(why);
  return output_dir_ = std::filesystem::absolute(location.path).lexically_normal().string();
}

std::string CpuCompiler::output_dir() {
  std::lock_guard<std::mutex> lock(mu_);
  return output_dir_locked();
}

void CpuCompiler::clear_memory_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  modules_.clear();
}

std::shared_ptr<const CpuModule> CpuCompiler::load_cached(const std::string& so_path, const std::string& key,
                                                          std::string& corrupt_reason) {
  if (!is_regular_file(so_path)) {
    corrupt_reason = "it is not a regular file";
    return nullptr;
  }
  if (!has_valid_checksum_trailer(so_path)) {
    corrupt_reason = "its checksum does not match its contents";
    return nullptr;
  }
  void* handle = dlopen(so_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    corrupt_reason = err ? err : "dlopen failed";
    return nullptr;
  }
  // A valid library of another kernel copied over this name passes the checksum.
  if (corrupt_reason = key_mismatch(handle, key); !corrupt_reason.empty()) {
    dlclose(handle);
    return nullptr;
  }
  return std::shared_ptr<const CpuModule>(new CpuModule(handle, so_path, key));
}

std::shared_ptr<const CpuModule> CpuCompiler::build(const std::string& source, const std::string& dir,
                                                    const std::string& key, const Toolchain& tc,
                                                    std::string& write_error) {
  std::string src_path = make_temp_file(dir, key, ".c", write_error);
  if (src_path.empty()) return nullptr;
  if (!write_file(src_path, with_key_symbol(source, key))) {
    write_error = "cannot write " + src_path;
    std::remove(src_path.c_str());
    return nullptr;
  }
  std::string tmp_so = make_temp_file(dir, key, ".so.tmp", write_error);
  if (tmp_so.empty()) {
    std::remove(src_path.c_str());
    return nullptr;
  }

  std::vector<std::string> argv = {tc.path};
  argv.insert(argv.end(), flags().begin(), flags().end());
  argv.insert(argv.end(), {"-o", tmp_so, src_path});
  ProcessResult r = run_process(argv);
  if (r.exit_status != 0) {
    std::remove(tmp_so.c_str());  // the source stays for inspection
    std::string how = r.term_signal ? "was killed by signal " + std::to_string(r.term_signal)
                                    : "failed with exit status " + std::to_string(r.exit_status);
    throw Error("C compiler " + tc.path + " " + how + " compiling the CPU kernel source kept at " + src_path +
                ":\n" + head_lines(r.output));
  }
  std::remove(src_path.c_str());

  // Load before publishing so that nothing unloadable ever gets the cache name, then publish
  // with one atomic rename (replacing a corrupt entry, if any, in the same step).
  append_checksum_trailer(tmp_so);
  void* handle = dlopen(tmp_so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    std::remove(tmp_so.c_str());
    throw Error("cannot load the compiled CPU kernel library: " + std::string(err ? err : "dlopen failed") +
                " (if " + dir + " is on a noexec filesystem, set WINO_CACHE_DIR to another directory)");
  }
  std::string so_path = dir + "/" + key + ".so";
  if (std::rename(tmp_so.c_str(), so_path.c_str()) != 0) {
    warn_once("cannot store " + so_path + " in the CPU kernel cache: " + std::strerror(errno));
    std::remove(tmp_so.c_str());  // the loaded image stays mapped
  }
  return std::shared_ptr<const CpuModule>(new CpuModule(handle, so_path, key));
}

std::shared_ptr<const CpuModule> CpuCompiler::compile(const std::string& source, CompileStats* stats) {
  auto start = std::chrono::steady_clock::now();
  CompileStats st;
  Toolchain tc;
  std::string dir;
  std::shared_ptr<const CpuModule> module;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tc = toolchain();
  }
  Sha256 sha;
  hash_field(sha, "wino-cpu-kernel-v2");  // v2: the key is compiled in
  hash_field(sha, tc.path);
  hash_field(sha, tc.version);
  hash_field(sha, host_cpu_id());
  for (const std::string& f : flags()) hash_field(sha, f);
  hash_field(sha, source);
  st.key = to_hex(sha.digest(), 16);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = modules_.find(st.key); it != modules_.end()) {
      module = it->second;
      st.cache_hit = st.memory_hit = true;
    } else {
      dir = output_dir_locked();
    }
  }

  if (!module) {
    std::string so_path = dir + "/" + st.key + ".so";
    if (access(so_path.c_str(), F_OK) == 0) {
      std::string corrupt_reason;
      module = load_cached(so_path, st.key, corrupt_reason);
      st.cache_hit = module != nullptr;
      if (!module) {
        warn_once("corrupt CPU kernel cache entry " + so_path + " (" + corrupt_reason + "); rebuilding it");
        st.rebuilt = true;
        // rename() replaces a bad file, but not a directory standing at the entry's name.
        std::error_code ec;
        if (!is_regular_file(so_path)) std::filesystem::remove_all(so_path, ec);
      }
    }
    if (!module) {
      std::string write_error;
      module = build(source, dir, st.key, tc, write_error);
      if (!module) {
        // The cache directory stopped accepting files: fall back for this and later compiles.
        {
          std::lock_guard<std::mutex> lock(mu_);
          dir = use_fallback_dir(write_error);
        }
        module = build(source, dir, st.key, tc, write_error);
        if (!module) throw Error("cannot compile the CPU kernel: " + write_error);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    module = modules_.emplace(st.key, module).first->second;  // a racing thread may have won
  }

  st.so_path = module->so_path();
  st.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (stats) *stats = st;
  return module;
}

}  // namespace wino::cpu

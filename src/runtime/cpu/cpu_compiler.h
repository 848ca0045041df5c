// Compiles generated C kernels into shared objects with the system C compiler, caches them on
// disk and in memory, and hands out their functions.
//
// Kernel ABI: every kernel is an exported C function
//   void NAME(void* const* buffers, long group_begin, long group_end);
// computing work-groups [group_begin, group_end) of its grid (see cpu_launch.h).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wino::cpu {

class PrivateTempDir;

/// A kernel entry point in the ABI above.
using KernelFn = void (*)(void* const* buffers, long group_begin, long group_end);

/// A loaded shared object; owns the dlopen handle and closes it on destruction.
class CpuModule {
 public:
  ~CpuModule();
  CpuModule(const CpuModule&) = delete;
  CpuModule& operator=(const CpuModule&) = delete;

  /// The kernel named `name`. The pointer is valid while this module is alive. Throws
  /// wino::Error naming the symbol and the shared object when there is no such function.
  KernelFn function(const std::string& name) const;
  /// Path of the shared object the module was loaded from.
  const std::string& so_path() const { return so_path_; }
  /// The cache key (32 hex digits) of the source, compiler and flags it was built from.
  const std::string& key() const { return key_; }

 private:
  friend class CpuCompiler;
  CpuModule(void* handle, std::string so_path, std::string key);
  void* handle_;
  std::string so_path_, key_;
};

/// How a CpuCompiler finds its compiler and its cache.
struct CompileOptions {
  /// Cache directory; empty selects default_cache_location() (kernel_cache_dir.h).
  std::string cache_dir;
  /// false: compile into a private temporary directory removed with the compiler.
  bool disk_cache = true;
  /// The C compiler (a path, or a name looked up in $PATH); empty selects $CC if set, else the
  /// first of cc, gcc, clang on $PATH.
  std::string compiler;
};

/// What one compile() call did.
struct CompileStats {
  bool cache_hit = false;   ///< no compiler ran: the module came from memory or disk
  bool memory_hit = false;  ///< the module came from this compiler's in-process cache
  bool rebuilt = false;     ///< a corrupt disk entry was found and replaced
  double wall_ms = 0.0;     ///< wall time of the whole compile() call
  std::string so_path;      ///< the shared object the module was loaded from
  std::string key;          ///< the cache key
};

/// Compiles C sources into loaded modules. Thread-safe; concurrent compiles of the same source,
/// in one process or several, all succeed. Every module compiled stays cached in memory (and
/// its functions valid) until clear_memory_cache() or the compiler's destruction, unless a caller
/// still holds it.
class CpuCompiler {
 public:
  explicit CpuCompiler(CompileOptions options = {});
  ~CpuCompiler();
  CpuCompiler(const CpuCompiler&) = delete;
  CpuCompiler& operator=(const CpuCompiler&) = delete;

  /// A process-wide compiler with default options, for callers that don't need their own.
  static CpuCompiler& shared();

  /// The flags every kernel is compiled with (IEEE semantics kept: no -ffast-math).
  static const std::vector<std::string>& flags();

  /// Compiles `source` (or finds it in a cache) and loads it. Throws wino::Error when no
  /// compiler is found, when $CC names no executable, or when compilation fails (the message
  /// holds the compiler's diagnostics and the path of the source file kept for inspection).
  /// Cache problems (unsafe or unwritable directory, corrupt entry) only warn on stderr.
  std::shared_ptr<const CpuModule> compile(const std::string& source, CompileStats* stats = nullptr);

  /// Drops the in-process cache; the next compile() of a source goes to disk.
  void clear_memory_cache();

  /// The resolved compiler path (resolving it on first use; throws like compile()).
  std::string compiler_path();

  /// The directory compiled libraries go to: the cache, or a private temporary directory when
  /// the cache is disabled or unusable (resolving it on first use).
  std::string output_dir();

 private:
  struct Toolchain {
    std::string path, version;
  };
  const Toolchain& toolchain();                       // requires mu_ held
  const std::string& output_dir_locked();             // requires mu_ held
  const std::string& use_fallback_dir(const std::string& why);  // requires mu_ held
  // Loads a cached library; nullptr with `corrupt_reason` set when it fails its checks.
  std::shared_ptr<const CpuModule> load_cached(const std::string& so_path, const std::string& key,
                                               std::string& corrupt_reason);
  // Compiles into `dir` and publishes the library there; nullptr with `write_error` set when no
  // file can be created in `dir`.
  std::shared_ptr<const CpuModule> build(const std::string& source, const std::string& dir,
                                         const std::string& key, const Toolchain& tc,
                                         std::string& write_error);

  CompileOptions options_;
  std::mutex mu_;  // guards everything below; never held while a kernel compiles
  std::unique_ptr<Toolchain> toolchain_;
  std::string output_dir_;
  std::unique_ptr<PrivateTempDir> private_dir_;
  std::map<std::string, std::shared_ptr<const CpuModule>> modules_;
};

}  // namespace wino::cpu

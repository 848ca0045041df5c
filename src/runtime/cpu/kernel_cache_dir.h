// The on-disk side of the CPU kernel cache: where it lives, whether it is safe to use, and the
// format of one entry (a shared object followed by a checksum trailer).
#pragma once

#include <string>

namespace wino::cpu {

/// A cache directory and how many of its trailing path components belong to Wino and must
/// therefore be private (for /tmp/wino-<uid>/cpu both wino-<uid> and cpu are checked).
struct CacheLocation {
  std::string path;
  int private_levels = 1;
};

/// The default cache location: $WINO_CACHE_DIR if set, else $XDG_CACHE_HOME/wino/cpu, else
/// $HOME/.cache/wino/cpu, else /tmp/wino-<uid>/cpu.
CacheLocation default_cache_location();

/// The cache directory `name` beside the CPU kernels': $WINO_CACHE_DIR/name if set, else
/// .../wino/name next to .../wino/cpu (the PoCL cache, the tuning cache).
CacheLocation sibling_cache_location(const std::string& name);

/// Creates the directory (every missing component with mode 0700) and checks that its private
/// components are directories owned by this user, not writable by group or others, and that
/// the directory itself is writable. Returns "" when the directory is usable, else the reason.
std::string prepare_cache_dir(const CacheLocation& location);

/// Prints "wino: warning: <message>" on stderr, once per distinct message in this process.
void warn_once(const std::string& message);

/// A fresh private directory (mode 0700) under the system temp directory; removed with its
/// contents on destruction. Libraries dlopen'ed from it stay usable after removal.
class PrivateTempDir {
 public:
  /// Throws wino::Error when the directory cannot be created.
  PrivateTempDir();
  ~PrivateTempDir();
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Appends the checksum trailer (magic, payload size, SHA-256 prefix of the payload) to the
/// file. The trailer travels inside the file so that one rename() publishes library and checksum
/// together; the dynamic loader ignores bytes past the ELF image. Throws wino::Error on I/O errors.
void append_checksum_trailer(const std::string& path);

/// True when the file ends with a trailer that matches its contents (a missing, truncated or
/// overwritten file gives false).
bool has_valid_checksum_trailer(const std::string& path);

/// The file's contents without the trailer in `payload`, when it is a regular file whose
/// trailer matches them; false otherwise (`payload` is then unspecified).
bool read_checksummed_payload(const std::string& path, std::string& payload);

}  // namespace wino::cpu

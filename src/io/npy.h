// .npy files: float32 and float64, C order, little-endian, format versions 1.0, 2.0 and 3.0.
// Anything else is rejected with an error naming the file and the problem.
#pragma once

#include <string>

#include "common/tensor.h"
#include "io/npy_format.h"

namespace wino {

/// An open .npy file whose header has been read and checked (against the file's size too), but
/// not its data: callers check the shape against the other inputs before reading gigabytes.
/// Only regular files are opened (a FIFO would block until a writer came).
class NpyFile {
 public:
  /// Throws wino::Error("<path>: <problem>") like read_npy for everything the header shows.
  explicit NpyFile(std::string path);
  ~NpyFile();
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;

  const NpyLayout& layout() const { return layout_; }
  const std::string& path() const { return path_; }
  /// Reads the data, once. Throws wino::Error before allocating when it needs more memory than
  /// the machine has available.
  Tensor read();

 private:
  std::string path_;
  int fd_ = -1;
  NpyLayout layout_;
};

/// Reads a .npy file. Throws wino::Error("<path>: <problem>") for a missing file, Fortran order,
/// big-endian or other dtypes, a malformed header, or truncated data. Bytes after the data are
/// also an error (numpy ignores them): they mean the header's shape does not describe the file.
Tensor read_npy(const std::string& path);  // NpyFile(path).read()

/// Writes a .npy file (version 1.0, or 2.0 when the header needs it) through
/// write_output_file(): a regular file is replaced atomically and keeps its mode, a symlink's
/// target is written, a character device or a FIFO with a reader is written in place.
/// The header is padded so that the data starts at a multiple of 64 bytes, as numpy does.
void write_npy(const std::string& path, const Tensor& t);

/// Checks, without writing anything, that write_npy(path, ...) can write `path`
/// (check_output_path()). Lets commands fail before a long computation rather than after it.
void check_npy_output_path(const std::string& path);

}  // namespace wino

// The .npy format in memory: parsing a file's prefix and header into a layout, and encoding a
// tensor into the bytes of a file. npy.h does the file I/O on top; the fuzzer drives this level.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/tensor.h"

namespace wino {

/// Bytes before the header text that decide its length: magic (6), version (2), length (2 or 4).
constexpr size_t kNpyMaxPrefix = 12;

/// Checks the magic and version at the start of a file of `file_size` bytes and returns the
/// size of prefix + header text. `first` holds the first min(file_size, kNpyMaxPrefix) bytes.
/// Throws wino::Error("<name>: <problem>") for a bad magic, an unsupported version, or a header
/// that extends beyond the end of the file.
uint64_t npy_header_end(const std::string& name, std::string_view first, uint64_t file_size);

/// Where the data of a .npy file is and what it holds.
struct NpyLayout {
  DType dtype = DType::f32;
  Shape shape;
  uint64_t data_offset = 0;  // prefix + header
  uint64_t data_bytes = 0;   // numel * item size, == file_size - data_offset
};

/// Parses the header (`head` is the file's first npy_header_end() bytes) and checks that the
/// data it describes exactly fills the rest of a file of `file_size` bytes. Throws wino::Error
/// for a malformed header, an unsupported dtype or order, a shape whose byte count overflows
/// 64 bits, truncated data, or trailing bytes.
NpyLayout parse_npy_layout(const std::string& name, std::string_view head, uint64_t file_size);

/// A whole .npy file held in memory -> tensor (same errors as read_npy).
Tensor parse_npy(const std::string& name, std::string_view bytes);

/// The bytes of the .npy file write_npy writes: version 1.0 (2.0 when the header needs it), the
/// data starting at a multiple of 64 bytes, little-endian.
std::string encode_npy(const Tensor& t);

/// The magic, version, length and padded header text of encode_npy (everything before the data).
std::string npy_header(const Tensor& t);

/// The file format is little-endian: swaps each `item`-byte element in place on a big-endian
/// host, does nothing on a little-endian one.
void npy_to_from_little_endian(char* data, size_t bytes, size_t item);

/// Bytes per element.
inline size_t npy_item_size(DType t) { return static_cast<size_t>(dtype_size(t)); }

}  // namespace wino

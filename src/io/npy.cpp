#include "io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace wino {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;  // numpy aligns the data to 64 bytes

std::string errno_text(int err) { return std::strerror(err); }

// ---- A parser for the Python literal that is the header: a dict of strings, booleans,
// ---- integers and tuples. Nothing is evaluated.

struct PyValue {
  enum Kind { kStr, kBool, kInt, kTuple, kList, kNone } kind = kNone;
  std::string str;
  bool boolean = false;
  int64_t integer = 0;
  std::vector<PyValue> items;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  std::vector<std::pair<std::string, PyValue>> parse_dict() {
    std::vector<std::pair<std::string, PyValue>> entries;
    skip_space();
    expect('{', "the header must be a Python dict starting with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      PyValue key = parse_value();
      if (key.kind != PyValue::kStr) fail("dict keys must be strings");
      skip_space();
      expect(':', "expected ':' after key '" + key.str + "'");
      skip_space();
      entries.emplace_back(key.str, parse_value());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + key.str + "'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    return entries;
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::string shown = text_.substr(0, 200);
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    throw Error(path_ + ": malformed .npy header: " + what + " at offset " + std::to_string(pos_) +
                " (header: " + shown + (text_.size() > 200 ? "..." : "") + ")");
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) fail(what);
    ++pos_;
  }
  bool take_word(const char* word) {
    size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    char after = pos_ + n < text_.size() ? text_[pos_ + n] : '\0';
    if (std::isalnum(static_cast<unsigned char>(after)) || after == '_') return false;
    pos_ += n;
    return true;
  }

  PyValue parse_value() {
    PyValue v;
    char c = peek();
    if (c == '\'' || c == '"') {
      ++pos_;
      v.kind = PyValue::kStr;
      while (peek() != c) {
        if (pos_ >= text_.size()) fail("unterminated string");
        if (peek() == '\\') ++pos_;  // an escaped character stands for itself here
        if (pos_ >= text_.size()) fail("unterminated string");
        v.str += text_[pos_++];
      }
      ++pos_;
    } else if (take_word("True")) {
      v.kind = PyValue::kBool;
      v.boolean = true;
    } else if (take_word("False")) {
      v.kind = PyValue::kBool;
    } else if (take_word("None")) {
      v.kind = PyValue::kNone;
    } else if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      v.kind = PyValue::kInt;
      bool negative = c == '-';
      if (c == '-' || c == '+') ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits");
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        int digit = text_[pos_++] - '0';
        if (__builtin_mul_overflow(v.integer, 10, &v.integer) ||
            __builtin_add_overflow(v.integer, negative ? -digit : digit, &v.integer))
          fail("integer does not fit in 64 bits");
      }
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      bool comma = false;
      for (;;) {
        skip_space();
        if (peek() == close) break;
        v.items.push_back(parse_value());
        skip_space();
        comma = peek() == ',';
        if (comma) ++pos_;
        else if (peek() != close) fail(std::string("expected ',' or '") + close + "'");
      }
      ++pos_;
      if (c == '[') v.kind = PyValue::kList;
      else if (v.items.size() == 1 && !comma) return v.items[0];  // (x) is just x in Python
      else v.kind = PyValue::kTuple;
    } else {
      if (pos_ >= text_.size()) fail("unexpected end");
      if (!std::isprint(static_cast<unsigned char>(c))) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(c));
        fail(std::string("unexpected byte ") + hex);
      }
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

struct Header {
  DType dtype = DType::f32;
  Shape shape;
};

Header interpret_header(const std::string& path, const std::string& text) {
  HeaderParser parser(path, text);
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  auto entries = parser.parse_dict();
  for (const auto& [key, value] : entries) {
    const PyValue** slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (!slot) throw Error(path + ": malformed .npy header: unexpected key '" + key + "'");
    if (*slot) throw Error(path + ": malformed .npy header: key '" + key + "' appears twice");
    *slot = &value;
  }
  for (auto [name, v] : {std::pair{"descr", descr}, {"fortran_order", fortran}, {"shape", shape}})
    if (!v) throw Error(path + ": malformed .npy header: missing key '" + name + "'");

  Header h;
  if (descr->kind != PyValue::kStr)
    throw Error(path + ": unsupported dtype: structured (record) arrays are not supported; "
                       "only float32 ('<f4') and float64 ('<f8')");
  const std::string& d = descr->str;
  if (d == "<f4") h.dtype = DType::f32;
  else if (d == "<f8") h.dtype = DType::f64;
  else if (d == ">f4" || d == ">f8")
    throw Error(path + ": big-endian data ('" + d + "') is not supported; convert with " +
                "arr.astype('<" + d.substr(1) + "')");
  else if (d == "|f4" || d == "|f8" || d == "=f4" || d == "=f8")
    throw Error(path + ": dtype '" + d + "' has byte order '" + d[0] +
                "', which is not valid for float data; expected '<" + d.substr(1) + "'");
  else
    throw Error(path + ": unsupported dtype '" + d + "'; only float32 ('<f4') and float64 ('<f8') "
                "are supported (convert with arr.astype(np.float32))");

  if (fortran->kind != PyValue::kBool)
    throw Error(path + ": malformed .npy header: 'fortran_order' must be True or False");
  if (fortran->boolean)
    throw Error(path + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");

  if (shape->kind != PyValue::kTuple)
    throw Error(path + ": malformed .npy header: 'shape' must be a tuple of integers");
  for (const PyValue& dim : shape->items) {
    if (dim.kind != PyValue::kInt)
      throw Error(path + ": malformed .npy header: 'shape' must be a tuple of integers");
    if (dim.integer < 0)
      throw Error(path + ": malformed .npy header: negative dimension " +
                  std::to_string(dim.integer) + " in 'shape'");
    h.shape.push_back(dim.integer);
  }
  return h;
}

size_t item_size(DType t) { return t == DType::f32 ? 4 : 8; }

// The file format is little-endian; swap in place on a big-endian host.
void to_from_little_endian(char* data, size_t bytes, size_t item) {
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i + item <= bytes; i += item) std::reverse(data + i, data + i + item);
  else
    (void)data, (void)bytes, (void)item;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Reads exactly `n` bytes; returns how many were read before end of file.
size_t read_full(int fd, char* dst, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::read(fd, dst + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path + ": read failed: " + errno_text(errno));
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

void write_full(int fd, const char* src, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t put = ::write(fd, src, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) throw Error(path + ": write failed: " + errno_text(errno));
    src += put;
    n -= static_cast<size_t>(put);
  }
}

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT) throw Error(path + ": file not found (No such file or directory)");
    throw Error(path + ": cannot open for reading: " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not a .npy file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // Magic (6), version (2), header length (2 bytes in 1.0, 4 in 2.0 and 3.0).
  char pre[12] = {};
  const size_t pre_got = read_full(fd.get(), pre, std::min<uint64_t>(file_size, 12), path);
  if (pre_got < 10 || std::memcmp(pre, kMagic, kMagicLen) != 0)
    throw Error(path + ": not a .npy file (bad magic: it must start with \\x93NUMPY and a header)");
  const int major = static_cast<unsigned char>(pre[6]), minor = static_cast<unsigned char>(pre[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw Error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  size_t prefix = 10;
  uint64_t header_len = static_cast<unsigned char>(pre[8]) |
                        (static_cast<uint64_t>(static_cast<unsigned char>(pre[9])) << 8);
  if (major >= 2) {
    if (pre_got < 12) throw Error(path + ": truncated .npy header (file has " +
                                  std::to_string(file_size) + " bytes)");
    prefix = 12;
    header_len |= (static_cast<uint64_t>(static_cast<unsigned char>(pre[10])) << 16) |
                  (static_cast<uint64_t>(static_cast<unsigned char>(pre[11])) << 24);
  }
  if (prefix + header_len > file_size)
    throw Error(path + ": .npy header length " + std::to_string(header_len) +
                " extends beyond the end of the file (" + std::to_string(file_size) + " bytes)");

  // Versions 1.0/2.0 are latin-1 and 3.0 is utf-8: the parser only needs ASCII outside strings.
  std::string text(header_len, '\0');
  if (::lseek(fd.get(), static_cast<off_t>(prefix), SEEK_SET) < 0 ||
      read_full(fd.get(), text.data(), header_len, path) != header_len)
    throw Error(path + ": truncated .npy header");
  Header h = interpret_header(path, text);

  int64_t numel = 0;
  try {
    numel = shape_numel(h.shape);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  const size_t item = item_size(h.dtype);
  uint64_t need = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), item, &need))
    throw Error(path + ": shape " + shape_string(h.shape) + " needs more bytes than fit in 64 bits");
  const uint64_t have = file_size - prefix - header_len;
  const std::string what = "shape " + shape_string(h.shape) + " of " + dtype_name(h.dtype);
  if (have < need)
    throw Error(path + ": truncated data: " + what + " needs " + std::to_string(need) +
                " bytes but the file has only " + std::to_string(have) + " after the header");
  if (have > need)
    throw Error(path + ": " + std::to_string(have - need) + " unexpected trailing bytes after the "
                "data (" + what + " needs " + std::to_string(need) + " bytes, the file has " +
                std::to_string(have) + "); the header's shape does not match the data");

  // Sizes are consistent with the file, so this allocation is bounded by the file size.
  Tensor t(h.dtype, h.shape);
  char* dst = h.dtype == DType::f32 ? reinterpret_cast<char*>(t.f32())
                                    : reinterpret_cast<char*>(t.f64());
  if (read_full(fd.get(), dst, need, path) != need)
    throw Error(path + ": truncated data (the file shrank while being read)");
  to_from_little_endian(dst, need, item);
  return t;
}

void check_npy_output_path(const std::string& path) {
  if (path.empty()) throw Error("output path is empty");
  const std::string dir = parent_dir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      throw Error(path + ": cannot write: directory '" + dir + "' does not exist");
    throw Error(path + ": cannot write: directory '" + dir + "': " + errno_text(err));
  }
  if (!S_ISDIR(st.st_mode))
    throw Error(path + ": cannot write: '" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(path + ": cannot write: directory '" + dir + "' is not writable (" +
                errno_text(errno) + ")");
  if (std::filesystem::path(path).filename().empty() ||
      (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
    throw Error(path + ": cannot write: is a directory; give a file name such as out.npy");
}

void write_npy(const std::string& path, const Tensor& t) {
  check_npy_output_path(path);

  const char* descr = t.dtype() == DType::f32 ? "<f4" : "<f8";
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': " + shape_string(t.shape()) + ", }";
  // Pad with spaces and end with '\n' so that the data starts at a multiple of 64 bytes.
  size_t prefix = 10;
  size_t header_len = dict.size() + 1;
  header_len += (kAlign - (prefix + header_len) % kAlign) % kAlign;
  if (header_len > 0xFFFF) {
    prefix = 12;
    header_len = dict.size() + 1;
    header_len += (kAlign - (prefix + header_len) % kAlign) % kAlign;
    if (header_len > 0xFFFFFFFFull) throw Error(path + ": .npy header too large (rank too high)");
  }
  std::string head(kMagic, kMagicLen);
  head += static_cast<char>(prefix == 10 ? 1 : 2);
  head += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) head += static_cast<char>((header_len >> (8 * i)) & 0xFF);
  head += dict;
  head.append(header_len - dict.size() - 1, ' ');
  head += '\n';

  const size_t bytes = static_cast<size_t>(t.numel()) * item_size(t.dtype());
  const char* data = t.dtype() == DType::f32 ? reinterpret_cast<const char*>(t.f32())
                                             : reinterpret_cast<const char*>(t.f64());
  std::vector<char> swapped;
  if constexpr (std::endian::native == std::endian::big) {
    swapped.assign(data, data + bytes);
    to_from_little_endian(swapped.data(), bytes, item_size(t.dtype()));
    data = swapped.data();
  }

  // A unique hidden temporary in the target's directory, so that rename() is atomic.
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  std::string tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 100 && raw < 0; ++attempt) {
    // Built by appends: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string.
    std::string name(1, '.');
    name += target.filename().string();
    name += '.';
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    name += ".npy.tmp";
    tmp = (target.parent_path() / name).string();
    raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw < 0 && errno != EEXIST)
      throw Error(path + ": cannot create a file in directory '" + parent_dir(path) +
                  "': " + errno_text(errno));
  }
  if (raw < 0) throw Error(path + ": cannot create a unique temporary file next to it");
  Fd fd(raw);
  bool committed = false;
  struct Cleanup {
    const std::string& tmp;
    const bool& committed;
    ~Cleanup() {
      if (!committed) ::unlink(tmp.c_str());
    }
  } cleanup{tmp, committed};

  write_full(fd.get(), head.data(), head.size(), path);
  write_full(fd.get(), data, bytes, path);
  if (::fsync(fd.get()) != 0) throw Error(path + ": write failed (fsync): " + errno_text(errno));
  if (::close(fd.release()) != 0) throw Error(path + ": write failed (close): " + errno_text(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot replace the file: " + errno_text(errno));
  committed = true;
}

}  // namespace wino

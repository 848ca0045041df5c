#include "io/npy_format.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "common/error.h"

namespace wino {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;  // numpy aligns the data to 64 bytes

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
      expect(':', "expected ':' after key '" + printable(key.str) + "'");
      skip_space();
      entries.emplace_back(key.str, parse_value());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + printable(key.str) + "'");
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

NpyLayout interpret_header(const std::string& path, const std::string& text) {
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
    if (!slot) throw Error(path + ": malformed .npy header: unexpected key '" + printable(key) + "'");
    if (*slot) throw Error(path + ": malformed .npy header: key '" + printable(key) + "' appears twice");
    *slot = &value;
  }
  for (auto [name, v] : {std::pair{"descr", descr}, {"fortran_order", fortran}, {"shape", shape}})
    if (!v) throw Error(path + ": malformed .npy header: missing key '" + name + "'");

  NpyLayout h;
  if (descr->kind != PyValue::kStr)
    throw Error(path + ": unsupported dtype: structured (record) arrays are not supported; "
                       "only float32 ('<f4'), float64 ('<f8') and float16 ('<f2')");
  const std::string& d = descr->str;
  const std::string shown = printable(d);  // bytes from the file, quoted in the messages below
  if (d == "<f4") h.dtype = DType::f32;
  else if (d == "<f8") h.dtype = DType::f64;
  else if (d == "<f2") h.dtype = DType::f16;
  else if (d == ">f4" || d == ">f8" || d == ">f2")
    throw Error(path + ": big-endian data ('" + d + "') is not supported; convert with " +
                "arr.astype('<" + d.substr(1) + "')");
  else if (d == "|f4" || d == "|f8" || d == "|f2" || d == "=f4" || d == "=f8" || d == "=f2")
    throw Error(path + ": dtype '" + shown + "' has byte order '" + d[0] +
                "', which is not valid for float data; expected '<" + d.substr(1) + "'");
  else
    throw Error(path + ": unsupported dtype '" + shown + "'; only float32 ('<f4'), float64 ('<f8') and "
                "float16 ('<f2') are supported (convert with arr.astype(np.float32))");

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

}  // namespace

// The file format is little-endian; swap in place on a big-endian host.
void npy_to_from_little_endian(char* data, size_t bytes, size_t item) {
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i + item <= bytes; i += item) std::reverse(data + i, data + i + item);
  else
    (void)data, (void)bytes, (void)item;
}

uint64_t npy_header_end(const std::string& path, std::string_view pre, uint64_t file_size) {
  const size_t pre_got = std::min<size_t>(pre.size(), kNpyMaxPrefix);
  if (pre_got < 10 || std::memcmp(pre.data(), kMagic, kMagicLen) != 0)
    throw Error(path + ": not a .npy file (bad magic: it must start with \\x93NUMPY and a header)");
  const int major = static_cast<unsigned char>(pre[6]), minor = static_cast<unsigned char>(pre[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw Error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  uint64_t prefix = 10;
  uint64_t header_len = static_cast<unsigned char>(pre[8]) |
                        (static_cast<uint64_t>(static_cast<unsigned char>(pre[9])) << 8);
  if (major >= 2) {
    if (pre_got < 12)
      throw Error(path + ": truncated .npy header (file has " + std::to_string(file_size) + " bytes)");
    prefix = 12;
    header_len |= (static_cast<uint64_t>(static_cast<unsigned char>(pre[10])) << 16) |
                  (static_cast<uint64_t>(static_cast<unsigned char>(pre[11])) << 24);
  }
  if (prefix + header_len > file_size)
    throw Error(path + ": .npy header length " + std::to_string(header_len) +
                " extends beyond the end of the file (" + std::to_string(file_size) + " bytes)");
  return prefix + header_len;
}

NpyLayout parse_npy_layout(const std::string& path, std::string_view head, uint64_t file_size) {
  const uint64_t end = npy_header_end(path, head, file_size);
  if (head.size() < end) throw Error(path + ": truncated .npy header");
  const size_t prefix = static_cast<unsigned char>(head[6]) == 1 ? 10 : 12;
  // Versions 1.0/2.0 are latin-1 and 3.0 is utf-8: the parser only needs ASCII outside strings.
  const std::string text(head.substr(prefix, end - prefix));
  NpyLayout h = interpret_header(path, text);
  h.data_offset = end;

  int64_t numel = 0;
  try {
    numel = shape_numel(h.shape);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  const size_t item = npy_item_size(h.dtype);
  uint64_t need = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), item, &need))
    throw Error(path + ": shape " + shape_string(h.shape) + " needs more bytes than fit in 64 bits");
  const uint64_t have = file_size - end;
  const std::string what = "shape " + shape_string(h.shape) + " of " + dtype_name(h.dtype);
  if (have < need)
    throw Error(path + ": truncated data: " + what + " needs " + std::to_string(need) +
                " bytes but the file has only " + std::to_string(have) + " after the header");
  if (have > need)
    throw Error(path + ": " + std::to_string(have - need) + " unexpected trailing bytes after the "
                "data (" + what + " needs " + std::to_string(need) + " bytes, the file has " +
                std::to_string(have) + "); the header's shape does not match the data");
  h.data_bytes = need;
  return h;
}

Tensor parse_npy(const std::string& name, std::string_view bytes) {
  NpyLayout l = parse_npy_layout(name, bytes, bytes.size());
  Tensor t(l.dtype, l.shape);  // bounded by the size of `bytes`
  char* dst = static_cast<char*>(t.data());
  if (l.data_bytes) std::memcpy(dst, bytes.data() + l.data_offset, l.data_bytes);
  npy_to_from_little_endian(dst, l.data_bytes, npy_item_size(l.dtype));
  return t;
}

std::string npy_header(const Tensor& t) {
  if (t.dtype() == DType::bf16)
    throw Error(".npy has no bfloat16 type: convert the tensor to float32 before writing it");
  const char* descr = t.dtype() == DType::f32 ? "<f4" : t.dtype() == DType::f16 ? "<f2" : "<f8";
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
    if (header_len > 0xFFFFFFFFull) throw Error(".npy header too large (rank too high)");
  }
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(prefix == 10 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xFF);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

std::string encode_npy(const Tensor& t) {
  std::string out = npy_header(t);
  const size_t item = npy_item_size(t.dtype());
  const size_t bytes = static_cast<size_t>(t.numel()) * item;
  const size_t data_at = out.size();
  out.resize(data_at + bytes);
  if (bytes) {
    const char* data = static_cast<const char*>(t.data());
    std::memcpy(out.data() + data_at, data, bytes);
  }
  npy_to_from_little_endian(out.data() + data_at, bytes, item);
  return out;
}

}  // namespace wino

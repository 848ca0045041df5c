// Wino's one exception type: a message meant for the user, naming what was wrong and what to do.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wino {

/// Raised for every user-facing failure (bad input, unsupported request, backend error).
/// The CLI prints what() to stderr and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// `text` with every byte outside printable ASCII shown as \xNN, for quoting bytes read from a
/// file in a message: a raw NUL would end what() there, and control bytes would reach the terminal.
inline std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
      continue;
    }
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", byte);
    out += hex;
  }
  return out;
}

}  // namespace wino

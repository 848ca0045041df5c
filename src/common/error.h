// Wino's one exception type: a message meant for the user, naming what was wrong and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace wino {

/// Raised for every user-facing failure (bad input, unsupported request, backend error).
/// The CLI prints what() to stderr and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace wino

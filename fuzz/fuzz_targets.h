// The fuzz targets' bodies, shared by the libFuzzer binaries (fuzz_main.cpp) and the default
// test suite, which replays the kept corpus and every crash found through them
// (tests/test_fuzz_regressions.cpp).
//
// Each takes one input and returns normally when Wino handled it: a result, or a wino::Error
// (the clear message a user would see). Anything else escapes: another exception type (an
// internal error), FuzzFailure (a result that is wrong, e.g. a transform that fails its exact
// check), or a sanitizer report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace wino::fuzz {

/// A wrong answer found by a target's own check (never a user error).
class FuzzFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// .npy bytes -> parse_npy; a parsed tensor must encode back to a file that parses equal.
void npy_one_input(const uint8_t* data, size_t size);

/// Whitespace-separated `wino explain`-style arguments -> argument parsing, problem reading and
/// validation, planning, IR building, IR verification and rendering of every plan asked for.
/// Nothing is compiled or run, and no file is read (inputs naming --input/--weights stop early).
void conv_cli_one_input(const uint8_t* data, size_t size);

/// (m, r, points) -> cook_toom; transforms built must pass the exact check and op counting.
void transforms_one_input(const uint8_t* data, size_t size);

}  // namespace wino::fuzz

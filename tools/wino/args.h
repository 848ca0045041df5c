// Command-line options for one `wino` subcommand: declared once, parsed strictly, --help generated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace wino::cli {

/// A mistake in how the command was called (unknown option, missing value): exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

class Args {
 public:
  Args(std::string command, std::string summary);

  /// Declares a boolean switch (`--json`).
  void flag(const std::string& name, const std::string& help);
  /// Declares an option taking a value (`--m 4`, also `--m=4`). `metavar` names the value in --help.
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              bool required = false);
  /// Adds a free-form paragraph (examples, notes) at the end of --help.
  void epilog(const std::string& text);

  /// Parses argv (without the subcommand). Returns false when --help was asked for
  /// (the help text has then been printed to stdout). Throws UsageError on bad usage.
  bool parse(const std::vector<std::string>& argv);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;                       // required or present
  std::string get_or(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name, int64_t lo, int64_t hi) const;  // range-checked
  std::optional<int64_t> get_int_opt(const std::string& name, int64_t lo, int64_t hi) const;
  /// A comma-separated list of integers, each in [lo, hi].
  std::vector<int64_t> get_int_list(const std::string& name, int64_t lo, int64_t hi) const;

  std::string help() const;
  const std::string& command() const { return command_; }

 private:
  struct Spec {
    std::string name, metavar, help;
    bool takes_value = false, required = false;
  };
  const Spec* find(const std::string& name) const;

  std::string command_, summary_, epilog_;
  std::vector<Spec> specs_;
  std::vector<std::pair<std::string, std::string>> values_;
};

/// Parses a decimal integer, the whole string, in [lo, hi]; `what` names it in the error.
int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi);
/// Splits "a,b,c" at commas (empty items are an error naming `what`).
std::vector<std::string> split_commas(const std::string& text, const std::string& what);

/// main() of a standalone tool built on Args: runs `run`, prints "<program>: <message>" for an
/// error and returns 2 for a UsageError (with "(see --help)"), 1 for any other exception.
int tool_main(const char* program, int (*run)(int, char**), int argc, char** argv);

}  // namespace wino::cli

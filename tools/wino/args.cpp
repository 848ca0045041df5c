#include "args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace wino::cli {

Args::Args(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void Args::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, false, false});
}

void Args::option(const std::string& name, const std::string& metavar, const std::string& help,
                  bool required) {
  specs_.push_back({name, metavar, help, true, required});
}

void Args::epilog(const std::string& text) { epilog_ = text; }

const Args::Spec* Args::find(const std::string& name) const {
  for (const Spec& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

bool Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help();
      return false;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Spec* spec = find(name);
    if (!spec) throw UsageError("unknown option '--" + name + "'");
    if (has(name)) throw UsageError("option '--" + name + "' given more than once");
    if (spec->takes_value) {
      if (!inline_value) {
        if (i + 1 >= argv.size())
          throw UsageError("option '--" + name + "' needs a value (" + spec->metavar + ")");
        value = argv[++i];
      }
      values_.emplace_back(name, value);
    } else {
      if (inline_value) throw UsageError("option '--" + name + "' takes no value");
      values_.emplace_back(name, "");
    }
  }
  for (const Spec& s : specs_)
    if (s.required && !has(s.name))
      throw UsageError("missing required option '--" + s.name + " " + s.metavar + "'");
  return true;
}

bool Args::has(const std::string& name) const {
  for (const auto& [k, v] : values_)
    if (k == name) return true;
  return false;
}

std::string Args::get(const std::string& name) const {
  for (const auto& [k, v] : values_)
    if (k == name) return v;
  throw UsageError("missing option '--" + name + "'");
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return has(name) ? get(name) : fallback;
}

int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE)
    throw UsageError(what + " must be an integer, got '" + text + "'");
  if (v < lo || v > hi)
    throw UsageError(what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got " + text);
  return v;
}

std::vector<std::string> split_commas(const std::string& text, const std::string& what) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ','))
    items.push_back(item);
  if (!text.empty() && text.back() == ',') items.push_back("");
  for (const std::string& s : items)
    if (s.empty()) throw UsageError(what + " has an empty item in '" + text + "'");
  if (items.empty()) throw UsageError(what + " is empty");
  return items;
}

int64_t Args::get_int(const std::string& name, int64_t lo, int64_t hi) const {
  return parse_int(get(name), "--" + name, lo, hi);
}

std::optional<int64_t> Args::get_int_opt(const std::string& name, int64_t lo, int64_t hi) const {
  if (!has(name)) return std::nullopt;
  return get_int(name, lo, hi);
}

std::vector<int64_t> Args::get_int_list(const std::string& name, int64_t lo, int64_t hi) const {
  std::vector<int64_t> out;
  for (const std::string& s : split_commas(get(name), "--" + name))
    out.push_back(parse_int(s, "--" + name, lo, hi));
  return out;
}

std::string Args::help() const {
  std::ostringstream out;
  // A subcommand of `wino` ("bench") or a program of its own ("wino_cudnn_bench").
  out << "usage: " << (command_.find('_') == std::string::npos ? "wino " : "") << command_;
  for (const Spec& s : specs_)
    if (s.required) out << " --" << s.name << " " << s.metavar;
  out << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (const Spec& s : specs_) {
    std::string left = "  --" + s.name + (s.takes_value ? " " + s.metavar : "");
    out << left;
    if (left.size() < 28) out << std::string(28 - left.size(), ' ');
    else out << "\n" << std::string(28, ' ');
    out << s.help << (s.required ? " (required)" : "") << "\n";
  }
  out << "  --help                    show this help and exit\n";
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

int tool_main(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace wino::cli

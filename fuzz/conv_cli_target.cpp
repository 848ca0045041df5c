// Fuzz target: the CLI's argument parsing and the convolution description through planning, IR
// building, IR verification and rendering in the dialect of --target (C, OpenCL, Metal or CUDA),
// as `wino explain` does it, without compiling or running anything. Input: arguments separated
// by whitespace.
#include <cctype>
#include <string>
#include <vector>

#include "args.h"
#include "conv_options.h"
#include "fuzz_targets.h"
#include "lower/lower.h"
#include "planner/choose_plan.h"
#include "plans/program.h"
#include "render/render.h"

namespace wino::fuzz {
namespace {

std::vector<std::string> split_words(const uint8_t* data, size_t size) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i <= size; ++i) {
    if (i == size || std::isspace(data[i]) || data[i] == 0) {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(data[i]);
    }
  }
  return words;
}

// The dialect `wino explain --target` renders in (unknown targets render C).
render::Dialect dialect_of(const std::string& target) {
  if (target == "opencl") return render::Dialect::opencl;
  if (target == "metal") return render::Dialect::metal;
  if (target.rfind("sm_", 0) == 0) return render::Dialect::cuda;
  return render::Dialect::c;
}

void plan_build_verify_render(const ConvDesc& desc, const Options& options, const Device& device,
                              render::Dialect dialect) {
  lower::Lowered low;
  try {
    low = lower::lower(desc, planner::choose_plan(desc, options, device), dialect);
  } catch (const Error& e) {
    // A plan that does not apply to this problem, said so; invalid IR is the bug looked for.
    if (std::string(e.what()).find("is invalid after") != std::string::npos)
      throw FuzzFailure(std::string(e.what()) + " for " + desc.str());
    return;
  }
  if (low.source.empty()) throw FuzzFailure("empty source for " + desc.str());
}

}  // namespace

void conv_cli_one_input(const uint8_t* data, size_t size) {
  if (size > 512) return;  // a command line, not a file
  const std::vector<std::string> argv = split_words(data, size);
  cli::Args args("explain", "fuzz");
  cli::add_problem_options(args);
  cli::add_plan_options(args, true);
  args.option("target", "T", "cpu");
  cli::Problem problem;
  Options options;
  Device device;
  render::Dialect dialect = render::Dialect::c;
  try {
    if (!args.parse(argv)) return;  // --help
    if (args.has("input") || args.has("weights")) return;  // no file I/O here
    for (const char* e : {"bias", "residual"})
      if (args.has(e) && args.get(e) != "random") return;
    problem = cli::read_problem(args, false);
    options = cli::read_options(args);
    device = cli::read_device(args);
    dialect = dialect_of(args.get_or("target", "cpu"));
  } catch (const Error&) {
    return;  // usage errors and invalid descriptions, with their messages
  }
  if (options.plan == "all") {
    for (const std::string& plan : plans::plan_names()) {
      options.plan = plan;
      plan_build_verify_render(problem.desc, options, device, dialect);
    }
  } else {
    plan_build_verify_render(problem.desc, options, device, dialect);
  }
}

}  // namespace wino::fuzz

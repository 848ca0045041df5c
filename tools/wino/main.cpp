// `wino`: the command-line front end. Dispatches to one subcommand and turns errors into
// a message on stderr and a non-zero exit status (2 for usage mistakes, 1 for everything else).
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const wino::cli::Argv&);
  const char* summary;
};

const Command kCommands[] = {
    {"transforms", wino::cli::cmd_transforms,
     "print exact Winograd matrices AT, G, BT for F(m, r), op counts, verification, fp32 error"},
    {"reference", wino::cli::cmd_reference,
     "float64 direct convolution of .npy input and weights (the oracle)"},
    {"run", wino::cli::cmd_run, "run one convolution with a plan; per-kernel report, --check error"},
    {"random", wino::cli::cmd_random, "write a fixed-seed random normal tensor to a .npy file"},
    {"explain", wino::cli::cmd_explain,
     "the kernels each plan generates: lines, SSA values, predicted/actual registers, spills"},
    {"bench", wino::cli::cmd_bench, "time plans on the layers of a layer file, GFLOP/s, --check"},
    {"tune", wino::cli::cmd_tune, "measure plan auto's best candidates per layer; fill the tuning cache"},
    {"devices", wino::cli::cmd_devices, "list the CPU, CUDA and OpenCL devices and what --device auto picks"},
};

void print_usage(std::ostream& out) {
  out << "usage: wino <command> [options]\n"
         "       wino --version | --help\n\n"
         "Wino: a compiler and runtime for Winograd convolution F(m x m, r x r).\n\n"
         "commands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    out << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << c.summary
        << "\n";
  }
  out << "\nRun 'wino <command> --help' for the options of a command.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "wino " << WINO_VERSION << "\n";
    return 0;
  }
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    std::vector<std::string> rest(argv + 2, argv + argc);
    try {
      return c.run(rest);
    } catch (const wino::cli::UsageError& e) {
      std::cerr << "wino " << name << ": error: " << e.what() << "\n"
                << "Run 'wino " << name << " --help' for usage.\n";
      return 2;
    } catch (const wino::Error& e) {
      std::cerr << "wino " << name << ": error: " << e.what() << "\n";
      return 1;
    } catch (const std::bad_alloc&) {
      std::cerr << "wino " << name << ": error: out of host memory\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "wino " << name << ": internal error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "wino: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return 2;
}

// The `wino` subcommands: each takes its arguments (after the subcommand name) and returns the
// exit status. Errors are thrown (wino::Error, cli::UsageError) and reported by main().
#pragma once

#include <string>
#include <vector>

namespace wino::cli {

using Argv = std::vector<std::string>;

int cmd_transforms(const Argv& argv);  // exact AT, G, BT for F(m, r), counts, verification, error
int cmd_reference(const Argv& argv);   // float64 direct convolution of .npy files
int cmd_random(const Argv& argv);      // fixed-seed random normal .npy tensors
int cmd_run(const Argv& argv);         // one convolution through the pipeline, with its report
int cmd_explain(const Argv& argv);     // the kernels each plan generates, with register reports
int cmd_bench(const Argv& argv);       // plans timed on the layers of a layer file
int cmd_tune(const Argv& argv);        // plan auto tuned per layer into the tuning cache
int cmd_devices(const Argv& argv);     // the CPU, CUDA and OpenCL devices, and what auto picks

}  // namespace wino::cli

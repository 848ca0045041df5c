// The options that describe one convolution problem, shared by `wino run`, `explain` and `bench`:
// either .npy files (--input/--weights) or a shape with fixed-seed random data.
#pragma once

#include <string>

#include "args.h"
#include "common/tensor.h"
#include "wino/wino.h"

namespace wino::cli {

/// Declares --input, --weights, --shape, --k, --r, --seed, --pad, --groups.
void add_problem_options(Args& args);
/// Declares --plan, --m, --device.
void add_plan_options(Args& args, bool allow_all_plans);

struct Problem {
  ConvDesc desc;
  Tensor x, w;  // float32
  std::string source;  // "x.npy, w.npy" or "random (seed S)"
};

/// Reads the problem: loads the files or draws random normal data. Throws UsageError/Error.
Problem read_problem(const Args& args, bool need_data);

/// "1" or "T,B,L,R" -> padding (values >= 0).
Padding parse_pad(const std::string& text);

/// True when two paths name the same file (same inode, or the same normalized path).
bool same_file(const std::string& a, const std::string& b);

/// --tiles BK,BP,RK,RP,CC (read by read_options).
void add_tiles_option(Args& args);

/// Options from --plan/--m/--device.
Options read_options(const Args& args);
Device read_device(const Args& args);

}  // namespace wino::cli

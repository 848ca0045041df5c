// The options that describe one convolution problem, shared by `wino run`, `explain` and `bench`:
// either .npy files (--input/--weights) or a shape with fixed-seed random data.
#pragma once

#include <string>
#include <utility>

#include "args.h"
#include "io/layers_file.h"
#include "common/tensor.h"
#include "wino/wino.h"

namespace wino::cli {

/// Declares --input, --weights, --shape, --k, --r, --seed, --pad, --groups, --stride, --dilation,
/// and the epilogue's --bias, --residual, --activation.
void add_problem_options(Args& args);
/// Declares --plan, --m, --device.
void add_plan_options(Args& args, bool allow_all_plans);

struct Problem {
  ConvDesc desc;
  Tensor x, w;  // float32
  Tensor bias, residual;  // float32, where desc.epilogue has them (else empty)
  std::string source;  // "x.npy, w.npy" or "random (seed S)"
};

/// Reads the problem: checks the .npy headers against each other, then (with need_data) loads
/// the files or draws random normal data. Throws UsageError/Error.
Problem read_problem(const Args& args, bool need_data);

/// Largest --pad, --stride and --dilation value accepted.
constexpr int64_t kMaxPad = int64_t{1} << 30;

/// "1" or "T,B,L,R" -> padding (values >= 0; UsageError otherwise).
Padding parse_pad(const std::string& text);

/// --stride and --dilation (default 1 each), in [1, kMaxPad].
std::pair<int64_t, int64_t> read_stride_dilation(const Args& args);

/// True when two paths name the same file (same inode, or the same normalized path).
bool same_file(const std::string& a, const std::string& b);

/// --tiles BK,BP,RK,RP,CC (read by read_options).
void add_tiles_option(Args& args);
/// --m M: Options::m, the Winograd output tile.
void add_m_option(Args& args);
/// --max-rel-err E: Options::max_rel_err; --precision P: Options::precision.
void add_accuracy_option(Args& args);

/// True for the plans whose GEMM --tiles shapes (every Winograd plan but naive-fused; auto and
/// all pick or include such plans); false for direct and naive-fused.
bool plan_uses_tiles(const std::string& plan);

/// Options from --plan/--m/--tiles; --tiles with a plan that has no GEMM tiles is a UsageError.
Options read_options(const Args& args);
Device read_device(const Args& args);

/// Throws a UsageError naming `option` when `names` lists a name twice.
void reject_duplicates(const std::vector<std::string>& names, const std::string& option);
/// The layers of --layers FILE that --only names (all when it is absent); --only errors are usage errors.
std::vector<const io::Layer*> select_layers(const Args& args, const std::vector<io::Layer>& layers);

}  // namespace wino::cli

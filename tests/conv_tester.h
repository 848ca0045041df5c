// ConvTester: runs one convolution through wino::compile on a device and compares it with the
// float64 reference, printing the parameters and the worst element when it fails.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "api/compile_program.h"
#include "common/random.h"
#include "planner/choose_plan.h"
#include "lower/lower.h"
#include "reference/reference.h"
#include "reference/tolerance.h"
#include "wino/wino.h"

namespace wino::testing {

/// Relative L2 tolerance per F(m, r): the library's documented one (see docs/accuracy.md).
inline double tolerance(int m, int r, DType dtype = DType::f32) { return error_tolerance(m, r, dtype); }

struct ConvCase {
  int64_t n = 1, c = 1, h = 8, w = 8, k = 1, r = 3;
  Padding pad = Padding::all(1);
  Epilogue epilogue{};
  DType dtype = DType::f32;
  Layout layout = Layout::nchw;
  int64_t stride = 1, dilation = 1, groups = 1;  // the direct plan's (Winograd plans take 1)
  std::string str() const {
    std::string s = std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
                    std::to_string(w) + " k" + std::to_string(k) + " r" + std::to_string(r) + " pad " +
                    std::to_string(pad.top) + "," + std::to_string(pad.bottom) + "," +
                    std::to_string(pad.left) + "," + std::to_string(pad.right);
    if (epilogue.bias) s += " +bias";
    if (epilogue.residual) s += " +residual";
    if (epilogue.activation != Activation::none) s += std::string(" ") + activation_name(epilogue.activation);
    if (dtype != DType::f32) s += std::string(" ") + dtype_name(dtype);
    if (layout == Layout::nhwc) s += " nhwc";
    if (stride != 1) s += " stride " + std::to_string(stride);
    if (dilation != 1) s += " dilation " + std::to_string(dilation);
    if (groups != 1) s += " groups " + std::to_string(groups);
    return s;
  }
};


/// The epilogues of the sweep: bias + residual + relu (a ResNet block's tail), bias + silu,
/// residual + relu6, and none (the plain store).
inline std::vector<Epilogue> epilogue_variants() {
  return {{true, true, Activation::relu}, {true, false, Activation::silu}, {false, true, Activation::relu6}, {}};
}

/// One (plan, F(m, r)) of the correctness sweep; m = 0 for direct.
struct PlanCase {
  std::string plan;
  int m, r;
};

/// `cc` with one of epilogue_variants(), chosen by the case so that over a sweep every plan
/// meets every variant with several F(m, r).
inline ConvCase with_epilogue(ConvCase cc, const PlanCase& pc) {
  size_t h = static_cast<size_t>(pc.m) * 7 + static_cast<size_t>(pc.r) * 13;
  for (char c : pc.plan) h += static_cast<unsigned char>(c);
  const std::vector<Epilogue> variants = epilogue_variants();
  cc.epilogue = variants[h % variants.size()];
  return cc;
}

/// with_epilogue(), and tensors of f32, f16 or bf16 by the case (all three over a sweep).
inline ConvCase with_variant(ConvCase cc, const PlanCase& pc) {
  cc = with_epilogue(cc, pc);
  const DType types[] = {DType::f16, DType::bf16, DType::f32};
  cc.dtype = types[static_cast<size_t>(pc.m * 5 + pc.r * 3 + static_cast<int>(pc.plan.size())) % 3];
  return cc;
}

inline void PrintTo(const PlanCase& p, std::ostream* os) { *os << p.plan << " F(" << p.m << "," << p.r << ")"; }

inline std::string plan_case_name(const ::testing::TestParamInfo<PlanCase>& info) {
  std::string p = info.param.plan;
  for (char& c : p)
    if (c == '-') c = '_';
  return p + "_f" + std::to_string(info.param.m) + "x" + std::to_string(info.param.r);
}

/// Every plan with every F(m, r) of the sweep (direct with r = 3 and 5), in plans::plan_names() order.
inline std::vector<PlanCase> all_plan_cases() {
  std::vector<PlanCase> out = {{"direct", 0, 3}, {"direct", 0, 5}};
  for (const std::string& plan : plans::plan_names()) {
    if (plan == "direct") continue;
    for (auto [m, r] : {std::pair{2, 3}, {4, 3}, {6, 3}, {2, 5}, {4, 5}}) out.push_back({plan, m, r});
  }
  return out;
}

/// Every F(m, r) with r in 1..7 and alpha = m + r - 1 <= 8 (odd and even alpha, m = 1 included).
inline std::vector<std::pair<int, int>> every_f_mr() {
  std::vector<std::pair<int, int>> out;
  for (int r = 1; r <= 7; ++r)
    for (int m = 1; m + r - 1 <= 8; ++m) out.push_back({m, r});
  return out;
}

/// Every plan with every F(m, r) of every_f_mr() (direct with every r), in plan_names() order.
inline std::vector<PlanCase> every_plan_case() {
  std::vector<PlanCase> out;
  for (const std::string& plan : plans::plan_names()) {
    if (plan == "direct") {
      for (int r = 1; r <= 7; ++r) out.push_back({plan, 0, r});
      continue;
    }
    for (auto [m, r] : every_f_mr()) out.push_back({plan, m, r});
  }
  return out;
}

/// Every plan at every alpha = m + r - 1 in 1..8 with one F(m, r) each (r rotating with the plan
/// and alpha, so each plan meets most r), and direct with every r: the compiled backends' sweep,
/// where a case costs a compiler run. The interpreter runs every_plan_case().
inline std::vector<PlanCase> every_alpha_case() {
  std::vector<PlanCase> out;
  const std::vector<std::string>& names = plans::plan_names();
  for (size_t pi = 0; pi < names.size(); ++pi) {
    if (names[pi] == "direct") {
      for (int r = 1; r <= 7; ++r) out.push_back({names[pi], 0, r});
      continue;
    }
    for (int alpha = 1; alpha <= 8; ++alpha) {
      const int r = 1 + static_cast<int>((static_cast<size_t>(alpha) * 3 + pi) % std::min(alpha, 7));
      out.push_back({names[pi], alpha - r + 1, r});
    }
  }
  return out;
}

/// One shape for a compiled run: N = 2, H and W prime (partial tiles for every m > 1), asymmetric
/// padding, C = 20 (several channel chunks, the last one partial), K = 37 (several blocks, the
/// last one partial).
inline ConvCase compiled_edge(int r) { return {2, 20, 11, 13, 37, r, {r / 2, 0, 0, r / 2}}; }

/// GEMM tiles (Options::block_k ... chunk_c) other than the defaults: the benchmark's choices for
/// `unfused` (and blocks for its CPU-shaped GEMM), and for the fused plans register tiles, blocks and chunks of other shapes.
inline std::vector<std::array<int, 5>> tile_variants(const std::string& plan) {
  if (plan == "unfused")
    // The last two give blocks but no register tiles: the CPU-shaped GEMM where the device has
    // one (three vectors of 4 channels x 5 tiles, one vector x 7), refused by the GPU core (block
    // not a multiple of 8).
    return {{0, 0, 0, 0, 16}, {128, 64, 8, 8, 8}, {64, 64, 8, 8, 8}, {128, 128, 8, 8, 16}, {32, 32, 4, 4, 4},
            {12, 5, 0, 0, 0}, {4, 7, 0, 0, 0}};
  // fused: the Apple GPU's lean tiles (planner: kLeanAllPointsTiles), then the CPU-shaped plan's
  // block (two vectors of 4 channels x 3 tiles).
  if (plan == "fused")
    return {{16, 16, 4, 4, 8}, {32, 16, 4, 1, 2}, {8, 32, 2, 4, 3}, {8, 16, 4, 1, 2}, {8, 8, 1, 1, 2}, {8, 3, 0, 0, 0}};
  if (plan == "fused-input") return {{16, 16, 4, 4, 8}, {32, 16, 4, 1, 2}, {8, 32, 2, 4, 3}, {8, 16, 4, 1, 2}, {8, 8, 1, 1, 2}};
  if (plan == "fused-output") return {{8, 8, 1, 1, 2}, {32, 16, 1, 1, 3}};
  return {};
}

/// Shapes that hit the edges: C=1, C=3, K=1, H and W not multiples of m, H or W smaller than
/// alpha, padding 0, 1, 2 and asymmetric, N=2, a prime-sized image.
inline std::vector<ConvCase> edge_sweep(int r) {
  const int64_t p = r / 2;
  return {
      {1, 1, 8, 8, 1, r, Padding::all(p)},
      {1, 3, 13, 11, 5, r, Padding::all(p)},
      {2, 4, 9, 10, 3, r, Padding::all(0)},
      {1, 2, 3, 4, 2, r, Padding::all(2)},  // smaller than alpha
      {2, 5, 17, 17, 7, r, {0, 2, 1, 0}},   // prime size, asymmetric padding
      {1, 8, 32, 32, 8, r, Padding::all(1)},
  };
}

/// Shapes where K, C and the tiles span several GEMM blocks and channel chunks, partial ones last.
inline std::vector<ConvCase> block_sweep(int r) {
  const int64_t p = r / 2;
  return {
      {2, 19, 9, 11, 37, r, Padding::all(p)},
      {1, 35, 7, 6, 34, r, {p, 0, 0, p}},
  };
}

/// False when the padded input is smaller than the filter (no output).
inline bool has_output(const ConvCase& cc) {
  return cc.h + cc.pad.top + cc.pad.bottom >= cc.r && cc.w + cc.pad.left + cc.pad.right >= cc.r;
}

/// Removes the `which`-th barrier (in source order) of a statement tree; returns the number of
/// barriers seen, so that a `which` past the end (or negative) counts them and removes nothing.
inline int remove_barrier(ir::Block& block, int which, int seen = 0) {
  for (auto it = block.begin(); it != block.end();) {
    if ((*it)->kind == ir::StmtKind::barrier && seen++ == which) {
      it = block.erase(it);
      continue;
    }
    seen = remove_barrier((*it)->body, which, seen);
    ++it;
  }
  return seen;
}

/// A change made to a plan's program before it is compiled (tests only: a barrier removed).
using ProgramEdit = std::function<void(plans::Program&)>;

/// Options for plan `plan` with F(m, r) and GEMM tiles {block_k, block_tiles, reg_k, reg_tiles, chunk_c}.
inline Options plan_options(const std::string& plan, int m, const std::array<int, 5>& tiles = {}) {
  Options o;
  o.plan = plan;
  o.m = m;
  o.block_k = tiles[0], o.block_tiles = tiles[1], o.reg_k = tiles[2], o.reg_tiles = tiles[3], o.chunk_c = tiles[4];
  return o;
}

/// The convolution a case describes.
inline ConvDesc desc_of(const ConvCase& cc) {
  ConvDesc d;
  d.n = cc.n, d.c = cc.c, d.h = cc.h, d.w = cc.w, d.k = cc.k, d.r = d.s = cc.r, d.pad = cc.pad;
  d.epilogue = cc.epilogue;
  d.dtype = cc.dtype;
  d.layout = cc.layout;
  d.stride = cc.stride, d.dilation = cc.dilation, d.groups = cc.groups;
  return d;
}

/// Runs the case; returns the relative L2 error (and fails the test when it is over tolerance).
/// With `edit`, the planned program is edited, then compiled as compile() would.
inline double check_conv(const Device& device, const Options& o, const ConvCase& cc, uint64_t seed = 1,
                         const ProgramEdit& edit = {}) {
  const ConvDesc d = desc_of(cc);
  // Drawn in float32, then rounded to the tensors' type: the reference sees the same values.
  Tensor x = random_normal(DType::f32, {d.n, d.c, d.h, d.w}, seed).to(d.dtype);
  Tensor w = random_normal(DType::f32, {d.k, d.c / d.groups, d.r, d.s}, seed + 1000).to(d.dtype);
  Tensor bias = random_normal(DType::f32, {d.k}, seed + 2000).to(d.dtype);
  Tensor z = random_normal(DType::f32, {d.n, d.k, d.out_h(), d.out_w()}, seed + 3000).to(d.dtype);
  Tensor y(d.dtype, {d.n, d.k, d.out_h(), d.out_w()});
  for (int64_t i = 0; i < y.numel(); ++i) y.set(i, std::nan(""));  // poison: every element must be written
  Conv conv = edit ? api::compile_edited(device, d, o, edit) : compile(device, d, o);
  conv.set_weights(w.data(), d.epilogue.bias ? bias.data() : nullptr);
  if (d.layout == Layout::nhwc) {  // the kernels see channels-last tensors; the checks below NCHW ones
    Tensor xl = nchw_to_nhwc(x), yl = nchw_to_nhwc(y), zl = nchw_to_nhwc(z);
    conv.run(xl.data(), yl.data(), d.epilogue.residual ? zl.data() : nullptr);
    y = nhwc_to_nchw(yl);
  } else {
    conv.run(x.data(), y.data(), d.epilogue.residual ? z.data() : nullptr);
  }
  Tensor ref = reference_conv2d(x, w, d.pad, d.groups, d.stride, d.dilation);
  apply_reference_epilogue(ref, d.epilogue, &bias, &z);
  double err = relative_l2_error(y, ref);
  const Report rep = conv.report();
  double tol = error_tolerance(rep.m, static_cast<int>(cc.r), d.dtype, rep.precision);
  if (!(err <= tol)) {
    int64_t worst = 0;
    double worst_diff = -1;
    for (int64_t i = 0; i < y.numel(); ++i) {
      double diff = std::isnan(y.get(i)) ? INFINITY : std::abs(y.get(i) - ref.get(i));
      if (diff > worst_diff) worst_diff = diff, worst = i;
    }
    ADD_FAILURE() << o.plan << " " << precision_name(rep.precision) << " F(" << o.m << "," << cc.r << ") tiles " << o.block_k << "," << o.block_tiles
                  << "," << o.reg_k << "," << o.reg_tiles << "," << o.chunk_c << " on " << cc.str()
                  << ": rel L2 error " << err << " > " << tol << "; worst flat index " << worst << ": got "
                  << y.get(worst) << ", expected " << ref.get(worst);
  }
  return err;
}

inline double check_conv(const Device& device, const std::string& plan, int m, const ConvCase& cc,
                         uint64_t seed = 1, const ProgramEdit& edit = {}) {
  return check_conv(device, plan_options(plan, m), cc, seed, edit);
}

}  // namespace wino::testing

#include <algorithm>
#include <cstdlib>
#include "conv_options.h"

#include "io/layers_file.h"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <tuple>

#include "common/random.h"
#include "io/npy.h"
#include "plans/program.h"

namespace wino::cli {

void add_problem_options(Args& args) {
  args.option("input", "x.npy", "input tensor N x C x H x W (float32 or float64)");
  args.option("weights", "w.npy", "weights K x C/groups x R x S");
  args.option("shape", "N,C,H,W", "instead of files: random normal input of this shape");
  args.option("k", "K", "with --shape: number of filters");
  args.option("r", "R", "with --shape: filter size R x R (default 3)");
  args.option("seed", "S", "with --shape: random seed (default 0; weights use S+1, --bias random S+2, "
                           "--residual random S+3)");
  args.option("pad", "P|T,B,L,R", "zero padding on all sides, or per side (default 0)");
  args.option("groups", "G", "channel groups (default 1; Winograd plans need 1)");
  args.option("stride", "S", "stride along both axes (default 1; only --plan direct supports > 1)");
  args.option("dilation", "D", "dilation along both axes (default 1; only --plan direct supports > 1)");
  args.option("bias", "b.npy|random",
              "epilogue: add a per-output-channel bias (K values; 'random': fixed-seed normal)");
  args.option("residual", "z.npy|random",
              "epilogue: add a tensor shaped like the output, N x K x OH x OW (ResNet's skip "
              "connection), before the activation");
  args.option("activation", "A", "epilogue: none, relu, relu6 or silu, applied last (default none)");
  args.option("dtype", "T",
              "tensor type: f32 (default), f16 or bf16; transforms and sums stay float32. f16 reads "
              "float16 or float32 .npy files and writes float16; bf16 (no .npy type) reads float32 "
              "files, rounding them, and writes the result as float32");
  args.option("layout", "L",
              "memory order the kernels take x, y and the residual in: nchw (default) or nhwc (channels last, "
              "PyTorch's channels_last); .npy files stay N,C,H,W and are converted in and out");
}

void add_plan_options(Args& args, bool allow_all_plans) {
  std::string plans;
  for (const std::string& n : plans::plan_names()) plans += n + ", ";
  args.option("plan", "P", plans + (allow_all_plans ? "auto or all" : "or auto") + " (default auto)");
  add_m_option(args);
  args.option("device", "D",
              "auto, cpu, cuda[:N] or opencl[:N] (default auto: a CUDA GPU, else an OpenCL GPU, "
              "else the CPU; `wino devices` lists them)");
  add_tiles_option(args);
  add_accuracy_option(args);
}

void add_accuracy_option(Args& args) {
  args.option("max-rel-err", "E",
              "with --plan auto: the largest float32 error bound of F(m, r) the planner may pick "
              "(default 1e-5: F(6,3) and smaller)");
  args.option("precision", "P",
              "the lowest precision the Winograd GEMM may use: fp32 (default), 3xtf32 (fp32-accurate on tensor "
              "cores), tf32, fp16 or bf16 (tensor cores: CUDA sm_80 or newer; the planner may pick a higher one; "
              "in fp16 and bf16 --plan auto takes F(2,3) and smaller, whose error stays within about 3x "
              "cuDNN's)");
}

void add_m_option(Args& args) {
  args.option("m", "M",
              "Winograd output tile m for F(m x m, r x r) (default: 4 for r <= 3, else 2; in fp16 and bf16 on "
              "tensor cores the largest their error bound admits, 2 for 3 x 3)");
}

void add_tiles_option(Args& args) {
  args.option("tiles", "BK,BP,RK,RP,CC[,PPT]",
              "GEMM tiles of the Winograd plans: output channels and tiles per work-group, register "
              "tile per thread, channels per step, and where a work-group holds several Winograd points "
              "the points per thread (fused: a divisor of alpha^2, fused-input: of alpha, fused-output: "
              "alpha^2; 0 keeps a default; e.g. 128,128,8,8,16 or 32,16,4,4,4,6; plans that cannot use it "
              "refuse it). Refused "
              "with --plan direct or naive-fused; with auto or all, used by the plans that have them. On a "
              "CPU, BK,BP,0,0,0 sizes the vector block (BK a multiple of the vector's lanes); 0,BP,0,0,0,ALPHA "
              "runs unfused's GEMM by rows of alpha points, U made from the weights as it goes (a quarter "
              "of U's bytes at F(4,3)); giving RK or RP runs the GPU-shaped core there instead");
  args.option("tile-block", "COLS|runs",
              "the tensor-core fused plan's tiles per work-group (fp16 and bf16, channels last) as 2D blocks "
              "of COLS tiles a row, whose overlapping input patches are copied once (COLS divides the "
              "block's tiles), or 'runs' of consecutive tiles, each patch copied on its own (default: the "
              "planner's choice)");
}

Padding parse_pad(const std::string& text) {
  std::vector<std::string> items = split_commas(text, "--pad");
  if (items.size() != 1 && items.size() != 4)
    throw UsageError("--pad takes 1 value (all sides) or 4 values T,B,L,R, got " +
                     std::to_string(items.size()) + " in '" + text + "'");
  std::vector<int64_t> v;
  for (const std::string& s : items) {
    // Any integer first, so that a negative value gets its own message; then the real range.
    const int64_t p = parse_int(s, "--pad", INT64_MIN, INT64_MAX);
    if (p < 0) throw UsageError("--pad values must be >= 0, got " + s + " in '" + text + "'");
    v.push_back(parse_int(s, "--pad", 0, kMaxPad));
  }
  if (v.size() == 1) return Padding::all(v[0]);
  return {v[0], v[1], v[2], v[3]};
}

std::pair<int64_t, int64_t> read_stride_dilation(const Args& args) {
  return {args.get_int_opt("stride", 1, kMaxPad).value_or(1),
          args.get_int_opt("dilation", 1, kMaxPad).value_or(1)};
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::equivalent(a, b, ec) && !ec) return true;
  fs::path ca = fs::weakly_canonical(a, ec);
  if (ec) return false;
  fs::path cb = fs::weakly_canonical(b, ec);
  return !ec && ca == cb;
}

namespace {

/// The float32 copy of an input; warns when float64 values overflow to +-Inf on the way.
Tensor to_float32(const Tensor& t, const std::string& name) {
  Tensor f = t.to(DType::f32);
  if (t.dtype() != DType::f64) return f;
  int64_t overflowed = 0;
  for (int64_t i = 0; i < t.numel(); ++i) overflowed += std::isfinite(t.get(i)) && std::isinf(f.get(i));
  if (overflowed > 0)
    std::cerr << "wino: warning: " << name << ": " << overflowed
              << " float64 values exceed the float32 range (|x| > 3.4e38) and become +-Inf; scale "
                 "the data if that is not intended\n";
  return f;
}

// The problem the headers of --input and --weights describe, with `base`'s padding, groups,
// stride and dilation. Throws wino::Error naming the file for shapes that do not fit.
ConvDesc desc_from_headers(const NpyFile& x_file, const NpyFile& w_file, ConvDesc base) {
  const Shape& xs = x_file.layout().shape;
  const Shape& ws = w_file.layout().shape;
  if (xs.size() != 4)
    throw Error(x_file.path() + ": input must be 4-D N x C x H x W, got shape " + shape_string(xs));
  if (ws.size() != 4)
    throw Error(w_file.path() + ": weights must be 4-D K x C/groups x R x S, got shape " +
                shape_string(ws));
  if (ws[1] < 1)  // else the channel check below says "the weights expect 0 x 1 groups"
    throw Error(w_file.path() + ": the weights' C/groups (dimension 1) must be >= 1, got " +
                std::to_string(ws[1]) + " (weights shape " + shape_string(ws) + ")");
  ConvDesc d = base;
  d.n = xs[0], d.c = xs[1], d.h = xs[2], d.w = xs[3];
  d.k = ws[0], d.r = ws[2], d.s = ws[3];
  try {  // zero-size dimensions first: they would make the checks below misleading
    validate(d);
  } catch (const Error& e) {
    throw Error(x_file.path() + ", " + w_file.path() + ": " + e.what());
  }
  if (ws[1] != d.c / d.groups)  // validate() made sure groups divides C
    throw Error("input has " + std::to_string(d.c) + " channels but the weights expect " +
                std::to_string(ws[1]) + " x " + std::to_string(d.groups) + " groups (weights shape " +
                shape_string(ws) + "); check the weights' layout (K x C/groups x R x S) and --groups");
  return d;
}

// An epilogue tensor from --NAME: 'random' (normal, `seed`) or a .npy file of exactly `shape`.
Tensor epilogue_tensor(const Args& args, const char* name, const Shape& shape, uint64_t seed,
                       bool need_data) {
  const std::string value = args.get(name);
  if (value == "random") return need_data ? random_normal(DType::f32, shape, seed) : Tensor();
  NpyFile file(value);
  if (file.layout().shape != shape)
    throw Error(value + ": --" + name + " must have shape " + shape_string(shape) + ", got " +
                shape_string(file.layout().shape));
  return need_data ? to_float32(file.read(), value) : Tensor();
}

DType read_dtype(const Args& args) {
  const std::string t = args.get_or("dtype", "f32");
  if (t == "f32") return DType::f32;
  if (t == "f16") return DType::f16;
  if (t == "bf16") return DType::bf16;
  throw UsageError("--dtype: unknown type '" + t + "' (expected f32, f16 or bf16)");
}

// Rounds the problem's tensors to p.desc.dtype (they are read or drawn as float32).
void round_to_dtype(Problem& p) {
  for (Tensor* t : {&p.x, &p.w, &p.bias, &p.residual})
    if (t->numel() > 0 || t->rank() > 0) *t = t->to(p.desc.dtype);
}

// --activation, --bias and --residual into p.desc.epilogue and p's tensors (p.desc complete).
void read_epilogue(const Args& args, Problem& p, uint64_t seed, bool need_data) {
  Epilogue& e = p.desc.epilogue;
  try {
    e.activation = parse_activation(args.get_or("activation", "none"));
  } catch (const Error& err) {
    throw UsageError(std::string("--activation: ") + err.what());
  }
  e.bias = args.has("bias");
  e.residual = args.has("residual");
  const ConvDesc& d = p.desc;
  if (e.bias) p.bias = epilogue_tensor(args, "bias", {d.k}, seed + 2, need_data);
  if (e.residual)
    p.residual = epilogue_tensor(args, "residual", {d.n, d.k, d.out_h(), d.out_w()}, seed + 3, need_data);
}

}  // namespace

Problem read_problem(const Args& args, bool need_data) {
  const bool files = args.has("input") || args.has("weights");
  if (files && args.has("shape"))
    throw UsageError("give either --input/--weights or --shape, not both");
  if (!files && !args.has("shape"))
    throw UsageError("give --input x.npy --weights w.npy, or --shape N,C,H,W --k K");
  Problem p;
  const DType dtype = read_dtype(args);
  p.desc.pad = parse_pad(args.get_or("pad", "0"));
  p.desc.groups = args.get_int_opt("groups", 1, 1 << 20).value_or(1);
  std::tie(p.desc.stride, p.desc.dilation) = read_stride_dilation(args);
  if (files) {
    if (!args.has("input") || !args.has("weights"))
      throw UsageError("--input and --weights go together");
    for (const char* o : {"k", "r", "seed"})
      if (args.has(o)) throw UsageError(std::string("--") + o + " only applies with --shape");
    // Headers first: the shapes are checked against each other before any data is read.
    NpyFile x_file(args.get("input")), w_file(args.get("weights"));
    p.desc = desc_from_headers(x_file, w_file, p.desc);
    if (need_data) {
      p.x = to_float32(x_file.read(), args.get("input"));
      p.w = to_float32(w_file.read(), args.get("weights"));
    }
    p.source = args.get("input") + ", " + args.get("weights");
    validate(p.desc);
    read_epilogue(args, p, 0, need_data);
  } else {
    std::vector<int64_t> s = args.get_int_list("shape", 1, int64_t{1} << 30);
    if (s.size() != 4) throw UsageError("--shape needs 4 values N,C,H,W");
    if (!args.has("k")) throw UsageError("--shape needs --k K (number of filters)");
    p.desc.n = s[0];
    p.desc.c = s[1];
    p.desc.h = s[2];
    p.desc.w = s[3];
    p.desc.k = args.get_int("k", 1, int64_t{1} << 30);
    p.desc.r = p.desc.s = args.get_int_opt("r", 1, 64).value_or(3);
    auto seed = static_cast<uint64_t>(args.get_int_opt("seed", 0, INT64_MAX).value_or(0));
    p.source = "random normal (seed " + std::to_string(seed) + ")";
    validate(p.desc);
    if (need_data) {
      Shape xs = {p.desc.n, p.desc.c, p.desc.h, p.desc.w};
      Shape ws = {p.desc.k, p.desc.c / p.desc.groups, p.desc.r, p.desc.s};
      if (shape_numel(xs) > (int64_t{1} << 31) || shape_numel(ws) > (int64_t{1} << 31))
        throw Error("problem too large for random data (more than 2^31 elements)");
      p.x = random_normal(DType::f32, xs, seed);
      p.w = random_normal(DType::f32, ws, seed + 1);
    }
    read_epilogue(args, p, seed, need_data);
  }
  p.desc.dtype = dtype;
  try {
    p.desc.layout = parse_layout(args.get_or("layout", "nchw"));
  } catch (const Error& e) {
    throw UsageError(std::string("--layout: ") + e.what());
  }
  validate(p.desc);
  if (need_data) round_to_dtype(p);
  return p;
}

Device read_device(const Args& args) {
  try {
    return Device::parse(args.get_or("device", "auto"));
  } catch (const Error& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
}

bool plan_uses_tiles(const std::string& plan) { return plan != "direct" && plan != "naive-fused"; }

Options read_options(const Args& args) {
  Options o;
  o.plan = args.get_or("plan", "auto");
  o.m = static_cast<int>(args.get_int_opt("m", 1, 16).value_or(0));
  if (args.has("max-rel-err")) {
    const std::string& text = args.get("max-rel-err");
    char* end = nullptr;
    o.max_rel_err = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(o.max_rel_err > 0) || o.max_rel_err > 1)
      throw UsageError("--max-rel-err takes a number in (0, 1] such as 1e-5, got '" + text + "'");
  }
  if (args.has("precision")) {
    try {
      o.precision = parse_precision(args.get("precision"));
    } catch (const Error& e) {
      throw UsageError(std::string("--precision: ") + e.what());
    }
  }
  o.tune = args.has("tune");
  if (args.has("tile-block")) {
    const std::string v = args.get("tile-block");
    o.tile_block_cols = v == "runs" ? -1 : static_cast<int>(parse_int(v, "--tile-block", 1, 1024));
    if (o.plan != "fused" && o.plan != "auto" && o.plan != "all")
      throw UsageError("--tile-block applies to plan fused only (its tensor-core ring), not " + o.plan +
                       ": leave --tile-block out, or use --plan fused");
  }
  if (args.has("tiles")) {
    std::vector<std::string> items = split_commas(args.get("tiles"), "--tiles");
    if (items.size() != 5 && items.size() != 6)
      throw UsageError("--tiles takes 5 values BK,BP,RK,RP,CC, or 6 with PPT, got " + std::to_string(items.size()));
    int* fields[6] = {&o.block_k, &o.block_tiles, &o.reg_k, &o.reg_tiles, &o.chunk_c, &o.points_per_thread};
    for (size_t i = 0; i < items.size(); ++i) *fields[i] = static_cast<int>(parse_int(items[i], "--tiles", 0, 1024));
    // Silently ignoring them would time or explain something other than what was asked for.
    if (!plan_uses_tiles(o.plan))
      throw UsageError("--tiles does not apply to plan " + o.plan + ", which has no GEMM tiles: "
                       "leave --tiles out, or use unfused, fused-input, fused-output or fused");
  }
  return o;
}

// A name listed twice would run twice and print two rows for one measurement.
void reject_duplicates(const std::vector<std::string>& names, const std::string& option) {
  for (size_t i = 0; i < names.size(); ++i)
    if (std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i)
      throw UsageError(option + " lists '" + names[i] + "' twice");
}

std::vector<const io::Layer*> select_layers(const Args& args, const std::vector<io::Layer>& layers) {
  std::vector<std::string> names;
  if (args.has("only")) names = split_commas(args.get("only"), "--only");
  reject_duplicates(names, "--only");
  try {
    return io::select_layers(layers, names, args.get("layers"));
  } catch (const Error& e) {
    throw UsageError(std::string("--only: ") + e.what());
  }
}

}  // namespace wino::cli

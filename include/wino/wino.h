// Wino's public C++ API: describe a convolution, compile it for a device, set weights, run it,
// and read the report of every kernel it made.
//
//   wino::ConvDesc desc{.n = 1, .c = 8, .h = 32, .w = 32, .k = 8, .r = 3, .s = 3,
//                       .pad = wino::Padding::all(1)};
//   wino::Conv conv = wino::compile(wino::Device::cpu(), desc, {.plan = "unfused", .m = 4});
//   conv.set_weights(w);   // K x C x R x S floats, transformed once here
//   conv.run(x, y);        // N x C x H x W in, N x K x OH x OW out
//   wino::Report report = conv.report();
//
// On a GPU, tensors the caller already holds on the device run without any copy, on the
// caller's stream (README.md, "Device tensors"):
//   conv.set_weights(wino::TensorRef{w_dev, {K, C, 3, 3}});
//   conv.run(wino::TensorRef{x_dev, {N, C, H, W}}, wino::TensorRef{y_dev, {N, K, OH, OW}},
//            wino::Stream{cuda_stream});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wino {

/// Zero padding per side, in pixels.
struct Padding {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding all(int64_t p) { return {p, p, p, p}; }
};

/// Element types of tensors. Convolutions take f32, f16 or bf16 (ConvDesc::dtype); f64 is the
/// reference's and the .npy reader's.
enum class DType { f32, f64, f16, bf16 };

/// What happens to each output value as it is stored: y = act(conv(x, w) + bias[k] + z), with
/// z the residual tensor (shaped like y: the tail of a ResNet block). Applied inside the kernel
/// that writes y, in every plan.
enum class Activation { none, relu, relu6, silu };
const char* activation_name(Activation a);
/// "none", "relu", "relu6", "silu" -> Activation; throws wino::Error naming the choices.
Activation parse_activation(const std::string& text);

/// The arithmetic of the Winograd GEMM (the transforms always run in f32), from the most accurate:
/// fp32 (FMA units), tf32x3 (tensor cores, fp32-level accuracy: each operand split into a tf32
/// part and a tf32 remainder, three products), tf32, fp16 and bf16 (operands rounded to the type,
/// f32 accumulation). Tensor-core precisions run on NVIDIA GPUs of sm_80 and newer (and in the
/// interpreter). The planner never picks a lower precision than asked; it may pick a higher one.
enum class Precision { fp32, tf32x3, tf32, fp16, bf16 };
/// "fp32", "3xtf32", "tf32", "fp16", "bf16".
const char* precision_name(Precision p);
/// The names above -> Precision; throws wino::Error naming the choices.
Precision parse_precision(const std::string& text);

/// Memory order of the input x, the output y and the residual: NCHW (rows of W contiguous) or
/// NHWC (channels contiguous: PyTorch's channels_last). Weights are always K x C/groups x R x S.
enum class Layout { nchw, nhwc };
/// "nchw", "nhwc".
const char* layout_name(Layout l);
/// The names above -> Layout; throws wino::Error naming the choices.
Layout parse_layout(const std::string& text);

struct Epilogue {
  bool bias = false;      // K values, given to Conv::set_weights
  bool residual = false;  // a tensor shaped like y, given to Conv::run
  Activation activation = Activation::none;
  bool any() const { return bias || residual || activation != Activation::none; }
};

/// A 2D convolution (cross-correlation), NCHW input, KCRS weights. Stride and dilation are the
/// same along both axes; only the `direct` plan supports values other than 1 (`auto` picks it).
struct ConvDesc {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input
  int64_t k = 1, r = 3, s = 3;         // filters
  Padding pad;
  int64_t groups = 1;
  int64_t stride = 1, dilation = 1;
  Epilogue epilogue;
  /// Type of the input, weights, bias, residual and output (intermediates are float32).
  /// f16/bf16: loads convert to float32, transforms and accumulation stay float32, stores round
  /// back to nearest even.
  DType dtype = DType::f32;
  Layout layout = Layout::nchw;  // of x, y and the residual
  /// Output extent: (padded - dilation (R - 1) - 1) / stride + 1; < 1 when the output is empty.
  int64_t out_h() const { return out_extent(h + pad.top + pad.bottom, r); }
  int64_t out_w() const { return out_extent(w + pad.left + pad.right, s); }
  int64_t out_extent(int64_t padded, int64_t filter) const {
    const int64_t span = padded - dilation * (filter - 1);  // positions of the first tap
    return span < 1 || stride < 1 ? span : (span - 1) / stride + 1;
  }
  /// FLOPs of the direct convolution: 2 N K C H_out W_out R S / groups.
  double direct_flops() const;
  /// "1x8x32x32 k8 3x3 pad 1,1,1,1" (then " + bias + residual relu" when there is an epilogue).
  std::string str() const;
};

/// Throws wino::Error (a std::runtime_error) naming the first problem of the description.
void validate(const ConvDesc& desc);

struct Device {
  /// `automatic` picks, when compiling: the first CUDA GPU, else the first OpenCL GPU, else the
  /// CPU (Report::device names the one that ran). `interp` runs the kernels' IR in Wino's own
  /// interpreter: no compiler, slow, strict (out-of-bounds, uninitialized reads and races throw).
  enum class Kind { cpu, cuda, opencl, automatic, interp };
  Kind kind = Kind::cpu;
  int index = 0;
  static Device cpu() { return {Kind::cpu, 0}; }
  static Device cuda(int i = 0) { return {Kind::cuda, i}; }
  static Device opencl(int i = 0) { return {Kind::opencl, i}; }
  static Device automatic() { return {Kind::automatic, 0}; }
  static Device interpreter() { return {Kind::interp, 0}; }
  /// Parses "cpu", "cuda", "cuda:1", "opencl", "opencl:0", "auto", "interp".
  static Device parse(const std::string& text);
  /// The device `automatic` stands for on this machine (others are returned unchanged); `why`,
  /// when given, receives a sentence saying why that one.
  static Device resolve(const Device& device, std::string* why = nullptr);
};

struct PlanCandidate;

struct Options {
  std::string plan = "auto";  // direct, unfused, fused-input, fused-output, fused, naive-fused, auto
  int m = 0;                  // Winograd output tile; 0 lets the planner choose
  int threads = 0;            // CPU worker threads; 0 = all cores
  /// GEMM tile sizes of the Winograd plans (0 = the plan's default): output channels and tiles
  /// per work-group, the register tile per thread, input channels staged per step.
  int block_k = 0, block_tiles = 0, reg_k = 0, reg_tiles = 0, chunk_c = 0;
  /// Winograd points each thread accumulates where a work-group holds all alpha^2 of them (plans
  /// fused and fused-output; 0 = the plan's default; it must divide alpha^2). On a CPU, alpha
  /// runs plan unfused's GEMM by rows of alpha points, U made from the weights as it goes (a
  /// quarter of U's bytes at F(4,3): for few tiles, where the GEMM would stream U from memory).
  int points_per_thread = 0;
  /// The tensor-core fused plan's work-group tiles (fp16 and bf16, channels last): 0 = the
  /// planner's choice; -1 = runs of consecutive tiles, each tile's input patch copied on its own;
  /// N > 0 = 2D blocks of N tiles a row, whose overlapping patches are copied once as one region
  /// (N must divide the block's tiles).
  int tile_block_cols = 0;
  /// Build the kernels unoptimized (CPU: gcc -O0, about 10x faster to compile; OpenCL:
  /// -cl-opt-disable, about 3x): much slower to run. For correctness sweeps and one-off checks
  /// of large kernels; CUDA ignores it.
  bool quick_compile = false;
  /// The planner never picks an F(m, r) whose float32 error bound (the largest relative error
  /// of one tile over 1000 random ones, docs/accuracy.md) is above this: 1e-5 admits F(6,3) and
  /// smaller, rejects F(8,3). With f16/bf16 tensors the type's own rounding comes on top.
  double max_rel_err = 1e-5;
  /// The lowest arithmetic precision the GEMM may use (see Precision). Its rounding comes on top
  /// of max_rel_err's bound; in fp16 and bf16 plan auto also takes an F(m, r) only where its
  /// modelled error stays within 5x that of rounding the output to the type (issue 15's "3x
  /// cuDNN's": F(2,3) and smaller, docs/accuracy.md). A plan named without m gets the largest m
  /// the bound admits (3x3: 2); one named with its m runs whatever its error.
  Precision precision = Precision::fp32;
  /// plan = "auto": measure the best `tune_top` candidates of the cost model on the device and
  /// take the fastest (slower to compile: each one is compiled and run). The pick is stored in
  /// the tuning cache, and later compiles of the same convolution on the same device take it
  /// from there without measuring.
  bool tune = false;
  int tune_top = 6;
  /// Called in tune mode after each candidate is measured: `done` of `total`, and the fastest so
  /// far (for progress bars).
  std::function<void(int done, int total, const PlanCandidate& best)> tune_progress = nullptr;
};

/// One plan the planner considered for plan = "auto" (Report::candidates).
struct PlanCandidate {
  std::string plan;
  int m = 0;                 // F(m, r); 0 for direct
  std::string tiles;         // GEMM tiles "bk,bp,rk,rp,cc[,ppt]" when not the plan's defaults, then "runs" or
                             // "colsN" (the tensor-core fused ring's tiles: Options::tile_block_cols)
                             // and "vN" (a CPU-shaped GEMM at a narrower vector)
  Precision precision = Precision::fp32;  // of its GEMM
  int pred_regs = 0;         // the most registers any of its kernels is predicted to take
  double predicted_us = -1;  // the cost model's time for one run
  double predicted_mb = -1;  // the memory traffic the cost model charges, in MB (each kernel's buffers once on a CPU and on a GPU whose L2 takes the rereads)
  double predicted_mflop = -1;  // the arithmetic the cost model counts, in MFLOP (padding included)
  double measured_us = -1;   // tune mode: measured on the device
  std::string bound;         // what limits the model's time: "FLOPs" (a tensor-core kernel's with its
                             // fragment loads), "bytes", "work-group memory", "latency" (one thread's
                             // path) or "launches"
  std::string rejected;      // why it was not chosen; empty for the choice
  bool over_error_bound = false;  // rejected for its F(m, r)'s error (max_rel_err, or the half modes' bound)
  bool chosen = false;
};

/// A dense (row-major) tensor in memory the caller owns, given to a Conv without copying. `data`
/// is what the Conv's device addresses: for CUDA a device address (cuMemAlloc's CUdeviceptr,
/// cudaMalloc's pointer, torch.Tensor.data_ptr()), for OpenCL a cl_mem, for the CPU and the
/// interpreter a host pointer. `shape` and `dtype` are checked against the convolution.
struct TensorRef {
  void* data = nullptr;
  std::vector<int64_t> shape;
  DType dtype = DType::f32;
};

/// Where a Conv enqueues its kernels: a CUstream / cudaStream_t for CUDA (PyTorch:
/// torch.cuda.current_stream().cuda_stream), a cl_command_queue for OpenCL. Null is the
/// device's default: CUDA's legacy default stream, Wino's own OpenCL queue. On the CPU the
/// calling thread runs the kernels and the stream is ignored.
struct Stream {
  void* handle = nullptr;
};

/// Device memory for the intermediates of a run (V, M), given by the caller as cuDNN's
/// workspace is: at least Conv::workspace_bytes() bytes on the Conv's device, starting on a
/// 16-byte boundary. Empty: the Conv uses its own (one per stream, allocated at the first run on
/// it).
struct Workspace {
  void* data = nullptr;
  int64_t bytes = 0;
};

/// What Wino knows about one kernel it generated.
struct KernelReport {
  std::string name;
  std::string stage;        // direct, input_transform, gemm, output_transform, ...
  int lines = 0;            // source lines in the device's dialect
  int64_t ssa_values = 0;   // value-producing operations in the source
  int pred_regs = 0;        // predicted 32-bit registers per thread (register model)
  int regs = -1;            // actual registers from the backend compiler (-1: not reported)
  int spill_bytes = -1;     // spill stores + loads from the backend compiler (-1: not reported)
  int64_t flops = 0;        // floating-point operations executed (static count)
  int64_t bytes = 0;        // global memory bytes read and written (static count)
  int64_t groups = 0, threads_per_group = 0;
  double time_us = -1;      // median measured time of the last runs (-1: not run; CUDA: Conv::benchmark)
  std::string source;       // the kernel's source text
  /// explain(..., shared_groups > 0): the accesses of work-group memory of the kernel's first
  /// work-groups, run in the IR interpreter, counted warp by warp as an NVIDIA GPU's 32 banks of
  /// 4 bytes serve them. Passes over the ideal are bank conflicts. -1: not counted.
  int64_t shared_wavefronts = -1, shared_ideal = -1;
  struct SharedAccess {
    std::string access;   // the statement: load/store/copy_async/load_matrix, array and index
    int64_t requests = 0, wavefronts = 0, ideal = 0;  // warp-wide accesses and their passes
  };
  /// The accesses with bank conflicts, the most passes over the ideal first.
  std::vector<SharedAccess> shared_conflicts;
};

struct Report {
  std::string plan;
  int m = 0, r = 0;
  Precision precision = Precision::fp32;  // of the GEMM that ran (the transforms are f32)
  std::string device;
  double weight_transform_us = 0;
  double time_us = -1;  // median of whole runs (CUDA: each sample runs back to back, Conv::benchmark)
  double compile_ms = 0;
  /// plan = "auto": every candidate the planner considered, the choice first, with the reason
  /// each other one was not taken. Empty when the plan was given.
  std::vector<PlanCandidate> candidates;
  /// The device budgets and rates the planner used ("255 regs/thread, 48 KiB shared, ...").
  std::string planned_for;
  /// Copies between host and device memory this Conv made since it was compiled (host-pointer
  /// calls copy in and out on GPUs; device-tensor calls never copy).
  int64_t host_copies = 0;
  std::vector<KernelReport> kernels;
  /// With explain(..., with_ir = true): the IR of every kernel after each step of lowering
  /// ("build", then each pass by name), as `wino explain --ir` prints it.
  struct IrSnapshot {
    std::string after, ir;
  };
  std::vector<IrSnapshot> ir;
};

/// A compiled convolution. Cheap to copy (shared state). Thread-safe: device-tensor runs from
/// several threads run at the same time, each on its own stream (the Conv keeps one workspace
/// per stream); host-pointer calls, benchmark and set_weights are serialized.
class Conv {
 public:
  struct Impl;
  explicit Conv(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  const ConvDesc& desc() const;
  /// Sets the weights (K x C/groups x R x S, of the description's dtype: float, or the uint16
  /// bits of f16/bf16); Winograd plans transform them here, once, in float32. `bias` (K values
  /// of the dtype) is required when the description's epilogue has a bias, else must be null.
  void set_weights(const void* weights, const void* bias = nullptr);
  /// As above from tensors on the Conv's device (shapes K x C/groups x R x S and K): copied and
  /// prepared there on `stream`, never through the host; returns when they are ready. Runs in
  /// flight on other streams are waited for before the old weights are replaced.
  void set_weights(const TensorRef& weights, const TensorRef* bias = nullptr, Stream stream = {});
  /// y = conv(x): x is N x C x H x W, y is N x K x out_h x out_w, both of the description's
  /// dtype, in host memory. `residual` (shaped and typed like y) is required when the epilogue
  /// has one, else must be null.
  void run(const void* x, void* y, const void* residual = nullptr);
  /// y = conv(x) on tensors on the Conv's device (x: N x C x H x W, y and residual: N x K x
  /// out_h x out_w): enqueues the kernels on `stream` and returns without waiting and without
  /// any host copy. Throws wino::Error for host memory given as device memory, a wrong shape or
  /// dtype, or a stream of another device. `workspace`: see Workspace.
  void run(const TensorRef& x, const TensorRef& y, Stream stream = {}, const TensorRef* residual = nullptr,
           Workspace workspace = {});
  /// Bytes a caller-supplied Workspace must hold (0 when the plan has no intermediates).
  int64_t workspace_bytes() const;
  /// Runs `warmup` untimed times, then `repeats` times timing whole runs, then `repeats` times
  /// timing each kernel; records the medians in the report (Report::time_us, KernelReport::time_us).
  /// On CUDA each timed sample is the mean of up to 20 runs (or launches of a kernel) back to back,
  /// about a millisecond of them, so that the launch latency before the first is not counted, as
  /// CUDA-graph replays leave it out.
  void benchmark(const void* x, void* y, int repeats, int warmup = 0,
                 const void* residual = nullptr);
  Report report() const;

 private:
  std::shared_ptr<Impl> impl_;
};

/// Plans, generates and compiles the kernels of a convolution for a device.
/// Throws wino::Error for invalid descriptions, unsupported plans and backend failures.
Conv compile(const Device& device, const ConvDesc& desc, const Options& options = {});

/// The kernels compile() would make, without a device: planned, verified and rendered in the
/// dialect of `target` ("cpu" or "c", "opencl", "metal", or a CUDA architecture "sm_XX" such as
/// "sm_90", planned for an H200; "sm_90:h100" plans for an H100). For "sm_XX" the CUDA source is compiled with NVRTC (no GPU needed) and regs and
/// spill_bytes come from ptxas; for the other targets they stay -1. time_us stays -1 and
/// Report::device is empty (nothing ran). Throws wino::Error for an unknown target, an
/// unsupported plan, or (for "sm_XX") a missing NVRTC. `with_ir` fills Report::ir.
/// `shared_groups` > 0 runs that many work-groups of each kernel in the IR interpreter (on
/// zero-filled buffers) to count its bank conflicts (KernelReport::shared_wavefronts).
Report explain(const ConvDesc& desc, const Options& options, const std::string& target,
               bool with_ir = false, int shared_groups = 0);

}  // namespace wino

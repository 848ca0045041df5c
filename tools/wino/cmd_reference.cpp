// `wino reference`: the float64 direct convolution of .npy files, the oracle every Winograd
// result is compared with.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "common/error.h"
#include "common/tensor.h"
#include "conv_options.h"
#include "io/npy.h"
#include "reference/reference.h"

namespace wino::cli {
namespace {

constexpr int64_t kPrintAll = 1024;  // print every value up to this many, else only the first few
constexpr int64_t kPrintHead = 16;

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// All values of a small tensor, one (n, k) plane at a time; only the first few of a big one.
void print_tensor(std::ostream& out, const std::string& name, const Tensor& y) {
  out << name << ": shape " << shape_string(y.shape()) << ", " << dtype_name(y.dtype()) << "\n";
  const int64_t total = y.numel();
  if (total > kPrintAll) {
    out << "first " << kPrintHead << " of " << total << " values (flat C order):";
    for (int64_t i = 0; i < kPrintHead; ++i) out << " " << format_value(y.get(i));
    out << "\n... (too many to print; read the .npy file for all values)\n";
    return;
  }
  std::vector<std::string> text;
  size_t width = 0;
  for (int64_t i = 0; i < total; ++i) {
    text.push_back(format_value(y.get(i)));
    width = std::max(width, text.back().size());
  }
  const int64_t K = y.dim(1), OH = y.dim(2), OW = y.dim(3);
  for (int64_t plane = 0; plane < y.dim(0) * K; ++plane) {
    out << "[n=" << plane / K << ", k=" << plane % K << "]\n";
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        const std::string& s = text[(plane * OH + oh) * OW + ow];
        out << std::string(width - s.size() + 2, ' ') << s;
      }
      out << "\n";
    }
  }
}

}  // namespace

int cmd_reference(const Argv& argv) {
  Args args("reference",
            "Compute the float64 direct convolution (cross-correlation, as in PyTorch) of an NCHW\n"
            "input and KCRS weights read from .npy files, with stride and dilation: the oracle that\n"
            "Winograd results are checked against. Accumulates in float64.");
  args.option("input", "X.npy", "input [N, C, H, W], float32 or float64", true);
  args.option("weights", "W.npy", "weights [K, C/groups, R, S], float32 or float64", true);
  args.option("pad", "P|T,B,L,R", "zero padding: one value for all sides, or top,bottom,left,right",
              true);
  args.option("output", "Y.npy",
              "output [N, K, OH, OW] to write (replaced if it exists; never the input or weights)",
              true);
  args.option("groups", "G", "number of groups; C and K must be divisible by G (default 1)");
  args.option("stride", "S", "stride along both axes (default 1)");
  args.option("dilation", "D", "dilation along both axes (default 1)");
  args.option("dtype", "float32|float64", "element type of the output (default float64)");
  args.flag("print", "also print the output values to stdout (the first few for big outputs)");
  args.epilog(
      "OH = (H + T + B - D (R - 1) - 1) / stride + 1, OW likewise with W, L, R and S\n"
      "(D: dilation; with stride 1 and dilation 1, OH = H + T + B - R + 1).\n\n"
      "example:\n"
      "  wino random --shape 1,8,32,32 --seed 1 --output x.npy\n"
      "  wino random --shape 16,8,3,3 --seed 2 --output w.npy\n"
      "  wino reference --input x.npy --weights w.npy --pad 1 --output y.npy");
  if (!args.parse(argv)) return 0;

  const std::string input = args.get("input"), weights = args.get("weights"),
                    output = args.get("output");
  const Padding pad = parse_pad(args.get("pad"));
  const int64_t groups = args.get_int_opt("groups", 1, int64_t{1} << 40).value_or(1);
  const auto [stride, dilation] = read_stride_dilation(args);
  const std::string dtype = args.get_or("dtype", "float64");
  if (dtype != "float32" && dtype != "float64")
    throw UsageError("--dtype must be float32 or float64, got '" + dtype + "'");
  for (const auto& [flag, path] : {std::pair{"--input", input}, {"--weights", weights}})
    if (same_file(output, path))
      throw UsageError("--output '" + output + "' is the same file as " + flag + " '" + path +
                       "'; choose another output path (inputs are never overwritten)");
  // Fail before the computation, not after it, when the output cannot be written.
  check_npy_output_path(output);

  // Headers first: shapes that do not fit are rejected before any data is read.
  NpyFile x_file(input), w_file(weights);
  const Shape& xs = x_file.layout().shape;
  const Shape& ws = w_file.layout().shape;
  // The reference checks this too; here the message can name the file.
  if (xs.size() != 4)
    throw Error(input + ": --input must be a 4-D NCHW tensor, got shape " + shape_string(xs));
  if (ws.size() != 4)
    throw Error(weights + ": --weights must be a 4-D KCRS tensor, got shape " + shape_string(ws));
  check_reference_shapes(xs, ws, pad, groups, stride, dilation);
  const Tensor x = x_file.read();
  const Tensor w = w_file.read();
  const auto start = std::chrono::steady_clock::now();
  Tensor y = reference_conv2d(x, w, pad, groups, stride, dilation);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (dtype == "float32") y = y.to(DType::f32);
  write_npy(output, y);

  char time_text[32];
  std::snprintf(time_text, sizeof time_text, "%.3g s", seconds);
  std::cerr << "reference: input " << shape_string(x.shape()) << " " << dtype_name(x.dtype())
            << ", weights " << shape_string(w.shape()) << " " << dtype_name(w.dtype()) << ", pad "
            << pad.top << "," << pad.bottom << "," << pad.left << "," << pad.right << ", groups "
            << groups << " -> " << shape_string(y.shape()) << " " << dtype_name(y.dtype())
            << " in " << time_text << "; wrote " << output << "\n";
  if (args.has("print")) print_tensor(std::cout, output, y);
  return 0;
}

}  // namespace wino::cli

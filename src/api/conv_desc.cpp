// ConvDesc and Device: validation and parsing of what the user asks for.
#include <cstdlib>
#include <initializer_list>
#include <limits>

#include "common/error.h"
#include "wino/wino.h"

namespace wino {

double ConvDesc::direct_flops() const {
  return 2.0 * static_cast<double>(n) * k * (c / groups) * out_h() * out_w() * r * s;
}

std::string ConvDesc::str() const {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
         std::to_string(w) + " k" + std::to_string(k) + " " + std::to_string(r) + "x" +
         std::to_string(s) + " pad " + std::to_string(pad.top) + "," + std::to_string(pad.bottom) +
         "," + std::to_string(pad.left) + "," + std::to_string(pad.right) +
         (groups != 1 ? " groups " + std::to_string(groups) : "") +
         (stride != 1 ? " stride " + std::to_string(stride) : "") +
         (dilation != 1 ? " dilation " + std::to_string(dilation) : "") +
         (epilogue.bias ? " + bias" : "") + (epilogue.residual ? " + residual" : "") +
         (epilogue.activation != Activation::none ? std::string(" ") + activation_name(epilogue.activation) : "") +
         (dtype == DType::f16 ? " f16" : dtype == DType::bf16 ? " bf16" : "") + (layout == Layout::nhwc ? " nhwc" : "");
}

namespace {

// The value of `all` whose name is `text`; the error lists every name ("a, b or c").
template <class E, size_t N>
E parse_named(const std::string& text, const E (&all)[N], const char* (*name)(E), const char* what) {
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    if (text == name(all[i])) return all[i];
    names += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(name(all[i]));
  }
  throw Error(std::string("unknown ") + what + " '" + text + "' (expected " + names + ")");
}

}  // namespace

const char* layout_name(Layout l) { return l == Layout::nhwc ? "nhwc" : "nchw"; }

Layout parse_layout(const std::string& text) {
  static const Layout all[] = {Layout::nchw, Layout::nhwc};
  return parse_named(text, all, layout_name, "layout");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::relu6: return "relu6";
    case Activation::silu: return "silu";
  }
  return "?";
}

Activation parse_activation(const std::string& text) {
  static const Activation all[] = {Activation::none, Activation::relu, Activation::relu6, Activation::silu};
  return parse_named(text, all, activation_name, "activation");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32x3: return "3xtf32";
    case Precision::tf32: return "tf32";
    case Precision::fp16: return "fp16";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& text) {
  static const Precision all[] = {Precision::fp32, Precision::tf32x3, Precision::tf32, Precision::fp16,
                                  Precision::bf16};
  return parse_named(text, all, precision_name, "precision");
}

namespace {

// Beyond any runnable problem (kernels index with 32 bits), and low enough that the plans'
// size arithmetic (up to alpha^2 <= 256 times these counts) cannot overflow int64.
constexpr int64_t kMaxElements = int64_t{1} << 52;

void check_elements(const char* what, std::initializer_list<int64_t> factors) {
  int64_t n = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(n, f, &n) || n > kMaxElements)
      throw Error(std::string("the convolution is too large: ") + what +
                  " would have more than 2^52 elements; use a smaller batch, image or padding");
}

}  // namespace

void validate(const ConvDesc& d) {
  if (d.dtype == DType::f64)
    throw Error("dtype f64 is not a convolution type: use f32, f16 or bf16 (the float64 reference "
                "is `wino reference`)");
  struct Dim {
    const char* name;
    int64_t value;
  };
  const Dim dims[] = {{"N (batch)", d.n},           {"C (input channels)", d.c},
                      {"H (height)", d.h},          {"W (width)", d.w},
                      {"K (output channels)", d.k}, {"R (filter height)", d.r},
                      {"S (filter width)", d.s},    {"groups", d.groups},
                      {"stride", d.stride},         {"dilation", d.dilation}};
  const Dim pads[] = {{"padding (top)", d.pad.top},
                      {"padding (bottom)", d.pad.bottom},
                      {"padding (left)", d.pad.left},
                      {"padding (right)", d.pad.right}};
  for (Dim dim : dims)
    if (dim.value < 1)
      throw Error(std::string(dim.name) + " must be >= 1, got " + std::to_string(dim.value));
  for (Dim pad : pads)
    if (pad.value < 0) throw Error(std::string(pad.name) + " must be >= 0, got " + std::to_string(pad.value));
  auto check_size = [](Dim dim) {
    if (dim.value >= int64_t{1} << 31)
      throw Error(std::string(dim.name) + " is too large: " + std::to_string(dim.value) +
                  " (the limit is 2^31 - 1)");
  };
  for (Dim dim : dims) check_size(dim);
  for (Dim pad : pads) check_size(pad);
  if (d.c % d.groups || d.k % d.groups)
    throw Error("groups (" + std::to_string(d.groups) + ") must divide C (" + std::to_string(d.c) +
                ") and K (" + std::to_string(d.k) + ")");
  check_elements("the input N x C x H x W", {d.n, d.c, d.h, d.w});
  check_elements("the weights K x C/groups x R x S", {d.k, d.c / d.groups, d.r, d.s});
  check_elements("the weights K x C", {d.k, d.c});
  if (d.out_h() < 1 || d.out_w() < 1)
    throw Error("the output would be empty: input " + std::to_string(d.h) + "x" +
                std::to_string(d.w) + " with padding is smaller than the " + std::to_string(d.r) +
                "x" + std::to_string(d.s) + " filter" +
                (d.dilation != 1 ? " dilated by " + std::to_string(d.dilation) : std::string()) +
                ": use a larger input or more padding");
  check_elements("the output N x K x OH x OW", {d.n, d.k, d.out_h(), d.out_w()});
  check_elements("the output positions of all input channels, C x N x OH x OW",
                 {d.c, d.n, d.out_h(), d.out_w()});
}

Device Device::parse(const std::string& text) {
  std::string kind = text, index;
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    kind = text.substr(0, colon);
    index = text.substr(colon + 1);
  }
  Device d;
  if (text == "auto") return automatic();
  if (text == "interp") return interpreter();
  if (kind == "cpu") d.kind = Kind::cpu;
  else if (kind == "cuda") d.kind = Kind::cuda;
  else if (kind == "opencl") d.kind = Kind::opencl;
  else
    throw Error("unknown device '" + text + "' (expected auto, cpu, cuda, cuda:N, opencl, opencl:N or interp)");
  // "opencl:" is not "opencl": an index was started and left out.
  if (colon != std::string::npos && index.empty())
    throw Error("missing device index after '" + text + "' (use " +
                (kind == "cpu" ? kind : kind + " or " + kind + ":N") + ")");
  if (!index.empty()) {
    char* end = nullptr;
    long v = std::strtol(index.c_str(), &end, 10);
    if (*end || v < 0 || v > 1024) throw Error("bad device index in '" + text + "'");
    d.index = static_cast<int>(v);
  }
  return d;
}

}  // namespace wino

// wino._wino: the C++ library for Python (nanobind). Tensors come in through DLPack (NumPy arrays,
// torch tensors on the CPU or a CUDA device) and go to Conv as TensorRefs, without copies; the
// Python package (python/wino) checks arguments, allocates outputs and picks the stream.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <sstream>

#include "common/error.h"
#include "report_format.h"
#include "wino/wino.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using Array = nb::ndarray<nb::c_contig>;

wino::DType dtype_of(const Array& a, const char* what) {
  const nb::dlpack::dtype t = a.dtype();
  if (t.lanes == 1 && t.bits == 32 && t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float)) return wino::DType::f32;
  if (t.lanes == 1 && t.bits == 16 && t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float)) return wino::DType::f16;
  if (t.lanes == 1 && t.bits == 16 && t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat)) return wino::DType::bf16;
  throw wino::Error(std::string(what) + ": Wino takes float32, float16 or bfloat16 tensors");
}

wino::TensorRef tensor_ref(const Array& a, const char* what) {
  wino::TensorRef t;
  t.data = a.data();
  for (size_t i = 0; i < a.ndim(); ++i) t.shape.push_back(static_cast<int64_t>(a.shape(i)));
  t.dtype = dtype_of(a, what);
  return t;
}

wino::ConvDesc desc_from(const nb::dict& d) {
  wino::ConvDesc desc;
  auto get = [&](const char* key) { return nb::cast<int64_t>(d[key]); };
  desc.n = get("n"), desc.c = get("c"), desc.h = get("h"), desc.w = get("w");
  desc.k = get("k"), desc.r = get("r"), desc.s = get("s");
  desc.pad = {get("pad_top"), get("pad_bottom"), get("pad_left"), get("pad_right")};
  desc.groups = get("groups"), desc.stride = get("stride"), desc.dilation = get("dilation");
  desc.epilogue.bias = nb::cast<bool>(d["bias"]);
  desc.epilogue.residual = nb::cast<bool>(d["residual"]);
  desc.epilogue.activation = wino::parse_activation(nb::cast<std::string>(d["activation"]));
  const std::string dtype = nb::cast<std::string>(d["dtype"]);
  desc.dtype = dtype == "float16" ? wino::DType::f16 : dtype == "bfloat16" ? wino::DType::bf16 : wino::DType::f32;
  desc.layout = wino::parse_layout(nb::cast<std::string>(d["layout"]));
  return desc;
}

wino::Options options_from(const nb::dict& o) {
  wino::Options opt;
  opt.plan = nb::cast<std::string>(o["plan"]);
  opt.m = nb::cast<int>(o["m"]);
  opt.tune = nb::cast<bool>(o["tune"]);
  opt.max_rel_err = nb::cast<double>(o["max_rel_err"]);
  opt.threads = nb::cast<int>(o["threads"]);
  opt.precision = wino::parse_precision(nb::cast<std::string>(o["precision"]));
  return opt;
}

nb::dict kernel_dict(const wino::KernelReport& k) {
  nb::dict d;
  d["name"] = k.name, d["stage"] = k.stage, d["lines"] = k.lines, d["ssa_values"] = k.ssa_values;
  d["pred_regs"] = k.pred_regs, d["regs"] = k.regs, d["spill_bytes"] = k.spill_bytes, d["flops"] = k.flops;
  d["bytes"] = k.bytes, d["groups"] = k.groups, d["threads_per_group"] = k.threads_per_group;
  d["time_us"] = k.time_us;
  return d;
}

nb::dict candidate_dict(const wino::PlanCandidate& c) {
  nb::dict d;
  d["plan"] = c.plan, d["m"] = c.m, d["tiles"] = c.tiles, d["pred_regs"] = c.pred_regs;
  d["predicted_us"] = c.predicted_us, d["predicted_mb"] = c.predicted_mb;
  d["predicted_mflop"] = c.predicted_mflop;
  d["measured_us"] = c.measured_us, d["bound"] = c.bound;
  d["rejected"] = c.rejected, d["chosen"] = c.chosen, d["precision"] = wino::precision_name(c.precision);
  return d;
}

// The report as Python data, with the CLI's tables as "table".
nb::dict report_dict(const wino::Report& r) {
  nb::dict d;
  d["plan"] = r.plan, d["m"] = r.m, d["r"] = r.r, d["device"] = r.device;
  d["precision"] = wino::precision_name(r.precision);
  d["time_us"] = r.time_us, d["compile_ms"] = r.compile_ms, d["weight_transform_us"] = r.weight_transform_us;
  d["host_copies"] = r.host_copies, d["planned_for"] = r.planned_for;
  nb::list kernels, candidates;
  for (const wino::KernelReport& k : r.kernels) kernels.append(kernel_dict(k));
  for (const wino::PlanCandidate& c : r.candidates) candidates.append(candidate_dict(c));
  d["kernels"] = kernels, d["candidates"] = candidates;
  std::ostringstream table;
  wino::cli::print_candidate_table(table, r);
  wino::cli::print_kernel_table(table, r);
  d["table"] = table.str();
  return d;
}

// A compiled convolution; set_weights and run take DLPack tensors on its device.
class PyConv {
 public:
  explicit PyConv(wino::Conv conv) : conv_(std::move(conv)) {}

  void set_weights(const Array& w, std::optional<Array> bias, uintptr_t stream) {
    const wino::TensorRef wt = tensor_ref(w, "weight");
    std::optional<wino::TensorRef> bt;
    if (bias) bt = tensor_ref(*bias, "bias");
    nb::gil_scoped_release release;
    conv_.set_weights(wt, bt ? &*bt : nullptr, {reinterpret_cast<void*>(stream)});
  }

  void run(const Array& x, const Array& y, std::optional<Array> residual, uintptr_t stream) {
    const wino::TensorRef xt = tensor_ref(x, "input"), yt = tensor_ref(y, "output");
    std::optional<wino::TensorRef> rt;
    if (residual) rt = tensor_ref(*residual, "residual");
    nb::gil_scoped_release release;
    conv_.run(xt, yt, {reinterpret_cast<void*>(stream)}, rt ? &*rt : nullptr);
  }

  nb::dict report() const { return report_dict(conv_.report()); }
  int64_t workspace_bytes() const { return conv_.workspace_bytes(); }

 private:
  wino::Conv conv_;
};

}  // namespace

NB_MODULE(_wino, m) {
  m.doc() = "Wino's C++ library (use the wino package, not this module)";
  nb::exception<wino::Error>(m, "WinoError", PyExc_ValueError);
  nb::class_<PyConv>(m, "Conv")
      .def("set_weights", &PyConv::set_weights, "w"_a, "bias"_a.none(), "stream"_a = 0)
      .def("run", &PyConv::run, "x"_a, "y"_a, "residual"_a.none(), "stream"_a = 0)
      .def("report", &PyConv::report)
      .def_prop_ro("workspace_bytes", &PyConv::workspace_bytes);
  m.def(
      "compile",
      [](const nb::dict& desc, const std::string& device, const nb::dict& options) {
        const wino::ConvDesc d = desc_from(desc);
        const wino::Options o = options_from(options);
        const wino::Device dev = wino::Device::parse(device);
        nb::gil_scoped_release release;
        return PyConv(wino::compile(dev, d, o));
      },
      "desc"_a, "device"_a, "options"_a);
  m.def(
      "explain",
      [](const nb::dict& desc, const nb::dict& options, const std::string& target) {
        const wino::ConvDesc d = desc_from(desc);
        const wino::Options o = options_from(options);
        wino::Report r;
        {
          nb::gil_scoped_release release;
          r = wino::explain(d, o, target);
        }
        return report_dict(r);
      },
      "desc"_a, "options"_a, "target"_a);
  m.attr("version") = WINO_VERSION;
}

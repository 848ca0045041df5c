#include "onednn_conv.h"

#include <chrono>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include "common/error.h"

namespace wino::bench {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct OneDnnConv::State {
  engine eng{engine::kind::cpu, 0};
  stream strm{eng};
  convolution_forward::primitive_desc pd;
  memory src, wei, dst, dst_user;
  convolution_forward conv;
};

namespace {

algorithm parse(const std::string& a) {
  if (a == "direct") return algorithm::convolution_direct;
  if (a == "winograd") return algorithm::convolution_winograd;
  if (a == "auto") return algorithm::convolution_auto;
  throw Error("unknown oneDNN algorithm " + a);
}

// `user` (NCHW or OIHW host data) in the primitive's layout `want`.
memory in_layout(engine& eng, stream& s, const memory::desc& want, const memory::desc& user_md, const float* data) {
  memory user(user_md, eng, const_cast<float*>(data));
  if (want == user_md) {
    memory copy(want, eng);
    std::memcpy(copy.get_data_handle(), data, user_md.get_size());
    return copy;
  }
  memory out(want, eng);
  reorder(user, out).execute(s, user, out);
  s.wait();
  return out;
}

}  // namespace

OneDnnConv::OneDnnConv(const ConvDesc& d, const std::string& algo, const float* x, const float* w)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  const memory::dims src_dims{d.n, d.c, d.h, d.w}, wei_dims{d.k, d.c, d.r, d.s}, dst_dims{d.n, d.k, d.out_h(), d.out_w()};
  const memory::desc src_any(src_dims, dt::f32, tag::any), wei_any(wei_dims, dt::f32, tag::any),
      dst_any(dst_dims, dt::f32, tag::any);
  try {
    convolution_forward::desc cd(prop_kind::forward_inference, parse(algo), src_any, wei_any, dst_any, {d.stride, d.stride},
                                 {d.dilation - 1, d.dilation - 1}, {d.pad.top, d.pad.left}, {d.pad.bottom, d.pad.right});
    s.pd = convolution_forward::primitive_desc(cd, s.eng);
  } catch (const dnnl::error& e) {
    throw Error("oneDNN " + algo + ": no implementation for " + d.str() + " (" + e.what() + ")");
  }
  s.src = in_layout(s.eng, s.strm, s.pd.src_desc(), memory::desc(src_dims, dt::f32, tag::nchw), x);
  s.wei = in_layout(s.eng, s.strm, s.pd.weights_desc(), memory::desc(wei_dims, dt::f32, tag::oihw), w);
  s.dst = memory(s.pd.dst_desc(), s.eng);
  s.dst_user = memory(memory::desc(dst_dims, dt::f32, tag::nchw), s.eng);
  s.conv = convolution_forward(s.pd);
}

OneDnnConv::~OneDnnConv() = default;

std::string OneDnnConv::implementation() const { return s_->pd.impl_info_str(); }

std::vector<double> OneDnnConv::time_us(int warmup, int repeats) {
  State& s = *s_;
  const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, s.src}, {DNNL_ARG_WEIGHTS, s.wei}, {DNNL_ARG_DST, s.dst}};
  for (int i = 0; i < warmup; ++i) s.conv.execute(s.strm, args);
  s.strm.wait();
  std::vector<double> us;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    s.conv.execute(s.strm, args);
    s.strm.wait();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return us;
}

void OneDnnConv::run(float* y) {
  State& s = *s_;
  s.conv.execute(s.strm, {{DNNL_ARG_SRC, s.src}, {DNNL_ARG_WEIGHTS, s.wei}, {DNNL_ARG_DST, s.dst}});
  reorder(s.dst, s.dst_user).execute(s.strm, s.dst, s.dst_user);
  s.strm.wait();
  std::memcpy(y, s.dst_user.get_data_handle(), s.dst_user.get_desc().get_size());
}

int OneDnnConv::threads() { return omp_get_max_threads(); }

std::string OneDnnConv::version() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " (" + (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime") + ")";
}

}  // namespace wino::bench

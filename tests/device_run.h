// Runs a one-input, one-output kernel of the IR on a device through its backend (render in the
// device's dialect, compile, launch): `in` uploaded as the first buffer, the second (out_floats,
// filled with -1 first) downloaded after the launch.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "ir/kernel.h"
#include "render/render.h"
#include "runtime/backend.h"

namespace wino {

inline std::vector<float> run_on_device(const Device& device, const ir::Kernel& k, const std::vector<float>& in,
                                        size_t out_floats) {
  auto backend = runtime::make_backend(device, Options{});
  const render::Dialect dialect = backend->dialect();
  backend->compile({runtime::KernelSpec::of(k)}, runtime::compile_sources({render::render_kernel(k, dialect)}, dialect));
  std::vector<float> out(out_floats, -1);
  std::vector<std::unique_ptr<runtime::Allocation>> mem;
  std::vector<runtime::MemoryRef> args;
  for (const std::vector<float>* v : std::initializer_list<const std::vector<float>*>{&in, &out}) {
    const int64_t bytes = static_cast<int64_t>(v->size() * 4);
    mem.push_back(backend->alloc(bytes));
    backend->copy_from_host(mem.back()->ref(), v->data(), bytes, nullptr);
    args.push_back(mem.back()->ref());
  }
  backend->launch(0, args, nullptr);
  backend->copy_to_host(out.data(), args[1], static_cast<int64_t>(out.size() * 4), nullptr);
  backend->synchronize(nullptr);
  return out;
}

inline std::vector<float> run_on_cuda(const ir::Kernel& k, const std::vector<float>& in, size_t out_floats) {
  return run_on_device(Device::cuda(), k, in, out_floats);
}

}  // namespace wino

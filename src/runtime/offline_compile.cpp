#include "runtime/offline_compile.h"

#include "common/error.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino::runtime {

std::vector<BackendKernelStats> compile_offline(const std::string& target,
                                                const std::vector<KernelSpec>& kernels,
                                                const CompileSources& sources) {
  std::vector<BackendKernelStats> stats(kernels.size());
  if (target.rfind("sm_", 0) != 0 || kernels.empty()) return stats;
  std::string why;
  if (!cuda::nvrtc_available(&why))
    throw Error("target " + target + " needs NVRTC to report registers and spills, but it is missing: " + why +
                " (use --target cpu, opencl or metal)");
  std::vector<std::string> names, archs;
  for (const KernelSpec& k : kernels) {
    names.push_back(k.name);
    archs.push_back(cuda::kernel_arch(target, k.ir && render::needs_arch_specific(*k.ir)));
  }
  const std::vector<cuda::NvrtcOutput> outs = cuda::nvrtc_compile_parallel(sources.kernels, names, archs);
  for (size_t i = 0; i < kernels.size(); ++i) {
    auto it = outs[i].kernels.find(names[i]);
    if (it == outs[i].kernels.end())
      throw Error("internal: kernel " + names[i] + " is missing from the ptxas report for " + target + ":\n" +
                  outs[i].log);
    stats[i].regs = it->second.registers;
    stats[i].spill_bytes = static_cast<int>(it->second.spill_store_bytes + it->second.spill_load_bytes);
  }
  return stats;
}

}  // namespace wino::runtime

// A kernel's whole CUDA translation unit (prelude and kernel), as the CUDA backend compiles it.
#pragma once

#include <string>

#include "ir/kernel.h"
#include "render/render.h"

namespace wino {

inline std::string cuda_translation_unit(const ir::Kernel& k) {
  return render::translation_unit({render::render_kernel(k, render::Dialect::cuda)}, render::Dialect::cuda);
}

}  // namespace wino

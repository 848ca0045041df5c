// Statements only the CUDA dialect can spell (mma, copy_async): the other dialects must refuse a
// kernel holding one, with a message that contains `why`.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "ir/kernel.h"
#include "render/render.h"

namespace wino {

inline void expect_cuda_only(const ir::Kernel& k, const std::string& why) {
  for (render::Dialect d : {render::Dialect::c, render::Dialect::opencl, render::Dialect::metal}) {
    try {
      render::render_kernel(k, d);
      ADD_FAILURE() << "rendered " << k.name << " for " << render::dialect_name(d);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

}  // namespace wino

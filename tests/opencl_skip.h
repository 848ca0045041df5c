// Skips the current test where no OpenCL platform is found (CI installs PoCL, so it runs there).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/opencl/opencl_device.h"

#define SKIP_WITHOUT_OPENCL()                                                    \
  do {                                                                           \
    std::string why_;                                                            \
    if (!opencl::opencl_available(&why_)) GTEST_SKIP() << "no OpenCL: " << why_; \
  } while (0)

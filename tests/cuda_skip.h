// Skips the current test where there is no CUDA device or no NVRTC (CI has neither GPU; the GPU
// machine runs these tests through scripts/device_check.sh).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/nvrtc.h"

#define SKIP_WITHOUT_CUDA()                                                            \
  do {                                                                                 \
    std::string why_;                                                                  \
    if (!wino::cuda::cuda_available(&why_)) GTEST_SKIP() << "no CUDA device: " << why_; \
    if (!wino::cuda::nvrtc_available(&why_)) GTEST_SKIP() << "no NVRTC: " << why_;     \
  } while (0)

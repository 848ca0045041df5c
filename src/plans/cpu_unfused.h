// Plan `unfused` shaped for a CPU (GemmTiles::lanes > 0): every stage works on vectors of
// `lanes` channels, so the transforms are pure vector adds and FMAs and the GEMM is a
// register-blocked micro-kernel. Tensors (channels last and padded to whole vectors and blocks):
//   xp[n][hp][wp][cp]  the input with its zero border, unless x is NHWC with whole vectors already
//   V[xi][pp][cp]      the transformed input, a row of channels per tile; planes `vplane` apart
//   U[xi][kp / bk][c][bk]  the transformed weights in panels of a GEMM block's channels, zeros past K
//   M[xi][pp][kp]      the products, a row of output channels per tile; planes `mplane` apart
#pragma once

#include "plans/gemm_core.h"

namespace wino::plans {

/// The padded sizes of the CPU plan's tensors.
struct CpuShapes {
  int lanes = 0;
  int64_t cp = 0, kp = 0, pp = 0;  // channels, output channels and tiles rounded up to vectors / blocks
  int64_t hp = 0, wp = 0;          // xp's rows and columns: every tile's alpha x alpha patch inside
  // A transform touches all alpha^2 planes at once: planes a multiple of 4 KiB apart would share
  // one set of the L1 cache and evict each other, so each is padded by a cache line.
  int64_t vplane = 0, mplane = 0;
  bool padded_input = false;       // false: the input kernel reads x (NHWC, whole vectors) with masks
};
CpuShapes cpu_shapes(const ConvDesc& d, const Tiling& t, const GemmTiles& g);

struct CpuBuffers {
  BufferHandle xp, u, v, mm;
};

/// xp from x: the image inside a zero border, channels last and padded to whole vectors.
std::unique_ptr<ir::Kernel> cpu_pad_kernel(const ProgramBuilder& prog, const CpuShapes& s, BufferHandle xp);
/// V from xp (or x): one tile's alpha x alpha patch of one vector of channels per work-group.
std::unique_ptr<ir::Kernel> cpu_input_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                             const CpuBuffers& buf);
/// M = U V per Winograd point (cpu_gemm.cpp).
std::unique_ptr<ir::Kernel> cpu_gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                            const CpuShapes& s, const CpuBuffers& buf);
/// y (with the epilogue) from M: one tile of one vector of output channels per work-group.
std::unique_ptr<ir::Kernel> cpu_output_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                              const CpuBuffers& buf);

/// The whole plan: pad (when needed), input transform, GEMM, output transform.
Program build_cpu_unfused(const ConvDesc& d, const Tiling& t, const GemmTiles& g);

}  // namespace wino::plans

// The plans shaped for a CPU (GemmTiles::lanes > 0): unfused (cpu_unfused.cpp), fused
// (cpu_fused.cpp) and direct (cpu_direct.cpp). Every stage works on vectors of `lanes` channels,
// so the transforms are pure vector adds and FMAs and the GEMM is a register-blocked
// micro-kernel (cpu_gemm.cpp). Tensors (channels last and padded to whole vectors and blocks):
//   xp[n][hp][wp][cp]  the input with its zero border, unless x is f32 NHWC with whole vectors already
//   V[xi][pp][cp]      the transformed input, a row of channels per tile; planes `vplane` apart
//   U[xi][kp / bk][c][bk]  the transformed weights in panels of a GEMM block's channels, zeros past K
//   W[kp / lanes][c][r * r][lanes]  instead of U with rows of points: the weights, U made from them
//   M[xi][pp][kp]      the products, a row of output channels per tile; planes `mplane` apart
#pragma once

#include "plans/gemm_core.h"
#include "plans/output_sink.h"

namespace wino::plans {

/// The padded sizes of the CPU plan's tensors.
struct CpuShapes {
  const ConvDesc* desc = nullptr;
  int lanes = 0;
  int64_t cp = 0, kp = 0, pp = 0;  // channels, output channels and tiles rounded up to vectors / blocks
  int64_t hp = 0, wp = 0;          // xp's rows and columns: every tile's alpha x alpha patch inside
  // A transform touches all alpha^2 planes at once: planes a multiple of 4 KiB apart would share
  // one set of the L1 cache and evict each other, so each is padded by a cache line.
  int64_t vplane = 0, mplane = 0;
  static int64_t plane(int64_t elements) { return elements + 16; }
  bool padded_input = false;       // false: the input kernel reads x (NHWC, whole vectors) with masks
};
CpuShapes cpu_shapes(const ConvDesc& d, const Tiling& t, const GemmTiles& g);
/// Throws when the offsets masked lanes compute (past K, past the tiles) leave 32-bit range.
void check_padded_offsets(const std::string& plan, const ConvDesc& d, const CpuShapes& s);

struct CpuBuffers {
  BufferHandle xp, u, v, mm;
};

/// The alpha^2 vectors of V for tile p, channels [cb * lanes, (cb + 1) * lanes): the patch loaded
/// from xp (or x), transformed; zeros where `valid` is false.
std::vector<ir::Expr> cpu_input_tile(ir::KernelBuilder& b, const Tiling& t, const CpuShapes& s, const ir::Memory* src,
                                     ir::Expr p, ir::Expr cb, ir::Expr valid);
/// An output pixel and when to store it (empty: always).
struct CpuPixel {
  ir::Expr oh, ow, mask;
};
/// Stores vectors of output channels [k0, k0 + lanes) of image n, values[i] at pixels[i], lane by
/// lane with the epilogue (NHWC with whole vectors of channels and no activation: one vector per
/// pixel). k0 runs over whole vectors up to `k_extent` >= K: channels past K are masked (skipped
/// when k_extent is one vector, so k0 = 0).
void cpu_store_channels(ir::KernelBuilder& b, const ConvDesc& d, const OutputSink& y, ir::Expr n, ir::Expr k0,
                        int64_t k_extent, const std::vector<CpuPixel>& pixels, const std::vector<ir::Expr>& values);
/// Transforms the alpha^2 vectors of M of tile p, channels [kb * lanes, ...) and stores them in y
/// (with the epilogue): NCHW rows as vectors where the tile lies inside the image and there is no
/// activation, else lane by lane (cpu_output.cpp); nothing where `valid` is false.
void cpu_output_tile(ir::KernelBuilder& b, const Tiling& t, const CpuShapes& s, const OutputSink& y, ir::Expr p,
                     ir::Expr kb, const std::vector<ir::Expr>& products, ir::Expr valid);
/// One bp x bk block of M for one point: rows of V from `v_row0` (`v_stride` apart), the panel of
/// U from `u_panel`, rows of M from `m_row0` (`m_stride` apart); `acc` holds bp x bk floats.
void cpu_gemm_block(ir::KernelBuilder& b, const GemmTiles& g, int64_t channels, const ir::Memory* u, ir::Expr u_panel,
                    const ir::Memory* v, ir::Expr v_row0, int64_t v_stride, const ir::Memory* mm, ir::Expr m_row0,
                    int64_t m_stride, const ir::Memory* acc);

/// xp from x: the image inside a zero border, channels last and padded to whole vectors.
std::unique_ptr<ir::Kernel> cpu_pad_kernel(const ProgramBuilder& prog, const CpuShapes& s, BufferHandle xp);
/// V from xp (or x): one tile's alpha x alpha patch of one vector of channels per work-group.
std::unique_ptr<ir::Kernel> cpu_input_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                             const CpuBuffers& buf);
/// M = U V per Winograd point (cpu_gemm.cpp).
std::unique_ptr<ir::Kernel> cpu_gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                            const CpuShapes& s, const CpuBuffers& buf);
/// With a row of points per GEMM work-group (GemmTiles::points == alpha; cpu_gemm_rows.cpp):
/// declares W[k / lanes][c][tap][k % lanes], the weights packed in vectors of output channels (K
/// padded to `k_pitch`), and the kernel that packs them.
BufferHandle packed_filter_weights(ProgramBuilder& prog, const Tiling& t, int64_t k_pitch, int lanes);
/// M = U V by rows of points, U's values made from W as the GEMM goes (cpu_gemm_rows.cpp).
std::unique_ptr<ir::Kernel> cpu_gemm_rows_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                                 const CpuShapes& s, BufferHandle w, const CpuBuffers& buf);
/// y (with the epilogue) from M: one tile of one vector of output channels per work-group.
std::unique_ptr<ir::Kernel> cpu_output_kernel(const ProgramBuilder& prog, const Tiling& t, const CpuShapes& s,
                                              const CpuBuffers& buf);

/// The whole plan: pad (when needed), input transform, GEMM, output transform. With a row of
/// points per GEMM work-group it runs with_integer_filter_rows(t)'s transforms.
Program build_cpu_unfused(const ConvDesc& d, const Tiling& t, const GemmTiles& g);
/// Plan direct for one group of channels (cpu_direct.cpp).
Program build_cpu_direct(const ConvDesc& d, const GemmTiles& g);
/// Plan fused: pad (when needed), then one kernel through all three stages per group of tiles
/// (cpu_fused.cpp).
Program build_cpu_fused(const ConvDesc& d, const Tiling& t, const GemmTiles& g);

}  // namespace wino::plans

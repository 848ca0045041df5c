// The tile sizes of the Winograd GEMM core (gemm_core.h), one struct for every plan that uses it.
// A work-group owns a bk x bp block of M for `points` Winograd points (1: one GEMM per point, the
// unfused plan; alpha^2: every point of its tiles, the fused plans); input channels are consumed
// in chunks of cc; each thread accumulates an rk x rp register tile for each of its `ppt` points.
// The planner chooses them (planner/tile_choice.h); the plans check and use them.
#pragma once

#include <cstdint>
#include <string>

namespace wino::plans {

struct GemmTiles {
  int points = 1;  // Winograd points per work-group: 1 or alpha^2
  int bk = 0, bp = 0, rk = 0, rp = 0, cc = 0;
  int ppt = 1;            // points per thread; divides `points`
  bool prefetch = false;  // the next chunk's global loads in flight while this one is multiplied
  int threads() const { return (points / ppt) * (bk / rk) * (bp / rp); }
  /// Part of the kernel name: "bk128_bp128_r8x8_c8", with "_p9" when a work-group has all points.
  std::string str() const;
  /// Floats of work-group memory the staged chunk takes (two copies when prefetching).
  int64_t stage_floats() const { return (prefetch ? 2 : 1) * int64_t{points} * cc * (bk + bp); }
};

/// Floats of static work-group memory a kernel may take (48 KiB).
constexpr int64_t kSharedFloats = 48 * 1024 / 4;

}  // namespace wino::plans

// How an NVIDIA GPU's work-group memory serves one warp's access, for the interpreter's counts and
// the plans' choice of layouts: 32 banks of 4 bytes; lanes that touch different 4-byte words of one
// bank take one pass (wavefront) each, lanes on the same word share one. Accesses wider than 4
// bytes a lane are served in phases of 128 bytes: 16 lanes at a time for 8 bytes, 8 lanes for 16
// (as ldmatrix's rows and cp.async's 16-byte copies are). The model the profilers' "shared
// wavefronts" follow, without their finer merges; a statement's passes over its ideal are its bank
// conflicts. A 16-byte load (LDS.128) goes by half-warps instead, as Nsight Compute counted the
// FMA fused ring's on an H100 (session 68: 4,800 load requests a work-group as the interpreter
// counts them, in 9,408 wavefronts, 2,304 of them conflicts: its U loads, two points' rows 128
// bytes apart in a half-warp, where quarter-warps saw none). What the interpreter counts by it
// (interp/shared_counts.cpp) is the IR's accesses: an aligned vector is one access (CUDA renders
// f32 vectors and 2 or 4 halves so, other vectors lane by lane), an accumulating store once (not
// its read), a load every thread makes of one element (uniform) not at all.
#pragma once

#include <cstdint>

namespace wino {

struct BankPasses {
  int64_t wavefronts = 0;  // passes through the banks
  int64_t ideal = 0;       // passes the distinct words need without any conflict: 32 words a pass
};

/// Bytes the banks serve in one pass: 32 banks of 4 bytes.
constexpr int kBankPassBytes = 128;

/// Lanes in a phase of a 16-byte load (LDS.128); other accesses wider than 4 bytes take 128 bytes' worth.
constexpr int kWideLoadPhaseLanes = 16;

/// The phase lanes (bank_passes' `phase_lanes`) of a warp's access of `bytes` a lane: half-warps
/// for a 16-byte load, 128 bytes' worth (0) for anything else.
constexpr int access_phase_lanes(bool load, int bytes) { return load && bytes == 16 ? kWideLoadPhaseLanes : 0; }

/// One warp's access: `start[l]` the first byte lane l touches (-1: the lane takes no part), each
/// lane `bytes` wide (1 to 64; wino::Error otherwise), in phases of `phase_lanes` lanes (0: 128
/// bytes' worth, all 32 for 4 bytes or less).
BankPasses bank_passes(const int64_t (&start)[32], int bytes, int phase_lanes = 0);

}  // namespace wino

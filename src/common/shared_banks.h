// How an NVIDIA GPU's work-group memory serves one warp's access, for the interpreter's counts and
// the plans' choice of layouts: 32 banks of 4 bytes; lanes that touch different 4-byte words of one
// bank take one pass (wavefront) each, lanes on the same word share one. Accesses wider than 4
// bytes a lane are served in phases of 128 bytes: 16 lanes at a time for 8 bytes, 8 lanes for 16
// (as ldmatrix's rows and cp.async's 16-byte copies are). The model the profilers' "shared
// wavefronts" follow, without their finer merges; a statement's passes over its ideal are its bank
// conflicts. What the interpreter counts by it (interp/shared_counts.cpp) is the IR's accesses: an
// aligned vector is one access (CUDA renders f32 vectors and 2 or 4 halves so, other vectors lane by
// lane), an accumulating store once (not its read), a load every thread makes of one element
// (uniform) not at all.
#pragma once

#include <cstdint>

namespace wino {

struct BankPasses {
  int64_t wavefronts = 0;  // passes through the banks
  int64_t ideal = 0;       // passes the distinct words need without any conflict: 32 words a pass
};

/// One warp's access: `start[l]` the first byte lane l touches (-1: the lane takes no part), each
/// lane `bytes` wide (1 to 64; wino::Error otherwise).
BankPasses bank_passes(const int64_t (&start)[32], int bytes);

}  // namespace wino

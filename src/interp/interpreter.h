// The IR interpreter: the living definition of what a kernel means. It runs any verified kernel
// directly, without a compiler, so the correctness sweep can cover every plan and F(m, r) in
// seconds. It is also strict where hardware is forgiving: an out-of-bounds access, a read of
// work-group or per-thread memory nothing wrote, a data race between threads of a work-group
// (two threads touching one element with no barrier between), a store to a read-only buffer and
// 32-bit index overflow all throw wino::Error naming the kernel, the memory and the index.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/kernel.h"

namespace wino::interp {

/// One statement's accesses of work-group memory (load, store, copy_async's destination,
/// load_matrix), counted warp by warp as an NVIDIA GPU's 32 banks of 4 bytes serve them
/// (common/shared_banks.h); passes over the ideal are bank conflicts.
struct SharedAccessCount {
  const ir::Stmt* stmt = nullptr;
  int64_t requests = 0;    // warp-wide executions (each warp with a thread taking part)
  int64_t wavefronts = 0;  // passes through the banks they took
  int64_t ideal = 0;       // the passes they would take with no bank conflict
};

struct InterpretOptions {
  int64_t max_groups = -1;  // run the first this many work-groups only (-1: all of them)
  /// Where to add the counts of each statement that accesses work-group memory (in the order the
  /// statements first ran; an entry already there for a statement is added to). Null: not counted.
  std::vector<SharedAccessCount>* shared_accesses = nullptr;
};

/// Runs every work-group of `kernel` in order, the threads of each thread region in lockstep (one
/// statement at a time over the active threads; the same results as one thread after the other
/// for any race-free kernel, and races throw). `buffers[i]` is the kernel's i-th parameter,
/// holding at least its declared size in its type (float, or the bits of f16/bf16). Throws for a
/// kernel that does not verify (a variable used out of its scope).
void interpret(const ir::Kernel& kernel, const std::vector<void*>& buffers,
               const InterpretOptions& options = {});

}  // namespace wino::interp

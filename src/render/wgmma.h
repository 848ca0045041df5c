// Internal to the CUDA rendering (cstyle.cpp): the text of ir::StmtKind::mma_async (sm_90a wgmma)
// and which of a kernel's thread regions need a proxy fence before the tensor cores read.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "ir/kernel.h"

namespace wino::render {

/// The work-group arrays a kernel's mma_asyncs read, and whether a cp.async copies into one.
struct AsyncOperands {
  std::unordered_set<const ir::Memory*> arrays;
  bool copied = false;
  static AsyncOperands of(const ir::Kernel& k);
  /// Whether a thread region stores into one of the arrays, or waits for copies where the kernel
  /// copies into one: what it wrote reaches the tensor cores (another proxy) only through a proxy
  /// fence at its end, before the barrier that orders it.
  bool written_by(const ir::Block& region) const;
};

/// The PTX code of a matrix's swizzle in its descriptor (ir::SharedMatrix::swizzle: 128 bytes 1,
/// 64 bytes 2, 32 bytes 3, none 0).
int wgmma_swizzle_mode(int swizzle_bytes);

/// The lines of one mma_async: an inline wgmma.mma_async with descriptors `adesc` and `bdesc`
/// (expressions), the accumulators `acc[slot]` as "+f" operands and `accumulate` (an int
/// expression: 0 writes A x B over them) as its scale-d predicate (tf32 takes no transpose flags).
std::vector<std::string> wgmma_lines(const ir::Stmt& s, const std::string& adesc, const std::string& bdesc,
                                     const std::string& acc, const std::string& accumulate);

}  // namespace wino::render

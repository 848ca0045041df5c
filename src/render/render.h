// The module's public entry: kernel IR -> source text in one of four C-style dialects.
#pragma once

#include <string>
#include <vector>

#include "ir/kernel.h"

namespace wino::render {

enum class Dialect { c, cuda, opencl, metal };
const char* dialect_name(Dialect d);

/// Source of one kernel (function only, no prelude).
std::string render_kernel(const ir::Kernel& kernel, Dialect dialect);

/// Whether the kernel takes an architecture-specific target's instructions (sm_90a: a warpgroup
/// matrix op, ir::StmtKind::mma_async, or a register split between warps with roles, setmaxnreg):
/// CUDA compiles it for that target, which no other architecture runs.
bool needs_arch_specific(const ir::Kernel& kernel);

/// Static work-group memory a CUDA kernel may declare; above it the arrays are dynamic.
constexpr int64_t kStaticSharedBytes = 48 * 1024;
/// Bytes of dynamic work-group memory the kernel's launch must provide in `dialect` (0: its
/// arrays are static).
int64_t dynamic_shared_bytes(const ir::Kernel& kernel, Dialect dialect);

/// A whole translation unit: the dialect's prelude followed by each kernel's source.
std::string translation_unit(const std::vector<std::string>& kernel_sources, Dialect dialect);

/// Number of lines of a text (a final line without '\n' counts).
int count_lines(const std::string& text);

}  // namespace wino::render

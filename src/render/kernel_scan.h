// Internal to the C-style rendering (cstyle.cpp): what a kernel's statements tell its renderer
// before it writes a line, found by walking them once.
#pragma once

#include <unordered_map>
#include <vector>

#include "ir/kernel.h"

namespace wino::render {

/// The f16/bf16 values an mma takes as stored (Stmt::operands_rounded), and every value of a
/// load_matrix: the variables that keep their bits, with the memory they were loaded from. The
/// loads that define an mma's operands keep the bits (one 16-bit register each; the compiler then
/// merges neighbouring loads and packs pairs with one instruction, where widening to float and
/// narrowing back cost two conversions per value and kept bf16 loads 2 bytes wide). Any other use
/// widens the bits.
std::unordered_map<const ir::Node*, const ir::Memory*> raw_half_values(const ir::Block& body);

/// The let variables that index work-group memory with constant offsets, and which memories (in
/// the order first seen): each gets a pointer at its let, and the accesses offset it.
std::unordered_map<const ir::Node*, std::vector<const ir::Memory*>> shared_bases(const ir::Block& body);

}  // namespace wino::render

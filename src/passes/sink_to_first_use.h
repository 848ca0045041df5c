// Pass: orders independent computations to lower register pressure. Every `let` and `load`
// moves down its block to just before the first statement that uses its value (never past a
// barrier or a store to the memory it reads), so values are born as late as possible and die
// sooner. Semantics are unchanged.
#pragma once

#include "ir/kernel.h"

namespace wino::passes {

/// Rewrites `kernel` in place; returns the number of statements moved.
int sink_to_first_use(ir::Kernel& kernel);

}  // namespace wino::passes

// Pass: orders independent computations to lower register pressure. Every `let` and `load`
// moves down its block to just before the first statement that uses its value (never past a
// barrier or a store to the memory it reads; a work-group load past no work-group store), so
// values are born as late as possible and die sooner. Semantics are unchanged, and a second run
// changes nothing.
#pragma once

#include "ir/kernel.h"

namespace wino::passes {

/// Rewrites `kernel` in place; returns the number of statements that changed position.
int sink_to_first_use(ir::Kernel& kernel);

}  // namespace wino::passes

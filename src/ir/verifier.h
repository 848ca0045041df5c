// Checks a kernel is well formed: types, bounds of constant indices, every value defined before
// use, memory accessed only where the execution model allows.
#pragma once

#include <string>
#include <vector>

#include "ir/kernel.h"

namespace wino::ir {

/// All problems found, empty when the kernel is valid.
std::vector<std::string> verify(const Kernel& kernel);

/// Throws wino::Error listing the problems, if any.
void verify_or_throw(const Kernel& kernel);

}  // namespace wino::ir

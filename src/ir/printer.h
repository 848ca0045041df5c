// Readable text of the IR: the form golden tests compare and `--dump-ir` shows.
#pragma once

#include <string>

#include "ir/kernel.h"

namespace wino::ir {

/// The whole kernel: header, memories, statements; shared values appear once as %N = ...
std::string print(const Kernel& kernel);

/// One expression, fully inlined (for messages and tests).
std::string print(Expr e);

}  // namespace wino::ir

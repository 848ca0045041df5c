// The bank conflicts of a program's kernels, counted by running their first work-groups in the IR
// interpreter (`wino explain --banks`): no GPU needed, and each access named by its statement.
#pragma once

#include <cstdint>
#include <vector>

#include "plans/program.h"
#include "wino/wino.h"

namespace wino::api {

/// Runs the first `groups` work-groups of each launch of `prog` (the weights' preparation first,
/// then one convolution) on zero-filled buffers, and fills the shared-memory fields of
/// `kernels[i]` for prog.kernels[i]. Addresses do not depend on the data, so zeros serve.
void count_bank_conflicts(const plans::Program& prog, int64_t groups, std::vector<KernelReport>& kernels);

}  // namespace wino::api

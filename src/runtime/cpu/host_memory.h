// How much host memory the CPU runtime may take, so that a convolution too large for the
// machine is a clear error before anything is allocated (rather than the kernel's OOM killer
// stopping the process while the buffers are being zero-filled).
#pragma once

#include <cstdint>

namespace wino::cpu {

/// MemAvailable from /proc/meminfo in bytes; -1 when it cannot be read.
int64_t available_host_bytes();

/// Throws wino::Error("out of host memory ...") when `held` bytes already allocated plus `more`
/// would exceed `available` (ignored when available < 0, i.e. unknown).
void check_host_allocation(int64_t held, int64_t more, int64_t available);

}  // namespace wino::cpu

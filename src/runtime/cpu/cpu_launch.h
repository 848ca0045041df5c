// Runs a compiled CPU kernel over its work-groups on a persistent pool of worker threads.
#pragma once

#include "runtime/cpu/cpu_compiler.h"

namespace wino::cpu {

/// Runs fn(buffers, begin, end) over the work-groups [0, num_groups), split into contiguous
/// chunks [num_groups*c/T, num_groups*(c+1)/T) for c < T, T = min(threads, num_groups), where
/// threads is num_threads, or std::thread::hardware_concurrency() when num_threads is 0. The
/// calling thread runs chunks too; the other T-1 come from a process-wide pool that is created
/// on first use and grown on demand, so repeated launches don't pay for thread creation. Each
/// group is computed by exactly one thread, so results are deterministic. Returns when every
/// group is done. Launches from several threads are serialized. Not for use in a child process
/// forked after a launch (its pool threads don't exist there).
/// Throws wino::Error when fn is null or num_threads is negative; num_groups <= 0 does nothing.
void cpu_launch(KernelFn fn, void* const* buffers, long num_groups, int num_threads = 0);

}  // namespace wino::cpu

// Running the C compiler: argv vectors and posix_spawn only, never a shell.
#pragma once

#include <string>
#include <vector>

namespace wino::cpu {

/// What a finished child process left behind.
struct ProcessResult {
  int exit_status = -1;  ///< exit code, or -1 when the process was killed by a signal
  int term_signal = 0;   ///< the signal that killed it, 0 when it exited normally
  std::string output;    ///< its stdout and stderr, interleaved as written (capped, see run_process)
};

/// Runs argv[0] (a path to an executable) with arguments argv[1..], stdin from /dev/null, and
/// waits for it. Output beyond `max_output` bytes is read and dropped so the child never blocks.
/// Throws wino::Error naming the program when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, size_t max_output = size_t{1} << 20);

/// Resolves a program name the way execvp would, without running it: a name containing '/' is
/// taken as a path, any other name is looked up in $PATH. Returns the path of a regular,
/// executable file, or "" when there is none.
std::string find_executable(const std::string& name);

}  // namespace wino::cpu

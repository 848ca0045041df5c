// Output files written the way a user expects of an output path: a regular file is replaced
// atomically (written to a temporary beside it and renamed when complete, keeping the old
// file's mode), a symlink's target is written (the link stays a link), and a character device
// or a FIFO with a reader is written in place. Other kinds of file are refused.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace wino {

/// Checks, without writing anything, that write_output_file(path, ...) can write `path`: for a
/// new or regular file, that the directory it lands in exists and is writable; for a device or
/// a FIFO, that it may be opened for writing. Throws wino::Error naming the path otherwise.
void check_output_path(const std::string& path);

/// Writes `parts`, one after the other, to `path` as described above. A regular file is either
/// the complete new content or left as it was: a failed write leaves no temporary behind, and
/// neither does SIGINT, SIGTERM or SIGHUP arriving meanwhile (the process then still dies of
/// the signal, or runs the handler it had). Throws wino::Error("<path>: <problem>").
void write_output_file(const std::string& path, std::initializer_list<std::string_view> parts);

}  // namespace wino

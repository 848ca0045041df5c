// PoCL's kernel cache, made safe to reuse. PoCL trusts whatever it finds in its cache directory:
// a truncated kernel library or a garbled program.bc made every later run die (SIGBUS, an
// assertion inside PoCL). So each process gives PoCL a fresh private directory, and Wino keeps
// the entries it has seen work in a store of its own: one file per program holding the entry's
// files, its key and a checksum, verified before its files are put where PoCL will look.
// A damaged stored entry is deleted with a warning and the program rebuilt.
#pragma once

#include <string>

namespace wino::opencl::pocl_cache {

/// Before PoCL is loaded: points POCL_CACHE_DIR at this process's private directory (removed at
/// exit) beside the store. A POCL_CACHE_DIR the user set is left alone: PoCL's cache is then
/// used as it is, and the calls below do nothing.
void set_up();

/// Before the program of `key` is built: when the store holds an intact entry for it, puts its
/// files into the private directory, so that PoCL finds them.
void restore(const std::string& key);

/// After the program of `key` was built: notes which PoCL entry it made (the one that appeared).
void note_built(const std::string& key);

/// After kernels of `key` ran: stores its entry (program and the kernel libraries PoCL made for
/// it at launch) when its files changed since they were last stored. Problems only warn.
void save(const std::string& key);

}  // namespace wino::opencl::pocl_cache

// The persistent tuning cache: the plan tune mode measured fastest for a convolution on a device,
// kept under the cache directory (.../wino/tuning, or $WINO_CACHE_DIR/tuning) so that later
// compiles of plan "auto" in any process take it without measuring. One file per key, written
// atomically (a temporary file renamed into place, so processes tuning at once never see half a
// file); a file that is corrupt or holds another key is ignored with a warning, never trusted.
#pragma once

#include <optional>
#include <string>

#include "wino/wino.h"

namespace wino::planner {

/// What decides a tuning result: the device (name, architecture, driver), Wino's version, the
/// convolution and the options that change the candidates.
std::string tuning_key(const std::string& device_identity, const ConvDesc& desc, const Options& options);

/// The stored pick for `key` (plan, m, tiles, measured_us), if a valid file holds it.
std::optional<PlanCandidate> load_tuned(const std::string& key);

/// Stores `pick` for `key`; a cache that cannot be written is skipped with a warning.
void store_tuned(const std::string& key, const PlanCandidate& pick);

/// The cache directory (created when missing), or "" with a warning when it cannot be used.
std::string tuning_cache_dir();

/// The file that holds `key`'s result (whether or not it exists), for messages and tests.
std::string tuned_path(const std::string& key);

}  // namespace wino::planner

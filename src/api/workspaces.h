// The intermediates (V, M) of a Conv's runs. Work on one stream runs in order, so the runs on a
// stream share one set, made at its first run and kept; host backends run each call on the
// calling thread, so there a set is leased to one call at a time from a pool.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/backend.h"

namespace wino::api {

class Workspaces {
 public:
  /// Sets of buffers of `bytes` each on `backend` (which outlives this object).
  Workspaces(runtime::Backend& backend, std::vector<int64_t> bytes);

  /// One set, the caller's for as long as the lease lives.
  class Lease {
   public:
    Lease(Workspaces* owner, std::unique_ptr<std::vector<std::unique_ptr<runtime::Allocation>>> set,
          const std::vector<std::unique_ptr<runtime::Allocation>>* shared);
    Lease(Lease&&) = default;
    ~Lease();
    /// The memory of every buffer, in order.
    std::vector<runtime::MemoryRef> refs() const;

   private:
    Workspaces* owner_;
    std::unique_ptr<std::vector<std::unique_ptr<runtime::Allocation>>> pooled_;  // host backends
    const std::vector<std::unique_ptr<runtime::Allocation>>* shared_;           // a stream's set
  };
  Lease acquire(runtime::StreamRef stream);

 private:
  using Set = std::vector<std::unique_ptr<runtime::Allocation>>;
  std::unique_ptr<Set> make_set();

  runtime::Backend& backend_;
  std::vector<int64_t> bytes_;
  std::mutex mutex_;
  std::map<runtime::StreamRef, std::unique_ptr<Set>> per_stream_;
  std::vector<std::unique_ptr<Set>> free_;
};

}  // namespace wino::api

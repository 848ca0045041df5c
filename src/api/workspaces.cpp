#include "api/workspaces.h"

namespace wino::api {

Workspaces::Workspaces(runtime::Backend& backend, std::vector<int64_t> bytes)
    : backend_(backend), bytes_(std::move(bytes)) {}

std::unique_ptr<Workspaces::Set> Workspaces::make_set() {
  auto set = std::make_unique<Set>();
  for (int64_t b : bytes_) set->push_back(backend_.alloc(b));
  return set;
}

Workspaces::Lease Workspaces::acquire(runtime::StreamRef stream) {
  std::unique_lock lock(mutex_);
  if (backend_.host_memory()) {
    if (free_.empty()) {
      lock.unlock();  // allocating may take a while; other calls go on
      return Lease(this, make_set(), nullptr);
    }
    std::unique_ptr<Set> set = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(set), nullptr);
  }
  std::unique_ptr<Set>& set = per_stream_[stream];
  if (!set) set = make_set();
  return Lease(nullptr, nullptr, set.get());  // kept until the Conv goes
}

Workspaces::Lease::Lease(Workspaces* owner, std::unique_ptr<Set> set, const Set* shared)
    : owner_(owner), pooled_(std::move(set)), shared_(shared) {}

Workspaces::Lease::~Lease() {
  if (owner_ == nullptr || !pooled_) return;
  std::lock_guard lock(owner_->mutex_);
  owner_->free_.push_back(std::move(pooled_));
}

std::vector<runtime::MemoryRef> Workspaces::Lease::refs() const {
  std::vector<runtime::MemoryRef> out;
  for (const auto& a : pooled_ ? *pooled_ : *shared_) out.push_back(a->ref());
  return out;
}

}  // namespace wino::api

// The half of a backend that lives in host memory and runs synchronously on the calling thread:
// allocations checked against the host's available memory, copies, and wall-clock timing. The
// CPU backend (compiled C) and the interpreter backend share it and differ only in how they
// compile and launch. Streams are ignored: every launch has finished when it returns.
#pragma once

#include <atomic>
#include <vector>

#include "runtime/backend.h"

namespace wino::runtime {

class HostBackend : public Backend {
 public:
  bool host_memory() const override { return true; }
  std::unique_ptr<Allocation> alloc(int64_t bytes) override;
  void copy(MemoryRef dst, MemoryRef src, int64_t bytes, StreamRef stream) override;
  /// Host memory cannot be told from other host memory: any non-null pointer is accepted.
  void check_memory(const void* native, int64_t bytes, const std::string& what) const override;
  void check_stream(StreamRef) const override {}
  /// Each launch timed with the wall clock (launches are synchronous).
  std::vector<double> timed_launches(const std::vector<LaunchRef>& sequence) override;
  void synchronize(StreamRef) override {}

 protected:
  void upload(MemoryRef dst, const void* host, int64_t bytes, StreamRef stream) override;
  void download(void* host, MemoryRef src, int64_t bytes, StreamRef stream) override;
  /// The host pointers of `args`, in order.
  static std::vector<void*> pointers(const std::vector<MemoryRef>& args);

 private:
  // Bytes of live allocations, checked against the host's available memory.
  std::shared_ptr<std::atomic<int64_t>> held_bytes_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace wino::runtime

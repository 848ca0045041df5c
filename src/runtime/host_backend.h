// The half of a backend that lives in host memory and runs synchronously on the calling thread:
// float buffers checked against the host's available memory, copies, and wall-clock timing.
// The CPU backend (compiled C) and the interpreter backend share it and differ only in how
// they compile and launch.
#pragma once

#include <vector>

#include "runtime/backend.h"

namespace wino::runtime {

class HostBackend : public Backend {
 public:
  int alloc(int64_t bytes) override;
  void upload(int buffer, const void* host, int64_t bytes) override;
  void download(int buffer, void* host, int64_t bytes) override;
  /// Each launch timed with the wall clock (launches are synchronous).
  std::vector<double> timed_launches(
      const std::vector<std::pair<int, std::vector<int>>>& sequence) override;
  void synchronize() override {}

 protected:
  /// The host pointers of `buffers`, in order.
  std::vector<void*> pointers(const std::vector<int>& buffers);
  int64_t bytes_of(int buffer) const { return 4 * static_cast<int64_t>(buffers_.at(buffer).size()); }

 private:
  int64_t held_bytes_ = 0;  // bytes of buffers_, checked against the host's available memory
  std::vector<std::vector<float>> buffers_;
};

}  // namespace wino::runtime

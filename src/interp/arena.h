// Lane storage for the machine (internal to src/interp): bump allocation out of chunks that a
// thread keeps from launch to launch (see Workspace in machine.h), so that the pages are reused
// rather than faulted in and zeroed again.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace wino::interp::detail {

using Chunks = std::vector<std::unique_ptr<double[]>>;

class LaneArena {
 public:
  static constexpr size_t kChunk = size_t{1} << 15;  // doubles

  explicit LaneArena(Chunks& spare) : spare_(spare) {}

  /// Storage for `n` doubles, its values undefined.
  double* take(size_t n) {
    if (n > left_) {
      if (n > kChunk) {  // an array larger than a chunk: its own, kept to the end
        big_.push_back(std::make_unique_for_overwrite<double[]>(n));
        return big_.back().get();
      }
      if (next_ == used_.size()) {
        if (spare_.empty()) {
          used_.push_back(std::make_unique_for_overwrite<double[]>(kChunk));
        } else {
          used_.push_back(std::move(spare_.back()));
          spare_.pop_back();
        }
      }
      free_ = used_[next_++].get();
      left_ = kChunk;
    }
    double* p = free_;
    free_ += n;
    left_ -= n;
    return p;
  }
  /// Chunks in use.
  size_t chunks() const { return next_; }
  /// Frees everything taken (its chunks are taken again first).
  void rewind() { next_ = 0, left_ = 0, free_ = nullptr; }
  /// Gives the chunks back to the spares.
  void release() {
    rewind();
    for (auto& c : used_) spare_.push_back(std::move(c));
    used_.clear();
    big_.clear();
  }

 private:
  Chunks& spare_;
  Chunks used_;    // chunks [0, next_) are in use, the last one up to free_
  Chunks big_;
  size_t next_ = 0, left_ = 0;
  double* free_ = nullptr;
};

}  // namespace wino::interp::detail

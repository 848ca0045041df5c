#include "runtime/host_backend.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <new>

#include "common/error.h"
#include "runtime/cpu/host_memory.h"

namespace wino::runtime {

namespace {

// Buffers start on a cache line: the CPU kernels' aligned vector loads and stores (up to
// 64 bytes) rely on it, and malloc's large blocks start 16 bytes past a page.
constexpr std::align_val_t kHostAlignment{64};

struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, kHostAlignment); }
};

class HostAllocation : public Allocation {
 public:
  HostAllocation(int64_t bytes, std::shared_ptr<std::atomic<int64_t>> held) : held_(std::move(held)), bytes_(bytes) {
    const size_t floats = static_cast<size_t>((bytes + 3) / 4);
    try {
      data_.reset(static_cast<float*>(::operator new[](floats * sizeof(float), kHostAlignment)));
      std::memset(data_.get(), 0, floats * sizeof(float));  // zeros, as before (std::vector's)
    } catch (const std::bad_alloc&) {
      throw Error("out of host memory allocating a buffer of " + std::to_string(bytes) +
                  " bytes; use a smaller batch or image");
    }
    *held_ += bytes;
  }
  ~HostAllocation() override { *held_ -= bytes_; }
  MemoryRef ref() const override { return {data_.get(), bytes_}; }

 private:
  std::shared_ptr<std::atomic<int64_t>> held_;
  int64_t bytes_;
  std::unique_ptr<float[], AlignedDelete> data_;
};

}  // namespace

std::unique_ptr<Allocation> HostBackend::alloc(int64_t bytes) {
  cpu::check_host_allocation(held_bytes_->load(), bytes, cpu::available_host_bytes());
  return std::make_unique<HostAllocation>(bytes, held_bytes_);
}

void HostBackend::upload(MemoryRef dst, const void* host, int64_t bytes, StreamRef) {
  if (bytes) std::memcpy(dst.native, host, static_cast<size_t>(bytes));
}

void HostBackend::download(void* host, MemoryRef src, int64_t bytes, StreamRef) {
  if (bytes) std::memcpy(host, src.native, static_cast<size_t>(bytes));
}

void HostBackend::copy(MemoryRef dst, MemoryRef src, int64_t bytes, StreamRef) {
  if (bytes) std::memmove(dst.native, src.native, static_cast<size_t>(bytes));
}

void HostBackend::check_memory(const void* native, int64_t, const std::string& what) const {
  if (native == nullptr) throw Error(what + " is a null pointer");
}

std::vector<double> HostBackend::timed_launches(const std::vector<LaunchRef>& sequence) {
  std::vector<double> us;
  for (const LaunchRef& l : sequence) {
    auto t0 = std::chrono::steady_clock::now();
    launch(l.kernel, l.args, nullptr);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return us;
}

std::vector<void*> HostBackend::pointers(const std::vector<MemoryRef>& args) {
  std::vector<void*> ptrs;
  for (const MemoryRef& m : args) ptrs.push_back(m.native);
  return ptrs;
}

}  // namespace wino::runtime

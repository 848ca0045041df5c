#include "runtime/host_backend.h"

#include <chrono>
#include <cstring>
#include <new>

#include "common/error.h"
#include "runtime/cpu/host_memory.h"

namespace wino::runtime {

int HostBackend::alloc(int64_t bytes) {
  cpu::check_host_allocation(held_bytes_, bytes, cpu::available_host_bytes());
  try {
    buffers_.emplace_back(static_cast<size_t>((bytes + 3) / 4));  // float-aligned storage
  } catch (const std::bad_alloc&) {
    throw Error("out of host memory allocating a buffer of " + std::to_string(bytes) +
                " bytes; use a smaller batch or image");
  }
  held_bytes_ += bytes;
  return static_cast<int>(buffers_.size()) - 1;
}

void HostBackend::upload(int b, const void* host, int64_t bytes) {
  if (bytes) std::memcpy(buffers_.at(b).data(), host, static_cast<size_t>(bytes));
}

void HostBackend::download(int b, void* host, int64_t bytes) {
  if (bytes) std::memcpy(host, buffers_.at(b).data(), static_cast<size_t>(bytes));
}

std::vector<double> HostBackend::timed_launches(
    const std::vector<std::pair<int, std::vector<int>>>& sequence) {
  std::vector<double> us;
  for (const auto& [k, bufs] : sequence) {
    auto t0 = std::chrono::steady_clock::now();
    launch(k, bufs);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return us;
}

std::vector<void*> HostBackend::pointers(const std::vector<int>& buffers) {
  std::vector<void*> ptrs;
  for (int b : buffers) ptrs.push_back(buffers_.at(b).data());
  return ptrs;
}

}  // namespace wino::runtime

#include "runtime/cpu/host_memory.h"

#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"

namespace wino::cpu {
namespace {

std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

}  // namespace

int64_t available_host_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = -1;
    if (fields >> kib && kib >= 0) return kib * 1024;
  }
  return -1;
}

void check_host_allocation(int64_t held, int64_t more, int64_t available) {
  if (available < 0) return;
  if (more <= available - held) return;
  throw Error("out of host memory: the CPU buffers of this convolution need " + mib(held + more) +
              " but only " + mib(available) + " are available; use a smaller batch or image, or "
              "split the work into several runs");
}

}  // namespace wino::cpu

// libFuzzer entry point; WINO_FUZZ_ENTRY names the target's body (fuzz_targets.h).
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WINO_FUZZ_ENTRY(data, size);
  return 0;
}

#!/usr/bin/env bash
# The labelled sanitizer run: builds the `asan` preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# -O1 -g, -fno-sanitize-recover=all) and runs the whole test suite under it. Not part of the
# default CI run (it would more than double it); see the README's development section.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)"
# LeakSanitizer's tracer crashes at exit in processes that loaded PoCL (its pthread device keeps
# worker threads), so the whole suite runs with leak detection off, and the tests that never load
# OpenCL (no device auto-selection, no OpenCL device) run again with it on.
ctest --preset asan
ctest --preset asan-leaks

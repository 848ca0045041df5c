#!/usr/bin/env bash
# Installs the C++ package from the release build (cmake --install into build/install) and builds
# and runs a project outside the tree against it (tests/cmake_consumer: find_package(wino CONFIG)).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build/install build/consumer
cmake --install build/release --prefix build/install >/dev/null
cmake -S tests/cmake_consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer >/dev/null
build/consumer/consumer

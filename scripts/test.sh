#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the default test suite: the C++ tests (GPU tests skip
# without a GPU), the installed C++ package (scripts/cpp_package_test.sh), then the Python
# package's (scripts/python_test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --preset release
scripts/cpp_package_test.sh
scripts/python_test.sh

#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the default test suite: the C++ tests (GPU tests skip
# without a GPU), then the Python package's (scripts/python_test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --preset release
scripts/python_test.sh

#!/usr/bin/env bash
# Builds and installs the Python package into a private virtual environment (build/venv, made on
# first use with nanobind, scikit-build-core, NumPy, pytest, PyTorch and torchvision from PyPI), then runs the
# Python tests (tests/python). scripts/test.sh calls it after the C++ suite.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/venv
pip=("$venv/bin/pip" install -q)

# PyPI's torch wheel pulls in about 3 GB of CUDA libraries, and a download cut off halfway has failed
# CI before: retry the install, resuming cut-off wheels (pip keeps the finished ones in its cache).
pip_install_retrying() {
  local resume=()
  "$venv/bin/pip" install --help | grep -q -- --resume-retries && resume=(--resume-retries 20)
  for attempt in 1 2 3 4 5; do
    "${pip[@]}" --retries 10 "${resume[@]}" "$@" && return 0
    echo "python: pip install $* failed (attempt $attempt of 5); retrying in $((attempt * 10)) s" >&2
    sleep $((attempt * 10))
  done
  return 1
}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import nanobind, numpy, pytest" 2>/dev/null; then
  echo "python: setting up $venv"
  python3 -m venv "$venv"
  pip_install_retrying --upgrade pip
  pip_install_retrying nanobind scikit-build-core numpy pytest
fi
# PyTorch only serves the wino.torch tests. When PyPI cannot deliver it (a CI run once failed on a
# wheel cut off at the same byte 105 times), those tests skip with the reason and the rest still run.
if ! "$venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "python: installing PyTorch and torchvision from PyPI (a few GB, once)"
  pip_install_retrying torch torchvision ||
    echo "python: WARNING: PyTorch could not be installed (network); the torch tests will be skipped" >&2
fi
echo "python: pip install . (the C++ library and the extension, built by CMake)"
"$venv/bin/pip" install -q --no-build-isolation .
cd tests/python
"../../$venv/bin/python" -m pytest -q

#!/usr/bin/env bash
# Builds and installs the Python package into a private virtual environment (build/venv, made on
# first use with nanobind, scikit-build-core, NumPy, pytest, PyTorch and torchvision from PyPI), then runs the
# Python tests (tests/python). scripts/test.sh calls it after the C++ suite.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, torchvision, nanobind, numpy, pytest" 2>/dev/null; then
  echo "python: setting up $venv (PyTorch from PyPI: a few GB, once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q nanobind scikit-build-core numpy pytest torch torchvision
fi
echo "python: pip install . (the C++ library and the extension, built by CMake)"
"$venv/bin/pip" install -q --no-build-isolation .
cd tests/python
"../../$venv/bin/python" -m pytest -q

#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool), whose image has PyTorch, torchvision, nanobind,
# scikit-build-core, CMake and pytest but no network: builds the Python package there, runs the
# Python tests (the CUDA ones run there only), the per-call overhead on CUDA tensors, then the
# whole-network benchmark.
# Usage there: scripts/gpu_python.sh   (logs go to $OUT when it is set)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/wino_python}
mkdir -p "$out"
rc=0
python3 -m pip install -q --no-build-isolation --no-deps --target /tmp/site . 2>&1 | tail -5 || rc=1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
(cd tests/python && python3 -m pytest -q -x 2>&1 | tee "$out/pytest.txt" | tail -15) || rc=1
python3 bench/python_overhead.py --device cuda 2>&1 | tee "$out/overhead.txt" || rc=1
python3 bench/torch_network.py --json "$out/network.json" 2>&1 | tee "$out/network.txt" || rc=1
exit $rc

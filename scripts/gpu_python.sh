#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool), whose image has PyTorch, torchvision, nanobind,
# scikit-build-core, CMake and pytest but no network: builds the Python package there, runs the
# Python tests (the CUDA ones run there only), the per-call overhead on CUDA tensors, then the
# whole-network benchmark.
# Usage there: scripts/gpu_python.sh [--smoke]   (logs go to $OUT when it is set)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/wino_python}
mkdir -p "$out"
rc=0
python3 -m pip install -q --no-build-isolation --no-deps --target /tmp/site . 2>&1 | tail -5 || rc=1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
# A smoke test first; if it dies on a signal, its C++ stack under cuda-gdb (the image has no gdb).
smoke='import numpy as np, wino; y = wino.conv2d(np.ones((1, 3, 8, 8), "f"), np.ones((4, 3, 3, 3), "f"), padding=1); print("smoke ok", y.shape)'
if ! python3 -c "$smoke" 2>&1 | tee "$out/smoke.txt"; then rc=1; fi
if ! grep -q "smoke ok" "$out/smoke.txt"; then
  cuda-gdb -batch -ex run -ex bt -ex "info sharedlibrary" --args python3 -c "$smoke" 2>&1 | tail -60 | tee -a "$out/smoke.txt"
fi
[ "${1:-}" = "--smoke" ] && exit $rc  # the package and the smoke test only
(cd tests/python && python3 -m pytest -q -x 2>&1 | tee "$out/pytest.txt" | tail -15) || rc=1
python3 bench/python_overhead.py --device cuda 2>&1 | tee "$out/overhead.txt" || rc=1
python3 bench/torch_network.py --json "$out/network.json" 2>&1 | tee "$out/network.txt" || rc=1
exit $rc

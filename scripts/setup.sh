#!/usr/bin/env bash
# Installs what Wino's build and tests need on a bare Debian machine.
# Idempotent: installs only missing packages, and prints nothing when all are there.
set -euo pipefail

# ocl-icd-libopencl1 + pocl-opencl-icd: the OpenCL ICD loader and PoCL, on which the OpenCL tests
# run the GPU-style kernels on the CPU. clang: the Metal syntax check compiles Metal as C++.
# libdnnl-dev: oneDNN, the yardstick of bench/wino_onednn_bench.
packages=(gcc g++ cmake ninja-build libgtest-dev libgmock-dev libbenchmark-dev python3 python3-dev python3-venv
          ocl-icd-libopencl1 pocl-opencl-icd clang libdnnl-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool) from a build made here and carried along:
# the GPU tests (CUDA, and OpenCL through NVIDIA's driver where it ships one), then the
# per-kernel report of every plan on the seed's layer on the GPU.
# Usage there: scripts/device_check.sh [BUILD_DIR]   (logs go to $OUT when it is set)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=${OUT:-/tmp/wino_device}
mkdir -p "$out"
export WINO_CACHE_DIR=/tmp/wino_cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/gpu.txt"
"$build/tests/wino_tests" --gtest_filter='Cuda*:Nvrtc*:PlansCuda*:PlansNvrtc*' 2>&1 | tee "$out/gpu_tests.log" | grep -E "measured|OK|FAILED|Failure|PASSED|SKIPPED" 
# OpenCL on the GPU: NVIDIA's driver ships libnvidia-opencl.so.1, but the machine may register
# only PoCL with the ICD loader; a private vendor directory makes the GPU opencl:0.
if ldconfig -p | grep -q libnvidia-opencl.so.1; then
  vendors=$(mktemp -d)
  echo libnvidia-opencl.so.1 > "$vendors/nvidia.icd"
  OCL_ICD_VENDORS=$vendors "$build/wino" devices | tee "$out/opencl_gpu_devices.txt"
  OCL_ICD_VENDORS=$vendors "$build/tests/wino_tests" --gtest_filter='OpenCl*:Sweep/PlansOpenCl*' 2>&1 |
    tee "$out/opencl_gpu_tests.log" | grep -E "measured|OK|FAILED|Failure|PASSED|SKIPPED"
fi
for plan in direct unfused fused-input fused-output fused naive-fused; do
  "$build/wino" run --shape 1,8,32,32 --k 8 --pad 1 --plan "$plan" --m 4 --device cuda --check --repeat 50 2>&1 | tee -a "$out/seed_table.txt"
done

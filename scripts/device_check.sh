#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool) from a build made here and carried along:
# the GPU tests (CUDA, and OpenCL through NVIDIA's driver where it ships one), then the
# README's device-tensor example, the library API's costs (wino_api_bench), then the per-kernel
# report of every plan on the seed's layer on the GPU.
# Usage there: scripts/device_check.sh [BUILD_DIR]   (logs go to $OUT when it is set)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=${OUT:-/tmp/wino_device}
mkdir -p "$out"
export WINO_CACHE_DIR=/tmp/wino_cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/gpu.txt"
# The CUDA sweep is one NVRTC build per case and shape: gtest shards run it on every core at once.
shards=${WINO_GPU_SHARDS:-$(nproc)}
# Every suite with a GPU test (the others skip them, or have none).
WINO_GPU_TEST_FILTER=${WINO_GPU_TEST_FILTER:-'Cuda*:Nvrtc*:*PlansCuda*:PlansNvrtc*:Mma.*:LoadMatrix.*:CopyAsync.*:CopyBulk.*:DynamicShared.*:SharedReuse.*:Half.*:IrVectors.*:*PrecisionSweep.Gpu*:TensorCoreInterp.*:PatchRegion.*:MmaAsync.*:WarpgroupRing.*:WarpgroupGemm.*'}
start=$(date +%s)
shard_logs=${WINO_SHARD_LOGS:-$(mktemp -d)}  # the device tool brings back only a few files from $OUT: one log there
for i in $(seq 0 $((shards - 1))); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$build/tests/wino_tests" \
    --gtest_filter="$WINO_GPU_TEST_FILTER" > "$shard_logs/shard$i.log" 2>&1 &
done
wait
cat "$shard_logs"/shard*.log > "$out/gpu_tests.log"
grep -E "measured|FAILED|Failure" "$out/gpu_tests.log"
passed=$(grep -c "^\[  PASSED  \]" "$out/gpu_tests.log")
echo "GPU tests: $shards shards, $passed passed whole, $(grep -c '^\[       OK \]' "$out/gpu_tests.log") tests OK, $(( $(date +%s) - start )) s"
gpu_tests_rc=0
[ "$passed" -eq "$shards" ] && ! grep -q "^\[  FAILED  \]" "$out/gpu_tests.log" || gpu_tests_rc=1
# OpenCL on the GPU: NVIDIA's driver ships libnvidia-opencl.so.1, but the machine may register
# only PoCL with the ICD loader; a private vendor directory adds the GPU. (Measured 2026-12-02:
# PoCL 5.0 still lists first there, so opencl:0 is the CPU and the sweeps would only repeat CI's
# PoCL runs: the runtime tests run, the sweeps stay in CI.)
if ldconfig -p | grep -q libnvidia-opencl.so.1; then
  vendors=$(mktemp -d)
  echo libnvidia-opencl.so.1 > "$vendors/nvidia.icd"
  OCL_ICD_VENDORS=$vendors "$build/wino" devices | tee "$out/opencl_gpu_devices.txt"
  OCL_ICD_VENDORS=$vendors "$build/tests/wino_tests" --gtest_filter='OpenClRuntime*' 2>&1 |
    tee "$out/opencl_gpu_tests.log" | grep -E "measured|OK|FAILED|Failure|PASSED|SKIPPED"
fi
# The README's device-tensor example, and the library API's costs: the second run of the API bench
# is a new process that finds the kernels in the disk cache.
"$build/examples/device_tensors" 2>&1 | tee "$out/api.txt" || gpu_tests_rc=1
for pass in cold cached; do
  echo "== wino_api_bench ($pass)" | tee -a "$out/api.txt"
  "$build/bench/wino_api_bench" 2>&1 | tee -a "$out/api.txt" || gpu_tests_rc=1
done
for plan in direct unfused fused-input fused-output fused naive-fused; do
  "$build/wino" run --shape 1,8,32,32 --k 8 --pad 1 --plan "$plan" --m 4 --device cuda --check --repeat 50 2>&1 | tee -a "$out/seed_table.txt"
done
exit $gpu_tests_rc

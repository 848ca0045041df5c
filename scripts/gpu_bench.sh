#!/usr/bin/env bash
# The GPU run in one go, on the machine with the NVIDIA GPU: build (unless a build is given),
# check correctness (the GPU tests of scripts/device_check.sh), print the seed's table, then the
# benchmark against cuDNN on every layer of bench/layers.txt (Find here, PyTorch's cuDNN too where
# torch is installed). Writes gpu_tests.log, seed_explain.txt, bench.txt, bench.json, torch.json
# and table.md to $OUT (or build/gpu_bench).
# Usage: scripts/gpu_bench.sh [BUILD_DIR] [extra wino_cudnn_bench options, e.g. --only seed]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
shift || true
out=${OUT:-build/gpu_bench}
mkdir -p "$out"
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-/tmp/wino_cache}
if [ ! -x "$build/wino" ] || [ ! -x "$build/bench/wino_cudnn_bench" ]; then
  scripts/build.sh || exit 1
  build=build/release
fi
# cuDNN comes with the PyTorch wheels on the GPU machine; the build machine has it in the toolkit.
cudnn_lib=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0] + '/lib')" 2>/dev/null)
[ -n "$cudnn_lib" ] && export LD_LIBRARY_PATH="$cudnn_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== correctness: the GPU tests (scripts/device_check.sh)"
OUT=$out scripts/device_check.sh "$build"
tests_rc=$?  # every shard must pass whole: a crash leaves no PASSED line, a failure a FAILED line
grep -q "^\[  FAILED  \]" "$out"/opencl_gpu_tests.log 2>/dev/null && tests_rc=1
echo "== the seed's layer: every plan's kernels on the GPU"
"$build/wino" explain --shape 1,8,32,32 --k 8 --pad 1 --plan all --m 4 --device cuda 2>&1 | tee "$out/seed_explain.txt"
echo "== benchmark against cuDNN"
"$build/bench/wino_cudnn_bench" --all-plans --json "$out/bench.json" "$@" 2>&1 | tee "$out/bench.txt"
bench_rc=${PIPESTATUS[0]}
# The other half of the yardstick: cuDNN through PyTorch in the same call, where torch is installed.
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  echo "== cuDNN through PyTorch (fp32, TF32 off), and Wino against the faster cuDNN"
  python3 bench/torch_yardstick.py --modes fp32 --json "$out/torch.json" > "$out/torch.txt" 2>&1 &&
    python3 scripts/yardstick_table.py "$out/bench.json" "$out/torch.json" | tee "$out/table.md" || bench_rc=1
fi
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]

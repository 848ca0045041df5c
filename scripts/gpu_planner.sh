#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool) from a build carried along: the planner's targets.
# 1. `wino tune --quick` of one layer with empty caches (the cold case), 2. the cuDNN bench over
# every planner candidate of bench/layers.txt (auto's pick by the cost model and by tune mode
# against the sweep's best), 3. `wino tune` of every layer, 4. `wino run` taking the tuned pick.
# Usage there: scripts/gpu_planner.sh [BUILD_DIR]   (logs go to $OUT when it is set)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=${OUT:-/tmp/wino_planner}
mkdir -p "$out"
export LD_LIBRARY_PATH=$(python3 -c "import nvidia.cudnn as c;print(list(c.__path__)[0])")/lib:${LD_LIBRARY_PATH:-}
export WINO_CACHE_DIR=$(mktemp -d)
rc=0
echo "== wino tune --quick, one layer, cold caches" | tee "$out/tune.txt"
/usr/bin/time -f "wall %e s" "$build/wino" tune --layers bench/layers.txt --only vgg16.3_2.b8 --device cuda --quick \
  2>&1 | tr '\r' '\n' | grep -v "candidates measured" | tee -a "$out/tune.txt" || rc=1
"$build/bench/wino_cudnn_bench" --all-plans --json "$out/bench.json" > "$out/bench.txt" 2>&1 || rc=1
grep -v "^    [a-z]" "$out/bench.txt"
echo "== wino tune, every layer (kernels now in the disk cache)" | tee -a "$out/tune.txt"
"$build/wino" tune --layers bench/layers.txt --device cuda 2>/dev/null | tee -a "$out/tune.txt" || rc=1
echo "== wino run --plan auto after wino tune" | tee -a "$out/tune.txt"
"$build/wino" run --shape 8,256,56,56 --k 256 --pad 1 --device cuda --check --repeat 30 2>&1 | tee -a "$out/tune.txt" || rc=1
exit $rc

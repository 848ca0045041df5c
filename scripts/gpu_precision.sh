#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool): the tensor-core precisions' GPU tests (sharded over
# the cores), then wino_cudnn_bench with each precision against cuDNN fp32 and cuDNN TF32 on the
# batch >= 8 layers. Logs go to $OUT.
# Usage there: scripts/gpu_precision.sh BUILD [PRECISIONS]   (default 3xtf32,tf32)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/gpu_precision.sh BUILD [PRECISIONS]}
precisions=${2:-3xtf32,tf32}
out=${OUT:-/tmp/wino_precision}
mkdir -p "$out"
export LD_LIBRARY_PATH=$(python3 -c "import nvidia.cudnn as c;print(list(c.__path__)[0])")/lib:${LD_LIBRARY_PATH:-}
export WINO_CACHE_DIR=$(mktemp -d)
rc=0
start=$(date +%s)
shards=$(nproc)
logs=$(mktemp -d)
for i in $(seq 0 $((shards - 1))); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$build/tests/wino_tests" \
    --gtest_filter='Mma.*:*PrecisionSweep.Gpu*:Precision.*-Precision.CliTakesAndChecksIt' > "$logs/shard$i.log" 2>&1 &
done
wait
cat "$logs"/shard*.log > "$out/tests.log"
grep -E "^\[ measured \]|FAILED|Failure" "$out/tests.log" | sort | uniq | head -80
grep -q "^\[  FAILED  \]" "$out/tests.log" && rc=1
echo "tests: $(grep -c '^\[       OK \]' "$out/tests.log") OK, $(( $(date +%s) - start )) s"
layers=resnet50.c2.b32,resnet50.c3.b32,resnet50.c4.b32,resnet50.c5.b32,vgg16.1_2.b8,vgg16.2_2.b8,vgg16.3_2.b8,vgg16.4_2.b8,vgg16.5_2.b8
"$build/bench/wino_cudnn_bench" --only "$layers" --precision "$precisions" --all-plans --repeat 20 --warmup 3 \
  --json "$out/bench.json" > "$out/bench.txt" 2>&1 || rc=1
grep -v "^    [a-z]" "$out/bench.txt"
grep -E "^    (best|cuDNN TF32|auto)" "$out/bench.txt"
echo "total $(( $(date +%s) - start )) s"
exit $rc

#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool): how long a slice of the GPU tests takes with two
# builds' test binaries, kernels already in the disk cache (so NVRTC is out of it): one process
# twice each, alternating, then 8 processes at once each (the GPU tests run as shards).
# Usage there: scripts/gpu_tests_ab.sh BASE_BUILD NEW_BUILD [GTEST_FILTER]   (logs go to $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/gpu_tests_ab.sh BASE_BUILD NEW_BUILD [GTEST_FILTER]  (each build has tests/wino_tests)"
[ "${1:-}" = --help ] && { echo "$usage"; exit 0; }
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
base=$1 new=$2
filter=${3:-'CudaDriver.*:CudaDevice.*:Sweep/PrecisionSweep.GpuMatchesReference/tf32_f4x3:Sweep/PlansCuda.*/unfused_f4x3:Sweep/PlansCuda.*/fused_f4x3'}
out=${OUT:-/tmp/wino_tests_ab}
mkdir -p "$out"
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-$(mktemp -d)}
for b in "$base" "$new"; do
  [ -x "$b/tests/wino_tests" ] || { echo "no test binary at $b/tests/wino_tests" >&2; exit 2; }
done
"$new/tests/wino_tests" --gtest_filter="$filter" > "$out/fill.txt" 2>&1  # the kernels into the cache
rc=0
for round in 1 2; do
  for b in "$base" "$new"; do
    /usr/bin/time -f "$b, one process, round $round: wall %e s, user %U s" "$b/tests/wino_tests" --gtest_filter="$filter" \
      > "$out/one.txt" 2>&1 || rc=1
    grep -E "wall|FAILED" "$out/one.txt" | tee -a "$out/ab.txt"
  done
done
for b in "$base" "$new"; do
  t0=$(date +%s%N)
  for i in 1 2 3 4 5 6 7 8; do "$b/tests/wino_tests" --gtest_filter="$filter" > "$out/par_$i.txt" 2>&1 & done
  wait
  passed=$(grep -l "^\[  PASSED  \]" "$out"/par_*.txt | wc -l)
  [ "$passed" -eq 8 ] || rc=1
  echo "$b, 8 processes at once: $(( ($(date +%s%N) - t0) / 1000000 )) ms, $passed of 8 passed whole" | tee -a "$out/ab.txt"
done
rm -f "$out"/par_*.txt "$out/one.txt"
exit $rc

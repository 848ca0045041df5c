#!/usr/bin/env bash
# compute-sanitizer memcheck and racecheck over every plan on the seed's layer and one ResNet-50
# layer, on the GPU machine. Prints each run's summary line; writes sanitize.log to $OUT.
# Usage: scripts/gpu_sanitize.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=${OUT:-build/gpu_bench}
mkdir -p "$out"
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-/tmp/wino_cache}
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
[ -n "$sanitizer" ] || { echo "compute-sanitizer not found"; exit 1; }
failed=0
for layer in "1,8,32,32 --k 8" "1,256,14,14 --k 256"; do
  for plan in direct unfused fused-input fused-output fused naive-fused; do
    for tool in memcheck racecheck; do
      # shellcheck disable=SC2086
      log=$("$sanitizer" --tool "$tool" --error-exitcode 3 "$build/wino" run --shape $layer --pad 1 \
            --plan "$plan" --m 4 --device cuda --check 2>&1)
      rc=$?
      echo "$log" >>"$out/sanitize.log"
      summary=$(echo "$log" | grep -E "ERROR SUMMARY|RACECHECK SUMMARY" | tail -1)
      err=$(echo "$log" | grep "relative L2 error" | sed 's/.*: //')
      printf '%-22s %-13s %-10s rc=%d  %s  (rel err %s)\n' "${layer%% *}" "$plan" "$tool" "$rc" "$summary" "$err"
      [ "$rc" -eq 0 ] || failed=1
    done
  done
done
exit $failed

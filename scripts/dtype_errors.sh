#!/usr/bin/env bash
# The f32/f16/bf16 error table of docs/accuracy.md: relative L2 error against the float64
# reference (on the same rounded inputs) for every F(m, r) with alpha <= 8, plan unfused, on the
# IR interpreter (no compiler needed). Usage: scripts/dtype_errors.sh [BUILD_DIR]
set -euo pipefail
if [ "${1:-}" = "--help" ]; then sed -n 2,4p "$0" | sed "s/^# //"; exit 0; fi
cd "$(dirname "$0")/.."
wino=${1:-build/release}/wino
[ -x "$wino" ] || { echo "no $wino: build first (scripts/build.sh)" >&2; exit 1; }
echo "| F(m, r) | alpha | f32 | f16 | bf16 |"
echo "|---|---:|---:|---:|---:|"
total=0
for r in 1 2 3 4 5 6 7; do for m in 1 2 3 4 5 6 7 8; do [ $((m + r - 1)) -le 8 ] && total=$((total + 1)); done; done
done_count=0
for r in 1 2 3 4 5 6 7; do
  for m in 1 2 3 4 5 6 7 8; do
    alpha=$((m + r - 1))
    [ "$alpha" -le 8 ] || continue
    row="| F($m,$r) | $alpha |"
    for t in f32 f16 bf16; do
      err=$("$wino" run --shape 2,16,15,15 --k 16 --pad $((r / 2)) --r "$r" --m "$m" --plan unfused \
              --dtype "$t" --device interp --check --json | python3 -c 'import json,sys; print("%.2e" % json.load(sys.stdin)["rel_err"])')
      row="$row $err |"
    done
    echo "$row"
    done_count=$((done_count + 1))
    printf '\r%d/%d F(m, r)' "$done_count" "$total" >&2
  done
done
echo >&2

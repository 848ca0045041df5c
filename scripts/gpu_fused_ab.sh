#!/usr/bin/env bash
# Plan fused on the GPU, one build against another in one device call (issue 16): on the batch >= 8
# layers of bench/layers.txt and the seed's layer, `wino run` of fused F(4,3) and F(2,3) with the
# default tiles, alternating the builds for two rounds; then the new build's other tile shapes
# (below), the best unfused plans beside them, and a --check of each fused kernel.
# Per-kernel medians of 30 runs.
# Last, unfused F(5,3) against F(4,3) on the two 14 x 14 layers (fewer GEMM points: the CPU planner
# takes F(5,3) there, the GPU planner not until this is measured), fp32, tf32 and fp16 NHWC.
# Usage: scripts/gpu_fused_ab.sh BASE_BUILD NEW_BUILD [--prefill]
#   --prefill: compile every kernel the run takes for sm_90 here (no GPU needed) into
#   $WINO_CACHE_DIR, so that the device call spends its time running them, not compiling.
# Writes fused_ab.txt to $OUT (or build/gpu_fused_ab).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
base=$1 new=$2 prefill=${3:-}
for b in "$base" "$new"; do
  [ -x "$b/wino" ] || { echo "gpu_fused_ab: no wino binary in $b: build it first (scripts/build.sh)" >&2; exit 2; }
done
out=${OUT:-build/gpu_fused_ab}
mkdir -p "$out"
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-/tmp/wino_cache}
layers="seed:1,8,32,32:8 resnet50.c2.b32:32,64,56,56:64 resnet50.c3.b32:32,128,28,28:128
resnet50.c4.b32:32,256,14,14:256 resnet50.c5.b32:32,512,7,7:512 vgg16.1_2.b8:8,64,224,224:64
vgg16.2_2.b8:8,128,112,112:128 vgg16.3_2.b8:8,256,56,56:256 vgg16.4_2.b8:8,512,28,28:512
vgg16.5_2.b8:8,512,14,14:512"
# F(4,3)'s other ring shapes: 8 x 8 tiles a point a thread (one work-group a multiprocessor) in
# chunks of 8 (past 96 KiB) and of 4 (session 67's default), and over 16 x 32 blocks in chunks of 8.
new_tiles="32,16,8,8,8,1 32,16,8,8,4,1 16,32,8,8,8,1"

# One kernel configuration: its per-kernel lines and total, or (prefill) its sm_90 build.
one() {  # build label shape k plan m [tiles]
  local build=$1 label=$2 shape=$3 k=$4 plan=$5 m=$6 tiles=${7:-}
  local t=()
  [ -n "$tiles" ] && t=(--tiles "$tiles")
  if [ "$prefill" = "--prefill" ]; then
    "$build/wino" explain --shape "$shape" --k "$k" --pad 1 --plan "$plan" --m "$m" "${t[@]}" --target sm_90 >/dev/null 2>&1
    return
  fi
  echo "== $label $plan F($m,3) ${tiles:-default}"
  "$build/wino" run --shape "$shape" --k "$k" --pad 1 --plan "$plan" --m "$m" "${t[@]}" --device cuda --repeat 30 2>&1 |
    grep -E "^wino_|^total|rror"
}

{
  for round in 1 2; do
    for l in $layers; do
      IFS=: read -r name shape k <<< "$l"
      for m in 4 2; do
        one "$base" "$name base r$round" "$shape" "$k" fused "$m"
        one "$new" "$name new r$round" "$shape" "$k" fused "$m"
      done
    done
  done
  for l in $layers; do
    IFS=: read -r name shape k <<< "$l"
    for tiles in $new_tiles; do one "$new" "$name new" "$shape" "$k" fused 4 "$tiles"; done
    for m in 4 6; do one "$new" "$name new" "$shape" "$k" unfused "$m"; done
  done
  for shape in 32,256,14,14:256 8,512,14,14:512; do
    IFS=: read -r dims k <<< "$shape"
    for m in 4 5; do
      one "$new" "$dims" "$dims" "$k" unfused "$m"
      for p in tf32 fp16; do
        extra=(--precision "$p")
        [ "$p" = fp16 ] && extra+=(--dtype f16 --layout nhwc)
        if [ "$prefill" = "--prefill" ]; then
          "$new/wino" explain --shape "$dims" --k "$k" --pad 1 --plan unfused --m "$m" "${extra[@]}" --target sm_90 >/dev/null 2>&1
        else
          echo "== $dims new unfused F($m,3) $p"
          "$new/wino" run --shape "$dims" --k "$k" --pad 1 --plan unfused --m "$m" "${extra[@]}" --device cuda --repeat 30 --check 2>&1 |
            grep -E "^wino_|^total|rror"
        fi
      done
    done
  done
  if [ "$prefill" != "--prefill" ]; then
    for l in $layers; do
      IFS=: read -r name shape k <<< "$l"
      for m in 2 4; do
        echo "== check $name fused F($m,3)"
        "$new/wino" run --shape "$shape" --k "$k" --pad 1 --plan fused --m "$m" --device cuda --check 2>&1 | grep -E "rror"
      done
    done
  fi
} 2>&1 | tee "$out/fused_ab.txt"

#!/usr/bin/env bash
# Times the tensor-core GEMMs of one build, or of several in turn, on the GPU machine (the `device` tool):
# the batch >= 8 layers of bench/layers.txt, per-kernel medians of `wino run --repeat 30`, each
# build in turn, $WINO_AB_ROUNDS rounds (default 2), then `--check` of every configuration with
# the last build. Configurations PLAN:M:PRECISION[:DTYPE:LAYOUT[:TILES[:BLOCK]]] in $WINO_AB_CONFIGS
# (TILES as --tiles takes them, empty for the plan's own; BLOCK as --tile-block takes it; DTYPE
# and LAYOUT by default f16/bf16 channels last for fp16/bf16, f32
# NCHW else; default configurations: f16 channels last, unfused F(4,3), fused-output F(4,3) and
# F(2,3), and bf16 unfused F(4,3)). M 0 leaves --m out: the plan's own m (plan auto: the planner's
# pick on the device; headers then say F(0,3), and --prefill compiles the pick for an H200).
# Usage: scripts/gpu_tensor_ab.sh BUILD [BUILD...] [--prefill] [--yardstick]
#   --prefill: compile every kernel the run takes for sm_90 here (no GPU needed) into
#   $WINO_CACHE_DIR, so that the device call spends its time running them, not compiling.
#   --yardstick: time cuDNN first (bench/torch_yardstick.py, the layers and the configurations'
#   modes) and end with scripts/tensor_ab_table.py's tables against it.
# Writes tensor_ab.txt (and torch_yardstick.json) to $OUT (or build/gpu_tensor_ab).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
builds=() prefill= yardstick=
for a in "$@"; do
  case $a in
    --prefill) prefill=--prefill ;;
    --yardstick) yardstick=1 ;;
    -*) echo "gpu_tensor_ab: unknown option $a (see --help)" >&2; exit 2 ;;
    *) builds+=("$a") ;;
  esac
done
[ ${#builds[@]} -ge 1 ] || { echo "gpu_tensor_ab: give at least one build" >&2; exit 2; }
new=${builds[-1]}
for b in "${builds[@]}"; do
  [ -x "$b/wino" ] || { echo "gpu_tensor_ab: no wino binary in $b: build it first (scripts/build.sh)" >&2; exit 2; }
done
out=${OUT:-build/gpu_tensor_ab}
mkdir -p "$out"
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-/tmp/wino_cache}
# name:N,C,H,W:K of the layers with batch >= 8
layers=$(awk '!/^#/ && NF >= 9 && $2 >= 8 { printf "%s:%s,%s,%s,%s:%s\n", $1, $2, $3, $5, $6, $4 }' bench/layers.txt)
configs=${WINO_AB_CONFIGS:-"unfused:4:fp16 fused-output:4:fp16 fused-output:2:fp16 unfused:4:bf16"}
rounds=${WINO_AB_ROUNDS:-2}

# cuDNN through PyTorch on the same layers, in the modes the configurations compare with
# (3xtf32 against TF32), before Wino runs: its JSON feeds the tables at the end.
if [ -n "$yardstick" ] && [ -z "$prefill" ]; then
  modes=$(for c in $configs; do IFS=: read -r _ _ p _ <<< "$c"; echo "${p/3xtf32/tf32}"; done | sort -u | paste -sd,)
  names=$(for l in $layers; do echo "${l%%:*}"; done | paste -sd,)
  python3 bench/torch_yardstick.py --only "$names" --modes "$modes" --json "$out/torch_yardstick.json" ||
    { echo "gpu_tensor_ab: bench/torch_yardstick.py failed: the tables will have no cuDNN column" >&2; yardstick=; }
fi

# DTYPE and LAYOUT where a configuration leaves them out: f16 or bf16 channels last for those
# precisions, f32 NCHW for the others.
defaults() {
  case $1 in fp16|bf16) dtype=${dtype:-${1/fp/f}} layout=${layout:-nhwc} ;; *) dtype=${dtype:-f32} layout=${layout:-nchw} ;; esac
}

# One configuration with one build: its per-kernel lines and total, or (prefill) its sm_90 build.
one() {  # build label shape k plan m precision dtype layout tiles block [--check]
  local build=$1 label=$2 shape=$3 k=$4 plan=$5 m=$6 p=$7 dtype=$8 layout=$9 tiles=${10} block=${11} check=${12:-}
  local opts=(--shape "$shape" --k "$k" --pad 1 --plan "$plan" --precision "$p" --dtype "$dtype" --layout "$layout")
  [ "$m" != 0 ] && opts+=(--m "$m")
  [ -n "$tiles" ] && opts+=(--tiles "$tiles")
  [ -n "$block" ] && opts+=(--tile-block "$block")
  if [ "$prefill" = "--prefill" ]; then
    "$build/wino" explain "${opts[@]}" --target sm_90 >/dev/null 2>&1
    return
  fi
  echo "== $label $plan F($m,3) $p $dtype $layout ${tiles:-default}${block:+ block $block}"
  if [ -n "$check" ]; then
    "$build/wino" run "${opts[@]}" --device cuda --check 2>&1 | grep -E "rror"
  else
    "$build/wino" run "${opts[@]}" --device cuda --repeat 30 2>&1 | grep -E "^wino_|^total|rror"
  fi
}

{
  for round in $(seq "$rounds"); do
    for l in $layers; do
      IFS=: read -r name shape k <<< "$l"
      for c in $configs; do
        IFS=: read -r plan m p dtype layout tiles block <<< "$c"
        defaults "$p"
        for b in "${builds[@]}"; do one "$b" "$name $b r$round" "$shape" "$k" "$plan" "$m" "$p" "$dtype" "$layout" "$tiles" "$block"; done
      done
    done
    [ "$prefill" = "--prefill" ] && break  # one build of each is enough
  done
  if [ "$prefill" != "--prefill" ]; then
    for l in $layers; do
      IFS=: read -r name shape k <<< "$l"
      for c in $configs; do
        IFS=: read -r plan m p dtype layout tiles block <<< "$c"
        defaults "$p"
        one "$new" "check $name $new" "$shape" "$k" "$plan" "$m" "$p" "$dtype" "$layout" "$tiles" "$block" --check
      done
    done
  fi
} 2>&1 | tee "$out/tensor_ab.txt"
if [ -z "$prefill" ]; then
  table=(python3 scripts/tensor_ab_table.py "$out/tensor_ab.txt")
  [ -n "$yardstick" ] && table+=(--torch "$out/torch_yardstick.json")
  "${table[@]}" | tee "$out/tensor_ab_table.md"
fi

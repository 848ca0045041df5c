#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool): wino_cudnn_bench for one tensor type against cuDNN
# in the matching mode on the batch >= 8 layers: fp32 tensors with fp32, 3xtf32 and tf32 (against
# cuDNN fp32 and TF32), or half tensors channels last (against cuDNN's same type, NHWC). cuDNN is
# timed twice in the same call, through the legacy Find and through PyTorch
# (bench/torch_yardstick.py); scripts/yardstick_table.py compares Wino with the faster of the two.
# The bench runs one layer at a time, so a call that reaches its deadline (WINO_DEADLINE_S seconds
# from the start, default 480) keeps the layers it finished.
# Usage there: scripts/gpu_tensor_cores.sh BUILD f32|f16|bf16   (logs go to $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/gpu_tensor_cores.sh BUILD f32|f16|bf16}
dtype=${2:-f32}
out=${OUT:-/tmp/wino_tensor_cores}
deadline=${WINO_DEADLINE_S:-480}
mkdir -p "$out"
export LD_LIBRARY_PATH=$(python3 -c "import nvidia.cudnn as c;print(list(c.__path__)[0])")/lib:${LD_LIBRARY_PATH:-}
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-$(mktemp -d)}
layers=${WINO_LAYERS:-resnet50.c2.b32,resnet50.c3.b32,resnet50.c4.b32,resnet50.c5.b32,vgg16.1_2.b8,vgg16.2_2.b8,vgg16.3_2.b8,vgg16.4_2.b8,vgg16.5_2.b8}
case $dtype in
  f32) mode=(--precision 3xtf32,tf32); torch_modes=fp32,tf32 ;;
  f16) mode=(--dtype f16 --layout nhwc --precision fp16); torch_modes=fp16 ;;
  bf16) mode=(--dtype bf16 --layout nhwc --precision bf16); torch_modes=bf16 ;;
  *) echo "unknown type $dtype (f32, f16 or bf16)" >&2; exit 2 ;;
esac
start=$(date +%s)
rc=0
python3 bench/torch_yardstick.py --only "$layers" --modes "$torch_modes" --json "$out/torch_$dtype.json" \
  > "$out/torch_$dtype.txt" 2>&1 || rc=1
parts=$(mktemp -d)
: > "$out/bench_$dtype.txt"
for layer in ${layers//,/ }; do
  left=$(( deadline - ($(date +%s) - start) ))
  if [ "$left" -lt 30 ]; then echo "deadline: $layer and the layers after it were not run" | tee -a "$out/bench_$dtype.txt"; rc=1; break; fi
  timeout "$left" "$build/bench/wino_cudnn_bench" --only "$layer" "${mode[@]}" --all-plans --repeat 20 --warmup 3 \
    --json "$parts/$layer.json" >> "$out/bench_$dtype.txt" 2>&1 || { echo "$layer: exit $?" | tee -a "$out/bench_$dtype.txt"; rc=1; }
done
# One JSON for the table: the first part's header, every part's layers.
python3 - "$parts" "$out/bench_$dtype.json" <<'PY'
import glob, json, sys
parts = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.json"))]
if parts:
    merged = dict(parts[0])
    merged["layers"] = [layer for p in parts for layer in p["layers"]]
    json.dump(merged, open(sys.argv[2], "w"), indent=1)
PY
grep -v "^    [a-z]" "$out/bench_$dtype.txt"
grep -E "^    (best|cuDNN TF32)" "$out/bench_$dtype.txt"
python3 scripts/yardstick_table.py "$out/bench_$dtype.json" "$out/torch_$dtype.json" | tee "$out/table_$dtype.md" || rc=1
echo "$dtype: $(( $(date +%s) - start )) s"
exit $rc

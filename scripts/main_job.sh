#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the main job: the per-kernel report of every plan on
# the seed's layer (1x8x32x32 input, 8 filters 3x3, padding 1), run on the CPU (registers and
# spills from NVRTC for sm_90 where the CUDA toolkit is installed), one checked run, and the CPU
# against oneDNN on two layers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
wino=build/release/wino

echo "== the transforms of F(4x4, 3x3)"
"$wino" transforms --m 4 --r 3
echo
echo "== the seed's table: every plan on the seed's layer"
"$wino" explain --shape 1,8,32,32 --k 8 --pad 1 --plan all --device cpu
echo
echo "== the fused plan, checked against the float64 reference"
"$wino" run --shape 1,8,32,32 --k 8 --pad 1 --seed 1 --plan fused --m 4 --check --repeat 20
echo
echo "== Wino on the CPU against oneDNN (Debian's libdnnl), same data and threads: the seed's layer and resnet50.c3"
if [ -x build/release/bench/wino_onednn_bench ]; then
  build/release/bench/wino_onednn_bench --only seed,resnet50.c3
else
  echo "wino_onednn_bench was not built: install libdnnl-dev (scripts/setup.sh does) and rebuild"
fi

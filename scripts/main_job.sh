#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the main job: Wino on the seed's convolution layer
# (1x8x32x32 input, 8 filters 3x3, padding 1) on the CPU, with the per-kernel report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
wino=build/release/wino

echo "== the transforms of F(4x4, 3x3)"
"$wino" transforms --m 4 --r 3
for plan in direct unfused; do
  echo
  echo "== the seed's layer, plan $plan"
  "$wino" run --shape 1,8,32,32 --k 8 --pad 1 --seed 1 --plan "$plan" --m 4 --check --repeat 20
done

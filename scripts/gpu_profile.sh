#!/usr/bin/env bash
# Profiles one kernel of one Wino configuration with Nsight Compute on the GPU machine (the
# `device` tool): `ncu --set full` on the first launch of the kernels whose name matches KERNEL
# (a regular expression), then the report's details page and its SASS with the stall samples
# per instruction (CSV), written to $OUT (or build/gpu_profile) as NAME.ncu-rep,
# NAME.details.txt, NAME.sass.csv and NAME.summary.txt (scripts/ncu_sass_summary.py: stalls by reason,
# opcode and code region, shared-memory wavefronts over the ideal).
# Usage: scripts/gpu_profile.sh [--prefill] BUILD NAME KERNEL -- WINO_RUN_ARGS...
#   e.g. scripts/gpu_profile.sh build/release fused23 wino_fused_all -- --shape 8,64,224,224 --k 64
#          --pad 1 --plan fused --m 2 --precision fp16 --dtype f16 --layout nhwc
#   --prefill: compile the configuration's kernels for sm_90 here (no GPU needed) into
#   $WINO_CACHE_DIR, to carry along, so that the device call spends its time profiling.
set -uo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = "--help" ] && { usage; exit 0; }
prefill=
[ "${1:-}" = "--prefill" ] && { prefill=1; shift; }
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  usage >&2
  exit 2
fi
build=$1 name=$2 kernel=$3
shift 4
[ -x "$build/wino" ] || { echo "gpu_profile: no wino binary in $build: build it first (scripts/build.sh)" >&2; exit 2; }
case $name in */* | "") echo "gpu_profile: NAME names the report files: no slashes, not empty" >&2; exit 2 ;; esac
export WINO_CACHE_DIR=${WINO_CACHE_DIR:-/tmp/wino_cache}
if [ -n "$prefill" ]; then
  exec "$build/wino" explain "$@" --target sm_90 >/dev/null
fi
command -v ncu >/dev/null || { echo "gpu_profile: ncu (Nsight Compute) is not on PATH: run this on the GPU machine" >&2; exit 2; }
out=${OUT:-build/gpu_profile}
mkdir -p "$out"
# The clocks stay as they are (the device tool's METHOD.md); on a gVisor machine ncu reads no
# counters at all ("LibraryNotLoaded"): that needs a Firecracker one (KINDS.md).
ncu --set full --clock-control none --import-source yes -k "regex:$kernel" -c 1 -f -o "$out/$name" "$build/wino" run "$@" --device cuda --repeat 1 \
  > "$out/$name.run.txt" 2>&1 || { tail -20 "$out/$name.run.txt" >&2; echo "gpu_profile: ncu failed (log: $out/$name.run.txt)" >&2; exit 1; }
[ -f "$out/$name.ncu-rep" ] || { echo "gpu_profile: no kernel matched '$kernel' (kernels: $(grep -o 'wino_[a-z0-9_]*' "$out/$name.run.txt" | sort -u | tr '\n' ' '))" >&2; exit 1; }
ncu --import "$out/$name.ncu-rep" --page details > "$out/$name.details.txt" 2>&1 ||
  { echo "gpu_profile: ncu could not print the report's details (see $out/$name.details.txt)" >&2; exit 1; }
ncu --import "$out/$name.ncu-rep" --page source --csv --print-source sass > "$out/$name.sass.csv" 2>&1 ||
  { echo "gpu_profile: ncu could not print the report's SASS (see $out/$name.sass.csv)" >&2; exit 1; }
grep -E "Duration|Registers Per Thread|Achieved Occupancy|Compute \(SM\) Throughput|Memory Throughput|Warp Cycles Per Issued" "$out/$name.details.txt" | head -12
python3 scripts/ncu_sass_summary.py "$out/$name.sass.csv" > "$out/$name.summary.txt" 2>&1 ||
  echo "gpu_profile: scripts/ncu_sass_summary.py could not summarise the SASS page (see $out/$name.summary.txt)" >&2
echo "gpu_profile: $out/$name.details.txt, $out/$name.sass.csv, $out/$name.summary.txt"

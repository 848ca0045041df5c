#!/usr/bin/env bash
# Runs the libFuzzer targets one at a time (niced), then minimizes each target's kept corpus.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]      targets: npy conv_cli transforms (default all, 600 s)
#
# Builds the `fuzz` preset (clang, ASan + UBSan) first. New interesting inputs are merged into
# fuzz/corpus/<target>/ with -merge=1 (commit them); crashes, leaks, timeouts and out-of-memory
# inputs land in build/fuzz/artifacts/<target>/. To keep a crash fixed: fix it, copy the input
# to fuzz/regressions/<target>/<short-name>, and the default test suite replays it from then on
# (tests/test_fuzz_regressions.cpp). Exits non-zero when a run found something.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(npy conv_cli transforms)
[[ $# -ge 1 && $1 != all ]] && targets=("$1")
seconds=${2:-600}

for t in "${targets[@]}"; do
  [[ -f fuzz/${t}_target.cpp ]] || { echo "fuzz.sh: unknown target '$t' (npy, conv_cli, transforms)" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (libFuzzer needs clang): apt-get install clang" >&2; exit 1; }
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j 2 $(printf -- '--target fuzz_%s ' "${targets[@]}") >/dev/null

status=0
for t in "${targets[@]}"; do
  bin=build/fuzz/fuzz/fuzz_$t
  work=build/fuzz/work/$t
  artifacts=build/fuzz/artifacts/$t
  mkdir -p "$work" "$artifacts" "fuzz/corpus/$t"
  dict=()
  [[ -f fuzz/$t.dict ]] && dict=(-dict="fuzz/$t.dict")
  echo "== fuzz_$t for ${seconds}s"
  # -close_fd_mask=1: the CLI target may print --help to stdout.
  if ! nice "$bin" "$work" "fuzz/corpus/$t" "fuzz/seeds/$t" "${dict[@]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$artifacts/" 2>&1 |
      grep -E '^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|INFO: seed|.*(crash|leak|timeout|oom)-)' ; then
    :
  fi
  if compgen -G "$artifacts/*" >/dev/null; then
    echo "fuzz_$t found problems:"; ls -l "$artifacts"; status=1
  fi
  # Minimize: keep only inputs that add edge coverage (-use_counters=0: hit counts are not kept,
  # so the committed corpus stays at a few hundred files), starting from an empty set. The full
  # working corpus stays in build/fuzz/work/ for the next run.
  fresh=build/fuzz/merged/$t
  rm -rf "$fresh" && mkdir -p "$fresh"
  nice "$bin" -merge=1 -use_counters=0 -close_fd_mask=1 -timeout=10 -rss_limit_mb=2048 "$fresh" \
    "fuzz/corpus/$t" "fuzz/seeds/$t" "$work" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true
  rm -rf "fuzz/corpus/$t" && mv "$fresh" "fuzz/corpus/$t"
  echo "fuzz/corpus/$t: $(ls "fuzz/corpus/$t" | wc -l) files"
done
exit $status

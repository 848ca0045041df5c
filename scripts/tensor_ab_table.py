#!/usr/bin/env python3
"""Tables of a scripts/gpu_tensor_ab.sh run: per configuration, each layer's total time with every
build side by side, cuDNN's time from bench/torch_yardstick.py's JSON (same device call) in the
mode that matches (fp16/bf16 against the same dtype, tf32/3xtf32 against TF32, fp32 against fp32),
the geometric mean of cuDNN / Wino per build, and of the first build's time over each other's.
With several rounds the best of each is taken.

Usage: scripts/tensor_ab_table.py TENSOR_AB_TXT [--torch TORCH_JSON]
  e.g. scripts/tensor_ab_table.py bench/results/h100_tensor_fused_ab_session45.txt \\
         --torch bench/results/h100_torch_f16_tf32_session45.json
"""
import argparse
import json
import math
import re
import sys

# "== LAYER BUILD rROUND PLAN F(m,r) PRECISION DTYPE LAYOUT TILES[ block BLOCK]" (the --check lines
# start "== check")
HEADER = re.compile(r"== (?!check )(\S+) (\S+) r\d+ (\S+) F\((\d+),(\d+)\) (\S+) (\S+) (\S+) (\S+(?: block \S+)?)")
TOTAL = re.compile(r"total ([\d.]+) us")


def read_runs(path):
    """{(layer, configuration, build): best total us}, and the layers, configurations and builds in order."""
    times, layers, configs, builds = {}, [], [], []
    key = None
    with open(path) as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                layer, build, plan, m_, r, precision, dtype, layout, tiles = m.groups()
                config = f"{plan} F({m_},{r}) {precision} {dtype} {layout} {tiles}"
                key = (layer, config, build)
                for seq, item in ((layers, layer), (configs, config), (builds, build)):
                    if item not in seq:
                        seq.append(item)
                continue
            m = TOTAL.match(line)
            if m and key:
                times[key] = min(times.get(key, math.inf), float(m.group(1)))
                key = None
    return times, layers, configs, builds


def cudnn_mode(config):
    precision = config.split()[2]
    return {"3xtf32": "tf32"}.get(precision, precision)


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("runs", help="tensor_ab.txt written by scripts/gpu_tensor_ab.sh")
    ap.add_argument("--torch", help="JSON of bench/torch_yardstick.py from the same device call")
    a = ap.parse_args()
    try:
        times, layers, configs, builds = read_runs(a.runs)
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"tensor_ab_table: cannot read the runs {a.runs}: {e}")
    cudnn = {}
    if a.torch:
        try:
            with open(a.torch) as f:
                cudnn = {(r["layer"], r["mode"]): r["us_med"] for r in json.load(f)["rows"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            sys.exit(f"tensor_ab_table: cannot read the yardstick {a.torch} (bench/torch_yardstick.py --json): {e}")
    if not times:
        sys.exit(f"tensor_ab_table: no timed runs in {a.runs} (is it gpu_tensor_ab.sh's tensor_ab.txt?)")
    for config in configs:
        mode = cudnn_mode(config)
        print(f"\n{config} (cuDNN {mode})\n")
        print("| layer | cuDNN us | " + " | ".join(builds) + " |\n|---|---:|" + "---:|" * len(builds))
        for layer in layers:
            cells = [f"{times[(layer, config, b)]:.1f}" if (layer, config, b) in times else "-" for b in builds]
            c = cudnn.get((layer, mode))
            print(f"| {layer} | {c:.1f} | " if c else f"| {layer} | - | ", end="")
            print(" | ".join(cells) + " |")
        ratios = [[cudnn[(l, mode)] / times[(l, config, b)] for l in layers if (l, config, b) in times and (l, mode) in cudnn]
                  for b in builds]
        if any(ratios):
            print("| cuDNN / Wino, geometric mean | | " + " | ".join(f"{geomean(r):.3f}" if r else "-" for r in ratios) + " |")
        for b in builds[1:]:
            r = [times[(l, config, builds[0])] / times[(l, config, b)] for l in layers
                 if (l, config, b) in times and (l, config, builds[0]) in times]
            if r:
                print(f"\n{builds[0]} / {b}: geometric mean {geomean(r):.3f}, range {min(r):.2f}-{max(r):.2f}")


if __name__ == "__main__":
    main()

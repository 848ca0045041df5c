#!/usr/bin/env python3
"""Per-layer table of the Winograd plans (unfused, fused-input, fused, fused-output) against cuDNN
from one JSON of `wino_cudnn_bench --all-plans --json`: each plan's fastest spill-free candidate,
its time, the bytes its kernels move and the FLOPs they do (the cost model's counts, the weight
transform left out), and which of the two bounds the time (bytes at the memory bandwidth, FLOPs at
the FP32 peak) with the fraction of it reached."""
import argparse
import json
import sys

PLANS = ["unfused", "fused-input", "fused", "fused-output"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("json", help="output of wino_cudnn_bench --all-plans --json FILE")
    p.add_argument("--bandwidth-tbs", type=float, default=4.3, help="memory bandwidth, TB/s (H200 measured: 4.3)")
    p.add_argument("--peak-tflops", type=float, default=67.0, help="FP32 FMA peak, TFLOP/s (H200: 67)")
    return p.parse_args()


def work(candidate):
    """Bytes and FLOPs of a candidate's kernels, the weight transform (done once) left out."""
    kernels = [k for k in candidate["kernels"] if k["stage"] != "weight_transform"]
    return sum(k["bytes"] for k in kernels), sum(k["flops"] for k in kernels)


def fastest(layer, plan):
    runs = [c for c in layer["wino"] if c["plan"] == plan and all((k["spill_bytes"] or 0) == 0 for k in c["kernels"])]
    return min(runs, key=lambda c: c["us_med"]) if runs else None


def cell(c, bandwidth, peak):
    if c is None:
        return "-"
    nbytes, flops = work(c)
    t_bytes, t_flops = nbytes / bandwidth * 1e6, flops / peak * 1e6
    limit, bound = ("bytes", t_bytes) if t_bytes >= t_flops else ("FLOPs", t_flops)
    m = f"F({c['m']},3)" if c["m"] else ""
    return f"{c['us_med']:.1f} {m} {nbytes / 1e6:.0f} MB {limit} {100 * bound / c['us_med']:.0f}%"


def main():
    a = parse_args()
    try:
        with open(a.json) as f:
            data = json.load(f)
        layers = data["layers"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"fusion_table: cannot read {a.json} as wino_cudnn_bench JSON: {e}")
    bandwidth, peak = a.bandwidth_tbs * 1e12, a.peak_tflops * 1e12
    print(f"{data.get('device', '?')}, {data.get('cudnn', '?')}; each cell: us, tile, bytes moved, the limit, "
          f"and the share of that bound reached ({a.bandwidth_tbs} TB/s, {a.peak_tflops} TFLOP/s)\n")
    print("| layer | cuDNN us | " + " | ".join(PLANS) + " | fused over unfused |")
    print("|---|---:|" + "---|" * len(PLANS) + "---:|")
    for layer in layers:
        best = {p: fastest(layer, p) for p in PLANS}
        fused = [best[p] for p in ("fused-input", "fused", "fused-output") if best[p]]
        ratio = "-"
        if fused and best["unfused"]:
            ratio = f"{best['unfused']['us_med'] / min(c['us_med'] for c in fused):.2f}x"
        cells = " | ".join(cell(best[p], bandwidth, peak) for p in PLANS)
        print(f"| {layer['layer']} | {layer['cudnn']['us_med']:.1f} | {cells} | {ratio} |")


if __name__ == "__main__":
    main()

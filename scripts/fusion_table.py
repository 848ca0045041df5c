#!/usr/bin/env python3
"""Per-layer table of the Winograd plans (unfused, fused-input, fused, fused-output) against cuDNN
from one JSON of `wino_cudnn_bench --all-plans --json`: each plan's fastest spill-free candidate,
its time, and by the cost model (`wino explain --json --target T` on the same layer) the memory
traffic it charges (each kernel's buffers once: what reaches HBM where L2 takes the rereads), the
term that limits its predicted time (bytes, FLOPs, work-group memory, latency) and that prediction.
Usage: scripts/fusion_table.py SWEEP.json [--wino BIN] [--target T] (T: the GPU the sweep ran on,
sm_90 for an H200, sm_90:h100 for an H100)"""
import argparse
import json
import subprocess
import sys

PLANS = ["unfused", "fused-input", "fused", "fused-output"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", help="output of wino_cudnn_bench --all-plans --json FILE")
    p.add_argument("--wino", default="build/release/wino", help="the wino binary whose cost model explains the picks")
    p.add_argument("--target", default="sm_90", help="the GPU the sweep ran on: sm_90 (H200) or sm_90:h100")
    return p.parse_args()


def padding(layer):
    """The sweep's padding of the layer, from its problem line ("... pad 1,1,1,1")."""
    words = layer.get("problem", "").split()
    return words[words.index("pad") + 1] if "pad" in words[:-1] else "1"


def model(wino, layer, target):
    """The cost model's fp32 candidates for the sweep's layer, by (plan, m, tiles)."""
    shape = f"{layer['N']},{layer['C']},{layer['H']},{layer['W']}"
    out = subprocess.run([wino, "explain", "--shape", shape, "--k", str(layer["K"]), "--pad", padding(layer),
                          "--target", target, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"fusion_table: {wino} explain failed on {layer['layer']}: {out.stderr.strip()}")
    return {(c["plan"], c["m"], c["tiles"]): c for c in json.loads(out.stdout)[0]["candidates"]}


def tiles_of(label):
    """The tiles of a sweep label ("unfused F(6,3) t64,64,8,8,8" -> "64,64,8,8,8")."""
    words = [w for w in label.split() if w.startswith("t") and "," in w]
    return words[0][1:] if words else ""


def fastest(layer, plan):
    runs = [c for c in layer["wino"] if c["plan"] == plan and all((k["spill_bytes"] or 0) == 0 for k in c["kernels"])]
    return min(runs, key=lambda c: c["us_med"]) if runs else None


def cell(c, predicted):
    if c is None:
        return "-"
    m = f"F({c['m']},3)" if c["m"] else ""
    p = predicted.get((c["plan"], c["m"], tiles_of(c["label"])))
    if p is None:  # (a candidate this wino's planner does not offer)
        return f"{c['us_med']:.1f} {m} · not in the model's candidates"
    return f"{c['us_med']:.1f} {m} · {p['predicted_mb']:.0f} MB · {p['bound']} ({p['predicted_us']:.0f})"


def main():
    a = parse_args()
    try:
        with open(a.json) as f:
            data = json.load(f)
        layers = data["layers"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"fusion_table: cannot read {a.json} as wino_cudnn_bench JSON: {e}")
    print(f"{data.get('device', '?')}, {data.get('cudnn', '?')}; each cell: measured us, tile · the memory "
          f"traffic the cost model charges · the term that limits its prediction (predicted us), for {a.target}\n")
    print("| layer | cuDNN us | " + " | ".join(PLANS) + " | fused over unfused |")
    print("|---|---:|" + "---|" * len(PLANS) + "---:|")
    for layer in layers:
        if layer.get("mode", "fp32") not in ("fp32", "float32", "f32", ""):
            sys.exit(f"fusion_table: {layer['layer']} ran in {layer['mode']}; the table is for float32 sweeps")
        best = {p: fastest(layer, p) for p in PLANS}
        fused = [best[p] for p in ("fused-input", "fused", "fused-output") if best[p]]
        ratio = "-"
        if fused and best["unfused"]:
            ratio = f"{best['unfused']['us_med'] / min(c['us_med'] for c in fused):.2f}x"
        predicted = model(a.wino, layer, a.target)
        cells = " | ".join(cell(best[p], predicted) for p in PLANS)
        print(f"| {layer['layer']} | {layer['cudnn']['us_med']:.1f} | {cells} | {ratio} |")


if __name__ == "__main__":
    main()

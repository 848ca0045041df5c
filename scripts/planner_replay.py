#!/usr/bin/env python3
"""Replays the planner against a measured sweep, without a GPU: for each layer of a
wino_cudnn_bench --json file and each precision asked for, asks `wino explain --json --target
sm_90 --precision P` for the cost model's ranking and prints its pick's measured time over the
sweep's best candidate that the planner may take for P (a higher precision or P itself: fp32 >
3xtf32 > tf32 > fp16 or bf16; within the half modes' error bound), and what tune mode gets
measuring the model's best K in its order. Geometric means over the layers close each precision.
Usage: scripts/planner_replay.py SWEEP.json [--wino BIN] [--top K] [--precision P,...] [--target T]
(T: the GPU the sweep ran on, sm_90 for an H200, sm_90:h100 for an H100)"""
import argparse, json, math, subprocess, sys

# Higher first: a request for one of these may be served by any precision before it (fp16 and
# bf16 each sit below tf32).
ORDER = ["fp32", "3xtf32", "tf32", "fp16", "bf16"]


def allowed(asked):
    higher = ORDER[: ORDER.index("tf32") + 1]
    return set(higher[: higher.index(asked) + 1]) if asked in higher else set(higher) | {asked}


def tensor_options(layer):
    """wino explain's options for the sweep's tensors: "float16 nhwc" -> --dtype f16 --layout nhwc."""
    words = layer.get("mode", "").split()
    dtype = {"float16": "f16", "f16": "f16", "bfloat16": "bf16", "bf16": "bf16"}.get(words[0] if words else "", "f32")
    layout = "nhwc" if "nhwc" in words else "nchw"
    return ["--dtype", dtype, "--layout", layout]


def label(c):
    """The bench's label of a candidate: plan, F(m,3), tiles, precision unless fp32."""
    s = c["plan"] + (f" F({c['m']},3)" if c["m"] else "")
    s += f" t{c['tiles']}" if c["tiles"] else ""
    return s + (f" {c['precision']}" if c.get("precision", "fp32") != "fp32" else "")


def tune_order(cands, per_group=2):
    """The order tune mode measures in (planner::tune_order): the model's order, with a plan, m and
    precision's third and later tile shapes after every other group's first two."""
    seen, first, later = {}, [], []
    for c in cands:
        g = (c["plan"], c["m"], c.get("precision", "fp32"))
        seen[g] = seen.get(g, 0) + 1
        (first if seen[g] <= per_group else later).append(c)
    return first + later


def model_ranking(wino, layer, precision, target):
    n, c, k, h, w = layer["N"], layer["C"], layer["K"], layer["H"], layer["W"]
    out = subprocess.run([wino, "explain", "--shape", f"{n},{c},{h},{w}", "--k", str(k), "--pad", "1",
                          "--target", target, "--precision", precision, "--json"] + tensor_options(layer),
                         capture_output=True, text=True, check=True).stdout
    return [x for x in json.loads(out)[0]["candidates"] if x["chosen"] or x["rejected"].startswith("predicted")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("--wino", default="build/release/wino")
    ap.add_argument("--top", type=int, default=6)
    ap.add_argument("--precision", default="", help="precisions asked for (default: each one the sweep measured)")
    ap.add_argument("--target", default="sm_90", help="the GPU the sweep ran on (sm_90: H200, sm_90:h100: H100)")
    a = ap.parse_args()
    sweep = json.load(open(a.sweep))
    measured_precisions = {w.get("precision", "fp32") for l in sweep["layers"] for w in l["wino"]}
    asked = a.precision.split(",") if a.precision else [p for p in ORDER if p in measured_precisions]
    for p in asked:
        if p not in ORDER:
            sys.exit(f"unknown precision {p} (one of {', '.join(ORDER)})")
    print(f"{'layer':16} {'asked':7} {'best us':>9} {'model pick':44} {'x best':>7} {'tune x best':>11}")
    worst = {p: [0.0, 0.0] for p in asked}
    logs = {p: [] for p in asked}
    for l in sweep["layers"]:
        for p in asked:
            measured = {w["label"]: w["us_med"] for w in l["wino"]
                        if "rejected" not in w and w["us_med"] > 0 and w.get("precision", "fp32") in allowed(p)}
            if not measured:
                continue
            cands = model_ranking(a.wino, l, p, a.target)
            # The best the planner may take: a candidate it offers and admits (the sweep also times
            # plans named by hand and candidates over the half modes' error bound).
            admitted = {label(c) for c in cands}
            measured = {k: v for k, v in measured.items() if k in admitted}
            if not measured:
                continue
            best = min(measured.values())
            pick = label(cands[0])
            model = measured.get(pick, math.inf) / best
            tune = min(measured.get(label(x), math.inf) for x in tune_order(cands)[: a.top]) / best
            worst[p] = [max(worst[p][0], model), max(worst[p][1], tune)]
            logs[p].append((math.log(model), math.log(tune)))
            print(f"{l['layer']:16} {p:7} {best:9.1f} {pick:44} {model:7.3f} {tune:11.3f}")
    for p, (model, tune) in worst.items():
        if not logs[p]:
            print(f"asked for {p}: n/a (no layer has a measured candidate the planner admits)")
            continue
        n = len(logs[p])
        gm = [math.exp(sum(x[i] for x in logs[p]) / n) for i in (0, 1)]
        print(f"asked for {p}: cost model worst {model:.3f}x, mean {gm[0]:.3f}x; tune (top {a.top}) worst "
              f"{tune:.3f}x, mean {gm[1]:.3f}x")


if __name__ == "__main__":
    sys.exit(main())

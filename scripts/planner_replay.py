#!/usr/bin/env python3
"""Replays the planner against a measured sweep, without a GPU: for each layer of a
wino_cudnn_bench --json file, asks `wino explain --json --target sm_90` for the cost model's
ranking and prints its pick's measured time over the sweep's best, and what tune mode would get
measuring the model's best K. Usage: scripts/planner_replay.py SWEEP.json [--wino BIN] [--top K]"""
import argparse, json, math, subprocess, sys

def label(c):
    s = c["plan"] + (f" F({c['m']},3)" if c["m"] else "")
    return s + (f" t{c['tiles']}" if c["tiles"] else "")

def tune_order(cands, per_group=2):
    """The order tune mode measures in (planner::tune_order): the model's order, with a plan and
    m's third and later tile shapes after every other plan and m's first two."""
    seen, first, later = {}, [], []
    for c in cands:
        g = (c["plan"], c["m"])
        seen[g] = seen.get(g, 0) + 1
        (first if seen[g] <= per_group else later).append(c)
    return first + later

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("--wino", default="build/release/wino")
    ap.add_argument("--top", type=int, default=4)
    a = ap.parse_args()
    sweep = json.load(open(a.sweep))
    worst_model = worst_tune = 0
    print(f"{'layer':16} {'best us':>9} {'model pick':34} {'x best':>7} {'tune x best':>11}")
    for l in sweep["layers"]:
        measured = {w["label"]: w["us_med"] for w in l["wino"] if "rejected" not in w}
        best = min(measured.values())
        n, c, k, h, w = l["N"], l["C"], l["K"], l["H"], l["W"]
        out = subprocess.run([a.wino, "explain", "--shape", f"{n},{c},{h},{w}", "--k", str(k), "--pad", "1",
                              "--target", "sm_90", "--json"], capture_output=True, text=True, check=True).stdout
        cands = [x for x in json.loads(out)[0]["candidates"] if x["chosen"] or x["rejected"].startswith("predicted")]
        pick = label(cands[0])
        model = measured.get(pick, math.inf) / best
        tune = min(measured.get(label(x), math.inf) for x in tune_order(cands)[: a.top]) / best
        worst_model, worst_tune = max(worst_model, model), max(worst_tune, tune)
        print(f"{l['layer']:16} {best:9.1f} {pick:34} {model:7.3f} {tune:11.3f}")
    print(f"worst: cost model {worst_model:.3f}x, tune (top {a.top}) {worst_tune:.3f}x")

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Wino against the GPU yardstick: for every layer, cuDNN's faster of the legacy Find (timed by
wino_cudnn_bench) and PyTorch's F.conv2d (bench/torch_yardstick.py, same device call), in the mode
that matches each Wino precision:

  Wino fp32     against cuDNN fp32 (TF32 off)
  Wino 3xtf32   against cuDNN TF32 (PyTorch's default) and cuDNN fp32
  Wino tf32     against cuDNN TF32
  Wino fp16     against cuDNN fp16 channels last (bf16 likewise)

On half-precision tensors every Wino precision is compared with cuDNN in that type.

Prints a markdown table (times in us, errors in parentheses, ratios = yardstick / Wino: above 1
Wino is faster) and the geometric means over the batch >= 8 layers.

Usage: scripts/yardstick_table.py WINO_BENCH.json TORCH_YARDSTICK.json
"""
import json
import math
import sys

# Wino precision -> the yardstick modes it is compared with.
AGAINST = {"fp32": ["fp32"], "3xtf32": ["tf32", "fp32"], "tf32": ["tf32"], "fp16": ["fp16"], "bf16": ["bf16"]}


def half_type(layer):
    """"fp16" or "bf16" for a run on half tensors, else None."""
    mode = layer["mode"]
    if mode.startswith(("float16", "f16")):
        return "fp16"
    if mode.startswith(("bfloat16", "bf16")):
        return "bf16"
    return None


def yardsticks(layer, torch_rows):
    """mode -> (us, source, rel_err): the faster of cuDNN Find and PyTorch for this layer."""
    find = {}
    half = half_type(layer)
    if half:
        find[half] = layer.get("cudnn")
    else:
        find["fp32"] = layer.get("cudnn")
        find["tf32"] = layer.get("cudnn_tf32")
    out = {}
    for m in set(find) | {r["mode"] for r in torch_rows}:
        options = []
        f = find.get(m)
        if f and f.get("us_med", -1) > 0:
            options.append((f["us_med"], "Find", f.get("rel_err", float("nan"))))
        options += [(r["us_med"], "PyTorch", r["rel_err"]) for r in torch_rows if r["mode"] == m]
        if options:
            out[m] = min(options)
    return out


def best_per_precision(layer):
    best = {}
    for c in layer["wino"]:
        if c.get("rejected") or c.get("us_med", -1) <= 0:
            continue
        p = c["precision"]
        if p not in best or c["us_med"] < best[p]["us_med"]:
            best[p] = c
    return best


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help") else 2)
    try:
        wino = json.load(open(sys.argv[1]))
        torch = json.load(open(sys.argv[2]))
    except (OSError, ValueError) as e:
        sys.exit(f"cannot read the benchmark results: {e}")
    by_layer = {}
    for r in torch.get("rows", []):
        by_layer.setdefault(r["layer"], []).append(r)

    ratios = {}  # (precision, yardstick mode) -> [ratio] over batch >= 8 layers
    print(f"Wino: {wino.get('device', '?')}, cuDNN {wino.get('cudnn', '?')} (Find); "
          f"PyTorch {torch.get('torch', '?')}, cuDNN {torch.get('cudnn', '?')}")
    print()
    print("| layer | precision | Wino us (err) | plan | yardstick | us (err, source) | yardstick / Wino |")
    print("|---|---|---:|---|---|---:|---:|")
    for layer in wino["layers"]:
        yard = yardsticks(layer, by_layer.get(layer["layer"], []))
        half = half_type(layer)
        for p, c in sorted(best_per_precision(layer).items(), key=lambda kv: list(AGAINST).index(kv[0])):
            for m in [half] if half else AGAINST.get(p, []):
                if m not in yard:
                    continue
                us, source, err = yard[m]
                ratio = us / c["us_med"]
                print(f"| {layer['layer']} | {p} | {c['us_med']:.1f} ({c['rel_err']:.1e}) | {c['label']} | cuDNN {m} "
                      f"| {us:.1f} ({err:.1e}, {source}) | {ratio:.2f} |")
                if layer.get("N", 1) >= 8:
                    ratios.setdefault((p, m), []).append(ratio)
    print()
    for (p, m), v in ratios.items():
        print(f"Wino {p} against cuDNN {m}: geometric mean {geomean(v):.2f}x over {len(v)} layers with batch >= 8 "
              f"(min {min(v):.2f}, max {max(v):.2f})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""cuDNN through PyTorch on the layers of a layer file: the half of the GPU yardstick that the
legacy cudnnFind in wino_cudnn_bench does not see (PyTorch's frontend-API engines are often faster,
most of all in TF32 and channels-last half precision).

Per layer and mode: F.conv2d with torch.backends.cudnn.benchmark on, GPU time of one call from
CUDA-graph replays (median over replays of `--per-graph` calls each, after warm-up), and the
relative L2 error against float64 on the same data. Modes: fp32 (TF32 off), tf32 (PyTorch's
default for fp32 convolutions), fp16 and bf16 (channels_last). Run it in the same device call as
the Wino benchmark and merge with scripts/yardstick_table.py.

Usage: bench/torch_yardstick.py [--layers bench/layers.txt] [--only a,b] [--modes fp32,tf32]
                                [--replays 20] [--per-graph 20] [--json PATH]
"""
import argparse
import json
import statistics
import sys

MODES = ("fp32", "tf32", "fp16", "bf16")


def read_layers(path, only):
    """Rows `name N C K H W R S pad` of a layer file, in file order; `only` keeps the named ones."""
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            name, *values = line.split()
            if len(values) != 8:
                sys.exit(f"{path}:{number}: expected 'name N C K H W R S pad', got {line!r}")
            if only and name not in only:
                continue
            rows.append((name, *map(int, values)))
    missing = set(only or ()) - {r[0] for r in rows}
    if missing:
        sys.exit(f"--only names layers not in {path}: {', '.join(sorted(missing))}")
    return rows


def graph_time_us(torch, fn, replays, per_graph):
    """Median and minimum GPU time of one fn() call, from CUDA-graph replays of per_graph calls."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up: cudnn.benchmark's search happens here, outside the graph
        for _ in range(5):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(per_graph):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3 / per_graph)
    return statistics.median(times), min(times)


def measure(torch, layer, modes, replays, per_graph):
    F = torch.nn.functional
    name, n, c, k, h, w, r, s, pad = layer
    gen = torch.Generator(device="cuda").manual_seed(7)
    x64 = torch.randn(n, c, h, w, device="cuda", dtype=torch.float64, generator=gen)
    w64 = torch.randn(k, c, r, s, device="cuda", dtype=torch.float64, generator=gen)
    ref = F.conv2d(x64, w64, padding=pad)
    out = []
    for mode in modes:
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode, torch.float32)
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        x, wt = x64.to(dtype), w64.to(dtype)
        if mode in ("fp16", "bf16"):
            x = x.contiguous(memory_format=torch.channels_last)
            wt = wt.contiguous(memory_format=torch.channels_last)
        med, low = graph_time_us(torch, lambda: F.conv2d(x, wt, padding=pad), replays, per_graph)
        y = F.conv2d(x, wt, padding=pad).double()
        err = (torch.linalg.vector_norm(y - ref) / torch.linalg.vector_norm(ref)).item()
        flops = 2.0 * n * k * c * r * s * (h + 2 * pad - r + 1) * (w + 2 * pad - s + 1)
        out.append({"layer": name, "mode": mode, "us_med": med, "us_min": low, "tflops": flops / med * 1e-6,
                    "rel_err": err})
        print(f"{name:18s} {mode:5s} {med:9.1f} us (min {low:.1f})  {flops / med * 1e-6:6.1f} TFLOP/s  "
              f"error {err:.1e}", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="bench/layers.txt", help="layer file (default bench/layers.txt)")
    ap.add_argument("--only", default="", help="comma-separated layer names to keep")
    ap.add_argument("--modes", default="fp32,tf32", help="comma-separated of " + ", ".join(MODES))
    ap.add_argument("--replays", type=int, default=20, help="graph replays timed (default 20)")
    ap.add_argument("--per-graph", type=int, default=20, help="calls captured per graph (default 20)")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        sys.exit(f"--modes: unknown {', '.join(bad) or '(none given)'}; choose from {', '.join(MODES)}")
    if a.replays < 1 or a.per_graph < 1:
        sys.exit("--replays and --per-graph must be at least 1")
    layers = read_layers(a.layers, {x for x in a.only.split(",") if x})
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch (this measures cuDNN through it)")
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: the PyTorch yardstick runs on the GPU machine")
    torch.backends.cudnn.benchmark = True
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__} cudnn {torch.backends.cudnn.version()}",
          flush=True)
    rows = []
    for layer in layers:
        rows += measure(torch, layer, modes, a.replays, a.per_graph)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                       "cudnn": torch.backends.cudnn.version(), "replays": a.replays, "per_graph": a.per_graph,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

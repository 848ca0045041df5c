#!/usr/bin/env python3
"""The Python overhead of one wino.conv2d call: host time per call on torch tensors (weights
cached, so the call is argument checks, the compiled-convolution lookup, the output allocation
and the launch), against Conv.run's own time for the same tensors (wino.compile's object).
On CUDA tensors calls return without waiting, so the host time is the overhead.

    python3 bench/python_overhead.py [--device cpu|cuda] [--calls 2000]
"""
import argparse
import statistics
import time

import torch

import wino


def per_call_us(fn, calls):
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return min(times)  # the least disturbed round: overheads are small against noise


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args()
    x = torch.randn(1, 8, 8, 8, device=a.device)
    w = torch.randn(8, 8, 3, 3, device=a.device)
    conv = wino.compile(w, input_shape=tuple(x.shape), padding=1, plan="direct")
    y = conv(x)
    run = lambda: conv._conv.run(x, y, None, wino._tensors.stream_of(x))  # the extension's own call
    functional = lambda: wino.conv2d(x, w, padding=1, plan="direct")
    functional()
    if a.device == "cuda":
        torch.cuda.synchronize()
    base, full = per_call_us(run, a.calls), per_call_us(functional, a.calls)
    if a.device == "cuda":
        torch.cuda.synchronize()
    print(f"{a.device}: Conv.run from Python {base:.1f} us per call; wino.conv2d {full:.1f} us per call; "
          f"the Python layer adds {full - base:.1f} us")


if __name__ == "__main__":
    main()

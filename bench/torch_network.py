#!/usr/bin/env python3
"""Whole networks on the GPU: torchvision vgg16 (batch 8) and resnet50 (batch 32) with random
weights, inference, converted to Wino against the original in one process: time per forward
(CUDA events, median of 20 after warm-up) with cuDNN fp32 (TF32 off), with PyTorch's default
(TF32 on) and with Wino; time per conv layer (events around each module); relative error of each
against a float64 run. Needs a CUDA GPU, torch and torchvision, and `pip install .`.

    python3 bench/torch_network.py [--nets vgg16,resnet50] [--json out.json]
"""
import argparse
import copy
import json
import statistics

import torch
import torchvision

import wino.torch


def forward_ms(model, x, repeats=20, warmup=5):
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def per_layer_ms(model, x, kinds):
    """Median milliseconds of each module of `kinds`, from events recorded by forward hooks."""
    events = {}

    def pre(name):
        def hook(m, i):
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            events.setdefault(name, []).append([e])
        return hook

    def post(name):
        def hook(m, i, o):
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            events[name][-1].append(e)
        return hook

    handles = []
    for name, m in model.named_modules():
        if isinstance(m, kinds):
            handles += [m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post(name))]
    forward_ms(model, x, repeats=10, warmup=2)
    torch.cuda.synchronize()
    for h in handles:
        h.remove()
    return {n: statistics.median(a.elapsed_time(b) for a, b in ev[-10:]) for n, ev in events.items()}


def rel_err(y, ref):
    return ((y.double() - ref).norm() / ref.norm()).item()


def run(name, batch, size=224):
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None).eval().cuda()
    x = torch.randn(batch, 3, size, size, device="cuda")
    with torch.no_grad():
        ref = copy.deepcopy(net).double()(x.double())
    out = {"network": name, "batch": batch}
    for mode, tf32 in (("cudnn_fp32", False), ("pytorch_default_tf32", True)):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
        with torch.no_grad():
            out[mode] = {"ms": forward_ms(net, x), "rel_err": rel_err(net(x), ref),
                         "layers_ms": per_layer_ms(net, x, torch.nn.Conv2d)}
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    variants = {"wino": None,  # every conv Wino accepts (1x1 and strided ones through its direct plan)
                "wino_3x3": lambda _, c: c.kernel_size == (3, 3) and c.stride == (1, 1)}  # Winograd's layers only
    for variant, keep in variants.items():
        converted, table = wino.torch.convert(copy.deepcopy(net), filter=keep)
        with torch.no_grad():
            out[variant] = {"ms": forward_ms(converted, x), "rel_err": rel_err(converted(x), ref),
                            "layers_ms": per_layer_ms(converted, x, (torch.nn.Conv2d, wino.torch.Conv2d)),
                            "converted": sum(r[1] == "converted" for r in table), "convs": len(table)}
        print(f"{name} {variant}: {out[variant]['converted']} of {out[variant]['convs']} convs converted")
        del converted
    shapes = {n: f"{m.in_channels}->{m.out_channels} k{m.kernel_size[0]} s{m.stride[0]}"
              for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)}
    base = out["cudnn_fp32"]["ms"]
    print(f"{name} b{batch}: cuDNN fp32 {base:.2f} ms (err {out['cudnn_fp32']['rel_err']:.2e}), "
          f"PyTorch default TF32 {out['pytorch_default_tf32']['ms']:.2f} ms (err "
          f"{out['pytorch_default_tf32']['rel_err']:.2e}), Wino {out['wino']['ms']:.2f} ms (err "
          f"{out['wino']['rel_err']:.2e}): {base / out['wino']['ms']:.2f}x over fp32; Wino on the 3x3 stride-1 convs "
          f"only {out['wino_3x3']['ms']:.2f} ms (err {out['wino_3x3']['rel_err']:.2e})")
    print(f"  {'layer':24} {'cuDNN fp32 ms':>14} {'TF32 ms':>9} {'Wino ms':>9} {'3x3 only':>9}  shape")
    for layer, ms in out["cudnn_fp32"]["layers_ms"].items():
        print(f"  {layer:24} {ms:14.3f} {out['pytorch_default_tf32']['layers_ms'].get(layer, float('nan')):9.3f} "
              f"{out['wino']['layers_ms'].get(layer, float('nan')):9.3f} "
              f"{out['wino_3x3']['layers_ms'].get(layer, float('nan')):9.3f}  {shapes.get(layer, '')}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="vgg16,resnet50", help="comma-separated: vgg16 (batch 8), resnet50 (batch 32)")
    ap.add_argument("--json", help="also write every number here")
    a = ap.parse_args()
    batches = {"vgg16": 8, "resnet50": 32}
    results = [run(n, batches[n]) for n in a.nets.split(",")]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

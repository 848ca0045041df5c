#!/usr/bin/env python3
"""Whole networks on the GPU: torchvision vgg16 (batch 8) and resnet50 (batch 32) with random
weights, inference, converted to Wino against the original in one process: time per forward
(CUDA events, median of 20 after warm-up) with cuDNN fp32 (TF32 off), with PyTorch's default
(TF32 on) and with Wino (on every conv; on the convs Winograd serves, in fp32, 3xtf32 and tf32);
time per conv layer (events around each module); relative error of each against a float64 run. Needs a CUDA GPU, torch and torchvision, and `pip install .`.

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
    # Wino on every conv it accepts (1x1 and strided ones through its direct plan), then on the
    # convs Winograd serves (convert's default) in fp32, 3xtf32 and tf32.
    variants = {"wino_all": dict(only_winograd=False), "wino": {}, "wino_3xtf32": dict(precision="3xtf32"),
                "wino_tf32": dict(precision="tf32")}
    for variant, kwargs in variants.items():
        converted, table = wino.torch.convert(copy.deepcopy(net), **kwargs)
        with torch.no_grad():
            out[variant] = {"ms": forward_ms(converted, x), "rel_err": rel_err(converted(x), ref),
                            "layers_ms": per_layer_ms(converted, x, (torch.nn.Conv2d, wino.torch.Conv2d)),
                            "converted": sum(r[1] == "converted" for r in table), "convs": len(table)}
        print(f"{name} {variant}: {out[variant]['converted']} of {out[variant]['convs']} convs converted")
        del converted
    shapes = {n: f"{m.in_channels}->{m.out_channels} k{m.kernel_size[0]} s{m.stride[0]}"
              for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)}
    base, tf32 = out["cudnn_fp32"]["ms"], out["pytorch_default_tf32"]["ms"]
    print(f"{name} b{batch}: cuDNN fp32 {base:.2f} ms (err {out['cudnn_fp32']['rel_err']:.2e}), "
          f"PyTorch default TF32 {tf32:.2f} ms (err {out['pytorch_default_tf32']['rel_err']:.2e})")
    for variant in variants:
        v = out[variant]
        print(f"  {variant:12} {v['ms']:8.2f} ms (err {v['rel_err']:.2e}, {v['converted']} of {v['convs']} convs): "
              f"{base / v['ms']:.2f}x cuDNN fp32, {tf32 / v['ms']:.2f}x PyTorch's TF32")
    cols = ["cudnn_fp32", "pytorch_default_tf32"] + list(variants)
    print(f"  {'layer ms':24} " + " ".join(f"{c[:12]:>12}" for c in cols) + "  shape")
    for layer in out["cudnn_fp32"]["layers_ms"]:
        print(f"  {layer:24} " + " ".join(f"{out[c]['layers_ms'].get(layer, float('nan')):12.3f}" for c in cols)
              + f"  {shapes.get(layer, '')}")
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

"""PyTorch integration: the op `wino::conv2d` (runs under torch.compile without graph breaks, with
a fake implementation and a backward through PyTorch's own convolution gradients), `Conv2d`, a
drop-in for nn.Conv2d that shares its parameters, and `convert(model)`.

    model, table = wino.torch.convert(model)   # every eligible nn.Conv2d now runs in Wino
    print(table)
"""
from __future__ import annotations

from typing import Callable, List, Optional

import torch
from torch import nn

from . import _api, _tensors

_ACTIVATIONS = ("none", "relu", "relu6", "silu")


@torch.library.custom_op("wino::conv2d", mutates_args=())
def _conv2d_op(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: int,
               padding: List[int], dilation: int, groups: int, activation: str, plan: str,
               precision: str = "fp32") -> torch.Tensor:
    return _api.conv2d(input, weight, bias, stride, tuple(padding), dilation, groups, plan=plan,
                       activation=None if activation == "none" else activation, precision=precision,
                       _differentiable=True)


@_conv2d_op.register_fake
def _(input, weight, bias, stride, padding, dilation, groups, activation, plan, precision="fp32"):
    n, _, h, w = input.shape
    k, _, r, s = weight.shape
    y = input.new_empty((n, k, _api.out_extent(h, padding[0], padding[0], r, stride, dilation),
                         _api.out_extent(w, padding[1], padding[1], s, stride, dilation)))
    return y.contiguous(memory_format=torch.channels_last) if _tensors.layout_of(input) == "nhwc" else y


def _setup_context(ctx, inputs, output):
    input, weight, bias, stride, padding, dilation, groups, activation = inputs[:8]
    ctx.save_for_backward(input, weight, bias, output)
    ctx.conf = (stride, tuple(padding), dilation, groups, activation)


def _backward(ctx, grad):
    input, weight, bias, output = ctx.saved_tensors
    stride, padding, dilation, groups, activation = ctx.conf
    if activation == "relu":
        grad = grad * (output > 0)
    elif activation == "relu6":
        grad = grad * ((output > 0) & (output < 6))
    elif activation == "silu":  # silu'(z) needs the pre-activation: recomputed by PyTorch
        z = torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups)
        sig = torch.sigmoid(z)
        grad = grad * (sig * (1 + z * (1 - sig)))
    gi = gw = gb = None
    if ctx.needs_input_grad[0]:
        gi = torch.nn.grad.conv2d_input(input.shape, weight, grad, stride, padding, dilation, groups)
    if ctx.needs_input_grad[1]:
        gw = torch.nn.grad.conv2d_weight(input, weight.shape, grad, stride, padding, dilation, groups)
    if bias is not None and ctx.needs_input_grad[2]:
        gb = grad.sum((0, 2, 3))
    return gi, gw, gb, None, None, None, None, None, None, None


_conv2d_op.register_autograd(_backward, setup_context=_setup_context)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation: Optional[str] = None, plan: str = "auto", precision: str = "fp32") -> torch.Tensor:
    """torch.nn.functional.conv2d through Wino, differentiable and traceable (torch.ops.wino.conv2d)."""
    pad = list(_api._pair(padding, "padding"))
    return torch.ops.wino.conv2d(input, weight, bias, _api._square(stride, "stride"), pad,
                                 _api._square(dilation, "dilation"), groups, activation or "none", plan, precision)


def _ineligible(conv: nn.Conv2d) -> Optional[str]:
    """Why Wino cannot stand in for `conv` (None when it can)."""
    if type(conv) is not nn.Conv2d:
        return f"a subclass of nn.Conv2d ({type(conv).__name__})"
    if conv.padding_mode != "zeros":
        return f"padding_mode {conv.padding_mode!r} (Wino pads with zeros)"
    if isinstance(conv.padding, str):
        return f"padding {conv.padding!r} (give it as numbers)"
    if conv.stride[0] != conv.stride[1] or conv.dilation[0] != conv.dilation[1]:
        return f"stride {conv.stride} / dilation {conv.dilation} differ between the axes"
    if conv.weight.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"dtype {conv.weight.dtype}"
    if conv.weight.device.type not in ("cpu", "cuda"):
        return f"device {conv.weight.device}"
    return None


class Conv2d(nn.Module):
    """A drop-in for an nn.Conv2d: the same `weight` and `bias` Parameters (state_dict keys and
    training unchanged), forward through wino::conv2d; Wino's transformed weights are cached and
    remade when the weight changes."""

    def __init__(self, conv: nn.Conv2d, activation: Optional[str] = None, plan: str = "auto",
                 precision: str = "fp32"):
        super().__init__()
        why = _ineligible(conv)
        if why:
            raise ValueError(f"Wino cannot replace this nn.Conv2d: {why}")
        self.weight, self.bias = conv.weight, conv.bias
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self.activation, self.plan, self.precision = activation, plan, precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv2d(x, self.weight, self.bias, self.stride[0], self.padding, self.dilation[0], self.groups,
                      activation=self.activation, plan=self.plan, precision=self.precision)

    def extra_repr(self) -> str:
        act = f", activation={self.activation}" if self.activation else ""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, groups={self.groups}{act}, plan={self.plan}, precision={self.precision}")


class ConversionTable(list):
    """convert()'s rows: (module name, "converted" or "kept", why), printable as a table."""

    def __str__(self) -> str:
        width = max([len(r[0]) for r in self] + [6])
        lines = [f"{'module':<{width}}  {'result':<9}  why"]
        lines += [f"{name:<{width}}  {result:<9}  {why}" for name, result, why in self]
        return "\n".join(lines)


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new nn.Conv2d computing bn(conv(x)) with bn in eval mode."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        b = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((b - bn.running_mean) * scale + bn.bias.detach())
    return fused


def _not_winograd(conv: nn.Conv2d) -> Optional[str]:
    """Why Winograd does not apply to `conv` (None when it does): Wino would run it with its direct
    plan, which is slower than PyTorch's own convolution."""
    k, s, d = conv.kernel_size, conv.stride, conv.dilation
    if k[0] != k[1] or k[0] < 2:
        return f"kernel {k[0]}x{k[1]}"
    if s != (1, 1) or d != (1, 1) or conv.groups != 1:
        return f"stride {s[0]}, dilation {d[0]}, groups {conv.groups}"
    return None


def convert(model: nn.Module, filter: Optional[Callable[[str, nn.Conv2d], bool]] = None,
            fold: bool = False, plan: str = "auto", precision: str = "fp32", only_winograd: bool = True):
    """Replaces every eligible nn.Conv2d of `model` (in place) with wino.torch.Conv2d and returns
    (model, table of what was converted and why the others were not). `filter(name, conv)`
    returning False keeps a conv. `only_winograd` (the default) keeps the convs Winograd does not
    apply to (1x1, strided, dilated, grouped), where PyTorch's own convolution is faster than
    Wino's direct plan; False converts them too. `fold=True` (inference, eval mode) also folds a BatchNorm2d and
    a ReLU that follow a conv in an nn.Sequential into it (weights then become the folded copies).
    `precision` is the lowest the Winograd GEMM may use (fp32, 3xtf32, tf32, fp16, bf16: see
    wino.conv2d); "tf32" is what PyTorch's own fp32 convolutions use by default on CUDA."""
    table = ConversionTable()
    for parent_name, parent in list(model.named_modules()):
        children = list(parent.named_children())
        for i, (name, child) in enumerate(children):
            if not isinstance(child, nn.Conv2d):
                continue
            full = f"{parent_name}.{name}" if parent_name else name
            why = _ineligible(child) or (None if filter is None or filter(full, child) else "excluded by filter")
            if not why and only_winograd and _not_winograd(child):
                why = f"Winograd does not apply ({_not_winograd(child)}): PyTorch's convolution is faster than " \
                      "Wino's direct plan (only_winograd=False converts it)"
            if why:
                table.append((full, "kept", why))
                continue
            activation, folded = None, []
            if fold and isinstance(parent, nn.Sequential):
                rest = [c for _, c in children[i + 1:i + 3]]
                if rest and isinstance(rest[0], nn.BatchNorm2d) and not rest[0].training:
                    child = _fold_bn(child, rest[0])
                    folded.append(children[i + 1][0])
                    rest = rest[1:]
                if rest and isinstance(rest[0], nn.ReLU):
                    activation = "relu"
                    folded.append(children[i + 1 + len(folded)][0])
            setattr(parent, name, Conv2d(child, activation=activation, plan=plan, precision=precision))
            for f in folded:
                setattr(parent, f, nn.Identity())
            table.append((full, "converted", "folded " + " + ".join(folded) if folded else ""))
    return model, table

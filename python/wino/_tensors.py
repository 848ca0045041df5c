"""What the API needs to know about a tensor, NumPy or torch, without importing torch unless the
tensor is one: its kind, device, dtype, a contiguous NCHW version, outputs like it, its stream."""
from __future__ import annotations

from typing import Optional

import numpy as np

_DTYPES = {"float32", "float16", "bfloat16"}


def kind_of(t) -> str:
    if isinstance(t, np.ndarray):
        return "numpy"
    if type(t).__module__.startswith("torch"):
        return "torch"
    raise TypeError(f"Wino takes NumPy arrays or torch tensors, got {type(t).__name__}")


def dtype_name(t) -> str:
    name = str(t.dtype).replace("torch.", "")
    if name not in _DTYPES:
        raise TypeError(f"Wino takes float32, float16 or bfloat16 tensors, got {name}: convert it first "
                        f"(for example x.float())")
    return name


def device_of(t, device: Optional[str]) -> str:
    """The Wino device for a tensor: where the tensor is, unless `device` says otherwise."""
    if kind_of(t) == "torch" and t.device.type == "cuda":
        own = f"cuda:{t.device.index or 0}"
        if device not in (None, own, "cuda" if own == "cuda:0" else own):
            raise ValueError(f"the tensors are on {own}, but device={device!r} was asked for")
        return own
    if kind_of(t) == "torch" and t.device.type != "cpu":
        raise ValueError(f"Wino runs on CPU and CUDA tensors, got a tensor on {t.device}")
    if device is not None and device.startswith("cuda"):
        raise ValueError(f"device={device!r} needs CUDA tensors; these are in host memory")
    return device or "cpu"


def layout_of(t) -> str:
    """"nhwc" for a 4-D torch tensor in channels_last memory order (not also plain contiguous),
    else "nchw"."""
    if kind_of(t) != "torch" or t.dim() != 4 or t.is_contiguous():
        return "nchw"
    import torch
    return "nhwc" if t.is_contiguous(memory_format=torch.channels_last) else "nchw"


def prepare(t, what: str, kind: str, device: str, dtype: str, differentiable: bool = False,
            layout: str = "nchw"):
    """`t` as the C++ side takes it: C-contiguous in `layout` (an NCHW-shaped tensor in other
    strides is copied, as PyTorch's own kernels would; "nhwc" gives the N, H, W, C view of a
    channels_last tensor, without a copy), on `device`, of `dtype`. A torch tensor that requires
    grad is refused outside `differentiable` callers (wino.torch's op): its gradient would be lost."""
    if kind_of(t) != kind:
        raise TypeError(f"{what} must be a {'NumPy array' if kind == 'numpy' else 'torch tensor'}, "
                        f"like the input")
    if dtype_name(t) != dtype:
        raise TypeError(f"{what} has dtype {dtype_name(t)}, but the input is {dtype}")
    if kind == "numpy":
        return np.ascontiguousarray(t)
    import torch
    if t.requires_grad and torch.is_grad_enabled() and not differentiable:
        raise ValueError(f"{what} requires grad: wino.conv2d has no backward; use wino.torch.conv2d "
                         f"(differentiable) or run under torch.no_grad()")
    if device_of(t, None) != (device if device.startswith("cuda") else "cpu"):
        raise ValueError(f"{what} is on {t.device}, but the convolution runs on {device}")
    if layout == "nhwc":
        return t.detach().contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
    return t.detach().contiguous()


def empty_like_input(x, shape):
    if isinstance(x, np.ndarray):
        return np.empty(shape, dtype=x.dtype)
    import torch
    return torch.empty(shape, dtype=x.dtype, device=x.device)


def stream_of(t) -> int:
    """The CUDA stream to run on: PyTorch's current stream of the tensor's device (0 elsewhere)."""
    if kind_of(t) == "torch" and t.device.type == "cuda":
        import torch
        return torch.cuda.current_stream(t.device).cuda_stream
    return 0

"""The functional API: argument checks, output allocation, and a cache of compiled convolutions."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, Sequence, Tuple, Union

from . import _tensors
from ._wino import Conv, WinoError
from ._wino import compile as _compile
from ._wino import explain as _explain

IntPair = Union[int, Sequence[int]]
_ACTIVATIONS = (None, "none", "relu", "relu6", "silu")


def _pair(value: IntPair, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    items = tuple(value)
    if len(items) != 2 or not all(isinstance(v, int) for v in items):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return items[0], items[1]


def _square(value: IntPair, name: str) -> int:
    a, b = _pair(value, name)
    if a != b:
        raise ValueError(f"{name} must be the same along both axes in Wino, got {value!r}")
    return a


def _desc(x_shape, w_shape, bias: bool, residual: bool, stride, padding, dilation, groups,
          activation, dtype: str, layout: str = "nchw") -> dict:
    if len(x_shape) != 4:
        raise ValueError(f"input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"weight must be 4-D (K, C/groups, R, S), got shape {tuple(w_shape)}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of relu, relu6, silu or None, got {activation!r}")
    if isinstance(padding, str):
        raise ValueError("padding must be an int or a pair of ints (Wino has no 'same' or 'valid')")
    n, c, h, w = (int(v) for v in x_shape)
    k, cg, r, s = (int(v) for v in w_shape)
    if cg * groups != c:
        raise ValueError(f"input has {c} channels but the weight expects {cg} x {groups} groups "
                         f"(weight shape {tuple(w_shape)})")
    ph, pw = _pair(padding, "padding")
    return dict(n=n, c=c, h=h, w=w, k=k, r=r, s=s, pad_top=ph, pad_bottom=ph, pad_left=pw,
                pad_right=pw, groups=groups, stride=_square(stride, "stride"),
                dilation=_square(dilation, "dilation"), bias=bias, residual=residual,
                activation=activation or "none", dtype=dtype, layout=layout)


def _options(plan: str, m: Optional[int], tune: bool, max_rel_err: float, threads: int,
             precision: str = "fp32") -> dict:
    return dict(plan=plan, m=m or 0, tune=tune, max_rel_err=max_rel_err, threads=threads, precision=precision)


def out_extent(size: int, pad0: int, pad1: int, filt: int, stride: int, dilation: int) -> int:
    """An output extent, as ConvDesc::out_extent computes it (< 1 when the output is empty)."""
    span = size + pad0 + pad1 - dilation * (filt - 1)
    return (span - 1) // stride + 1 if span >= 1 else span


def _out_shape(d: dict) -> Tuple[int, int, int, int]:
    return (d["n"], d["k"], out_extent(d["h"], d["pad_top"], d["pad_bottom"], d["r"], d["stride"], d["dilation"]),
            out_extent(d["w"], d["pad_left"], d["pad_right"], d["s"], d["stride"], d["dilation"]))


class Compiled:
    """A convolution compiled for one input shape, holding its weights (transformed once).

    Call it on inputs of that shape: `y = conv(x)` (`residual=` when compiled with one)."""

    def __init__(self, conv: Conv, desc: dict, device: str, kind: str):
        self._conv, self._desc, self.device, self._kind = conv, desc, device, kind
        self._weights = None  # what the transformed weights were made from (torch tensors only)

    def set_weights(self, weight, bias=None, differentiable: bool = False) -> None:
        """Transforms the weights (on the device); skipped when these torch tensors are unchanged
        since the last call (same tensors, data pointers and version counters)."""
        key = _weights_key(weight, bias)
        if key is not None and key == self._weights:
            return
        dt = self._desc["dtype"]
        w = _tensors.prepare(weight, "weight", self._kind, self.device, dt, differentiable)
        b = None if bias is None else _tensors.prepare(bias, "bias", self._kind, self.device, dt, differentiable)
        if (b is None) != (not self._desc["bias"]):
            raise ValueError("bias must be given exactly when the convolution was compiled with one")
        self._conv.set_weights(w, b, _tensors.stream_of(w))
        self._weights = key

    def __call__(self, x, residual=None, differentiable: bool = False):
        d, nhwc = self._desc, self._desc["layout"] == "nhwc"
        shape = (d["n"], d["c"], d["h"], d["w"])
        if tuple(x.shape) != shape:
            raise ValueError(f"input has shape {tuple(x.shape)}, but this convolution was compiled for {shape}")
        xs = _tensors.prepare(x, "input", self._kind, self.device, d["dtype"], differentiable, d["layout"])
        if (residual is None) == d["residual"]:
            raise ValueError("residual must be given exactly when the convolution was compiled with one")
        rs = None if residual is None else _tensors.prepare(residual, "residual", self._kind, self.device,
                                                            d["dtype"], differentiable, d["layout"])
        n, k, oh, ow = _out_shape(d)
        y = _tensors.empty_like_input(xs, (n, oh, ow, k) if nhwc else (n, k, oh, ow))
        self._conv.run(xs, y, rs, _tensors.stream_of(xs))
        return y.permute(0, 3, 1, 2) if nhwc else y  # channels_last in, channels_last out

    def report(self) -> dict:
        """The per-kernel report as Python data; report()["table"] is the CLI's table."""
        return self._conv.report()

    @property
    def workspace_bytes(self) -> int:
        return self._conv.workspace_bytes


def _hashable(value):
    return value if isinstance(value, (int, str)) else tuple(value)


def _weights_key(weight, bias):
    """Identifies torch weights and their contents' version; None for NumPy (no version counter)."""
    if _tensors.kind_of(weight) != "torch":
        return None
    parts = [weight] + ([bias] if bias is not None else [])
    return tuple((id(t), t.data_ptr(), t._version) for t in parts)


_cache: "OrderedDict[tuple, Compiled]" = OrderedDict()
_CACHE_SIZE = 64


def compile(weight, bias=None, *, input_shape, stride: IntPair = 1, padding: IntPair = 0,
            dilation: IntPair = 1, groups: int = 1, plan: str = "auto", m: Optional[int] = None,
            activation: Optional[str] = None, residual: bool = False, device: Optional[str] = None,
            tune: bool = False, max_rel_err: float = 1e-5, threads: int = 0, precision: str = "fp32",
            layout: str = "nchw") -> Compiled:
    """Compiles the convolution of inputs of `input_shape` with `weight` (and `bias`) and returns
    a reusable Compiled holding the transformed weights. `precision` is the lowest the Winograd
    GEMM may use: fp32, 3xtf32 (fp32-accurate on tensor cores), tf32, fp16 or bf16. `layout`
    "nhwc" takes and returns channels_last torch tensors without copies."""
    kind = _tensors.kind_of(weight)
    dev = _tensors.device_of(weight, device)
    dtype = _tensors.dtype_name(weight)
    desc = _desc(input_shape, weight.shape, bias is not None, residual, stride, padding, dilation,
                 groups, activation, dtype, layout)
    c = Compiled(_compile(desc, dev, _options(plan, m, tune, max_rel_err, threads, precision)), desc, dev, kind)
    c.set_weights(weight, bias)
    return c


def conv2d(input, weight, bias=None, stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
           groups: int = 1, *, plan: str = "auto", m: Optional[int] = None,
           activation: Optional[str] = None, residual=None, device: Optional[str] = None,
           precision: str = "fp32", _differentiable: bool = False):
    """y = act(conv2d(input, weight) + bias + residual), like torch.nn.functional.conv2d.

    NumPy arrays or torch tensors (CPU or CUDA; the output follows the input's type and device).
    `precision`: the lowest the Winograd GEMM may use (fp32, 3xtf32, tf32, fp16, bf16; tensor
    cores on CUDA sm_80 and newer). A channels_last torch input runs channels last (NHWC kernels,
    no copies) and gives a channels_last output. The compiled convolution is cached by shape and
    options; the weights are set on each call."""
    # The call as given is the cache key: a hit skips building the description (the tensors are
    # still checked when they are used below).
    try:
        key = (type(input), getattr(input, "device", None), input.dtype, tuple(input.shape), tuple(weight.shape),
               bias is None, residual is None, _hashable(stride), _hashable(padding), _hashable(dilation), groups,
               activation, device, plan, m, precision, _tensors.layout_of(input))
    except (AttributeError, TypeError):
        key = None  # not tensors, or unhashable arguments: the checks below say what is wrong
    conv = _cache.get(key) if key is not None else None
    if conv is None:
        kind = _tensors.kind_of(input)
        if _tensors.kind_of(weight) != kind:
            raise TypeError("input and weight must both be NumPy arrays or both be torch tensors")
        dev = _tensors.device_of(input, device)
        desc = _desc(input.shape, weight.shape, bias is not None, residual is not None, stride, padding,
                     dilation, groups, activation, _tensors.dtype_name(input), _tensors.layout_of(input))
        conv = Compiled(_compile(desc, dev, _options(plan, m, False, 1e-5, 0, precision)), desc, dev, kind)
        if key is not None:
            _cache[key] = conv
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    conv.set_weights(weight, bias, _differentiable)
    return conv(input, residual, _differentiable)


def explain(input_shape, weight_shape, *, stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
            groups: int = 1, plan: str = "auto", m: Optional[int] = None, bias: bool = False,
            residual: bool = False, activation: Optional[str] = None, dtype: str = "float32",
            target: str = "cpu", max_rel_err: float = 1e-5, precision: str = "fp32", layout: str = "nchw",
            show: bool = True) -> dict:
    """The kernels Wino would make for `target` (cpu, opencl, metal, sm_XX; sm_90:h100 plans for an
    H100, sm_90 for an H200), without running them:
    the planner's candidates and the per-kernel report as Python data; prints the CLI's table."""
    desc = _desc(input_shape, weight_shape, bias, residual, stride, padding, dilation, groups,
                 activation, dtype, layout)
    report = _explain(desc, _options(plan, m, False, max_rel_err, 0, precision), target)
    if show:
        print(report["table"], end="")
    return report

"""Wino: fast 2D convolution with Winograd's minimal filtering algorithms.

    import numpy as np, wino
    y = wino.conv2d(x, w, padding=1)              # NumPy in, NumPy out (or torch in, torch out)
    conv = wino.compile(w, input_shape=x.shape, padding=1)
    y = conv(x); print(conv.report()["table"])    # the per-kernel report, as the CLI prints it

`wino.torch` holds the PyTorch integration (an op for torch.compile, a drop-in Conv2d and
`convert(model)`). Arguments mirror torch.nn.functional.conv2d.
"""
from __future__ import annotations

from ._api import Compiled, compile, conv2d, explain
from ._wino import WinoError, version as __version__

__all__ = ["conv2d", "compile", "explain", "Compiled", "WinoError", "__version__"]

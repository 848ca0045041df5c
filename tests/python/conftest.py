"""Shared helpers of the Python tests: the float64 reference convolution and the error measure."""
import numpy as np
import pytest


def reference_conv2d(x, w, bias=None, stride=1, padding=(0, 0), dilation=1, groups=1):
    """Direct convolution in float64 (NumPy), NCHW / KCRS: the oracle."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ph, pw = padding
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dilation * (r - 1) - 1) // stride + 1
    ow = (wd + 2 * pw - dilation * (s - 1) - 1) // stride + 1
    y = np.zeros((n, k, oh, ow))
    kg = k // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(r):
            for j in range(s):
                patch = xs[:, :, i * dilation:i * dilation + stride * (oh - 1) + 1:stride,
                           j * dilation:j * dilation + stride * (ow - 1) + 1:stride]
                y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, w[g * kg:(g + 1) * kg, :, i, j])
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return y


def rel_err(y, ref):
    """Relative L2 error, printed with every result."""
    y = np.asarray(y, dtype=np.float64)
    e = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    print(f"relative L2 error {e:.3g}")
    return e


@pytest.fixture
def rng():
    return np.random.default_rng(1)

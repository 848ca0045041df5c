"""wino.conv2d, wino.compile and wino.explain on NumPy arrays, against the float64 reference."""
import numpy as np
import pytest

import wino
from conftest import reference_conv2d, rel_err

CASES = [  # (N, C, H, W, K, R, padding, stride, groups, plan, m)
    (1, 1, 8, 8, 1, 3, 1, 1, 1, "auto", None),
    (2, 5, 11, 9, 6, 3, 1, 1, 1, "unfused", 4),      # partial tiles, batch > 1
    (1, 3, 7, 13, 4, 3, 0, 1, 1, "fused", 2),        # padding 0, odd sizes
    (1, 4, 9, 9, 3, 3, 2, 1, 1, "fused-output", 4),
    (1, 4, 10, 10, 8, 5, 2, 1, 1, "fused-input", 2),  # 5x5, odd alpha 6
    (2, 6, 9, 9, 4, 3, 1, 2, 2, "direct", None),       # stride 2, groups
    (1, 40, 12, 12, 36, 3, 1, 1, 1, "unfused", 6),   # several K and C blocks
]


@pytest.mark.parametrize("n,c,h,w,k,r,pad,stride,groups,plan,m", CASES)
def test_matches_the_float64_reference(rng, n, c, h, w, k, r, pad, stride, groups, plan, m):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((k, c // groups, r, r), dtype=np.float32)
    b = rng.standard_normal(k, dtype=np.float32)
    y = wino.conv2d(x, wt, b, stride, pad, 1, groups, plan=plan, m=m)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert rel_err(y, reference_conv2d(x, wt, b, stride, (pad, pad), 1, groups)) < 1e-5


def test_epilogue_and_half_precision(rng):
    x = rng.standard_normal((2, 4, 9, 9), dtype=np.float32)
    wt = rng.standard_normal((5, 4, 3, 3), dtype=np.float32)
    b = rng.standard_normal(5, dtype=np.float32)
    z = rng.standard_normal((2, 5, 9, 9), dtype=np.float32)
    y = wino.conv2d(x, wt, b, padding=1, activation="relu", residual=z)
    ref = np.maximum(reference_conv2d(x, wt, b, padding=(1, 1)) + z, 0)
    assert rel_err(y, ref) < 1e-5
    yh = wino.conv2d(x.astype(np.float16), wt.astype(np.float16), padding=1)
    assert yh.dtype == np.float16
    ref_h = reference_conv2d(x.astype(np.float16), wt.astype(np.float16), padding=(1, 1))
    assert rel_err(yh, ref_h) < 1e-3


def test_compiled_convolution_is_reused_and_reports(rng):
    x = rng.standard_normal((1, 8, 16, 16), dtype=np.float32)
    wt = rng.standard_normal((8, 8, 3, 3), dtype=np.float32)
    conv = wino.compile(wt, input_shape=x.shape, padding=1, plan="unfused", m=4, device="cpu")
    y1, y2 = conv(x), conv(x)
    assert np.array_equal(y1, y2)
    assert rel_err(y1, reference_conv2d(x, wt, padding=(1, 1))) < 1e-5
    rep = conv.report()
    assert rep["plan"] == "unfused" and rep["m"] == 4 and rep["host_copies"] == 0
    # On the CPU: NCHW into channels last first (the CPU-shaped plan), then the three stages.
    stages = [k["stage"] for k in rep["kernels"]]
    assert stages[:4] == ["pad", "input_transform", "gemm", "output_transform"]
    assert "wino_unfused_gemm" in rep["table"]
    assert conv.workspace_bytes > 0
    with pytest.raises(ValueError, match="compiled for"):
        conv(x[:, :, :8])


def test_explain_returns_the_planners_candidates(capsys):
    rep = wino.explain((8, 64, 56, 56), (64, 64, 3, 3), padding=1, target="metal")
    assert rep["candidates"][0]["chosen"]
    assert all(c["rejected"] for c in rep["candidates"][1:])
    assert all(k["pred_regs"] <= 128 for k in rep["kernels"])
    assert "planner:" in capsys.readouterr().out


def test_interpreter_device(rng):
    x = rng.standard_normal((1, 3, 6, 6), dtype=np.float32)
    wt = rng.standard_normal((2, 3, 3, 3), dtype=np.float32)
    y = wino.conv2d(x, wt, padding=1, device="interp", plan="fused", m=2)
    assert rel_err(y, reference_conv2d(x, wt, padding=(1, 1))) < 1e-5


@pytest.mark.parametrize("make,error,match", [
    (lambda x, w: wino.conv2d(x.astype(np.float64), w), TypeError, "float64"),
    (lambda x, w: wino.conv2d(x.astype(np.int32), w), TypeError, "int32"),
    (lambda x, w: wino.conv2d(x[0], w), ValueError, "4-D"),
    (lambda x, w: wino.conv2d(x, w[:, :2]), ValueError, "channels"),
    (lambda x, w: wino.conv2d(x, w, padding="same"), ValueError, "padding"),
    (lambda x, w: wino.conv2d(x, w, stride=(1, 2)), ValueError, "both axes"),
    (lambda x, w: wino.conv2d(x, w, activation="tanh"), ValueError, "activation"),
    (lambda x, w: wino.conv2d(x, w, residual=np.zeros((1, 2, 2, 2), np.float32)), wino.WinoError, "shape"),
    (lambda x, w: wino.conv2d(x, w, plan="fused", m=9), wino.WinoError, "alpha"),
    (lambda x, w: wino.conv2d(x, w, device="cuda"), ValueError, "CUDA tensors"),
    (lambda x, w: wino.conv2d(x, [1.0]), TypeError, "NumPy arrays or torch tensors"),
])
def test_bad_input_raises_a_clear_error(rng, make, error, match):
    x = rng.standard_normal((1, 3, 6, 6), dtype=np.float32)
    wt = rng.standard_normal((2, 3, 3, 3), dtype=np.float32)
    with pytest.raises(error, match=match):
        make(x, wt)

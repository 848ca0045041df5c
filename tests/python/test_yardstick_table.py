"""scripts/yardstick_table.py: Wino is compared with the faster of cuDNN's legacy Find and PyTorch,
in the mode that matches each precision."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "yardstick_table.py"


def layer(name, n, mode, cudnn_us, tf32_us, wino):
    row = {"layer": name, "N": n, "mode": mode, "cudnn": {"us_med": cudnn_us, "rel_err": 1e-7}, "wino": wino}
    if tf32_us:
        row["cudnn_tf32"] = {"us_med": tf32_us, "rel_err": 3e-4}
    return row


def candidate(precision, us, label, rejected=None):
    c = {"precision": precision, "us_med": us, "rel_err": 1e-6, "label": label}
    if rejected:
        c["rejected"] = rejected
    return c


def run(tmp_path, wino_layers, torch_rows):
    w, t = tmp_path / "wino.json", tmp_path / "torch.json"
    w.write_text(json.dumps({"device": "test", "cudnn": 1, "layers": wino_layers}))
    t.write_text(json.dumps({"torch": "x", "cudnn": 1, "rows": torch_rows}))
    out = subprocess.run([sys.executable, str(SCRIPT), str(w), str(t)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_faster_cudnn_is_the_yardstick_per_mode(tmp_path):
    wino = [candidate("fp32", 100.0, "unfused F(4,3)"), candidate("fp32", 50.0, "fused", rejected="spills"),
            candidate("3xtf32", 80.0, "unfused 3xtf32"), candidate("tf32", 40.0, "unfused tf32")]
    torch = [{"layer": "big", "mode": "fp32", "us_med": 300.0, "rel_err": 1e-7},
             {"layer": "big", "mode": "tf32", "us_med": 60.0, "rel_err": 3e-4}]
    out = run(tmp_path, [layer("big", 8, "fp32", 200.0, 120.0, wino)], torch)
    # fp32: Find (200) beats PyTorch (300); TF32: PyTorch (60) beats Find (120); the rejected
    # candidate is never the best.
    assert "| big | fp32 | 100.0 (1.0e-06) | unfused F(4,3) | cuDNN fp32 | 200.0 (1.0e-07, Find) | 2.00 |" in out
    assert "| big | 3xtf32 | 80.0 (1.0e-06) | unfused 3xtf32 | cuDNN tf32 | 60.0 (3.0e-04, PyTorch) | 0.75 |" in out
    assert "| big | tf32 | 40.0 (1.0e-06) | unfused tf32 | cuDNN tf32 | 60.0 (3.0e-04, PyTorch) | 1.50 |" in out
    assert "Wino 3xtf32 against cuDNN fp32: geometric mean 2.50x over 1 layers" in out


def test_half_tensors_compare_every_precision_with_cudnn_in_that_type(tmp_path):
    wino = [candidate("fp32", 90.0, "unfused"), candidate("fp16", 45.0, "unfused fp16")]
    torch = [{"layer": "half", "mode": "fp16", "us_med": 30.0, "rel_err": 3e-4},
             {"layer": "half", "mode": "fp32", "us_med": 10.0, "rel_err": 1e-7}]
    out = run(tmp_path, [layer("half", 1, "float16 nhwc", 50.0, None, wino)], torch)
    assert "| half | fp16 | 45.0 (1.0e-06) | unfused fp16 | cuDNN fp16 | 30.0 (3.0e-04, PyTorch) | 0.67 |" in out
    assert "| half | fp32 | 90.0 (1.0e-06) | unfused | cuDNN fp16 | 30.0 (3.0e-04, PyTorch) | 0.33 |" in out
    assert "cuDNN fp32" not in out
    assert "geometric mean" not in out  # batch 1: not in the batch >= 8 means


def test_unreadable_input_is_an_error_not_a_crash(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none.json"), str(tmp_path / "none2.json")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "cannot read" in out.stderr

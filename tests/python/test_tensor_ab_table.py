"""scripts/tensor_ab_table.py: a gpu_tensor_ab.sh run tabulated per configuration, builds side by side,
against cuDNN in the matching mode; the --check lines are not runs."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "tensor_ab_table.py"


def run_header(layer, build, rnd, plan, m, precision, dtype, layout, tiles="default"):
    return f"== {layer} {build} r{rnd} {plan} F({m},3) {precision} {dtype} {layout} {tiles}\n"


def table(tmp_path, runs, torch_rows=None):
    r = tmp_path / "tensor_ab.txt"
    r.write_text(runs)
    args = [sys.executable, str(SCRIPT), str(r)]
    if torch_rows is not None:
        t = tmp_path / "torch.json"
        t.write_text(json.dumps({"torch": "x", "cudnn": 1, "rows": torch_rows}))
        args += ["--torch", str(t)]
    return subprocess.run(args, capture_output=True, text=True)


def test_builds_side_by_side_best_round_and_cudnn_in_the_matching_mode(tmp_path):
    runs = ""
    for rnd, (a, b) in enumerate([(100.0, 50.0), (90.0, 60.0)], 1):
        runs += run_header("big", "x/base", rnd, "fused", 2, "fp16", "f16", "nhwc") + "wino_fused_all_f2x3 ...\n"
        runs += f"total {a} us (median of 30), 1 effective GFLOP/s\n"
        runs += run_header("big", "y/base", rnd, "fused", 2, "fp16", "f16", "nhwc") + f"total {b} us (median of 30)\n"
    runs += run_header("big", "x/base", 1, "unfused", 4, "3xtf32", "f32", "nchw") + "total 40.0 us (median of 30)\n"
    # A build directory named like a round must not make the check lines runs.
    runs += "== check big y/base fused F(2,3) fp16 f16 nhwc default\nrelative L2 error vs float64 reference: 5e-04\n"
    torch = [{"layer": "big", "mode": "fp16", "us_med": 45.0}, {"layer": "big", "mode": "tf32", "us_med": 20.0}]
    out = table(tmp_path, runs, torch)
    assert out.returncode == 0, out.stderr
    # Two builds with the same last path part stay apart; each takes its best round.
    assert "| layer | cuDNN us | x/base | y/base |" in out.stdout
    assert "| big | 45.0 | 90.0 | 50.0 |" in out.stdout
    assert "| cuDNN / Wino, geometric mean | | 0.500 | 0.900 |" in out.stdout
    assert "x/base / y/base: geometric mean 1.800" in out.stdout
    # 3xtf32 is compared with cuDNN's TF32; the build without that configuration shows "-".
    assert "unfused F(4,3) 3xtf32 f32 nchw default (cuDNN tf32)" in out.stdout
    assert "| big | 20.0 | 40.0 | - |" in out.stdout
    assert "check" not in out.stdout


def test_files_it_cannot_read_are_named(tmp_path):
    out = table(tmp_path, "no runs here\n")
    assert out.returncode != 0 and "no timed runs" in out.stderr
    r = tmp_path / "runs.txt"
    r.write_text(run_header("big", "b", 1, "fused", 2, "fp16", "f16", "nhwc") + "total 1.0 us\n")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    out = subprocess.run([sys.executable, str(SCRIPT), str(r), "--torch", str(bad)], capture_output=True, text=True)
    assert out.returncode != 0 and "bad.json" in out.stderr

"""The Winograd matrices of one F(m, r) from `wino transforms --json`, as NumPy arrays, for the
scripts that simulate the GEMM's arithmetic without a GPU (half_error_model.py,
tf32x3_error_model.py), and their --wino argument."""
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

DEFAULT_WINO = Path(__file__).resolve().parent.parent / "build/release/wino"


def add_wino_argument(parser):
    parser.add_argument("--wino", default=str(DEFAULT_WINO), help="the wino binary (default build/release/wino)")


def check_wino(path, who):
    if not Path(path).is_file():
        sys.exit(f"{who}: no wino binary at {path}: build it first (scripts/build.sh) or pass --wino")


def transforms(wino, m, r, points, who):
    """A^T, G and B^T of F(m, r) (points: as `wino transforms --points` takes them, or None), and
    the points' names ending with inf."""
    cmd = [wino, "transforms", "--m", str(m), "--r", str(r), "--json", "--trials", "1"]
    if points:
        cmd += ["--points", points]
    try:
        j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    except subprocess.CalledProcessError as e:
        sys.exit(f"{who}: {' '.join(cmd)} failed: {e.stderr.strip()}")
    as_array = lambda rows: np.array([[float(Fraction(x)) for x in row] for row in rows])
    return as_array(j["AT"]), as_array(j["G"]), as_array(j["BT"]), ", ".join(j["points"]) + ", inf"

"""scripts/ncu_sass_summary.py: an ncu per-instruction SASS page summed by stall reason, opcode and
code region, with the shared-memory wavefronts over the ideal; clear errors for what is not one."""
import csv
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ncu_sass_summary.py"
HEADER = ["Address", "Source", "Warp Stall Sampling (All Samples)", "L1 Wavefronts Shared",
          "L1 Wavefronts Shared Excessive", "stall_barrier", "stall_short_sb", "stall_short_sb (Not Issued)"]


def page(tmp_path, rows):
    p = tmp_path / "k.sass.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Kernel Name", "wino_fused_all"])
        w.writerow(HEADER)
        w.writerows(rows)
    return p


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_sums_reasons_opcodes_regions_and_conflicts(tmp_path):
    p = page(tmp_path, [
        ["0x7f0000000000", "LDS R1, [R2]", "30", "8", "6", "0", "30", "99"],
        ["0x7f0000000010", "@P0 LDS R3, [R2+0x10]", "10", "4", "0", "0", "10", "0"],
        ["0x7f0000000400", "BAR.SYNC.DEFER_BLOCKING 0x0", "60", "0", "0", "60", "0", "0"],
        ["", "a source line", "", "", "", "", "", ""],  # no address: counted nowhere
    ])
    out = run(p, "--top", "2")
    assert out.returncode == 0, out.stderr
    assert "stall samples: 100" in out.stdout
    assert "by reason: barrier 60.0%, short_sb 40.0%" in out.stdout  # the Not Issued column is left out
    assert "by opcode: BAR.SYNC.DEFER_BLOCKING 60.0%, LDS 40.0%" in out.stdout  # predicates dropped
    assert "  LDS: 12 (6)" in out.stdout
    assert "0x00000  40.0%" in out.stdout and "0x00400  60.0%" in out.stdout
    assert out.stdout.count("\n  0000 ") + out.stdout.count("\n  0400 ") == 2  # the top 2 instructions


def test_what_is_not_a_sass_page_is_refused_by_name(tmp_path):
    bad = tmp_path / "details.txt"
    bad.write_text("Section: GPU Speed Of Light Throughput\n")
    out = run(bad)
    assert out.returncode != 0 and "has no header with Address and Source" in out.stderr
    out = run(tmp_path / "missing.csv")
    assert out.returncode != 0 and "cannot read" in out.stderr

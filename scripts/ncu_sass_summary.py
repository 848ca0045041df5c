#!/usr/bin/env python3
"""Summarises the per-instruction SASS page that scripts/gpu_profile.sh writes (NAME.sass.csv,
`ncu --page source --csv --print-source sass`): the warp stall reasons over the whole kernel, the
stall samples by opcode and by code region, the shared-memory wavefronts (and those over the
ideal, bank conflicts) by opcode, and the instructions with the most samples or wavefronts.

Usage: scripts/ncu_sass_summary.py NAME.sass.csv [--top N] [--region BYTES]
"""
import argparse, collections, csv, sys

SAMPLES = "Warp Stall Sampling (All Samples)"
WAVES, EXCESS = "L1 Wavefronts Shared", "L1 Wavefronts Shared Excessive"


def read_rows(path):
    """The instruction rows of the CSV as dicts (ncu puts the kernel's name on the first line)."""
    with open(path, newline="") as f:
        lines = list(csv.reader(f))
    start = next((i for i, r in enumerate(lines) if "Address" in r and "Source" in r), None)
    if start is None:
        sys.exit(f"ncu_sass_summary: {path} has no header with Address and Source: is it ncu's --page source --csv?")
    header = lines[start]
    return [dict(zip(header, r)) for r in lines[start + 1:] if len(r) == len(header)]


def num(row, key):
    try:
        return float(row.get(key, "").replace(",", ""))
    except ValueError:
        return 0.0


def opcode(source):
    words = source.split()
    if words and words[0].startswith("@"):  # a predicate
        words = words[1:]
    return words[0] if words else "?"


def percent(part, whole):
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def summarise(rows, top=12, region=0x200):
    out = []
    total = sum(num(r, SAMPLES) for r in rows)
    stall_keys = [k for k in (rows[0] if rows else {}) if k.startswith("stall_") and "Not Issued" not in k]
    stalls = collections.Counter({k[len("stall_"):]: sum(num(r, k) for r in rows) for k in stall_keys})
    out.append(f"stall samples: {total:.0f}")
    out.append("by reason: " + ", ".join(f"{k} {percent(v, total)}" for k, v in stalls.most_common(8)))
    by_op, waves, excess, regions = collections.Counter(), collections.Counter(), collections.Counter(), {}
    for r in rows:
        op = opcode(r.get("Source", ""))
        by_op[op] += num(r, SAMPLES)
        waves[op] += num(r, WAVES)
        excess[op] += num(r, EXCESS)
        try:
            at = int(r.get("Address", ""), 16) // region * region
        except ValueError:  # a row without an address (a source line): no region
            continue
        regions.setdefault(at, [0.0, r.get("Source", "").strip()[:48]])[0] += num(r, SAMPLES)
    out.append("by opcode: " + ", ".join(f"{k} {percent(v, total)}" for k, v in by_op.most_common(top)))
    all_waves = sum(waves.values())
    out.append(f"shared wavefronts: {all_waves:.0f}, over the ideal {sum(excess.values()):.0f}; by opcode (over the ideal):")
    out += [f"  {k}: {v:.0f} ({excess[k]:.0f})" for k, v in waves.most_common(6) if v > 0]
    base = min(regions) if regions else 0
    out.append(f"samples by code region of {region} bytes, offsets from the first instruction (its source):")
    out += [f"  {at - base:#07x} {percent(v, total):>6}  {src}" for at, (v, src) in sorted(regions.items())
            if total and v / total >= 0.01]
    out.append(f"top {top} instructions by samples:")
    for r in sorted(rows, key=lambda r: -num(r, SAMPLES))[:top]:
        reasons = [k[len("stall_"):] for k in stall_keys if num(r, k) > 0.2 * num(r, SAMPLES)]
        out.append(f"  {r.get('Address', '')[-4:]} {percent(num(r, SAMPLES), total):>6} {r.get('Source', '').strip()[:60]:60s}"
                   f" wavefronts {num(r, WAVES):.0f} (over {num(r, EXCESS):.0f}) {' '.join(reasons)}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="NAME.sass.csv from scripts/gpu_profile.sh")
    ap.add_argument("--top", type=int, default=12, help="instructions and opcodes listed (default 12)")
    ap.add_argument("--region", type=lambda s: int(s, 0), default=0x200, help="bytes of code a region sums (default 0x200)")
    a = ap.parse_args()
    try:
        rows = read_rows(a.csv)
    except OSError as e:
        sys.exit(f"ncu_sass_summary: cannot read {a.csv}: {e.strerror}")
    if not rows:
        sys.exit(f"ncu_sass_summary: {a.csv} has no instruction rows")
    print(summarise(rows, a.top, a.region))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What rounding the GEMM's operands to fp16 or bf16 costs a Winograd F(m, 3), without a GPU.

Simulates the tensor-core GEMM's arithmetic on random tiles: V = B^T d B and U = G g G^T in
float64, rounded to the precision (the kernels round them once, when they are stored or
staged), M summed over C channels in float64 (the mma accumulates in fp32, whose error is far
smaller), Y = A^T M A, then Y rounded to the tensor type as the kernels store it. Prints the
relative L2 error of Y against the same computation unrounded, beside the error of rounding
the exact output alone (what a direct convolution with fp32 accumulation, like cuDNN's, cannot
go below). The matrices come from `wino transforms --json`, so any interpolation points can be
tried. Needs NumPy (build/venv has it).

  scripts/half_error_model.py                                  # F(2,3), F(3,3), F(4,3) in fp16
  scripts/half_error_model.py --m 4 --points 0,-1,1,1/2,-1/2 --points 0,1,-1,2,-2
  scripts/half_error_model.py --precision bf16 --round v       # only V rounded
"""
import argparse
import sys

try:
    import numpy as np
    from wino_matrices import add_wino_argument, check_wino, transforms
except ImportError:
    sys.exit("half_error_model: needs NumPy: run it with build/venv/bin/python (scripts/python_test.sh makes it)")


def rounder(precision):
    if precision == "fp16":
        return lambda z: z.astype(np.float16).astype(np.float64)
    # bf16: round to nearest even on the top 16 bits of the float32
    def bf16(z):
        bits = z.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
        return bits.view(np.float32).astype(np.float64)
    return bf16


def errors(AT, G, BT, rnd, channels, tiles, seed, which):
    alpha, r = BT.shape[0], G.shape[1]
    rng = np.random.default_rng(seed)
    d = rnd(rng.standard_normal((tiles, channels, alpha, alpha)))  # tensors in the half type
    g = rnd(rng.standard_normal((channels, r, r)))
    V = np.einsum("ij,tcjk,lk->tcil", BT, d, BT)
    U = np.einsum("ij,cjk,lk->cil", G, g, G)
    out = lambda v, u: np.einsum("ij,tjk,lk->til", AT, np.einsum("tcij,cij->tij", v, u), AT)
    exact = out(V, U)
    y = rnd(out(rnd(V) if "v" in which else V, rnd(U) if "u" in which else U))
    norm = np.linalg.norm(exact)
    return np.linalg.norm(y - exact) / norm, np.linalg.norm(rnd(exact) - exact) / norm


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[-5:]))
    p.add_argument("--m", type=int, action="append", help="outputs per tile (repeatable; default 2, 3, 4)")
    p.add_argument("--r", type=int, default=3, help="filter taps (default 3)")
    p.add_argument("--points", action="append", default=[],
                   help="alpha - 1 finite points, as `wino transforms --points` takes them (repeatable)")
    p.add_argument("--precision", choices=["fp16", "bf16"], default="fp16")
    p.add_argument("--round", choices=["uv", "u", "v"], default="uv", help="which operands are rounded (default both)")
    p.add_argument("--channels", type=int, default=256, help="input channels summed (default 256)")
    p.add_argument("--tiles", type=int, default=1000, help="random tiles (default 1000)")
    p.add_argument("--seed", type=int, default=1)
    add_wino_argument(p)
    a = p.parse_args()
    check_wino(a.wino, "half_error_model")
    if a.channels < 1 or a.tiles < 1:
        sys.exit("half_error_model: --channels and --tiles must be >= 1")
    runs = [(m, pts) for m in (a.m or [2, 3, 4]) for pts in (a.points or [None])]
    rnd = rounder(a.precision)
    print(f"{a.precision}, {a.round} rounded, C = {a.channels}, {a.tiles} tiles, seed {a.seed}")
    print(f"{'F(m,r)':8} {'points':28} {'rel. L2 error':>13} {'output rounding alone':>22} {'ratio':>6}")
    for m, pts in runs:
        AT, G, BT, names = transforms(a.wino, m, a.r, pts, "half_error_model")
        e, floor = errors(AT, G, BT, rnd, a.channels, a.tiles, a.seed, a.round)
        print(f"F({m},{a.r})   {names:28} {e:13.3e} {floor:22.3e} {e / floor:6.1f}")


if __name__ == "__main__":
    main()

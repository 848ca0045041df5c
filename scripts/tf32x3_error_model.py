#!/usr/bin/env python3
"""Why 3xtf32's error grows with the input channels on the GPU, without a GPU.

Simulates the tensor-core 3xtf32 GEMM of a Winograd F(m, r) on random tiles: V = B^T d B and
U = G g G^T in float32, each split as the CUDA kernels split it (big = the float32 bits + 0x1000
masked to tf32, small = x - big masked), three mmas per k-step of 8 channels (small U x big V,
big U x small V, big x big) whose products are exact, each added to the float32 accumulator
rounded to nearest (`--accumulate rn`: what the interpreter does) or toward zero (`rz`: what the
H100 and H200 measurements fit), then Y = A^T M A in float64. With `--chunk N` the mmas
accumulate N channels from zero and each chunk's sum is added to a float32 total rounded to
nearest (a second set of accumulators in a kernel). Prints the relative L2 error against float64
per number of input channels. Needs NumPy (build/venv has it).

  scripts/tf32x3_error_model.py                            # rn and rz, C = 64 .. 512, F(2,3)
  scripts/tf32x3_error_model.py --m 4 --chunk 32 --channels 512
"""
import argparse
import sys

try:
    import numpy as np
    from wino_matrices import add_wino_argument, check_wino, transforms
except ImportError:
    sys.exit("tf32x3_error_model: needs NumPy: run it with build/venv/bin/python (scripts/python_test.sh makes it)")

MMA_DEPTH = 8  # channels of one m16n8k8 tf32 mma


def split(x):
    """x (float32) -> (big, small) as wino_tf32_big and WINO_SMALL compute them (render/dialects.cpp)."""
    big = ((x.view(np.uint32).astype(np.uint64) + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)
    small = ((x - big).astype(np.float32).view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32)
    return big, small


def to_f32(x, mode):
    """float64 -> float32, to nearest or toward zero."""
    f = x.astype(np.float32)
    if mode == "rz":
        over = np.abs(f.astype(np.float64)) > np.abs(x)
        f[over] = np.nextafter(f[over], np.float32(0))
    return f


def error(AT, G, BT, channels, tiles, k, seed, mode, chunk):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((tiles, channels) + (BT.shape[1],) * 2)
    g = rng.standard_normal((k, channels) + (G.shape[1],) * 2)
    V = np.einsum("ij,tcjq,lq->tcil", BT, d, BT).astype(np.float32)
    U = np.einsum("ij,kcjq,lq->kcil", G, g, G).astype(np.float32)
    gemm = lambda v, u: np.einsum("tcij,kcij->tkij", v.astype(np.float64), u.astype(np.float64))
    exact = gemm(V, U)
    (vb, vs), (ub, us) = split(V), split(U)
    total = np.zeros(exact.shape, np.float32)
    for q in range(0, channels, chunk):
        acc = np.zeros(exact.shape, np.float32)
        for c in range(q, min(channels, q + chunk), MMA_DEPTH):
            s = slice(c, c + MMA_DEPTH)
            for v, u in ((vb, us), (vs, ub), (vb, ub)):
                acc = to_f32(acc.astype(np.float64) + gemm(v[:, s], u[:, s]), mode)
        total = acc if chunk >= channels else to_f32(total.astype(np.float64) + acc, "rn")
    out = lambda M: np.einsum("ij,tkjl,ml->tkim", AT, M, AT)
    y = out(exact)
    return np.linalg.norm(out(total.astype(np.float64)) - y) / np.linalg.norm(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[-3:]))
    p.add_argument("--m", type=int, default=2, help="outputs per tile (default 2)")
    p.add_argument("--r", type=int, default=3, help="filter taps (default 3)")
    p.add_argument("--channels", type=int, action="append", help="input channels (repeatable; default 64 .. 512)")
    p.add_argument("--accumulate", choices=["rn", "rz"], action="append", help="rounding of the mma's sums (default both)")
    p.add_argument("--chunk", type=int, default=0, help="channels an accumulator sums before a float32 total takes it (0: all)")
    p.add_argument("--tiles", type=int, default=200, help="random tiles (default 200)")
    p.add_argument("--k", type=int, default=16, help="output channels (default 16)")
    p.add_argument("--seed", type=int, default=1)
    add_wino_argument(p)
    a = p.parse_args()
    check_wino(a.wino, "tf32x3_error_model")
    channels = a.channels or [64, 128, 256, 512]
    if min(channels) < 1 or a.tiles < 1 or a.k < 1 or a.chunk < 0 or (a.chunk and a.chunk % MMA_DEPTH):
        sys.exit(f"tf32x3_error_model: --channels, --tiles and --k must be >= 1, --chunk 0 or a multiple of {MMA_DEPTH}")
    AT, G, BT, _ = transforms(a.wino, a.m, a.r, None, "tf32x3_error_model")
    modes = a.accumulate or ["rn", "rz"]
    print(f"3xtf32 F({a.m},{a.r}), {a.tiles} tiles x {a.k} output channels, seed {a.seed}, "
          f"{'one accumulator' if not a.chunk else f'chunks of {a.chunk} channels into a float32 total'}")
    print(f"{'channels':>8} " + " ".join(f"{'error, ' + m:>12}" for m in modes))
    for c in channels:
        errs = [error(AT, G, BT, c, a.tiles, a.k, a.seed, m, a.chunk or c) for m in modes]
        print(f"{c:8d} " + " ".join(f"{e:12.2e}" for e in errs))


if __name__ == "__main__":
    main()

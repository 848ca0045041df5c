#!/usr/bin/env python3
"""SASS instruction counts of the CUDA kernels a plan generates, without a GPU: runs `wino explain
--target sm_90 ...` with an empty kernel cache, takes each kernel's CUBIN from the cache NVRTC
filled (src/runtime/cuda/nvrtc.cpp: magic, three u64 sizes and a checksum, log, PTX, CUBIN), disassembles it with
cuobjdump/nvdisasm and prints, per kernel, its instructions in all and by opcode.

With two binaries (--base BIN) it prints both side by side: what a kernel change does to the code
ptxas emits, before a GPU is lent to time it. --loops adds each loop's body (the instructions
between a backward branch and its target): what a kernel runs per iteration of its main loop.

cuobjdump and nvdisasm come from PyPI (nvidia-cuda-cuobjdump, nvidia-cuda-nvdisasm) into
~/.cache/wino/sass-tools on first use when they are not on PATH.

Usage: scripts/sass_counts.py [--wino BIN] [--base BIN] [--opcodes N] [--loops] [--dump DIR] -- EXPLAIN_ARGS...
  e.g. scripts/sass_counts.py -- --shape 8,64,224,224 --k 64 --pad 1 --plan unfused --m 4
"""
import argparse, collections, os, re, shutil, struct, subprocess, sys, tempfile

TOOLS = os.path.expanduser("~/.cache/wino/sass-tools")
HEADER = 8 + 4 * 8  # magic "WINOCU01", then log, ptx and cubin sizes and a checksum


def tool_dir():
    """A directory holding cuobjdump and nvdisasm, installing them from PyPI where missing."""
    if shutil.which("cuobjdump") and shutil.which("nvdisasm"):
        return os.path.dirname(shutil.which("cuobjdump"))
    bindir = os.path.join(TOOLS, "nvidia", "cu13", "bin")
    if not os.path.exists(os.path.join(bindir, "nvdisasm")):
        print(f"installing cuobjdump and nvdisasm into {TOOLS} (pip)", file=sys.stderr)
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", TOOLS,
                            "nvidia-cuda-cuobjdump", "nvidia-cuda-nvdisasm"])
        if r.returncode != 0 or not os.path.exists(os.path.join(bindir, "nvdisasm")):
            sys.exit("sass_counts: could not install nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm with pip; "
                     "put cuobjdump and nvdisasm on PATH instead")
    return bindir


def cubins(cache):
    """The CUBIN of each entry of a Wino NVRTC disk cache."""
    for name in sorted(os.listdir(cache)):
        data = open(os.path.join(cache, name), "rb").read()
        if not data.startswith(b"WINOCU01") or len(data) < HEADER:
            continue
        log, ptx, cubin, _ = struct.unpack_from("<4Q", data, 8)
        yield data[HEADER + log + ptx:HEADER + log + ptx + cubin]


# One SASS instruction as cuobjdump prints it: /*address*/ [@predicate] OPCODE operands ;
INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_]+)([^;]*);")


def parse(sass):
    """[(address, opcode, operands)] of every instruction."""
    return [(int(a, 16), op, rest) for a, op, rest in INSTRUCTION.findall(sass)]


def loops(code):
    """A Counter of opcodes for each loop's body: from a backward branch's target to the branch."""
    bodies = []
    for at, op, rest in code:
        target = re.search(r"0x([0-9a-f]+)", rest) if op == "BRA" else None
        if target and int(target.group(1), 16) < at:
            start = int(target.group(1), 16)
            bodies.append(collections.Counter(o for a, o, _ in code if start <= a <= at))
    return bodies


def counts(wino, explain_args, bindir, dump=None):
    """{kernel: (Counter of opcodes, [Counter of each loop body])} for the kernels `wino explain
    ARGS --target sm_90` compiles."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, WINO_CACHE_DIR=tmp, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        r = subprocess.run([wino, "explain", *explain_args, "--target", "sm_90"], capture_output=True, text=True,
                           env=env)
        if r.returncode != 0:
            sys.exit(f"sass_counts: {wino} explain failed:\n{r.stderr.strip()}")
        kernels = {}
        for i, cubin in enumerate(cubins(os.path.join(tmp, "cuda"))):
            path = os.path.join(tmp, f"k{i}.cubin")
            open(path, "wb").write(cubin)
            sass = subprocess.run([os.path.join(bindir, "cuobjdump"), "-sass", path], capture_output=True, text=True,
                                  env=env).stdout
            found = re.search(r"Function : (\S+)", sass)
            if not found:
                sys.exit(f"sass_counts: cuobjdump found no function in a CUBIN of {wino}")
            code = parse(sass)
            kernels[found.group(1)] = (collections.Counter(op for _, op, _ in code), loops(code))
            if dump:
                os.makedirs(dump, exist_ok=True)
                open(os.path.join(dump, found.group(1) + ".sass"), "w").write(sass)
        return kernels


def line(c, top):
    return f"{sum(c.values()):5d}  " + ", ".join(f"{op} {n}" for op, n in c.most_common(top))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], usage=__doc__.split("Usage: ")[1].split("\n")[0])
    p.add_argument("--wino", default=os.path.join(os.path.dirname(__file__), "..", "build", "release", "wino"))
    p.add_argument("--base", help="a second wino binary: its counts beside --wino's")
    p.add_argument("--opcodes", type=int, default=10, help="opcodes listed per kernel (default 10)")
    p.add_argument("--dump", help="write each kernel's SASS into this directory")
    p.add_argument("--loops", action="store_true", help="also each loop body's instructions")
    p.add_argument("explain", nargs=argparse.REMAINDER, help="wino explain's options (after --)")
    a = p.parse_args()
    args = a.explain[1:] if a.explain[:1] == ["--"] else a.explain
    if not args:
        p.error("give wino explain's options after --, e.g. -- --shape 1,8,32,32 --k 8 --pad 1 --plan unfused")
    bindir = tool_dir()
    new = counts(a.wino, args, bindir, a.dump)
    base = counts(a.base, args, bindir) if a.base else {}
    def show(label, found):
        if found is None:
            print(f"  {label}    -")
            return
        print(f"  {label}{line(found[0], a.opcodes)}")
        for i, body in enumerate(found[1] if a.loops else []):
            print(f"  {label}  loop {i}: {line(body, a.opcodes)}")

    for kernel in sorted(set(new) | set(base)):
        print(kernel)
        if a.base:
            show("base ", base.get(kernel))
            show("new  ", new.get(kernel))
        else:
            show("", new.get(kernel))


if __name__ == "__main__":
    main()

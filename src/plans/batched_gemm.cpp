#include "plans/batched_gemm.h"

#include "common/error.h"

namespace wino::plans {

using namespace ir;

std::string GemmTiles::str() const {
  return "bk" + std::to_string(bk) + "_bp" + std::to_string(bp) + "_r" + std::to_string(rk) + "x" +
         std::to_string(rp) + "_c" + std::to_string(cc);
}

namespace {

// The smallest power of two >= n, clamped to [lo, hi].
int pow2_at_least(int64_t n, int lo, int hi) {
  int v = lo;
  while (v < n && v < hi) v *= 2;
  return v;
}

}  // namespace

GemmTiles choose_gemm_tiles(int64_t K, int64_t P, const PlanOptions& o) {
  GemmTiles g;
  g.bk = o.block_k > 0 ? o.block_k : pow2_at_least(K, 32, 128);
  g.bp = o.block_tiles > 0 ? o.block_tiles : pow2_at_least(P, 32, 128);
  g.rk = o.reg_k > 0 ? o.reg_k : (g.bk >= 64 ? 8 : 4);
  g.rp = o.reg_tiles > 0 ? o.reg_tiles : (g.bp >= 64 ? 8 : 4);
  g.cc = o.chunk_c > 0 ? o.chunk_c : 8;
  const std::string what = "plan " + o.plan + ": GEMM tiles " + g.str();
  if (g.rk % 4 || g.rp % 4 || g.bk % g.rk || g.bp % g.rp)
    throw Error(what + ": register tiles must be multiples of 4 dividing the block sizes");
  if (g.threads() > 1024 || g.threads() < 32)
    throw Error(what + " need " + std::to_string(g.threads()) + " threads; use 32 to 1024");
  if (int64_t{2} * g.cc * (g.bk + g.bp) * 4 > 48 * 1024)
    throw Error(what + " need more than 48 KiB of work-group memory: use smaller blocks or chunks");
  return g;
}

std::unique_ptr<Kernel> batched_gemm_kernel(const ProgramBuilder& prog, const Tiling& t,
                                            const GemmTiles& g, BufferHandle u_buf, BufferHandle v_buf,
                                            BufferHandle mm_buf) {
  const ConvDesc& d = prog.desc();
  const std::string& plan = prog.plan();
  const int a2 = t.alpha * t.alpha, T = g.threads(), cc = g.cc, bk = g.bk, bp = g.bp;
  const int64_t C = d.c, K = d.k, P = t.tiles;
  const int64_t kblocks = ceil_div(K, bk), pblocks = ceil_div(P, bp), chunks = ceil_div(C, cc);
  const int64_t a_size = int64_t{cc} * bk, b_size = int64_t{cc} * bp;  // one buffer of each
  const int a_loads = static_cast<int>(ceil_div(a_size, T)), b_loads = static_cast<int>(ceil_div(b_size, T));
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(plan, "gemm", t.m, t.r, g.str()), a2 * kblocks * pblocks, T);
  b.info() = {plan, "gemm", t.m, t.r};
  const Memory* u = prog.param(b, u_buf);
  const Memory* v = prog.param(b, v_buf);
  const Memory* mm = prog.param(b, mm_buf, true);
  // Us[2][cc][bk] then Vs[2][cc][bp]: two buffers so chunk i+1 is stored while i is read.
  const Memory* smem = b.shared_array("smem", 2 * (a_size + b_size));
  const Memory* acc = b.thread_array("acc", g.rk * g.rp);
  const Memory* next = b.thread_array("next", a_loads + b_loads);  // the next chunk, in flight

  Expr gid = b.group_id();
  Expr pb = b.let("pb", gid % pblocks), kb = b.let("kb", (gid / pblocks) % kblocks);
  Expr xi = b.let("xi", gid / (pblocks * kblocks));

  // Global -> registers: element e = i*T + tid of a chunk is (row e / width, column e % width),
  // so neighbouring threads read neighbouring addresses. Masks only where sizes do not divide.
  struct Operand {
    const Memory* mem;
    const char* hint;
    int width, first;  // columns per row; first slot in `next`
    int64_t size, extent;
    Expr col0;
  };
  const Operand ops[2] = {{u, "u", bk, 0, a_size, K, kb * bk}, {v, "v", bp, a_loads, b_size, P, pb * bp}};
  auto element = [&](const Operand& op, int i, Expr tid, Expr* row, Expr* col) {
    if (T % op.width == 0) {
      *row = b.i32(int64_t{i} * (T / op.width)) + tid / op.width;
      *col = tid % op.width;
    } else {
      Expr e = b.let("e", b.i32(int64_t{i} * T) + tid);
      *row = e / op.width;
      *col = e % op.width;
    }
    Expr e = b.i32(int64_t{i} * T) + tid;
    return op.size % T ? lt(e, b.i32(op.size)) : Expr{};
  };
  auto both = [&](Expr x, Expr y) { return !x ? y : !y ? x : logical_and(x, y); };
  auto fetch = [&](Expr tid, Expr c0) {
    for (const Operand& op : ops)
      for (int i = 0; i < (op.mem == u ? a_loads : b_loads); ++i) {
        Expr row, col;
        Expr ok = element(op, i, tid, &row, &col);
        Expr c = b.let("c", c0 + row), x = b.let("col", op.col0 + col);
        if (C % cc) ok = both(ok, lt(c, b.i32(C)));
        if (op.extent % op.width) ok = both(ok, lt(x, b.i32(op.extent)));
        b.store(next, b.i32(op.first + i), b.load(op.hint, op.mem, (xi * C + c) * op.extent + x, ok));
      }
  };
  auto stash = [&](Expr tid, Expr buf) {
    for (const Operand& op : ops)
      for (int i = 0; i < (op.mem == u ? a_loads : b_loads); ++i) {
        Expr row, col;
        Expr ok = element(op, i, tid, &row, &col);
        Expr base = op.mem == u ? buf * a_size : b.i32(2 * a_size) + buf * b_size;
        b.store(smem, base + row * op.width + col, b.load("n", next, b.i32(op.first + i)), ok);
      }
  };
  // Thread (tk, tp) owns rows g*(bk/gk) + tk*4 + i of the block and columns likewise.
  const int gk = g.rk / 4, gp = g.rp / 4, qp = bp / g.rp;
  auto row_of = [&](Expr tk, int r) { return b.i32(int64_t{r / 4} * (bk / gk) + r % 4) + tk * 4; };
  auto col_of = [&](Expr tp, int c) { return b.i32(int64_t{c / 4} * (bp / gp) + c % 4) + tp * 4; };

  b.threads([&](Expr tid) {
    for (int i = 0; i < g.rk * g.rp; ++i) b.store(acc, b.i32(i), b.f32(0));
    fetch(tid, b.i32(0));
    stash(tid, b.i32(0));
  });
  b.barrier();
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    Expr buf = b.let("buf", chunk % 2);
    Expr more = b.let("more", lt(chunk + 1, b.i32(chunks)));
    b.threads([&](Expr tid) {
      b.if_then(more, [&] { fetch(tid, (chunk + 1) * cc); });
      Expr tk = b.let("tk", tid / qp), tp = b.let("tp", tid % qp);
      b.loop("ci", cc, LoopKind::unrolled, [&](Expr ci) {
        Expr arow = b.let("arow", buf * a_size + ci * bk);
        Expr brow = b.let("brow", b.i32(2 * a_size) + buf * b_size + ci * bp);
        std::vector<Expr> us, vs;
        for (int i = 0; i < g.rk; ++i) us.push_back(b.load("a", smem, arow + row_of(tk, i)));
        for (int j = 0; j < g.rp; ++j) vs.push_back(b.load("b", smem, brow + col_of(tp, j)));
        for (int i = 0; i < g.rk; ++i)
          for (int j = 0; j < g.rp; ++j) b.accumulate(acc, b.i32(i * g.rp + j), us[i] * vs[j]);
      });
      b.if_then(more, [&] { stash(tid, (chunk + 1) % 2); });
    });
    b.barrier();
  });
  b.threads([&](Expr tid) {
    Expr tk = b.let("tk", tid / qp), tp = b.let("tp", tid % qp);
    for (int i = 0; i < g.rk; ++i)
      for (int j = 0; j < g.rp; ++j) {
        Expr k = b.let("k", kb * bk + row_of(tk, i)), p = b.let("p", pb * bp + col_of(tp, j));
        b.store(mm, (xi * K + k) * P + p, b.load("m", acc, b.i32(i * g.rp + j)),
                logical_and(lt(k, b.i32(K)), lt(p, b.i32(P))));
      }
  });
  return b.finish();
}

}  // namespace wino::plans

#include "plans/gemm_core.h"

#include <optional>

#include "common/error.h"
#include "ir/transform_code.h"
#include "plans/gemm_parts.h"

namespace wino::plans {

using namespace ir;

namespace {

/// Position of register element i of thread q along a block dimension: runs of 4 when the
/// register tile is a multiple of 4 (16-byte reads), spaced so neighbouring threads read
/// neighbouring runs; else single elements strided by the thread count (conflict-free).
Expr spaced(KernelBuilder& b, Expr q, int i, int reg, int block) {
  const int w = reg % 4 == 0 ? 4 : 1;
  return b.i32(int64_t{i / w} * (block / (reg / w)) + i % w) + q * w;
}

/// One operand staged from memory into work-group memory: U[xi][c][k] or V[xi][c][p], chunk by
/// chunk, as [copy][point][cc][width] (copy: the double buffer when prefetching).
struct Operand {
  const Memory* mem;
  const char* hint;
  int width;       // bk or bp: columns of a row
  int64_t extent;  // K or P: columns of the tensor in memory
  Expr col0;       // the block's first column
  int64_t base;    // offset in work-group memory
  int64_t copy;    // floats of one copy: points x cc x pitch
  int pitch;       // floats from one row to the next: width plus GemmTiles::pad()
  int first = 0;   // first slot in `next`
  int64_t elements = 0;  // of one chunk: points x cc x width
  int loads = 0;         // elements per thread per chunk
};

class ChunkStager {
 public:
  ChunkStager(KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g, GemmCore& core,
              GemmSource source, const Memory* input, const Memory* u)
      : b_(b), d_(d), t_(t), g_(g), core_(core), source_(source), input_(input) {
    const int T = g.threads(), copies = g.stages ? g.stages : g.prefetch ? 2 : 1;
    const int pa = g.bk + g.pad(), pv = g.bp + g.pad();
    const int64_t a = int64_t{g.points} * g.cc * pa, v = int64_t{g.points} * g.cc * pv;
    ops_.push_back({u, "u", g.bk, d.k, core.kb * g.bk, 0, a, pa});
    ops_.push_back({input, "v", g.bp, t.tiles, core.pb * g.bp, copies * a, v, pv});
    for (Operand& op : ops_) {
      op.elements = int64_t{g.points} * g.cc * op.width;
      op.loads = static_cast<int>(ceil_div(op.elements, T));
    }
    ops_[1].first = ops_[0].loads;
  }
  const Operand& a() const { return ops_[0]; }
  const Operand& v() const { return ops_[1]; }
  int next_slots() const { return ops_[0].loads + ops_[1].loads; }

  /// Global -> registers (prefetch): the chunk starting at channel c0 into `next`.
  void fetch(const Memory* next, Expr tid, Expr c0) {
    for (const Operand& op : ops_)
      for (int i = 0; i < op.loads; ++i) {
        Element el = element(op, i, tid);
        b_.store(next, b_.i32(op.first + i), load(op, el, c0));
      }
  }
  /// Registers -> work-group memory copy `buf` (prefetch).
  void stash(const Memory* next, Expr tid, Expr buf) {
    for (const Operand& op : ops_)
      for (int i = 0; i < op.loads; ++i) {
        Element el = element(op, i, tid);
        b_.store(core_.smem, b_.i32(op.base) + buf * op.copy + el.row * op.pitch + el.col,
                 b_.load("n", next, b_.i32(op.first + i)), el.ok);
      }
  }
  /// Global -> work-group memory copy `buf` asynchronously (stages): runs of 4 elements where the
  /// rows allow (the tensor's columns and the staged rows multiples of 4: 16-byte copies).
  void issue_copies(Expr tid, Expr c0, Expr buf) {
    const int T = g_.threads();
    for (const Operand& op : ops_) {
      const int w = op.extent % 4 == 0 && op.width % 4 == 0 && op.pitch % 4 == 0 && op.base % 4 == 0 ? 4 : 1;
      const int runs = op.width / w;
      const int64_t count = int64_t{g_.points} * g_.cc * runs;
      for (int64_t i = 0; i < ceil_div(count, T); ++i) {
        Expr e = b_.i32(i * T) + tid;
        Element el;
        el.row = T % runs == 0 ? b_.i32(i * (T / runs)) + tid / runs : e / runs;
        el.col = (T % runs == 0 ? tid % runs : e % runs) * w;
        if (count % T) el.ok = lt(e, b_.i32(count));
        auto [index, ok] = source(op, el, c0);
        Expr dst = b_.i32(op.base) + buf * op.copy + el.row * op.pitch + el.col;
        if (el.ok) {  // past the chunk's end: nothing to copy, nowhere to put it
          b_.if_then(el.ok, [&] { b_.copy_async(core_.smem, dst, op.mem, index, w, ok); });
        } else {
          b_.copy_async(core_.smem, dst, op.mem, index, w, ok);
        }
      }
    }
  }
  /// Global -> work-group memory directly (no prefetch): V (or transformed image tiles), then U.
  void stage(Expr tid, Expr c0) {
    if (source_ == GemmSource::image || g_.points > 1) stage_tiles(tid, c0);
    else stage_elements(v(), tid, c0);
    stage_elements(a(), tid, c0);
  }

 private:
  struct Element {
    Expr row, col, ok;  // row in [points x cc]; ok: inside the chunk (null: always)
  };
  // Element e = i*T + tid of a chunk is (row e / width, column e % width), so neighbouring
  // threads read neighbouring addresses.
  Element element(const Operand& op, int i, Expr tid) {
    const int T = g_.threads();
    Expr e = b_.i32(int64_t{i} * T) + tid;
    Element el;
    if (T % op.width == 0) {
      el.row = b_.i32(int64_t{i} * (T / op.width)) + tid / op.width;
      el.col = tid % op.width;
    } else {
      Expr ev = b_.let("e", e);
      el.row = ev / op.width;
      el.col = ev % op.width;
    }
    if (op.elements % T) el.ok = lt(e, b_.i32(op.elements));
    return el;
  }
  static Expr both(Expr x, Expr y) { return !x ? y : !y ? x : logical_and(x, y); }
  /// The index of op[xi][c0 + ci][col0 + col] for element `el`, and whether it is inside the
  /// chunk and the tensor (null: always).
  std::pair<Expr, Expr> source(const Operand& op, const Element& el, Expr c0) {
    Expr xi = core_.xi0, ci = el.row;
    if (g_.points > 1) {
      xi = b_.let("xi", core_.xi0 + el.row / g_.cc);
      ci = el.row % g_.cc;
    }
    Expr c = b_.let("c", c0 + ci), x = b_.let("col", op.col0 + el.col);
    Expr ok = el.ok;
    if (d_.c % g_.cc) ok = both(ok, lt(c, b_.i32(d_.c)));
    if (op.extent % op.width) ok = both(ok, lt(x, b_.i32(op.extent)));
    return {(xi * d_.c + c) * op.extent + x, ok};
  }
  /// op[xi][c0 + ci][col0 + col] for element `el`, zero past the tensor's ends.
  Expr load(const Operand& op, const Element& el, Expr c0) {
    auto [index, ok] = source(op, el, c0);
    return b_.load(op.hint, op.mem, index, ok);
  }
  void stage_elements(const Operand& op, Expr tid, Expr c0) {
    const int T = g_.threads();
    b_.comment(std::string("stage the chunk's ") + (op.hint[0] == 'u' ? "weights" : "transformed inputs") +
               " [xi][cc][" + (op.hint[0] == 'u' ? "bk" : "bp") + "] in work-group memory");
    b_.loop("si", op.loads, LoopKind::serial, [&](Expr si) {
      Expr e = b_.let("e", si * T + tid);
      b_.if_then(lt(e, b_.i32(op.elements)), [&] {
        Element el{e / op.width, e % op.width, {}};
        Expr at = op.pitch == op.width ? e : el.row * op.pitch + el.col;
        b_.store(core_.smem, b_.i32(op.base) + at, load(op, el, c0));
      });
    });
  }
  // A work-group with all alpha^2 points stages V a (channel, tile) pair at a time: the pair's
  // alpha^2 values come from the input tile, transformed here (image), or from V at constant
  // strides (transformed; fewer index operations than an element loop, which costs up to 1.5x
  // on layers with few tiles).
  void stage_tiles(Expr tid, Expr c0) {
    const int T = g_.threads(), a2 = t_.alpha * t_.alpha, cc = g_.cc, bp = g_.bp;
    const int64_t C = d_.c, P = t_.tiles;
    b_.comment(source_ == GemmSource::image ? "transform the chunk's input tiles into work-group memory Vs[xi][cc][bp]"
                                            : "stage the chunk's transformed inputs Vs[xi][cc][bp] in work-group memory");
    b_.loop("vi", ceil_div(int64_t{cc} * bp, T), LoopKind::serial, [&](Expr vi) {
      Expr pair = b_.let("pair", vi * T + tid);
      b_.if_then(lt(pair, b_.i32(int64_t{cc} * bp)), [&] {
        Expr ci = b_.let("ci", pair / bp), pl = b_.let("pl", pair % bp);
        Expr c = b_.let("c", c0 + ci), p = b_.let("p", core_.pb * bp + pl);
        Expr valid = b_.let("valid", logical_and(lt(c, b_.i32(C)), lt(p, b_.i32(P))));
        std::vector<Expr> v;
        if (source_ == GemmSource::image) {
          std::vector<Expr> tile = load_input_tile(b_, input_, d_, t_, tile_coords(b_, p, t_), c, valid);
          v = transform_2d(b_.ctx(), t_.t.BT, tile);
        } else {
          for (int xi = 0; xi < a2; ++xi) v.push_back(b_.load("v", input_, (b_.i32(xi) * C + c) * P + p, valid));
        }
        for (int xi = 0; xi < a2; ++xi)
          b_.store(core_.smem, b_.i32(this->v().base) + (b_.i32(xi) * cc + ci) * bp + pl, v[xi]);
      });
    });
  }

  KernelBuilder& b_;
  const ConvDesc& d_;
  const Tiling& t_;
  const GemmTiles& g_;
  GemmCore& core_;
  GemmSource source_;
  const Memory* input_;
  std::vector<Operand> ops_;
};

/// acc += Us x Vs over the cc channels of the staged copy `buf`.
void multiply_chunk(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf) {
  const GemmTiles& g = core.g;
  ThreadTile tt = core.tile(b, tid);
  for (int j = 0; j < g.ppt; ++j) {
    Expr xl = core.point(b, tt, j);
    if (!xl->is_const()) xl = b.let("xi", xl);
    b.loop("ci", g.cc, LoopKind::unrolled, [&](Expr ci) {
      Expr r = xl * g.cc + ci;
      Expr arow = b.let("arow", b.i32(st.a().base) + buf * st.a().copy + r * st.a().pitch);
      Expr brow = b.let("brow", b.i32(st.v().base) + buf * st.v().copy + r * st.v().pitch);
      std::vector<Expr> us, vs;
      for (int i = 0; i < g.rk; ++i) us.push_back(b.load("a", core.smem, arow + core.row(b, tt, i)));
      for (int jj = 0; jj < g.rp; ++jj) vs.push_back(b.load("b", core.smem, brow + core.col(b, tt, jj)));
      for (int i = 0; i < g.rk; ++i)
        for (int jj = 0; jj < g.rp; ++jj) b.accumulate(core.acc, b.i32(core.acc_index(j, i, jj)), us[i] * vs[jj]);
    });
  }
}

/// The lane's place in its warp and the warp's block of M (tensor cores).
struct WarpPlace {
  Expr g, t, k0, p0;  // lane = 4 g + t; the warp's first row and column in the block
};

WarpPlace warp_place(KernelBuilder& b, const GemmTiles& g, Expr tid) {
  const int warps_p = g.bp / (4 * g.rp);
  Expr warp = b.let("warp", tid / kWarp), lane = b.let("lane", tid % kWarp);
  return {b.let("g", lane / 4), b.let("t", lane % 4), b.let("wk", warp / warps_p * (8 * g.rk)),
          b.let("wp", warp % warps_p * (4 * g.rp))};
}

/// acc += Us x Vs over the chunk on tensor cores: per k-step of the mma's depth, each warp loads
/// its fragments of (rk / 2) 16-row slices of Us and (rp / 2) 8-column slices of Vs and issues
/// one mma per pair.
void multiply_chunk_mma(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf) {
  const GemmTiles& g = core.g;
  const MmaKind kind = *g.mma;
  const int depth = mma_depth(kind), step = mma_t_step(kind), tm = g.rk / 2, tn = g.rp / 2;
  const WarpPlace w = warp_place(b, g, tid);
  Expr abase = b.let("abase", b.i32(st.a().base) + buf * st.a().copy + w.k0 + w.g);
  Expr bbase = b.let("bbase", b.i32(st.v().base) + buf * st.v().copy + w.p0 + w.g);
  b.loop("ks", g.cc / depth, LoopKind::unrolled, [&](Expr ks) {
    Expr chan = b.let("chan", ks * depth + w.t * step);  // the lane's first channel of the k-step
    std::vector<std::vector<Expr>> a(tm), v(tn);
    for (int mi = 0; mi < tm; ++mi)
      for (int i = 0; i < mma_a_values(kind); ++i) {
        const MmaPos p = mma_a_pos(kind, 0, i);  // row: output channel; column: input channel
        a[mi].push_back(b.load("a", core.smem, abase + (chan + p.col) * st.a().pitch + (mi * 16 + p.row)));
      }
    for (int ni = 0; ni < tn; ++ni)
      for (int i = 0; i < mma_b_values(kind); ++i) {
        const MmaPos p = mma_b_pos(kind, 0, i);  // row: input channel; column: tile
        v[ni].push_back(b.load("b", core.smem, bbase + (chan + p.row) * st.v().pitch + (ni * 8 + p.col)));
      }
    for (int mi = 0; mi < tm; ++mi)
      for (int ni = 0; ni < tn; ++ni) {
        std::vector<int64_t> slots;
        for (int i = 0; i < 4; ++i) slots.push_back(core.acc_index(0, 2 * mi + i / 2, 2 * ni + i % 2));
        b.mma(kind, core.acc, slots, a[mi], v[ni]);
      }
  });
}

void multiply(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf) {
  if (core.g.mma) multiply_chunk_mma(b, core, st, tid, buf);
  else multiply_chunk(b, core, st, tid, buf);
}

}  // namespace

ThreadTile GemmCore::tile(KernelBuilder& b, Expr tid) const {
  if (g.mma) {  // rows g, g + 8 of 16-row slices; columns 2t, 2t + 1 of 8-column slices
    const WarpPlace w = warp_place(b, g, tid);
    return {Expr{}, b.let("kq", w.k0 + w.g), b.let("pq", w.p0 + w.t * 2)};
  }
  const int qk = g.bk / g.rk, qp = g.bp / g.rp;
  if (g.points == 1) return {Expr{}, b.let("kq", tid / qp), b.let("pq", tid % qp)};
  // With several points the group index stays a computed value even when there is one group
  // (fused-output): known point offsets let ptxas hoist all alpha^2 points' loads (254 registers
  // instead of 112 for F(4,3)).
  Expr q = b.let("q", tid % (qk * qp));
  return {b.let("grp", tid / (qk * qp)), b.let("kq", q / qp), b.let("pq", q % qp)};
}
Expr GemmCore::point(KernelBuilder& b, const ThreadTile& tt, int j) const {
  return tt.group ? tt.group * g.ppt + b.i32(j) : b.i32(j);
}
Expr GemmCore::row(KernelBuilder& b, const ThreadTile& tt, int i) const {
  return g.mma ? tt.kq + (16 * (i / 2) + 8 * (i % 2)) : spaced(b, tt.kq, i, g.rk, g.bk);
}
Expr GemmCore::col(KernelBuilder& b, const ThreadTile& tt, int j) const {
  return g.mma ? tt.pq + (8 * (j / 2) + j % 2) : spaced(b, tt.pq, j, g.rp, g.bp);
}

namespace {

/// The chunks through a ring of g.stages copies filled by asynchronous copies: chunks i + 1 ..
/// i + stages - 1 are in flight while chunk i is multiplied. Each thread commits one group of
/// copies per chunk (empty past the last), so waiting until stages - 2 groups are in flight
/// retires chunk i's; the barrier after the wait then publishes every thread's copies and tells
/// that all threads are done with the copy the next chunk overwrites.
void pipeline_chunks(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  const int S = g.stages, accs = g.ppt * g.rk * g.rp;
  b.threads([&](Expr tid) {
    for (int i = 0; i < accs; ++i) b.store(core.acc, b.i32(i), b.f32(0));
    for (int s = 0; s < S - 1; ++s) {
      if (s < chunks) st.issue_copies(tid, b.i32(int64_t{s} * g.cc), b.i32(s));
      b.copy_commit();
    }
  });
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    b.threads([&](Expr) { b.copy_wait(S - 2); });
    b.barrier();
    b.threads([&](Expr tid) {
      Expr ahead = b.let("ahead", chunk + (S - 1));
      b.if_then(lt(ahead, b.i32(chunks)), [&] { st.issue_copies(tid, ahead * g.cc, ahead % S); });
      b.copy_commit();
      multiply(b, core, st, tid, chunk % S);
    });
  });
  b.barrier();  // the sinks may reuse work-group memory
}

}  // namespace

GemmCore multiply_chunks(KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g,
                         GemmSource source, const Memory* input, const Memory* u, bool exchange_room) {
  const int64_t pblocks = ceil_div(t.tiles, g.bp), kblocks = ceil_div(d.k, g.bk), chunks = ceil_div(d.c, g.cc);
  GemmCore core;
  core.d = &d;
  core.t = &t;
  core.g = g;
  Expr gid = b.group_id();
  core.pb = b.let("pb", gid % pblocks);
  const bool one_point_group = g.points == t.alpha * t.alpha;  // the grid has no point dimension
  core.kb = b.let("kb", one_point_group ? gid / pblocks : (gid / pblocks) % kblocks);
  core.xi0 = one_point_group ? b.i32(0) : b.let("xi", gid / (pblocks * kblocks) * g.points);
  // An exchange reuses the area after the GEMM, so it takes what static memory allows.
  core.smem_size = g.stage_floats();
  if (exchange_room)
    core.smem_size = std::max(core.smem_size, std::min<int64_t>(kSharedFloats, int64_t{g.points} * g.bk * g.bp));
  core.smem = b.shared_array("smem", core.smem_size);
  const int accs = g.ppt * g.rk * g.rp;
  core.acc = b.thread_array("acc", accs);
  ChunkStager st(b, d, t, g, core, source, input, u);

  if (g.stages) {
    pipeline_chunks(b, core, st, chunks);
    return core;
  }
  if (!g.prefetch) {
    b.threads([&](Expr) {
      for (int i = 0; i < accs; ++i) b.store(core.acc, b.i32(i), b.f32(0));
    });
    b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
      Expr c0 = b.let("c0", chunk * g.cc);
      b.threads([&](Expr tid) { st.stage(tid, c0); });
      b.barrier();
      b.threads([&](Expr tid) { multiply(b, core, st, tid, b.i32(0)); });
      b.barrier();
    });
    return core;
  }
  // Double-buffered: chunk i + 1 is loaded into registers while chunk i is multiplied, then
  // stored into the other copy; one barrier per chunk.
  const Memory* next = b.thread_array("next", st.next_slots());
  b.threads([&](Expr tid) {
    for (int i = 0; i < accs; ++i) b.store(core.acc, b.i32(i), b.f32(0));
    st.fetch(next, tid, b.i32(0));
    st.stash(next, tid, b.i32(0));
  });
  b.barrier();
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    Expr buf = b.let("buf", chunk % 2);
    Expr more = b.let("more", lt(chunk + 1, b.i32(chunks)));
    b.threads([&](Expr tid) {
      b.if_then(more, [&] { st.fetch(next, tid, (chunk + 1) * g.cc); });
      multiply(b, core, st, tid, buf);
      b.if_then(more, [&] { st.stash(next, tid, (chunk + 1) % 2); });
    });
    b.barrier();
  });
  return core;
}

namespace {

/// Kernel name part and report stage of each source and sink.
std::pair<std::string, std::string> stage_names(const GemmStages& s) {
  const bool image = s.source == GemmSource::image, out = s.sink != GemmSink::store_m;
  if (image && out) return {"all", "fused"};
  if (image) return {"input_gemm", "input_transform+gemm"};
  if (out) return {"gemm_output", "gemm+output_transform"};
  return {"gemm", "gemm"};
}

void check_stages(const std::string& plan, const Tiling& t, const GemmTiles& g, const GemmStages& s) {
  const int a2 = t.alpha * t.alpha;
  auto refuse = [&](const std::string& why) { throw Error("plan " + plan + ": GEMM tiles " + g.str() + ": " + why); };
  if (g.points != 1 && g.points != a2) refuse("a work-group holds 1 or alpha^2 Winograd points");
  if (g.ppt < 1 || g.points % g.ppt)
    refuse(std::to_string(g.ppt) + " points per thread must divide alpha^2 = " + std::to_string(a2));
  if (s.source == GemmSource::image && (g.points != a2 || g.prefetch))
    refuse("transforming the input in the kernel needs all alpha^2 points in a work-group, without prefetch");
  if (s.sink == GemmSink::transform_in_registers && g.ppt != a2)
    refuse("the output transform in registers needs all alpha^2 points in each thread");
  if (s.sink == GemmSink::transform_after_exchange && g.points != a2)
    refuse("the output transform after an exchange needs all alpha^2 points in a work-group");
  if (g.stages && (g.points != 1 || s.source != GemmSource::transformed))
    refuse("asynchronous copies stage U and V of one Winograd point per work-group (the unfused plan's GEMM)");
  if (g.mma && (g.points != 1 || s.source != GemmSource::transformed || s.sink != GemmSink::store_m))
    refuse("tensor cores run the GEMM of the unfused plan only (one Winograd point per work-group)");
}

}  // namespace

std::unique_ptr<Kernel> gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                    const GemmStages& s) {
  const ConvDesc& d = prog.desc();
  check_stages(prog.plan(), t, g, s);
  const int a2 = t.alpha * t.alpha;
  const int64_t groups = (a2 / g.points) * ceil_div(d.k, g.bk) * ceil_div(t.tiles, g.bp);
  const auto [name, stage] = stage_names(s);
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), name, t.m, t.r, g.str()), groups,
                  g.threads());
  b.info() = {prog.plan(), stage, t.m, t.r};
  const Memory* u = prog.param(b, s.u);
  const Memory* input = prog.param(b, s.input);
  std::optional<OutputSink> y;
  const Memory* mm = nullptr;
  if (s.sink == GemmSink::store_m) mm = prog.param(b, s.mm, true);
  else y.emplace(prog, b);
  const bool exchanges = s.sink == GemmSink::transform_after_exchange || (s.sink == GemmSink::store_m && g.points > 1);
  GemmCore core = multiply_chunks(b, d, t, g, s.source, input, u, exchanges);
  switch (s.sink) {
    case GemmSink::store_m:
      if (g.points == 1) store_m_from_registers(b, core, mm);
      else store_m_exchanged(b, core, mm);
      break;
    case GemmSink::transform_in_registers: transform_in_registers(b, core, *y); break;
    case GemmSink::transform_after_exchange: transform_exchanged(b, core, *y); break;
  }
  return b.finish();
}

}  // namespace wino::plans

#include "plans/gemm_core.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "common/error.h"
#include "plans/chunk_stager.h"
#include "plans/gemm_fragments.h"
#include "plans/gemm_parts.h"
#include "plans/patch_region.h"

namespace wino::plans {

using namespace ir;

namespace {

/// Position of register element i of thread q along a block dimension (plans::spacing).
Expr spaced(KernelBuilder& b, Expr q, int i, int reg, int block) {
  const Spacing s = spacing(i, reg, block);
  return b.i32(s.offset) + q * s.run;
}

}  // namespace

void zero_accumulators(KernelBuilder& b, const GemmCore& core) {
  for (int i = 0; i < core.g.ppt * core.g.rk * core.g.rp; ++i) b.store(core.acc, b.i32(i), b.f32(0));
}

namespace {

/// A thread's `reg` values of a staged row starting at `row_start`, element i at offset(i). Runs
/// of 4 (spaced) are read as aligned float4s where the row's start allows: one 16-byte access, as
/// the compilers emit it anyway, and as the interpreter then counts its bank conflicts (by
/// half-warps, as the H100 serves 16-byte loads: common/shared_banks.h, session 68).
std::vector<Expr> register_row(KernelBuilder& b, const std::string& hint, const StagedOperand& op, Expr row_start, int reg,
                               int block, const std::function<Expr(int)>& offset) {
  const bool runs = reg % 4 == 0 && (block / (reg / 4)) % 4 == 0 && op.smem->type == ir::Type::f32 && op.base % 4 == 0 &&
                    op.copy % 4 == 0 && op.pitch % 4 == 0 && op.channel_plane % 4 == 0 && op.point_plane % 4 == 0;
  std::vector<Expr> values;
  for (int i = 0; i < reg; i += runs ? 4 : 1) {
    if (!runs) {
      values.push_back(b.load(hint, op.smem, row_start + offset(i)));
      continue;
    }
    Expr run = b.aligned_load(hint, op.smem, row_start + offset(i), 4);
    for (int l = 0; l < 4; ++l) values.push_back(extract(run, l));
  }
  return values;
}

/// acc += Us x Vs over the cc channels of the staged copy `buf`.
void multiply_chunk(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf) {
  const GemmTiles& g = core.g;
  ThreadTile tt = core.tile(b, tid);
  for (int j = 0; j < g.ppt; ++j) {
    Expr xl = core.point(b, tt, j);
    if (!xl->is_const()) xl = b.let("xi", xl);
    b.loop("ci", g.cc, LoopKind::unrolled, [&](Expr ci) {
      Expr arow = b.let("arow", b.i32(st.a().base) + buf * st.a().copy + st.a().row_start(xl, ci, g.cc));
      Expr brow = b.let("brow", b.i32(st.v().base) + buf * st.v().copy + st.v().row_start(xl, ci, g.cc));
      const std::vector<Expr> us = register_row(b, "a", st.a(), arow, g.rk, g.bk, [&](int i) { return core.row(b, tt, i); });
      const std::vector<Expr> vs = register_row(b, "b", st.v(), brow, g.rp, g.bp, [&](int j) { return core.col(b, tt, j); });
      for (int i = 0; i < g.rk; ++i)
        for (int jj = 0; jj < g.rp; ++jj) b.accumulate(core.acc, b.i32(core.acc_index(j, i, jj)), us[i] * vs[jj]);
    });
  }
}

/// acc += Us x Vs over the chunk on tensor cores, for the staged copy's `count` points (the
/// work-group's points first_point ..): per k-step of the mma's depth, each warp loads its
/// fragments of (rk / 2) 16-row slices of Us and (rp / 2) 8-column slices of Vs and issues one mma
/// per pair. A's register row i (slice i / 2, half i % 2) and B's slice j are placed by
/// warp_offset; GemmCore::row and col place the accumulators the same way.
void multiply_chunk_mma(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf,
                        int first_point, int count) {
  const GemmTiles& g = core.g;
  const MmaKind kind = *g.mma;
  // tf32 values stored rounded, and operands staged in the mma's half type, go in as they are.
  const std::array<bool, 2> rounded{core.tf32_operands || st.a().smem->type != ir::Type::f32,
                                    core.tf32_operands || st.v().smem->type != ir::Type::f32};
  FragmentLoader fragments(b, core, st, tid, buf);
  for (int j = 0; j < count; ++j)
    b.loop("ks", g.cc / mma_depth(kind), LoopKind::unrolled, [&](Expr ks) {
      Expr chan = fragments.channel(ks);
      const std::vector<std::vector<Expr>> a = fragments.a(j, ks, chan), v = fragments.b(j, ks, chan);
      for (size_t mi = 0; mi < a.size(); ++mi)
        for (size_t ni = 0; ni < v.size(); ++ni) {
          std::vector<int64_t> slots;
          for (int i = 0; i < 4; ++i)
            slots.push_back(core.acc_index(first_point + j, 2 * static_cast<int>(mi) + i / 2, 2 * static_cast<int>(ni) + i % 2));
          b.mma(kind, core.acc, slots, a[mi], v[ni], rounded);
        }
    });
}

}  // namespace

/// acc += Us x Vs over the chunk by warpgroup mmas (GemmTiles::async_mma): warpgroup w holds the
/// whole block of its ppt points (its warps 16 rows each, as warp_place puts them), or with one
/// point (the unfused GEMM) the block's rows 64 w .. 64 w + 63, and each point
/// and k-step is one mma_async reading the point's U (64 rows) from its core matrices
/// (core_matrix_offset) and V (bp staged rows) from its swizzled rows (swizzled_v_offset), or its
/// core matrices where the ring transforms by mma (v_async_matrix). Lane
/// 4 g + t's value i of a point is the mma's C value i % 4 of slice i / 4 (ir::mma_async_c_pos),
/// kept where the warp's mmas keep it (GemmCore::acc_index), so the sinks read the accumulators as
/// they do the warps'. Where `accumulate` (boolean) is false, the chunk's first products write the
/// accumulators instead (a block's first chunk: no zeros stored before). The chunk's group is
/// committed, and with `wait` waited for.
void multiply_chunk_async(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf,
                          Expr accumulate, bool wait) {
  const GemmTiles& g = core.g;
  const int depth = mma_depth(*g.mma);
  // (Known to be one value a warp, the operands' addresses stay in uniform registers.)
  Expr group = b.let("wgp", warp_uniform(tid / kWarpGroup));
  const bool by_rows = g.points == 1;  // warpgroups over the rows (core_matrix_offset of row 64 w), V shared
  Expr us = b.let("ua", b.i32(st.a().base) + buf * st.a().copy +
                            group * (by_rows ? int64_t{kMmaAsyncRows} / 8 * 64 : int64_t{g.ppt} * g.cc * g.bk));
  const int64_t vpoint = g.v_point_elements(true);  // a point's block of V (bp x cc and the stagger)
  Expr vs = b.let("va", b.i32(st.v().base) + buf * st.v().copy + (by_rows ? b.i32(0) : group * (g.ppt * vpoint)));
  for (int j = 0; j < g.ppt; ++j) {
    std::vector<int64_t> slots;
    for (int i = 0; i < g.bp / 2; ++i) slots.push_back(core.acc_index(j, i % 4 / 2, 2 * (i / 4) + i % 2));
    for (int s = 0; s < g.cc / depth; ++s)
      b.mma_async(*g.mma, core.acc, slots, u_async_matrix(g, st.a().smem, us + int64_t{j} * g.cc * g.bk, s),
                  v_async_matrix(g, st.v().smem, vs + int64_t{j} * vpoint, s), s == 0 ? accumulate : Expr{});
  }
  b.mma_async_commit();
  if (wait) b.mma_async_wait(0);
}

/// The staged copy `buf` multiplied: all of the work-group's points, or on tensor cores the
/// `count` points from first_point on that the copy holds (GemmTiles::stage_points). On warpgroup
/// mmas `chunk` is the chunk's place in its block (the first writes the accumulators), waited for.
void multiply(KernelBuilder& b, const GemmCore& core, const ChunkStager& st, Expr tid, Expr buf, int first_point,
              int count, Expr chunk) {
  // Points split over warps (the tensor-core fused): a warp's ppt points, from its group's first
  // (FragmentLoader), are accumulators 0 .. ppt - 1.
  const GemmTiles& g = core.g;
  if (g.async_mma && !chunk) throw Error("internal: GEMM tiles " + g.str() + ": warpgroup mmas need the chunk's place");
  if (g.async_mma) return multiply_chunk_async(b, core, st, tid, buf, lt(b.i32(0), chunk));
  if (g.points_split_over_warps()) multiply_chunk_mma(b, core, st, tid, buf, 0, g.ppt);
  else if (g.mma) multiply_chunk_mma(b, core, st, tid, buf, first_point, count ? count : g.staged_points());
  else multiply_chunk(b, core, st, tid, buf);
}


ThreadTile GemmCore::tile(KernelBuilder& b, Expr tid) const {
  if (g.mma) {  // the lane's row g of each slice and its columns 2t, 2t + 1, placed by warp_offset
    const WarpPlace w = warp_place(b, g, tid);
    return {w.group, b.let("kq", w.k0 + w.g * a_run(*this)), b.let("pq", w.p0 + w.t * (2 * b_run(*this))), w.k0};
  }
  const int qk = g.bk / g.rk, qp = g.bp / g.rp;
  if (g.points == 1) return {Expr{}, b.let("kq", tid / qp), b.let("pq", tid % qp), Expr{}};
  // With several points the group index stays a computed value even when there is one group
  // (fused-output): known point offsets let ptxas hoist all alpha^2 points' loads (254 registers
  // instead of 112 for F(4,3)).
  Expr q = b.let("q", tid % (qk * qp));
  return {b.let("grp", tid / (qk * qp)), b.let("kq", q / qp), b.let("pq", q % qp), Expr{}};
}
Expr GemmCore::point(KernelBuilder& b, const ThreadTile& tt, int j) const {
  return tt.group ? tt.group * g.ppt + b.i32(j) : b.i32(j);
}
// Tensor cores: kq and pq hold the lane's g w and 2 t w (tile()); register row i is mma row
// g + 8 (i % 2) of slice i / 2, register column j is mma column 2 t + j % 2 of slice j / 2.
Expr GemmCore::row(KernelBuilder& b, const ThreadTile& tt, int i) const {
  if (!g.mma) return spaced(b, tt.kq, i, g.rk, g.bk);
  return tt.kq + b.i32(run_offset(i, a_run(*this)));
}
// Lane g's row of register row i is k0 + g w + run_offset(i, w): over g = 0 .. 7 eight rows, w
// apart, among the 8 w from k0 + (i / w) 8 w.
Expr GemmCore::row_group(KernelBuilder& b, const ThreadTile& tt, int i) const {
  const int w = a_run(*this);
  return tt.k0 + b.i32(i / w * 8 * w);
}
int GemmCore::row_group_size() const { return 8 * a_run(*this); }
Expr GemmCore::col(KernelBuilder& b, const ThreadTile& tt, int j) const {
  if (!g.mma) return spaced(b, tt.pq, j, g.rp, g.bp);
  const int w = b_run(*this);
  return tt.pq + b.i32((j % 2) * w + run_offset(j / 2, w));
}

// Tensor cores: the lane's columns of w slices (col()) are 2 w contiguous block columns, kept in
// that order in the accumulators and cut into runs of at most 4 (a float4).
int GemmCore::acc_index(int point, int i, int j) const {
  const int row = (point * g.rk + i) * g.rp;
  if (!g.mma) return row + j;
  const int w = b_run(*this), slice = j / 2;
  return row + (slice / w) * 2 * w + (j % 2) * w + slice % w;
}

std::vector<std::vector<int>> GemmCore::column_runs() const {
  std::vector<std::vector<int>> runs;
  if (!g.mma) {
    for (int j = 0; j < g.rp; ++j) runs.push_back({j});
    return runs;
  }
  const int w = b_run(*this), length = std::min(2 * w, 4);
  for (int first = 0; first < g.rp / 2; first += w)  // w slices: columns e w + s of the chunk
    for (int at = 0; at < 2 * w; ++at) {
      if (at % length == 0) runs.emplace_back();
      runs.back().push_back(2 * (first + at % w) + at / w);
    }
  return runs;
}

namespace {

/// The chunks through a ring of g.stages copies filled by asynchronous copies. The ring's steps
/// are the chunks, or where a copy holds a group of the work-group's points
/// (GemmTiles::stage_points) every chunk of the first group, then of the next, ...: each group's
/// accumulators are known at compile time, and only its own copies' addresses (and the next
/// group's) are live in its loop (groups inside the chunk loop kept all of them live: 255
/// registers and spills at alpha 6). Steps i + 1 .. i + stages - 1 are in flight while step i is
/// multiplied. Each thread commits one group of copies per step (empty past the last), so waiting
/// until stages - 2 groups are in flight retires step i's; the barrier after the wait then
/// publishes every thread's copies and tells that all threads are done with the copy the next
/// step overwrites.
void pipeline_chunks(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  const int S = g.stages;
  const int pg = g.staged_points(), groups = g.points / pg;
  auto issue = [&](Expr tid, int group, Expr chunk, Expr buf) { st.issue_copies(tid, chunk * g.cc, buf, group * pg); };
  b.threads([&](Expr tid) {
    if (!g.async_mma) zero_accumulators(b, core);
    st.init_bulk_u(tid);
    for (int s = 0; s < S - 1; ++s) {
      if (s < chunks * groups) issue(tid, static_cast<int>(s / chunks), b.i32(s % chunks), b.i32(s % S));
      b.copy_commit();
    }
  });
  for (int grp = 0; grp < groups; ++grp)
    b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
      b.threads([&](Expr) { b.copy_wait(S - 2); });
      b.barrier();
      b.threads([&](Expr tid) {
        Expr step = groups == 1 ? chunk : b.let("step", chunk + grp * chunks);
        Expr buf = b.let("ahead_buf", (step + (S - 1)) % S);
        // Step + S - 1 is chunk + S - 1 of this group, or past its end in one of the next
        Expr ahead = b.let("ahead", chunk + (S - 1));
        const int last = std::min<int64_t>(groups - 1, grp + (S - 1 + chunks - 1) / chunks);
        for (int next = grp; next <= last; ++next) {
          Expr at = next == grp ? ahead : b.let("ahead", ahead - (next - grp) * chunks);
          Expr in_group = next == grp ? lt(ahead, b.i32(chunks)) : logical_and(le(b.i32(0), at), lt(at, b.i32(chunks)));
          b.if_then(in_group, [&] { issue(tid, next, at, buf); });
        }
        b.copy_commit();
        st.wait_bulk_u(step % S, step / S);  // U's copy step % S, its (step / S)-th
        // (Warpgroup mmas are waited for before the next barrier lets a copy land over what they read.)
        multiply(b, core, st, tid, step % S, grp * pg, pg, chunk);
      });
    });
  b.barrier();  // the sinks may reuse work-group memory
}

}  // namespace

void wait_until_released(KernelBuilder& b, const Memory* empty, Expr s, int copies) {
  b.if_then(le(b.i32(copies), s), [&] { b.mbarrier_wait(empty, s % copies * 2, (s / copies + 1) % 2); });
}

namespace {

/// The unfused warpgroup GEMM in warps with roles (GemmTiles::warp_roles with one point a
/// work-group): the producers' first thread issues chunk i's bulk copies of U and V into copy i % S
/// (on U's barrier there, ChunkStager::issue_copies) once the consumers have let that copy go
/// (chunk i - S's mmas done); the consumers wait for the copy, issue its mmas, wait until only
/// those are in flight and let chunk i - 1's copy go. So each warpgroup's next mmas are queued
/// while its last ones run, and the producers run S - 1 chunks ahead (the roles' stages). No
/// work-group barrier inside the loop.
void pipeline_chunks_in_roles(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  const int S = g.stages;
  const Memory* empty = b.barrier_array("empty", S);
  b.threads([&](Expr tid) {
    st.init_bulk_u(tid);
    b.if_then(eq(tid, b.i32(0)), [&] {
      for (int i = 0; i < S; ++i) b.mbarrier_init(empty, b.i32(2 * i), g.threads());
    });
  });
  b.barrier();  // the barriers are set up before anyone waits on them
  b.threads([&](Expr tid) {
    // The first producer alone waits and copies: another, waiting for nothing of its own, could
    // fall two phases behind a barrier and then wait for a phase that never comes.
    auto produce = [&](Expr chunk) {
      b.if_then(eq(tid, b.i32(g.threads())), [&] {
        wait_until_released(b, empty, chunk, S);
        st.issue_copies(b.i32(0), chunk * g.cc, chunk % S);
      });
    };
    auto consume = [&](Expr chunk) {
      Expr buf = b.let("buf", chunk % S);
      st.wait_bulk_u(buf, chunk / S);
      multiply_chunk_async(b, core, st, tid, buf, lt(b.i32(0), chunk), false);
      b.mma_async_wait(1);  // chunk - 1's mmas are done: its copy may go
      b.if_then(lt(b.i32(0), chunk), [&] { b.mbarrier_arrive(empty, (chunk + (S - 1)) % S * 2); });
    };
    st.set_workers(GemmTiles::kRoleProducers);
    b.roles(GemmTiles::kRoleProducers, S - 1, chunks, produce, consume);
    st.set_workers(0);
    b.if_then(lt(tid, b.i32(g.threads())), [&] { b.mma_async_wait(0); });  // the last chunk's
  }, true);
  b.barrier();  // the sinks may reuse work-group memory
}

/// GemmTiles::patch_ring (plan fused): one barrier per chunk, two copies of everything. Step k
/// multiplies chunk k (U's and V's copies k % 2; V transformed in step k - 1) while it transforms
/// chunk k + 1's patches into V's other copy (which step k - 1 multiplied) and copies U of chunk
/// k + 1 and the patches of chunk k + 2 into the copies step k - 1 multiplied and transformed;
/// those land during the step (each step begins by waiting for all of them).
void pipeline_patches(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  const int n = g.stages;
  b.threads([&](Expr tid) {
    zero_accumulators(b, core);
    st.issue_copies(tid, b.i32(0), b.i32(0));  // U of chunk 0, the patches of chunks 0 and 1
    st.issue_patch_copies(tid, b.i32(0), b.i32(0));
    if (chunks > 1) st.issue_patch_copies(tid, b.i32(g.cc), b.i32(1));
    b.copy_commit();
    b.copy_wait(0);
  });
  b.barrier();
  b.threads([&](Expr tid) { st.transform_patches(tid, b.i32(0)); });
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    b.threads([&](Expr) { b.copy_wait(0); });
    b.barrier();
    b.threads([&](Expr tid) {
      Expr next = b.let("next", chunk + 1), after = b.let("after", chunk + 2);
      b.if_then(lt(next, b.i32(chunks)), [&] { st.issue_copies(tid, next * g.cc, next % n); });
      b.if_then(lt(after, b.i32(chunks)), [&] { st.issue_patch_copies(tid, after * g.cc, after % n); });
      b.copy_commit();
      b.if_then(lt(next, b.i32(chunks)), [&] { st.transform_patches(tid, next % n); });
      multiply_chunk(b, core, st, tid, chunk % n);
    });
  });
  b.barrier();  // the sinks may reuse work-group memory
}

/// The chunks without asynchronous copies: staged directly, a barrier before and after each
/// multiply, or (GemmTiles::prefetch) through registers, the next chunk's loads in flight while
/// this one is multiplied.
void multiply_in_place(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  if (!g.prefetch) {
    b.threads([&](Expr) {
      zero_accumulators(b, core);
    });
    b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
      Expr c0 = b.let("c0", chunk * g.cc);
      b.threads([&](Expr tid) { st.stage(tid, c0); });
      b.barrier();
      b.threads([&](Expr tid) { multiply(b, core, st, tid, b.i32(0)); });
      b.barrier();
    });
    return;
  }
  // Double-buffered: chunk i + 1 is loaded into registers while chunk i is multiplied, then
  // stored into the other copy; one barrier per chunk.
  const Memory* next = b.thread_array("next", st.next_slots());
  b.threads([&](Expr tid) {
    zero_accumulators(b, core);
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
}

}  // namespace

void multiply_chunks(KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g, const GemmStages& stages,
                     const Memory* input, const Memory* u, const ExchangeLayout& exchange, const AccumulatorSink& sink) {
  const GemmSource source = stages.source;
  const int64_t pblocks = tile_blocks(g, t), kblocks = ceil_div(d.k, g.bk), chunks = ceil_div(d.c, g.cc);
  GemmCore core;
  core.d = &d;
  core.t = &t;
  core.g = g;
  core.tf32_operands = stages.operands == StoredValues::tf32;
  Expr gid = b.group_id();
  core.pb = b.let("pb", gid % pblocks);
  const bool one_point_group = g.points == t.alpha * t.alpha;  // the grid has no point dimension
  core.kb = b.let("kb", one_point_group ? gid / pblocks : (gid / pblocks) % kblocks);
  core.xi0 = one_point_group ? b.i32(0) : b.let("xi", gid / (pblocks * kblocks) * g.points);
  // An exchange takes what exchange_room_floats allows. The tile ring's, with no f32 area, lies over
  // the staging (Memory::reuses; its loop ends on a barrier).
  const bool half_u = stages_half(u), half_v = stages_half_v(g, source, input);
  core.smem_size = f32_stage_floats(g, half_u, half_v);
  core.exchange = exchange;
  const bool reuse = g.exchange_over_staging();
  if (reuse && core.smem_size)
    throw Error("internal: GEMM tiles " + g.str() + ": the tile ring's exchange lies over halves, not floats");
  if (exchange.pitch > 0)
    core.smem_size = std::max(core.smem_size, std::min(exchange_room_floats(g, half_u, half_v),
                                                       exchange.floats(exchange_planes(g, t), g.bk)));
  if (core.smem_size > 0) core.smem = b.shared_array("smem", core.smem_size, Type::f32, reuse);  // none when U and V are halves (and no exchange)
  const int accs = g.ppt * g.rk * g.rp;
  core.acc = b.thread_array("acc", accs);
  ChunkStager st(b, d, t, g, core, source, input, u);

  if (g.tile_patch_ring()) return pipeline_tile_patches(b, core, st, chunks, pblocks, kblocks, sink);
  if (g.patch_ring()) pipeline_patches(b, core, st, chunks);
  else if (g.stages && g.warp_roles) pipeline_chunks_in_roles(b, core, st, chunks);
  else if (g.stages) pipeline_chunks(b, core, st, chunks);
  else multiply_in_place(b, core, st, chunks);
  sink(core);
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
  if (g.points != 1 && g.points != a2 && g.points != t.alpha)
    refuse("a work-group holds 1, alpha (a row) or alpha^2 Winograd points");
  if (g.points == t.alpha && g.points != a2 && s.source != GemmSource::image)
    refuse("a row of alpha Winograd points per work-group is for the input transformed in the kernel (fused-input)");
  if (g.ppt < 1 || g.points % g.ppt)
    refuse(std::to_string(g.ppt) + " points per thread must divide the work-group's " + std::to_string(g.points));
  if (s.source == GemmSource::image && ((g.points == 1 && a2 > 1) || g.prefetch))
    refuse("transforming the input in the kernel needs a row of alpha or all alpha^2 points in a work-group, "
           "without prefetch");
  if (s.sink == GemmSink::transform_in_registers && g.ppt != a2)
    refuse("the output transform in registers needs all alpha^2 points in each thread");
  if (s.sink == GemmSink::transform_after_exchange && g.points != a2)
    refuse("the output transform after an exchange needs all alpha^2 points in a work-group");
  // Tensor cores take one point per work-group (unfused), or all alpha^2 in each thread with the
  // output transform in registers (fused-output), staged a group of points at a time, or all
  // alpha^2 split over the warps, the input transformed in the kernel and the output transform
  // after an exchange (fused), staged whole.
  const bool mma_output = g.mma && g.points == a2 && g.ppt == a2 && s.sink == GemmSink::transform_in_registers;
  const bool mma_fused = g.points_split_over_warps() && g.points == a2 && s.source == GemmSource::image &&
                         s.sink == GemmSink::transform_after_exchange;
  const bool patch_ring = g.patch_ring() && g.points == a2 && s.source == GemmSource::image && g.stages == 2 &&
                          g.threads() % g.bp == 0;  // a thread copies one tile's patch rows
  const bool tile_ring = mma_fused && g.stages == 2;  // GemmTiles::tile_patch_ring
  if (g.stages && !patch_ring && !tile_ring && (!(g.points == 1 || mma_output) || s.source != GemmSource::transformed))
    refuse("asynchronous copies stage U and V of one Winograd point per work-group (the unfused plan's GEMM), "
           "of the tensor-core fused-output, or U, the input patches and V of all alpha^2 points in 2 copies, with "
           "threads a multiple of the block's tiles (fused), or the input patches of the tensor-core fused in 2 copies");
  if (g.mma && (!(g.points == 1 && s.sink == GemmSink::store_m) && !mma_output && !mma_fused))
    refuse("tensor cores run the GEMM of the unfused plan (one Winograd point per work-group), of fused-output "
           "(all alpha^2 points in each thread) and of fused (all alpha^2 points split over the warps)");
  if (g.mma && s.source != GemmSource::transformed && !mma_fused)
    refuse("tensor cores take V from the input-transform kernel, except in plan fused");
  // (U by bulk copies: its copy reads the block's output channels when issued; 16-byte copies of U
  // take the first block's, StagedOperand::col0.)
  if (g.persistent_groups && (!tile_ring || (g.double_operands && !g.async_mma) || !g.exchange_over_staging() || !g.bulk_u))
    refuse("work-groups that run several blocks each are for the tensor-core fused ring with U and V staged once "
           "(or twice, on warpgroup mmas), in halves, U by bulk copies");
  if (g.async_mma && !takes_async_mma(g))
    refuse("warpgroup mmas are for the tensor-core fused ring and the unfused GEMM with V by bulk copies, in f16 "
           "or bf16 with U by bulk copies, blocks of 64 output channels (the unfused GEMM's also 128) at 2 rows a "
           "thread, a warp over all the block's tiles (8 to 256) and chunks of 16 or 32 channels (the unfused "
           "GEMM's also 64)");
  if (g.stage_points && (!mma_output || !g.stages || g.points % g.stage_points))
    refuse("staging " + std::to_string(g.stage_points) + " points at a time is for the tensor-core fused-output, "
           "with asynchronous copies, and must divide the work-group's " + std::to_string(g.points) + " points");
  if (g.groups_per_core && !patch_ring && !tile_ring && !g.bulk_v)
    refuse("work-groups per multiprocessor are asked for fused's rings and the unfused GEMM with V by bulk copies only");
  if (mma_output && !g.stages) refuse("the tensor-core fused-output stages its chunks with asynchronous copies");
  if (s.operands == StoredValues::tf32 && g.mma != ir::MmaKind::tf32_m16n8k8)
    refuse("U and V stored as tf32 values are for the tf32 mma");
}

}  // namespace

std::unique_ptr<Kernel> gemm_kernel(const ProgramBuilder& prog, const Tiling& t, const GemmTiles& g,
                                    const GemmStages& s) {
  const ConvDesc& d = prog.desc();
  check_stages(prog.plan(), t, g, s);
  const int a2 = t.alpha * t.alpha;
  const int64_t blocks = (a2 / g.points) * ceil_div(d.k, g.bk) * tile_blocks(g, t);
  const int64_t groups = g.persistent_groups ? std::min<int64_t>(blocks, g.persistent_groups) : blocks;
  const auto [name, stage] = stage_names(s);
  // U, V or M stored in f16 or bf16 (u_/v_/m_storage_type) make another kernel than float32 ones: its name says so.
  const ir::Type v_type = s.source == GemmSource::transformed ? v_storage_type(g, t) : ir::Type::f32;
  const ir::Type u_type = u_storage_type(g, d);
  std::string types = v_type == ir::Type::f32 ? "" : (g.v_tile_major ? "_vt" : "_v") + ir::type_name(v_type);
  if (s.source == GemmSource::image && g.half_v)  // the tiles transformed into halves, by tiles (choose_half_operands)
    types += "_svt" + ir::type_name(ir::mma_storage_type(*g.mma));
  if (u_type != ir::Type::f32) types += "_u" + ir::type_name(u_type);
  if (s.sink == GemmSink::store_m && g.half_m) types += "_m" + ir::type_name(m_storage_type(g, t));
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), name, t.m, t.r, g.str() + types), groups,
                  g.kernel_threads());
  b.info() = {prog.plan(), stage, t.m, t.r};
  if (g.warp_roles) b.set_region_threads(g.threads());  // (the producers run in the ring's roles only)
  // Tensor-core fused-output with up to 64 accumulators a thread (alpha 4): two work-groups of 8
  // warps per multiprocessor (128 registers each; ptxas took 128 to 137 without the bound).
  if (g.mma && g.points > 1 && g.ppt == g.points && g.ppt * g.rk * g.rp <= 64 && g.threads() <= 256)
    b.set_min_groups_per_multiprocessor(2);
  // The same for fused's rings and the unfused half GEMM with V by bulk copies where the planner
  // asks for it (planner/tile_choice.cpp: use_patch_ring, use_tile_patch_ring, use_three_groups;
  // check_stages refuses it elsewhere).
  if ((g.patch_ring() || g.tile_patch_ring() || g.bulk_v) && g.groups_per_core > 1)
    b.set_min_groups_per_multiprocessor(g.groups_per_core);
  const Memory* u = prog.param(b, s.u);
  const Memory* input = prog.param(b, s.input);
  if (g.patch_ring() && input->type != ir::Type::f32)
    throw Error("plan " + prog.plan() + ": GEMM tiles " + g.str() + ": the input patches are copied asynchronously "
                "a float at a time, so the ring takes f32 tensors only (" + ir::type_name(input->type) + " given)");
  if (s.source == GemmSource::transformed && input->type != v_type)
    throw Error("internal: plan " + prog.plan() + " stored V in " + ir::type_name(input->type) + "; tiles " + g.str() +
                " take it in " + ir::type_name(v_type) + " (v_storage_type)");
  if (u->type != u_type)
    throw Error("internal: plan " + prog.plan() + " stored U in " + ir::type_name(u->type) + "; tiles " + g.str() +
                " take it in " + ir::type_name(u_type) + " (u_storage_type)");
  std::optional<OutputSink> y;
  const Memory* mm = nullptr;
  if (s.sink == GemmSink::store_m) mm = prog.param(b, s.mm, true);
  else y.emplace(prog, b);
  const bool exchanges = s.sink == GemmSink::transform_after_exchange || (s.sink == GemmSink::store_m && g.points > 1);
  // Readers down the rows (output_by_channels) take rows padded by one; the FMA core's tile-a-thread
  // readers, the layout that spreads its stores (fma_exchange_layout); M's store, unpadded rows.
  const bool by_tiles = s.sink == GemmSink::transform_after_exchange && !output_by_channels(d, g);
  const ExchangeLayout layout = !exchanges ? ExchangeLayout{}
                                : s.sink == GemmSink::store_m ? ExchangeLayout{g.bp}
                                : !by_tiles ? ExchangeLayout{g.bp + 1}
                                : g.mma     ? ExchangeLayout{g.bp}
                                            : fma_exchange_layout(g, t, exchange_room_floats(g, false, false));
  multiply_chunks(b, d, t, g, s, input, u, layout, [&](const GemmCore& core) {
    switch (s.sink) {
      case GemmSink::store_m:
        if (g.points == 1) store_m_from_registers(b, core, mm);
        else store_m_exchanged(b, core, mm);
        break;
      case GemmSink::transform_in_registers: transform_in_registers(b, core, *y); break;
      case GemmSink::transform_after_exchange: transform_exchanged(b, core, *y); break;
    }
  });
  return b.finish();
}

}  // namespace wino::plans

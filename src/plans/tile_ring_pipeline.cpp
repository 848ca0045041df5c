// The tensor-core fused's ring of input patches (GemmTiles::tile_patch_ring): its pipelines over a
// block's chunks (two copies of U and V, overlapped blocks, warps with roles) and over the
// work-group's blocks. Split from gemm_core.cpp, whose multiplication steps it uses (gemm_parts.h).
#include <functional>

#include "common/error.h"
#include "plans/chunk_stager.h"
#include "plans/gemm_parts.h"

namespace wino::plans {

using namespace ir;

namespace {

// The tile ring with two copies of U and V (GemmTiles::double_operands), one barrier a chunk: chunk
// j's patches in the ring's copy j % 2, its U and V in their copies j % 2. Step k multiplies chunk
// k, transforms chunk k + 1's patches and copies U of chunk k + 1 and the patches of chunk k + 2,
// so that warps past the barrier mix the mma with the transform and the copies have a whole step
// to land.
void pipeline_tile_patches_twice(KernelBuilder& b, const GemmCore& core, ChunkStager& st, int64_t chunks) {
  const GemmTiles& g = core.g;
  b.threads([&](Expr tid) {
    zero_accumulators(b, core);
    st.init_bulk_u(tid);
    st.issue_tile_patches(tid, b.i32(0), b.i32(0));
    st.issue_copies(tid, b.i32(0), b.i32(0));  // U
    b.copy_commit();
    if (chunks > 1) st.issue_tile_patches(tid, b.i32(g.cc), b.i32(1));
    b.copy_commit();
    b.copy_wait(1);  // chunk 0's patches and U
  });
  b.barrier();
  b.threads([&](Expr tid) { st.transform_tile_patches(tid, b.i32(0), b.i32(0)); });
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    b.threads([&](Expr) { b.copy_wait(0); });
    // Chunk k's V and U, and chunk k + 1's patches, are in; every thread is done with step k - 1's
    // mma (U and V copies (k + 1) % 2) and transform (the ring's copy k % 2).
    b.barrier();
    b.threads([&](Expr tid) {
      Expr next = b.let("next", chunk + 1), buf = b.let("buf", chunk % 2), other = b.let("other", next % 2);
      b.if_then(lt(next, b.i32(chunks)), [&] {
        st.issue_copies(tid, next * g.cc, other);  // U
        b.if_then(lt(next + 1, b.i32(chunks)), [&] { st.issue_tile_patches(tid, (next + 1) * g.cc, buf); });
        b.copy_commit();
      });
      st.wait_bulk_u(buf, chunk / 2);  // U's copy buf, its (chunk / 2)-th
      multiply(b, core, st, tid, buf);
      b.if_then(lt(next, b.i32(chunks)), [&] { st.transform_tile_patches(tid, other, other); });
    });
  });
  b.barrier();  // the sinks may reuse work-group memory
}

/// Where a block of the persistent tile ring stands (GemmTiles::persistent_groups): `round` counts
/// the work-group's blocks so far, of `blocks` run by n work-groups; `next_pb` is the next one's.
struct RingRound {
  Expr round, next_pb;  // null: one block a work-group
  int64_t n = 0, blocks = 0;
};

/// Step `step`'s copies of the next patches into the ring's other copy: chunk `next`'s, or where
/// the block ends (`next` = chunks) the work-group's next block's first, if it has one; committed.
void issue_next_patches(KernelBuilder& b, ChunkStager& st, const RingRound& r, Expr tid, Expr next, Expr step,
                        int64_t chunks) {
  const GemmTiles& g = st.tiles();
  b.if_then(lt(next, b.i32(chunks)), [&] { st.issue_tile_patches(tid, next * g.cc, (step + 1) % g.stages); });
  if (r.round) {
    Expr more = logical_and(eq(next, b.i32(chunks)), lt(b.group_id() + (r.round + 1) * r.n, b.i32(r.blocks)));
    b.if_then(more, [&] { st.issue_tile_patches(tid, b.i32(0), (step + 1) % g.stages, r.next_pb); });
  }
  b.copy_commit();
}

/// The chunks of one block of the tile ring with two copies of U and V on warpgroup mmas
/// (GemmTiles::double_operands with async_mma), then the sink: one barrier a chunk. Step k (s
/// counted over the blocks) copies U of chunk k into U's copy s % 2 (step 0 of the first block: the
/// prologue) and the next patches, issues chunk k - 1's mmas on the copies (s - 1) % 2, transforms
/// chunk k's patches into V's copy s % 2 while they run, and waits for them at its end, before the
/// barrier after which step k + 1 reuses their copies. The last chunk's mmas follow the loop. A
/// resident U (GemmTiles::resident_u) is copied by the first two steps only.
void tile_ring_block_overlapped(KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, const RingRound& r,
                                const AccumulatorSink& sink) {
  const GemmTiles& g = core.g;
  auto counted = [&](Expr chunk) { return r.round ? b.let("step", r.round * chunks + chunk) : chunk; };
  auto step = [&](Expr chunk, bool multiplies) {
    b.threads([&](Expr) { b.copy_wait(0); });
    // Chunk k's patches are in, chunk k - 1's V is stored, and every thread is done with the mmas
    // of chunk k - 2 (U's and V's copies s % 2) and the transform of chunk k - 1 (the ring's other copy).
    b.barrier();
    Expr s = counted(chunk);
    b.threads([&](Expr tid) {
      Expr next = b.let("next", chunk + 1);
      Expr copy_u = multiplies ? Expr{} : lt(b.i32(0), s);  // (step 0's: the prologue's)
      if (g.resident_u) copy_u = copy_u ? logical_and(copy_u, lt(s, b.i32(2))) : lt(s, b.i32(2));
      if (copy_u) b.if_then(copy_u, [&] { st.issue_copies(tid, chunk * g.cc, s % 2); });
      else st.issue_copies(tid, chunk * g.cc, s % 2);  // U
      b.copy_commit();
      issue_next_patches(b, st, r, tid, next, s, chunks);
      if (multiplies) {
        Expr before = b.let("before", s - 1);
        st.wait_bulk_u(before % 2, before / 2);  // U's copy (s - 1) % 2, its ((s - 1) / 2)-th (resident: its first)
        multiply_chunk_async(b, core, st, tid, before % 2, lt(b.i32(1), chunk), false);
      }
      st.transform_tile_patches(tid, s % g.stages, s % 2);
      if (multiplies) b.mma_async_wait(0);
    });
  };
  step(b.i32(0), false);
  if (chunks > 1) b.loop("chunk", chunks - 1, LoopKind::serial, [&](Expr k) { step(b.let("chunk", k + 1), true); });
  b.barrier();  // the last chunk's V is stored
  b.threads([&](Expr tid) {
    Expr last = counted(b.i32(chunks - 1));
    st.wait_bulk_u(last % 2, last / 2);
    multiply_chunk_async(b, core, st, tid, last % 2, b.ctx().boolean(chunks > 1));
  });
  b.barrier();  // the sinks may reuse work-group memory
  sink(core);
}

/// The barriers of the ring in warps with roles (GemmTiles::warp_roles): V's copies full and empty,
/// and the producers' own.
struct RoleBarriers {
  const Memory* full = nullptr;   // V copy s % 2 transformed (the producers' arrivals)
  const Memory* empty = nullptr;  // U's and V's copies s % 2 multiplied (the consumers' arrivals)
  const Memory* producers = nullptr;  // a step's patches landed, the step before's transform done
};

/// The chunks of one block of the tile ring in warps with roles, then the sink. Step k (s counted
/// over the blocks): the producers wait until the consumers are done with U's and V's copies s %
/// 2 (step s - 2's mmas), copy U of chunk k into its copy s % 2 (one bulk copy), wait for chunk k's
/// patches (each its own copies, then all on their barrier: which also tells that every producer
/// is done with the ring's other copy), copy chunk k + 1's patches into it, and transform chunk
/// k's into V's copy s % 2; the consumers wait for it and for U, multiply, and let the producers
/// have the copies again. A block's first chunk copies its own patches. The block ends on a barrier
/// before the sink, which the consumers run (the exchange lies over the staging).
void tile_ring_block_roles(KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, const RingRound& r,
                           const RoleBarriers& bars, const AccumulatorSink& sink) {
  const GemmTiles& g = core.g;
  const int consumers = g.threads();
  b.barrier();  // the sink before is done with the exchange's bytes
  b.threads([&](Expr tid) {
    auto counted = [&](Expr chunk) { return r.round ? b.let("step", r.round * chunks + chunk) : chunk; };
    auto produce = [&](Expr chunk) {
      Expr ptid = b.let("ptid", tid - consumers), s = counted(chunk);
      Expr bar = b.let("bar", s % 2 * 2);
      wait_until_released(b, bars.empty, s, 2);
      Expr copy_u = g.resident_u ? lt(s, b.i32(2)) : Expr{};
      if (copy_u) b.if_then(copy_u, [&] { st.issue_copies(ptid, chunk * g.cc, s % 2); });
      else st.issue_copies(ptid, chunk * g.cc, s % 2);  // U: one bulk copy, by the first producer
      b.if_then(eq(chunk, b.i32(0)), [&] {
        st.issue_tile_patches(ptid, b.i32(0), s % g.stages);
        b.copy_commit();
      });
      b.copy_wait(0);
      b.mbarrier_arrive(bars.producers, b.i32(0));
      b.mbarrier_wait(bars.producers, b.i32(0), s % 2);
      Expr next = b.let("next", chunk + 1);
      b.if_then(lt(next, b.i32(chunks)), [&] { st.issue_tile_patches(ptid, next * g.cc, (s + 1) % g.stages); });
      b.copy_commit();
      st.transform_tile_patches(ptid, s % g.stages, s % 2);
      b.mbarrier_arrive(bars.full, bar);
    };
    auto consume = [&](Expr chunk) {
      Expr s = counted(chunk);
      Expr bar = b.let("bar", s % 2 * 2);
      b.mbarrier_wait(bars.full, bar, s / 2 % 2);
      st.wait_bulk_u(s % 2, s / 2);  // U's copy s % 2, its (s / 2)-th (resident: its first)
      multiply_chunk_async(b, core, st, tid, s % 2, lt(b.i32(0), chunk));
      b.mbarrier_arrive(bars.empty, bar);
    };
    st.set_workers(GemmTiles::kRoleProducers);
    // No register split (ir::Stmt::role_registers): the 640 threads start with 96 registers each,
    // the consumers' mmas need more than the 104 the producers could give them (ptxas serialized
    // them), and the producers' transform spilled below 96 (H100, session 65: 0.34x today's ring
    // with 64 / 104, 0.60x without).
    b.roles(GemmTiles::kRoleProducers, 2, chunks, produce, consume);
    st.set_workers(0);
  }, true);
  b.barrier();  // the sinks may reuse work-group memory
  sink(core);
}

/// The chunks of one block of the tile ring staged once, then the sink (pipeline_tile_patches).
void tile_ring_block(KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, const RingRound& r,
                     const AccumulatorSink& sink) {
  const GemmTiles& g = core.g;
  b.loop("chunk", chunks, LoopKind::serial, [&](Expr chunk) {
    b.threads([&](Expr) { b.copy_wait(0); });
    b.barrier();  // chunk k's patches are in; every thread is done with step k - 1's U and V
    Expr step = r.round ? b.let("step", r.round * chunks + chunk) : chunk;  // counted over the blocks
    b.threads([&](Expr tid) {
      Expr next = b.let("next", chunk + 1);
      b.if_then(lt(b.i32(0), step), [&] { st.issue_copies(tid, chunk * g.cc, b.i32(0)); });  // U
      b.copy_commit();
      issue_next_patches(b, st, r, tid, next, step, chunks);
      st.transform_tile_patches(tid, step % g.stages, b.i32(0));
      b.copy_wait(1);  // U of this step (but the first's, in the prologue); the next patches may still fly
    });
    b.barrier();
    b.threads([&](Expr tid) {
      st.wait_bulk_u(b.i32(0), step);  // U's one copy, its step-th
      multiply(b, core, st, tid, b.i32(0), 0, 0, chunk);
    });
  });
  b.barrier();  // the sinks may reuse work-group memory
  sink(core);
}

/// The blocks of a work-group, in rounds where it is persistent (GemmTiles::persistent_groups).
void each_block(KernelBuilder& b, GemmCore& core, int64_t pblocks, RingRound& r, const std::function<void()>& block) {
  if (!r.n) return block();
  b.loop("round", ceil_div(r.blocks, r.n), LoopKind::serial, [&](Expr round) {
    auto one = [&] {
      Expr blk = b.let("blk", b.group_id() + round * r.n);
      core.pb = b.let("pb", blk % pblocks);
      core.kb = b.let("kb", blk / pblocks);
      r.round = round;
      r.next_pb = b.let("next_pb", (blk + r.n) % pblocks);
      block();
    };
    if (r.blocks % r.n == 0) return one();
    b.if_then(lt(b.group_id() + round * r.n, b.i32(r.blocks)), one);  // the same for all the work-group's threads
  });
}

/// The tile ring in warps with roles (GemmTiles::warp_roles; tile_ring_block_roles): U's and the
/// roles' barriers set up, then each block.
void pipeline_tile_patches_in_roles(KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, int64_t pblocks,
                                    int64_t kblocks, const AccumulatorSink& sink) {
  const GemmTiles& g = core.g;
  RoleBarriers bars{b.barrier_array("full", 2), b.barrier_array("empty", 2), b.barrier_array("producers", 1)};
  b.threads([&](Expr tid) {
    st.init_bulk_u(tid);
    b.if_then(eq(tid, b.i32(0)), [&] {
      for (int i = 0; i < 2; ++i) {
        b.mbarrier_init(bars.full, b.i32(2 * i), GemmTiles::kRoleProducers);
        b.mbarrier_init(bars.empty, b.i32(2 * i), g.threads());
      }
      b.mbarrier_init(bars.producers, b.i32(0), GemmTiles::kRoleProducers);
    });
  });
  RingRound r{Expr{}, Expr{}, g.persistent_groups, pblocks * kblocks};
  each_block(b, core, pblocks, r, [&] { tile_ring_block_roles(b, core, st, chunks, r, bars, sink); });
}

}  // namespace

/// GemmTiles::tile_patch_ring (the tensor-core fused): step k waits for chunk k's patches, copies
/// U of chunk k (chunk 0's with its patches, before the loop) and the patches of chunk k + 1 (into
/// the ring's other copy, which step k - 1 transformed), transforms chunk k's patches into V while
/// those land, then waits for U alone and multiplies. The patches' latency hides behind a whole
/// step; two barriers a chunk. With GemmTiles::double_operands, pipeline_tile_patches_twice, or
/// on warpgroup mmas tile_ring_block_overlapped.
/// With GemmTiles::persistent_groups (n), a work-group runs blocks gid, gid + n, ... in rounds,
/// the steps counted on over them: a block's last step copies the next block's first patches,
/// which land during the sink (the ring is kept apart from the exchange: ir::Memory::kept), and
/// from the second block on step 0 copies U like any other (but a resident U: GemmTiles::
/// resident_u). `sink` runs after each block.
void pipeline_tile_patches(KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, int64_t pblocks,
                           int64_t kblocks, const AccumulatorSink& sink) {
  const GemmTiles& g = core.g;
  if (g.double_operands && !g.async_mma) {
    pipeline_tile_patches_twice(b, core, st, chunks);
    return sink(core);
  }
  if (g.warp_roles) return pipeline_tile_patches_in_roles(b, core, st, chunks, pblocks, kblocks, sink);
  const auto run_block = g.double_operands ? tile_ring_block_overlapped : tile_ring_block;
  RingRound r{Expr{}, Expr{}, g.persistent_groups, pblocks * kblocks};
  b.threads([&](Expr tid) {
    if (!r.n && !g.async_mma) zero_accumulators(b, core);  // (warpgroup mmas: the first chunk's write them)
    st.init_bulk_u(tid);
    st.init_transform(tid);
    st.issue_tile_patches(tid, b.i32(0), b.i32(0));
    // U's copy 0 is free until chunk 0 multiplies: chunk 0's lands while its patches do (their
    // wait was the ring's longest, its U's after the transform the next, H100 session 54).
    st.issue_copies(tid, b.i32(0), b.i32(0));
    b.copy_commit();
  });
  each_block(b, core, pblocks, r, [&] {
    // (one block a work-group: zeroed with the prologue; warpgroup mmas: the first chunk's write them)
    if (r.n && !g.async_mma) b.threads([&](Expr) { zero_accumulators(b, core); });
    run_block(b, core, st, chunks, r, sink);
  });
}

}  // namespace wino::plans

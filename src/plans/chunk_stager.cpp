#include "plans/chunk_stager.h"

#include <algorithm>

#include "common/error.h"
#include "ir/transform_code.h"
#include "plans/gemm_fragments.h"
#include "plans/gemm_tiles.h"
#include "plans/patch_region.h"

namespace wino::plans {

using namespace ir;

bool stages_half(const Memory* operand) { return operand && value_type(operand->type) != operand->type; }

bool stages_half_v(const GemmTiles& g, GemmSource source, const Memory* input) {
  return source == GemmSource::image ? g.half_v : stages_half(input);
}

int64_t f32_stage_floats(const GemmTiles& g, bool half_u, bool half_v) {
  if (g.patch_ring()) return g.stage_floats();  // U and the patches are floats
  return g.copies() * ((half_u ? 0 : g.u_copy_elements(false)) + (half_v ? 0 : g.v_copy_elements(false)));
}

int64_t half_stage_floats(const GemmTiles& g, bool half_u, bool half_v) {
  if (g.patch_ring()) return 0;
  const int64_t patches = g.tile_patch_ring() ? g.stages * g.tile_patch_elements() : 0;
  return (g.copies() * ((half_u ? g.u_copy_elements(true) : 0) + (half_v ? g.v_copy_elements(true) : 0)) + patches) / 2;
}

int64_t exchange_room_floats(const GemmTiles& g, bool half_u, bool half_v) {
  const int64_t limit = g.shared_limit ? g.shared_limit : kAsyncSharedFloats;
  const int64_t room = g.exchange_over_staging() ? limit - g.kept_floats()
                       : g.mma                   ? limit - half_stage_floats(g, half_u, half_v)
                                                 : kSharedFloats;
  return std::max(f32_stage_floats(g, half_u, half_v), room);
}

ChunkStager::ChunkStager(KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g, GemmCore& core,
                         GemmSource source, const Memory* input, const Memory* u)
    : b_(b), d_(d), t_(t), g_(g), core_(core), source_(source), input_(input) {
  const int T = g.threads(), copies = g.copies();
  const bool half_u = stages_half(u), half_v = stages_half_v(g, source, input);
  const int64_t a = g.u_copy_elements(half_u), v = g.v_copy_elements(half_v);
  // A resident U (GemmTiles::resident_u) is kept apart from the exchange; its bulk copies land on
  // 1024 bytes, as at the start of work-group memory (16 bytes past it ran them 1.3x slower, session 52).
  const Memory* us = !half_u        ? core.smem
                     : g.resident_u ? b.kept_shared_array("us", copies * a, u->type, 1024)
                                    : b.shared_array("us", copies * a, u->type);
  // V in halves: as V is stored, or the mma's half type where the kernel transforms the tiles
  // (half_v there only on tensor cores: choose_half_operands).
  const Type v_half = half_v && source == GemmSource::image ? mma_storage_type(*g.mma) : input->type;
  // (Warpgroup mmas read V's rows swizzled, their pattern starting on 1024 bytes; or, transformed
  // by mma, in core matrices, which need 16.)
  const Memory* vs = half_v ? b.shared_array("vs", copies * v, v_half, false, g.async_mma ? 1024 : 16) : core.smem;
  const int64_t v_base = vs == core.smem && us == core.smem ? copies * a : 0;
  ops_.push_back({u, "u", us, g.bk, d.k, core.kb * g.bk, 0, a, g.row_pitch(g.bk, half_u)});
  ops_.push_back({input, "v", vs, g.bp, t.tiles, core.pb * g.bp, v_base, v, g.v_pitch(half_v)});
  const bool copied = source == GemmSource::transformed && g.stages;
  if (g.v_tile_major && (!half_v || !(copied || source == GemmSource::image)))
    throw Error("internal: GEMM tiles " + g.str() + ": V by tiles is staged in halves, copied from a half V "
                "asynchronously or transformed in the kernel");
  if (g.tile_patch_ring()) {
    if (source != GemmSource::image || d.layout != Layout::nhwc || d.c % 8 || g.cc % 8 || !half_v ||
        value_type(input->type) == input->type || T % (g.bp * (g.cc / 8)))
      throw Error("internal: GEMM tiles " + g.str() + ": the tensor-core ring of input patches takes an f16 or bf16 "
                  "channels-last input with C a multiple of 8, V in halves and threads a multiple of bp x cc / 8");
    if (g.region.cols && g.region != patch_region(g, t, g.region.cols))
      throw Error("internal: GEMM tiles " + g.str() + ": the patches' region was sized for another tiling");
    // A persistent ring's next patches land during the exchange, which must leave them alone.
    const int64_t elements = g.stages * g.tile_patch_elements();  // halves
    patches_ = g.persistent_groups ? b.kept_shared_array("xs", elements, input->type)
                                   : b.shared_array("xs", elements, input->type);
    if (g.transforms_by_mma() && !takes_mma_transform(g, d, t))
      throw Error("internal: GEMM tiles " + g.str() + ": the transform by mma takes an input in the mma's half type "
                  "and units at the same offsets in every warp");
    if (g.transforms_by_mma()) {
      transform_table_ = b.kept_shared_array("bt", 256, mma_storage_type(*g.mma));
      transform_out_ = b.thread_array("tv", 8);
    }
  }
  if (g.bulk_u) {
    if (!takes_bulk_u(g, d) || half_u != g.half_u)
      throw Error("internal: GEMM tiles " + g.str() + ": U by bulk copies takes a tensor-core ring of copies, C a "
                  "multiple of the chunk, K of the block and U in the type the tiles say");
    if (g.resident_u && !takes_resident_u(g, d))
      throw Error("internal: GEMM tiles " + g.str() + ": a resident U takes the persistent warpgroup ring with two "
                  "copies, one block of output channels and no more chunks than copies");
    u_barriers_ = b.barrier_array("ubar", copies);
  }
  if (g.bulk_v && (!takes_bulk_v(g, d) || source != GemmSource::transformed || !half_v))
    throw Error("internal: GEMM tiles " + g.str() + ": V by bulk copies takes the unfused GEMM's V by tiles in halves, "
                "stored as its staged copies, with U by bulk copies");
  if (g.patch_ring()) {  // [copies of U][copies of V, [cc][xi][bp]][copies of the raw patches, [cc][alpha][alpha][bp]]
    if (g.ring_alpha() != t.alpha || g.points != t.alpha * t.alpha)
      throw Error("internal: GEMM tiles " + g.str() + ": the patch ring holds all alpha^2 points");
    ops_[1].channel_major = true;
    ops_[1].channel_plane = g.ring_v_plane();
    ops_[1].pitch = g.ring_v_row();
    if (g.ring_u_point() != int64_t{g.cc} * g.bk) ops_[0].point_plane = g.ring_u_point();
    patch_base_ = copies * (a + v);
  }
  for (StagedOperand& op : ops_) {
    op.elements = int64_t{g.staged_points()} * g.cc * op.width;
    op.loads = static_cast<int>(ceil_div(op.elements, T));
  }
  ops_[1].first = ops_[0].loads;
}

void ChunkStager::fetch(const Memory* next, Expr tid, Expr c0) {
  for (const StagedOperand& op : ops_)
    for (int i = 0; i < op.loads; ++i) {
      Element el = element(op, i, tid);
      b_.store(next, b_.i32(op.first + i), load(op, el, c0));
    }
}

void ChunkStager::stash(const Memory* next, Expr tid, Expr buf) {
  for (const StagedOperand& op : ops_)
    for (int i = 0; i < op.loads; ++i) {
      Element el = element(op, i, tid);
      b_.store(op.smem, b_.i32(op.base) + buf * op.copy + op.row_at(el.row, g_.cc) + el.col,
               b_.load("n", next, b_.i32(op.first + i)), el.ok);
    }
}

void ChunkStager::issue_copies(Expr tid, Expr c0, Expr buf, int first_point) {
  const int T = workers();
  first_point_ = first_point;
  for (const StagedOperand& op : ops_) {
    if (&op == &v() && source_ == GemmSource::image) continue;  // the patches: issue_patch_copies
    if (&op == &a() && g_.bulk_u) {
      issue_bulk_u(tid, c0, buf);
      continue;
    }
    if (&op == &v() && g_.bulk_v) continue;  // with U's (issue_bulk_u)
    if (&op == &v() && g_.v_tile_major) {
      issue_tile_major_copies(tid, c0, buf);
      continue;
    }
    const int n = 16 / type_bytes(op.mem->type);  // elements of a 16-byte copy
    const int w = op.extent % n == 0 && op.width % n == 0 && op.pitch % n == 0 && op.base % n == 0 ? n : 1;
    if (w * type_bytes(op.mem->type) < 4)  // u_ and v_storage_type keep half operands to whole 16-byte runs
      throw Error("internal: GEMM tiles " + g_.str() + ": " + op.hint + " in " + type_name(op.mem->type) +
                  " with rows of " + std::to_string(op.extent) + " cannot be copied in 16-byte runs");
    const int runs = op.width / w;
    const int64_t count = int64_t{g_.staged_points()} * g_.cc * runs;
    for (int64_t i = 0; i < ceil_div(count, T); ++i) {
      Expr e = b_.i32(i * T) + tid;
      Element el;
      el.row = T % runs == 0 ? b_.i32(i * (T / runs)) + tid / runs : e / runs;
      el.col = (T % runs == 0 ? tid % runs : e % runs) * w;
      if (count % T) el.ok = lt(e, b_.i32(count));
      auto [index, ok] = source(op, el, c0);
      Expr dst = b_.i32(op.base) + buf * op.copy + op.row_at(el.row, g_.cc) + el.col;
      if (el.ok) {  // past the chunk's end: nothing to copy, nowhere to put it
        b_.if_then(el.ok, [&] { b_.copy_async(op.smem, dst, op.mem, index, w, ok); });
      } else {
        b_.copy_async(op.smem, dst, op.mem, index, w, ok);
      }
    }
  }
  first_point_ = 0;
}

// U stored as its staged copies (staged_weights): the copy's group of points, the work-group's block
// of output channels and the chunk pick one contiguous run, the copy's image. With bulk_v, V's
// chunk (the run bulk_v_index lays out for its point, block of tiles and chunk) lands on the same
// barrier.
void ChunkStager::issue_bulk_u(Expr tid, Expr c0, Expr buf) {
  const StagedOperand& op = a();
  const StagedOperand& vop = v();
  const int64_t chunks = d_.c / g_.cc, blocks = ceil_div(d_.k, g_.bk);
  const int64_t bytes = op.copy * type_bytes(op.smem->type) + (g_.bulk_v ? vop.copy * type_bytes(vop.smem->type) : 0);
  b_.if_then(eq(tid, b_.i32(0)), [&] {
    Expr group = (core_.xi0 + b_.i32(first_point_)) / g_.staged_points();
    Expr copy = (group * blocks + core_.kb) * chunks + c0 / g_.cc;
    Expr bar = b_.let("bar", buf * 2);
    b_.mbarrier_expect(u_barriers_, bar, bytes);
    b_.copy_bulk(op.smem, b_.i32(op.base) + buf * op.copy, op.mem, copy * op.copy, op.copy, u_barriers_, bar);
    if (g_.bulk_v) {  // the block's first tile and the chunk's first channel start its copy
      Expr from = bulk_v_index(b_, g_, t_.tiles, d_.c, core_.xi0, core_.pb * g_.bp, c0);
      b_.copy_bulk(vop.smem, b_.i32(vop.base) + buf * vop.copy, vop.mem, from, vop.copy, u_barriers_, bar);
    }
  });
}

void ChunkStager::init_bulk_u(Expr tid) {
  if (!g_.bulk_u) return;
  b_.if_then(eq(tid, b_.i32(0)), [&] {
    for (int i = 0; i < g_.copies(); ++i) b_.mbarrier_init(u_barriers_, b_.i32(2 * i), 1);
  });
}

void ChunkStager::wait_bulk_u(Expr buf, Expr use) {
  if (!g_.bulk_u) return;
  // A resident U's copies each land once: their barriers' first phase stays the last complete.
  b_.mbarrier_wait(u_barriers_, buf * 2, g_.resident_u ? b_.i32(0) : use % 2);
}

// V[xi][p][c] (GemmTiles::v_tile_major) as [point][bp][cc] rows (each tile at its staged row,
// staged_tile_row): 16-byte copies of 8 channels of a
// tile, neighbouring threads on neighbouring runs of a row; zeros past the tiles and the channels
// (C is a multiple of 8: a run is whole or out).
void ChunkStager::issue_tile_major_copies(Expr tid, Expr c0, Expr buf) {
  const StagedOperand& op = v();
  const int T = workers(), runs = g_.cc / 8;
  const int64_t count = int64_t{g_.staged_points()} * g_.bp * runs;
  // A thread's run and its row in the first pass; a pass of T copies covers T / runs rows. Where
  // a pass stays inside one point's rows, its point and tiles are constants past the thread's
  // (signed division of e = i T + tid cost ptxas sign fix-ups at every copy).
  const bool passes = T % runs == 0;
  const int64_t per_pass = T / runs;
  Expr rt = passes ? b_.let("rt", tid / runs) : Expr{}, ci = passes ? b_.let("ci", tid % runs * 8) : Expr{};
  for (int64_t i = 0; i < ceil_div(count, T); ++i) {
    // row: point x bp + a staged row, whose tile is tile_of_staged_row's; run: its channel.
    // Neighbouring threads take neighbouring rows, so a quarter-warp's 16-byte stores land on
    // neighbouring rows (2-way bank conflicts at a pitch of 48 bytes); by tiles they landed on
    // rows 8 apart, one bank group (4-way; ncu, session 50: 9.2 M wavefronts against 1.9 M).
    Expr e = b_.i32(i * T) + tid, row, xi, p, run = ci;
    const int64_t first = i * per_pass;
    if (passes && first % g_.bp + per_pass <= g_.bp) {
      Expr sr = b_.i32(first % g_.bp) + rt;
      row = b_.i32(first - first % g_.bp) + sr;
      xi = core_.xi0 + b_.i32(first_point_ + first / g_.bp);
      p = b_.let("p", op.col0 + tile_of_staged_row(core_, sr));
    } else {
      e = b_.let("e", e);
      row = b_.let("row", e / runs);
      Expr sr = b_.let("sr", row % g_.bp);
      run = b_.let("run", e % runs * 8);
      xi = b_.let("xi", core_.xi0 + b_.i32(first_point_) + row / g_.bp), p = b_.let("p", op.col0 + tile_of_staged_row(core_, sr));
    }
    Expr c = b_.let("c", c0 + run);
    Expr ok = both(t_.tiles % g_.bp ? lt(p, b_.i32(t_.tiles)) : Expr{}, d_.c % g_.cc ? lt(c, b_.i32(d_.c)) : Expr{});
    Expr dst = b_.i32(op.base) + buf * op.copy + row * op.pitch + run;
    auto copy = [&] { b_.copy_async(op.smem, dst, op.mem, (xi * t_.tiles + p) * d_.c + c, 8, ok); };
    if (count % T) b_.if_then(lt(e, b_.i32(count)), copy);
    else copy();
  }
}

void ChunkStager::stage(Expr tid, Expr c0) {
  if (g_.mma && source_ == GemmSource::image) {  // U's 16-byte copies land while the tiles transform
    issue_copies(tid, c0, b_.i32(0));
    b_.copy_commit();
    stage_tiles(tid, c0);
    b_.copy_wait(0);
    return;
  }
  if (source_ == GemmSource::image || g_.points > 1) stage_tiles(tid, c0);
  else stage_elements(v(), tid, c0);
  stage_elements(a(), tid, c0);
}

ChunkStager::Element ChunkStager::element(const StagedOperand& op, int i, Expr tid) {
  const int T = workers();
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

std::pair<Expr, Expr> ChunkStager::source(const StagedOperand& op, const Element& el, Expr c0) {
  Expr xi = core_.xi0 + b_.i32(first_point_), ci = el.row;
  if (g_.staged_points() > 1) {
    xi = b_.let("xi", xi + el.row / g_.cc);
    ci = el.row % g_.cc;
  }
  Expr c = b_.let("c", c0 + ci), x = b_.let("col", op.col0 + el.col);
  Expr ok = el.ok;
  if (d_.c % g_.cc) ok = both(ok, lt(c, b_.i32(d_.c)));
  if (op.extent % op.width) ok = both(ok, lt(x, b_.i32(op.extent)));
  return {(xi * d_.c + c) * op.extent + x, ok};
}

Expr ChunkStager::load(const StagedOperand& op, const Element& el, Expr c0) {
  auto [index, ok] = source(op, el, c0);
  return b_.load(op.hint, op.mem, index, ok);
}

void ChunkStager::stage_elements(const StagedOperand& op, Expr tid, Expr c0) {
  const int T = workers();
  b_.comment(std::string("stage the chunk's ") + (op.hint[0] == 'u' ? "weights" : "transformed inputs") +
             " [xi][cc][" + (op.hint[0] == 'u' ? "bk" : "bp") + "] in work-group memory");
  b_.loop("si", op.loads, LoopKind::serial, [&](Expr si) {
    Expr e = b_.let("e", si * T + tid);
    b_.if_then(lt(e, b_.i32(op.elements)), [&] {
      Element el{e / op.width, e % op.width, {}};
      Expr at = op.pitch == op.width && !op.point_plane ? e : op.row_at(el.row, g_.cc) + el.col;
      b_.store(op.smem, b_.i32(op.base) + at, load(op, el, c0));
    });
  });
}

void ChunkStager::for_each_pair(Expr tid, Expr c0, const std::function<void(const Pair&)>& body) {
  const int T = workers(), cc = g_.cc, bp = g_.bp;
  // Neighbouring threads on neighbouring tiles (x's loads in runs of a row's pixels, V's stores
  // along its rows), or on neighbouring channels where V is staged by tiles from a channels-last
  // x (the tensor-core fused: runs of a pixel's channels, and V's stores along its rows too).
  const bool channels_first = d_.layout == Layout::nhwc && g_.v_tile_major;
  b_.loop("vi", ceil_div(int64_t{cc} * bp, T), LoopKind::serial, [&](Expr vi) {
    Expr pair = b_.let("pair", vi * T + tid);
    b_.if_then(lt(pair, b_.i32(int64_t{cc} * bp)), [&] {
      // Channels first, the threads take V's staged rows in turn (each tile's row: staged_tile_row),
      // so that neighbouring threads' stores fall in neighbouring rows.
      Pair q;
      q.ci = b_.let("ci", channels_first ? pair % cc : pair / bp);
      q.row = channels_first ? b_.let("row", pair / cc) : Expr{};
      q.pl = b_.let("pl", channels_first ? tile_of_staged_row(core_, q.row) : pair % bp);
      if (!channels_first && g_.v_tile_major) q.row = b_.let("row", staged_tile_row(core_, q.pl));
      q.c = b_.let("c", c0 + q.ci);
      q.p = b_.let("p", core_.pb * bp + q.pl);
      q.valid = b_.let("valid", logical_and(lt(q.c, b_.i32(d_.c)), lt(q.p, b_.i32(t_.tiles))));
      body(q);
    });
  });
}

void ChunkStager::store_v(int point, const Pair& q, Expr value) {
  Expr row = g_.v_tile_major ? b_.i32(int64_t{point} * g_.bp) + q.row : b_.i32(int64_t{point} * g_.cc) + q.ci;
  b_.store(v().smem, b_.i32(v().base) + row * v().pitch + (g_.v_tile_major ? q.ci : q.pl), value);
}

void ChunkStager::stage_tiles(Expr tid, Expr c0) {
  if (source_ == GemmSource::image && g_.points == t_.alpha && t_.alpha > 1) return stage_point_row(tid, c0);
  const int a2 = t_.alpha * t_.alpha;
  const int64_t C = d_.c, P = t_.tiles;
  b_.comment(source_ == GemmSource::image ? "transform the chunk's input tiles into work-group memory Vs[xi][cc][bp]"
                                          : "stage the chunk's transformed inputs Vs[xi][cc][bp] in work-group memory");
  for_each_pair(tid, c0, [&](const Pair& q) {
    if (source_ == GemmSource::image)
      return store_transformed(q, load_input_tile(b_, input_, d_, t_, tile_coords(b_, q.p, t_), q.c, q.valid));
    std::vector<Expr> v;
    for (int xi = 0; xi < a2; ++xi) v.push_back(b_.load("v", input_, (b_.i32(xi) * C + q.c) * P + q.p, q.valid));
    for (int xi = 0; xi < a2; ++xi) store_v(xi, q, v[xi]);
  });
}

void ChunkStager::store_transformed(const Pair& q, const std::vector<Expr>& tile) {
  const std::vector<Expr> v = transform_2d(b_.ctx(), t_.t.BT, tile);
  for (int xi = 0; xi < t_.alpha * t_.alpha; ++xi) store_v(xi, q, v[xi]);
}

void ChunkStager::stage_point_row(Expr tid, Expr c0) {
  const int A = t_.alpha;
  const RationalMatrix& BT = t_.t.BT;
  b_.comment("transform the chunk's input tiles into work-group memory Vs[j][cc][bp]: row i of the points only");
  Expr row = b_.let("row", core_.xi0 / A);
  for_each_pair(tid, c0, [&](const Pair& q) {
    const TileCoords tc = tile_coords(b_, q.p, t_);
    for (int i = 0; i < A; ++i)
      b_.if_then(eq(row, b_.i32(i)), [&] {
        std::vector<bool> rows(A);  // the patch rows B^T's row i reads
        for (int a = 0; a < A; ++a) rows[a] = !BT.at(i, a).is_zero();
        const std::vector<Expr> tile = load_input_tile(b_, input_, d_, t_, tc, q.c, q.valid, rows);
        const std::vector<Expr> v = transform_2d_row(b_.ctx(), BT, tile, i);
        for (int j = 0; j < A; ++j) store_v(j, q, v[j]);
      });
  });
}

void ChunkStager::issue_patch_copies(Expr tid, Expr c0, Expr buf) {
  const int T = workers(), A = t_.alpha, bp = g_.bp;
  const int64_t rows = int64_t{g_.cc} * A, count = rows * bp;  // (patch row, tile) pairs of the chunk
  const int64_t HW = d_.h * d_.w, step = pixel_step(d_.layout, d_.c);
  b_.comment("copy the chunk's input patches [cc][alpha][alpha][bp] into the ring, zeros past the image");
  // T is a multiple of bp (check_stages), so each thread keeps one tile in every pass. Its
  // coordinates, clamped into the image, give every copy an address inside x, so the copies need
  // no guard of their own: one index and a mask each (Stmt::source_in_bounds). From chunk to
  // chunk only the channel moves.
  Expr pl = b_.let("pl", tid % bp);
  Expr p = b_.let("p", core_.pb * bp + pl);
  const TileCoords tc = tile_coords(b_, t_.tiles % bp ? min(p, b_.i32(t_.tiles - 1)) : p, t_);
  Expr iw0 = b_.let("iw0", tc.tw * t_.m - d_.pad.left);
  std::vector<Expr> col(A), col_ok(A);
  for (int j = 0; j < A; ++j) {
    col_ok[j] = b_.let("col_ok", in_range(iw0 + j, 0, d_.w));
    col[j] = b_.let("col", min(max(iw0 + j, b_.i32(0)), b_.i32(d_.w - 1)) * step);
  }
  for (int64_t k = 0; k < ceil_div(count, T); ++k) {
    Expr r = b_.let("r", b_.i32(k * (T / bp)) + tid / bp);
    auto body = [&] {
      Expr c = b_.let("c", c0 + r / A), i = r % A;
      Expr ih = b_.let("ih", tc.th * t_.m - d_.pad.top + i);
      Expr ok = b_.let("row_ok", logical_and(logical_and(lt(c, b_.i32(d_.c)), lt(p, b_.i32(t_.tiles))), in_range(ih, 0, d_.h)));
      Expr cin = d_.c % g_.cc ? min(c, b_.i32(d_.c - 1)) : c;
      Expr ihin = min(max(ih, b_.i32(0)), b_.i32(d_.h - 1));
      Expr at = b_.let("at", image_base(d_.layout, tc.n, cin, d_.c, HW) + ihin * (d_.w * step));
      Expr dst = b_.let("dst", ring_patches(buf, r / A) + r % A * g_.ring_patch_row() + pl);
      for (int j = 0; j < A; ++j)
        b_.copy_async(v().smem, dst + j * bp, input_, at + col[j], 1, logical_and(ok, col_ok[j]), true);
    };
    // Only a pass that reaches past the chunk's rows needs the guard (a branch around a pass keeps
    // ptxas from sharing the columns' clamps between passes).
    if ((k + 1) * (T / bp) > rows) b_.if_then(lt(r, b_.i32(rows)), body);
    else body();
  }
}

Expr ChunkStager::ring_patches(Expr buf, Expr ci) const {
  return b_.i32(patch_base_) + buf * (g_.cc * g_.ring_patch_plane()) + ci * g_.ring_patch_plane();
}

int ChunkStager::band_parts(int64_t pairs) const {
  return static_cast<int>(std::clamp<int64_t>(workers() / pairs, 1, t_.alpha));
}

void ChunkStager::transform_band(int part, int parts, Expr zero, const std::function<Expr(int)>& pixel,
                                 const std::function<void(int, Expr)>& store) {
  const int A = t_.alpha, first = A * part / parts, last = A * (part + 1) / parts;
  const RationalMatrix& BT = t_.t.BT;
  std::vector<Expr> tile(A * A, zero);
  for (int k = 0; k < A; ++k) {
    bool read = false;  // patch row k feeds some row of the band
    for (int i = first; i < last; ++i) read = read || !BT.at(i, k).is_zero();
    for (int j = 0; j < A && read; ++j) tile[k * A + j] = pixel(k * A + j);
  }
  for (int i = first; i < last; ++i) {
    const std::vector<Expr> row = transform_2d_row(b_.ctx(), BT, tile, i);
    for (int j = 0; j < A; ++j) store(i * A + j, row[j]);
  }
}

void ChunkStager::transform_patches(Expr tid, Expr buf) {
  const int T = workers();
  const int64_t pairs = int64_t{g_.cc} * g_.bp;
  // Where the work-group has more threads than the chunk has (channel, tile) pairs, `parts` threads
  // share a pair, each computing a band of V's rows (B^T's rows against the patch rows they read,
  // then the row transform: no exchange), so that every warp does its share.
  const int parts = band_parts(pairs);
  b_.comment("transform the chunk's patches into V: Vs[cc][xi][bp], " + std::to_string(parts) + " thread(s) a pair");
  b_.loop("vi", ceil_div(pairs * parts, T), LoopKind::serial, [&](Expr vi) {
    Expr slot = b_.let("slot", vi * T + tid);
    b_.if_then(lt(slot, b_.i32(pairs * parts)), [&] {
      Expr pair = b_.let("pair", slot % pairs), part = b_.let("part", slot / pairs);
      Expr ci = pair / g_.bp, pl = pair % g_.bp;
      Expr from = b_.let("from", ring_patches(buf, ci) + pl);
      Expr to = b_.let("to", b_.i32(v().base) + buf * v().copy + ci * g_.ring_v_plane() + pl);
      const int A = t_.alpha;
      for (int h = 0; h < parts; ++h) {
        auto band = [&, h] {
          transform_band(
              h, parts, b_.f32(0), [&](int k) { return b_.load("d", v().smem, from + k / A * g_.ring_patch_row() + k % A * g_.bp); },
              [&](int xi, Expr value) { b_.store(v().smem, to + xi * g_.ring_v_row(), value); });
        };
        if (parts == 1) band();
        else b_.if_then(eq(part, b_.i32(h)), band);
      }
    });
  });
}

}  // namespace wino::plans

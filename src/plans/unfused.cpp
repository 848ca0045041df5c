// Plan `unfused`: input transform, batched GEMM and output transform as three kernels with the
// intermediates V = BT d B and M = U V in device memory. Weights are transformed on the host.
//
// Layouts: V[xi][c][p] and M[xi][k][p] (xi = Winograd point, p = tile index, contiguous so that
// neighbouring threads touch neighbouring addresses), U[xi][c][k] (see gemm_core.h).
#include "ir/transform_code.h"
#include "plans/cpu_unfused.h"
#include "plans/gemm_fragments.h"

namespace wino::plans {

using namespace ir;

namespace {

// Channels of a tile each thread of the input transform into V by tiles takes from half x, so that
// each pixel is one aligned load and each point one store of 4 or 2 halves: as many as keep the
// tile's values (alpha^2 of each channel) within 64. One 2-byte load per element kept the H200's
// load queue full (ncu, vgg16.3_2.b8, session 51); on the H100 4 channels made F(2,3)'s kernel
// 1.07-1.20x faster on the 5 layers plan auto runs unfused, while at F(4,3) they took 209 registers
// and were 0.90-1.05x (bench/results/h100_input_lanes_ab_session51.txt). Float32 x (fp16 or bf16
// GEMMs on float tensors) keeps 1: CUDA would load its vectors lane by lane anyway.
int tile_major_lanes(const ConvDesc& d, const Tiling& t) {
  if (d.layout != Layout::nhwc || d.dtype == DType::f32) return 1;
  for (int lanes : {4, 2})
    if (t.alpha * t.alpha * lanes <= 64 && d.c % lanes == 0) return lanes;
  return 1;
}

}  // namespace

// V[xi][c][p], or V[xi][p][c] (tile_major), or as the GEMM's staged copies (staged->bulk_v).
std::unique_ptr<Kernel> input_transform_kernel(const ProgramBuilder& prog, const Tiling& t, int threads,
                                               BufferHandle v_buf, StoredValues values, bool tile_major,
                                               const GemmTiles* staged) {
  const ConvDesc& d = prog.desc();
  const bool bulk = staged && staged->bulk_v;
  if (bulk && !tile_major) throw Error("internal: V stored as the GEMM's staged copies is stored by tiles");
  if (d.layout == Layout::nhwc && !tile_major) return input_transform_nhwc_kernel(prog, t, v_buf, values);
  // As the channels-last kernels: 256 threads, as many work-groups a multiprocessor as the
  // registers allow (transform_groups_per_multiprocessor).
  if (tile_major) threads = 256;
  const int lanes = tile_major ? tile_major_lanes(d, t) : 1;
  const int a = t.alpha;
  const int64_t C = d.c, P = t.tiles, groups = C / lanes, PV = bulk ? bulk_v_tiles(*staged, P) : P, total = groups * PV;
  auto ctx = std::make_shared<Context>();
  const std::string layout = tile_major ? std::string(d.layout == Layout::nhwc ? "nhwc_" : "") + (bulk ? "vb_" : "vt_") : "";
  const std::string vector = lanes > 1 ? "_x" + std::to_string(lanes) : "";
  KernelBuilder b(ctx, kernel_name(prog.plan(), "input", t.m, t.r, layout + "t" + std::to_string(threads) + vector),
                  ceil_div(total, threads), threads);
  b.info() = {prog.plan(), "input_transform", t.m, t.r};
  // Memory-bound: as many work-groups per multiprocessor as the transform's registers allow.
  if (tile_major) b.set_min_groups_per_multiprocessor(transform_groups_per_multiprocessor(t, threads, lanes));
  const Memory* x = prog.param(b, prog.input());
  const Memory* v = prog.param(b, v_buf, true);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr p = b.let("p", tile_major ? idx / groups : idx % P);
      Expr c = b.let("c", tile_major ? idx % groups * lanes : idx / P);
      Expr inside = PV > P ? lt(p, b.i32(P)) : Expr{};  // the last block's tiles past P: zeros
      std::vector<Expr> tile = load_input_tile(b, x, d, t, tile_coords(b, p, t), c, inside, {}, lanes);
      std::vector<Expr> vt = transform_2d(*ctx, t.t.BT, tile);
      for (int xi = 0; xi < a * a; ++xi) {
        Expr at = bulk         ? bulk_v_index(b, *staged, P, C, b.i32(xi), p, c)
                  : tile_major ? (b.i32(xi) * P + p) * C + c
                               : (b.i32(xi) * C + c) * P + p;
        if (lanes > 1) b.aligned_store(v, at, as_gemm_operand(vt[xi], values));
        else b.store(v, at, as_gemm_operand(vt[xi], values));
      }
    });
  });
  return b.finish();
}

// From M[xi][k][p].
std::unique_ptr<Kernel> output_transform_kernel(const ProgramBuilder& prog, const Tiling& t, int threads,
                                                BufferHandle mm_buf) {
  const ConvDesc& d = prog.desc();
  if (d.layout == Layout::nhwc) return output_transform_nhwc_kernel(prog, t, mm_buf);
  if (turned_output_fits(t, threads)) return output_transform_turned_kernel(prog, t, threads, mm_buf);
  const int a = t.alpha, m = t.m;
  const int64_t K = d.k, P = t.tiles, total = K * P;
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, kernel_name(prog.plan(), "output", m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {prog.plan(), "output_transform", m, t.r};
  const Memory* mm = prog.param(b, mm_buf);
  const OutputSink y(prog, b);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr p = b.let("p", idx % P), k = b.let("k", idx / P);
      TileCoords tc = tile_coords(b, p, t);
      std::vector<Expr> tile;
      for (int xi = 0; xi < a * a; ++xi) tile.push_back(b.load("m", mm, (b.i32(xi) * K + k) * P + p));
      store_output_tile(b, y, d, t, tc, k, transform_2d(*ctx, t.t.AT, tile));
    });
  });
  return b.finish();
}

Program build_unfused(const ConvDesc& d, const PlanOptions& o) {
  Tiling t = make_tiling(d, o.m);
  const GemmTiles& g = given_tiles(o);
  check_point_gemm_tiles(g, t, "unfused");
  if (g.lanes) return build_cpu_unfused(d, t, g);
  const int64_t a2 = t.alpha * t.alpha;
  const int threads = o.threads > 0 ? o.threads : 128;
  ProgramBuilder prog(d, "unfused", t.m, t.r);
  const StoredValues values = gemm_operand_values(g);
  BufferHandle u = g.bulk_u ? staged_weights(prog, t, g, u_storage_type(g, d), values)
                            : transformed_weights(prog, t, 0, 0, values, u_storage_type(g, d));
  const int64_t v_tiles = g.bulk_v ? bulk_v_tiles(g, t.tiles) : t.tiles;
  BufferHandle v = prog.scratch("v", a2 * d.c * v_tiles, v_storage_type(g, t));
  BufferHandle mm = prog.scratch("mm", a2 * d.k * t.tiles, m_storage_type(g, t));
  prog.add(input_transform_kernel(prog, t, threads, v, values, g.v_tile_major, &g));
  const GemmStages stages{GemmSource::transformed, GemmSink::store_m, u, v, mm, values};
  prog.add(gemm_kernel(prog, t, g, stages));
  prog.add(output_transform_kernel(prog, t, threads, mm));
  return prog.finish();
}

}  // namespace wino::plans

#include "plans/plan_common.h"

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "ir/transform_code.h"

namespace wino::plans {

const std::vector<std::string>& plan_names() {
  static const std::vector<std::string> names = {"direct",       "unfused", "fused-input",
                                                 "fused-output", "fused",   "naive-fused"};
  return names;
}

std::string kernel_name(const std::string& plan, const std::string& stage, int m, int r,
                        const std::string& tiles) {
  std::string name = "wino_";
  for (char c : plan) name += c == '-' ? '_' : c;
  name += "_" + stage;
  if (m > 0) name += "_f" + std::to_string(m) + "x" + std::to_string(r);
  if (!tiles.empty()) name += "_" + tiles;
  return name;
}

Tiling make_tiling(const ConvDesc& d, int m) {
  if (d.r != d.s)
    throw Error("Winograd plans need square filters (R == S); got " + std::to_string(d.r) + "x" +
                std::to_string(d.s) + ": use --plan direct");
  Tiling t;
  t.m = m;
  t.r = static_cast<int>(d.r);
  t.t = cook_toom(m, t.r);
  t.alpha = t.t.alpha;
  t.tiles_h = ceil_div(d.out_h(), m);
  t.tiles_w = ceil_div(d.out_w(), m);
  t.tiles = d.n * t.tiles_h * t.tiles_w;
  return t;
}

void check_index_range(const std::string& plan, const ConvDesc& d, int64_t elements) {
  if (elements > std::numeric_limits<int32_t>::max())
    throw Error("plan " + plan + ": a tensor of " + std::to_string(elements) +
                " elements exceeds the 32-bit index range of the generated kernels; " +
                (d.n > 1 ? "split the batch into smaller runs"
                         : "the batch is already 1: use a smaller image or fewer channels"));
}

StoredValues gemm_operand_values(const GemmTiles& g) {
  return g.mma == ir::MmaKind::tf32_m16n8k8 ? StoredValues::tf32 : StoredValues::f32;
}

void choose_half_operands(GemmTiles& g, const ConvDesc& d, const Tiling& t) {
  const bool half_mma = g.mma && ir::mma_storage_type(*g.mma) != ir::Type::f32;
  if (half_mma && g.points_split_over_warps()) {  // the tensor-core fused: V exists only staged
    g.half_u = d.k % 8 == 0;
    g.half_v = g.v_tile_major = true;
    g.half_m = false;
    return;
  }
  const bool half = half_mma && (g.points == 1 || g.stage_points);
  g.half_u = half && d.k % 8 == 0;
  g.half_v = half && t.tiles % 8 == 0;
  g.v_tile_major = g.half_v && d.layout == Layout::nhwc && d.c % 8 == 0;
  // M's sums may exceed f16's range where y itself would not: fp16 keeps a float32 M for float32
  // tensors (bf16 has float32's range).
  const bool m_in_range = d.dtype != DType::f32 || (g.mma && ir::mma_storage_type(*g.mma) == ir::Type::bf16);
  g.half_m = half && g.points == 1 && t.tiles % 8 == 0 && m_in_range;
}

namespace {
ir::Type half_storage(const GemmTiles& g, bool half, const char* what, int64_t row, const char* of) {
  if (!half) return ir::Type::f32;
  if (!g.mma || ir::mma_storage_type(*g.mma) == ir::Type::f32 || row % 8)
    throw Error("GEMM tiles " + g.str() + ": " + what + " is stored in halves only for an f16 or bf16 mma and " + of +
                " a multiple of 8 (got " + std::to_string(row) + ")");
  return ir::mma_storage_type(*g.mma);
}
}  // namespace

ir::Type v_storage_type(const GemmTiles& g, const Tiling& t) { return half_storage(g, g.half_v, "V", t.tiles, "tiles"); }
ir::Type u_storage_type(const GemmTiles& g, const ConvDesc& d) { return half_storage(g, g.half_u, "U", d.k, "K"); }
ir::Type m_storage_type(const GemmTiles& g, const Tiling& t) { return half_storage(g, g.half_m, "M", t.tiles, "tiles"); }

ir::Expr as_gemm_operand(ir::Expr v, StoredValues values) { return values == StoredValues::tf32 ? ir::tf32_rounded(v) : v; }

std::unique_ptr<ir::Kernel> filter_kernel(ProgramBuilder& prog, const Tiling& t, const std::string& stage,
                                          int64_t K, BufferHandle out_buf, const FilterBody& body) {
  using namespace ir;
  const ConvDesc& d = prog.desc();
  const int threads = 128, rr = t.r * t.r;
  const int64_t C = d.c, total = K * C;
  KernelBuilder b(std::make_shared<Context>(), kernel_name(prog.plan(), stage, t.m, t.r, "t" + std::to_string(threads)),
                  ceil_div(total, threads), threads);
  b.info() = {prog.plan(), "weight_transform", t.m, t.r};
  const Memory* w = prog.param(b, prog.weights());
  const Memory* out = prog.param(b, out_buf, true);
  b.threads([&](Expr tid) {
    Expr idx = b.let("idx", b.group_id() * threads + tid);
    b.if_then(lt(idx, b.i32(total)), [&] {
      Expr k = b.let("k", idx % K), c = b.let("c", idx / K);
      Expr base = b.let("wbase", (k * C + c) * rr);
      Expr real = K > d.k ? lt(k, b.i32(d.k)) : Expr{};  // the padding columns are zeros
      std::vector<Expr> taps;
      for (int i = 0; i < rr; ++i) taps.push_back(b.load("g", w, base + i, real));
      body(b, out, k, c, taps);
    });
  });
  return b.finish();
}

namespace {

// U[xi][c][k] = (G g G^T)[xi] for weights g[k][c]: one thread per (c, k), neighbouring threads on
// neighbouring k so the stores are coalesced. In float32 like every other transform (stored
// rounded to tf32 for a tf32 GEMM, narrowed to f16 or bf16 where U is stored so: u_storage_type);
// run by set_weights on the device, so weights never visit the host to be transformed.
std::unique_ptr<ir::Kernel> weight_transform_kernel(ProgramBuilder& prog, const Tiling& t, BufferHandle u_buf,
                                                    int64_t K, int64_t k_block, StoredValues values) {
  using namespace ir;
  const int64_t C = prog.desc().c;
  return filter_kernel(prog, t, "weights", K, u_buf,
                       [&](KernelBuilder& b, const Memory* u, Expr k, Expr c, const std::vector<Expr>& g) {
                         const std::vector<Expr> ut = transform_2d(b.ctx(), t.t.G, g);
                         // U[xi][k / k_block][c][k % k_block]: with k_block = K, U[xi][c][k].
                         Expr panel = k_block == K ? b.i32(0) : b.let("panel", k / k_block);
                         Expr lane = k_block == K ? k : b.let("kl", k % k_block);
                         for (size_t xi = 0; xi < ut.size(); ++xi) {
                           Expr x = b.i32(static_cast<int64_t>(xi));
                           b.store(u, ((x * (K / k_block) + panel) * C + c) * k_block + lane,
                                   as_gemm_operand(ut[xi], values));
                         }
                       });
}

}  // namespace

BufferHandle transformed_weights(ProgramBuilder& prog, const Tiling& t, int64_t k_pitch, int64_t k_block,
                                 StoredValues values, ir::Type type) {
  const ConvDesc& d = prog.desc();
  if (k_pitch == 0) k_pitch = d.k;
  if (k_block == 0) k_block = k_pitch;
  BufferHandle u = prog.prepared_weights("u", int64_t{t.alpha} * t.alpha * d.c * k_pitch, type);
  prog.add_preparation(weight_transform_kernel(prog, t, u, k_pitch, k_block, values));
  return u;
}

BufferHandle staged_weights(ProgramBuilder& prog, const Tiling& t, const GemmTiles& g, ir::Type type,
                            StoredValues values) {
  using namespace ir;
  const ConvDesc& d = prog.desc();
  const bool half = value_type(type) != type;
  const int64_t K = d.k, chunks = d.c / g.cc, pitch = g.row_pitch(g.bk, half);
  const int n = g.staged_points(), points = t.alpha * t.alpha;
  if (d.c % g.cc || K % g.bk || points % n || pitch - g.bk > g.bk)
    throw Error("internal: GEMM tiles " + g.str() + ": U is stored as its staged copies only with C (" + std::to_string(d.c) +
                ") a multiple of the chunk, K of the block, copies of a divisor of the points and rows padded by "
                "no more than their width");
  BufferHandle u = prog.prepared_weights("u", K / g.bk * d.c * points * pitch, type);
  prog.add_preparation(filter_kernel(prog, t, "staged_weights", K, u,
                                     [&](KernelBuilder& b, const Memory* out, Expr k, Expr c, const std::vector<Expr>& taps) {
                                       const std::vector<Expr> ut = transform_2d(b.ctx(), t.t.G, taps);
                                       // The copy of (group of points, block, chunk) without the group.
                                       Expr copy = b.let("copy", k / g.bk * chunks + c / g.cc);
                                       Expr row = b.let("row", c % g.cc), col = b.let("col", k % g.bk);
                                       // The first pitch - bk threads of a row also zero its padding.
                                       Expr pads = lt(col, b.i32(pitch - g.bk));
                                       // Warpgroup mmas take a point's block, bk rows of cc, in core matrices.
                                       Expr cm = g.async_mma ? b.let("cm", core_matrix_offset(col, row, g.bk)) : Expr{};
                                       for (int xi = 0; xi < points; ++xi) {
                                         const int64_t group = xi / n, first = group * (K / g.bk) * chunks;
                                         Expr point = (copy + first) * n + xi % n;
                                         Expr at = b.let("at", cm ? point * (int64_t{g.cc} * g.bk) + cm
                                                                  : (point * g.cc + row) * pitch + col);
                                         b.store(out, at, as_gemm_operand(ut[xi], values));
                                         if (!cm) b.store(out, at + g.bk, b.f32(0), pads);
                                       }
                                     }));
  return u;
}

TileCoords tile_coords(ir::KernelBuilder& b, ir::Expr p, const Tiling& t) {
  return {b.let("n", p / (t.tiles_h * t.tiles_w)), b.let("th", (p / t.tiles_w) % t.tiles_h),
          b.let("tw", p % t.tiles_w)};
}

ir::Expr image_base(Layout layout, ir::Expr n, ir::Expr ch, int64_t channels, int64_t pixels) {
  return layout == Layout::nhwc ? n * (pixels * channels) + ch : (n * channels + ch) * pixels;
}

int transform_groups_per_multiprocessor(const Tiling& t, int threads, int lanes) {
  // Up to alpha 6 ptxas fits the transforms in 64 registers without spilling (sm_90; alpha 8 spills
  // there): 4 work-groups of 256 threads per multiprocessor instead of 2 made the f16 NHWC input
  // transform at F(4,3) 5-9% faster on the H200's large layers
  // (bench/results/h200_nhwc_transform_groups_session34.txt). A thread of `lanes` channels holds
  // lanes - 1 more values a point.
  const int64_t estimate = (5 + 2 * (lanes - 1)) * t.alpha * t.alpha / 2 + 24;
  const int64_t registers = t.alpha <= 6 && lanes == 1 ? std::min<int64_t>(estimate, 64) : estimate;
  return static_cast<int>(std::clamp<int64_t>(65536 / (threads * registers), 1, 6));
}

std::vector<ir::Expr> load_input_tile(ir::KernelBuilder& b, const ir::Memory* x, const ConvDesc& d,
                                      const Tiling& t, const TileCoords& tc, ir::Expr c,
                                      ir::Expr valid, const std::vector<bool>& rows, int lanes) {
  using namespace ir;
  if (lanes > 1 && (d.layout != Layout::nhwc || d.c % lanes))
    throw Error("internal: vector loads of an input tile need channels last and C a multiple of the lanes");
  Expr ih0 = b.let("ih0", tc.th * t.m - d.pad.top), iw0 = b.let("iw0", tc.tw * t.m - d.pad.left);
  Expr base = b.let("xbase", image_base(d.layout, tc.n, c, d.c, d.h * d.w));
  const int64_t step = pixel_step(d.layout, d.c);
  std::vector<Expr> tile;
  for (int i = 0; i < t.alpha; ++i)
    for (int j = 0; j < t.alpha; ++j) {
      if (!rows.empty() && !rows[i]) {
        tile.push_back(lanes > 1 ? broadcast(b.f32(0), lanes) : b.f32(0));
        continue;
      }
      Expr ih = ih0 + i, iw = iw0 + j;
      Expr mask = logical_and(in_range(ih, 0, d.h), in_range(iw, 0, d.w));
      if (valid) mask = logical_and(valid, mask);
      const Expr at = base + (ih * d.w + iw) * step;
      tile.push_back(lanes > 1 ? b.aligned_load("d", x, at, lanes, mask) : b.load("d", x, at, mask));
    }
  return tile;
}

void store_output_tile(ir::KernelBuilder& b, const OutputSink& y, const ConvDesc& d,
                       const Tiling& t, const TileCoords& tc, ir::Expr k,
                       const std::vector<ir::Expr>& values) {
  using namespace ir;
  const int64_t OH = d.out_h(), OW = d.out_w();
  Expr oh0 = b.let("oh0", tc.th * t.m), ow0 = b.let("ow0", tc.tw * t.m);
  Expr base = b.let("ybase", image_base(d.layout, tc.n, k, d.k, OH * OW));
  const int64_t step = pixel_step(d.layout, d.k);
  Expr bias = y.channel_bias(b, k);
  for (int i = 0; i < t.m; ++i)
    for (int j = 0; j < t.m; ++j) {
      Expr oh = oh0 + i, ow = ow0 + j;
      y.store(b, base + (oh * OW + ow) * step, values[i * t.m + j], bias,
              logical_and(lt(oh, b.i32(OH)), lt(ow, b.i32(OW))));
    }
}

namespace {

Program build_plan(const ConvDesc& d, const PlanOptions& o) {
  if (o.plan == "direct") return build_direct(d, o);
  if (d.stride != 1 || d.dilation != 1)
    throw Error("plan " + o.plan + " supports stride 1 and dilation 1 only (got stride " +
                std::to_string(d.stride) + ", dilation " + std::to_string(d.dilation) +
                "): Winograd tiles need unit steps; use --plan direct or --plan auto");
  if (d.groups != 1)
    throw Error("plan " + o.plan + " supports groups = 1 only (got " + std::to_string(d.groups) +
                "): use --plan direct or --plan auto");
  if (o.plan == "unfused") return build_unfused(d, o);
  if (o.plan == "fused-input") return build_fused_input(d, o);
  if (o.plan == "fused-output") return build_fused_output(d, o);
  if (o.plan == "fused") return build_fused(d, o);
  if (o.plan == "naive-fused") return build_naive_fused(d, o);
  std::string known;
  for (const std::string& n : plan_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown plan '" + o.plan + "' (known: " + known + ", auto)");
}

}  // namespace

Program build_program(const ConvDesc& d, const PlanOptions& o) {
  validate(d);
  return build_plan(d, o);
}

}  // namespace wino::plans

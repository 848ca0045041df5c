#include "planner/choose_plan.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "common/error.h"
#include "common/half.h"
#include "lower/lower.h"
#include "planner/cost_model.h"
#include "planner/kernel_stats.h"
#include "planner/tile_choice.h"
#include "transforms/winograd.h"

namespace wino::planner {

namespace {

std::string num(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

bool winograd_applies(const ConvDesc& d) {
  return d.groups == 1 && d.r == d.s && d.r > 1 && d.stride == 1 && d.dilation == 1;
}

plans::PlanOptions given_plan(const ConvDesc& d, const Options& o, const std::string& plan, int m) {
  plans::PlanOptions p;
  p.plan = plan;
  p.m = m > 0 ? m : (d.r <= 3 ? 4 : 2);
  p.block_k = o.block_k;
  p.block_tiles = o.block_tiles;
  p.reg_k = o.reg_k;
  p.reg_tiles = o.reg_tiles;
  p.chunk_c = o.chunk_c;
  p.points_per_thread = o.points_per_thread;
  p.tile_block_cols = plan == "fused" ? o.tile_block_cols : 0;  // the tensor-core fused ring's only
  return p;
}

// cp.async came to CUDA with the tensor cores' mma.sync (sm_80).
bool async_copies(const DeviceCaps& caps) { return caps.mma && caps.dialect == render::Dialect::cuda; }

// A developer's switch the environment sets to 1: WINO_MMA_TRANSFORM (PlanOptions::mma_transform:
// timed, not faster), WINO_WARP_ROLES (warp_roles: timed, slower), WINO_GEMM_ROLES (gemm_roles:
// timed, not faster).
bool switch_on(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string(v) == "1";
}

// What the device's copies, mmas, work-groups and memory allow a plan (the same by name and as a
// candidate of plan auto).
void device_features(plans::PlanOptions& p, const DeviceCaps& caps) {
  p.async_copies = async_copies(caps);
  p.bulk_copies = p.async_copies && caps.bulk_copies;
  p.warpgroup_mma = p.async_copies && caps.warpgroup_mma;
  p.mma_transform = p.warpgroup_mma && switch_on("WINO_MMA_TRANSFORM");
  p.warp_roles = p.warpgroup_mma && switch_on("WINO_WARP_ROLES");
  p.gemm_roles = p.warpgroup_mma && switch_on("WINO_GEMM_ROLES");
  p.max_threads = caps.max_threads;
  p.regs_per_core = caps.regs_per_core;  // (the unfused half GEMM's work-groups: use_three_groups)
  p.shared_per_core = caps.shared_per_core;
  p.shared_per_group = caps.shared_bytes;
}

// Plans unfused, direct and fused on a CPU (or the interpreter; fused only where a thread may hold
// its large arrays) are CPU-shaped, unless register tiles are given (those shape the GPU core,
// which every backend also runs).
plans::PlanOptions on_device(plans::PlanOptions p, const Options& o, const DeviceCaps& caps) {
  const bool shaped = p.plan == "unfused" || p.plan == "direct" || (p.plan == "fused" && caps.private_arrays);
  if (shaped && p.precision == Precision::fp32 && !o.reg_k && !o.reg_tiles) {
    p.vector_lanes = caps.vector_lanes;
    p.l1_bytes = caps.l1_bytes;
    p.l2_bytes = caps.l2_bytes;
    p.loads_per_fma = caps.vector_loads_per_fma;
  }
  device_features(p, caps);
  p.cpu_threads = o.threads > 0 ? o.threads : caps.cores;
  p.device_cores = caps.cores;
  return p;
}

bool tiles_given(const Options& o) {
  return o.block_k || o.block_tiles || o.reg_k || o.reg_tiles || o.chunk_c || o.points_per_thread;
}

using TileShape = std::array<int, 5>;  // bk, bp, rk, rp, cc: Options::block_k ... chunk_c

plans::PlanOptions with_tiles(plans::PlanOptions p, const TileShape& t) {
  std::tie(p.block_k, p.block_tiles, p.reg_k, p.reg_tiles, p.chunk_c) = std::tuple(t[0], t[1], t[2], t[3], t[4]);
  return p;
}

// Lean tiles of fused and fused-input for a device whose budgets their defaults exceed (an Apple
// GPU's 128 registers and 32 KiB of threadgroup memory; the defaults predict up to 241 registers
// and take 48 KiB): 4 x 1 register tiles over 8 x 16 blocks (90 registers at F(4,3)), or 1 x 1
// over 8 x 8 (63 at F(4,3), 121 at F(6,3)), chunks of 2 channels.
const std::vector<TileShape> kLeanAllPointsTiles = {{8, 16, 4, 1, 2}, {8, 8, 1, 1, 2}};

bool lean_tiles_apply(const std::string& plan, const Options& o, const DeviceCaps& caps) {
  return (plan == "fused" || plan == "fused-input") && caps.regs_per_thread <= 128 && !tiles_given(o);
}

// Points of the Winograd GEMMs per image at F(m, r): tiles times alpha^2.
int64_t gemm_points(const ConvDesc& d, int m) {
  const int64_t alpha = m + d.r - 1;
  return (d.out_h() + m - 1) / m * ((d.out_w() + m - 1) / m) * alpha * alpha;
}

// Narrower vectors for the CPU-shaped plans where the channels would leave lanes empty: each
// halving of the host's width, down to 4 lanes, while it shrinks the channels x output channels
// padded to whole vectors. The seed's layer (C = K = 8) on AVX-512: fused F(4,3) took 8.2-8.4 us
// at 16 lanes and 5.6-5.8 at 8 (Zen 4, 2 cores).
std::vector<int> narrower_lanes(const ConvDesc& d, int lanes) {
  const int64_t c = d.c / d.groups;
  auto padded_work = [&](int w) { return (c + w - 1) / w * w * ((d.k + w - 1) / w * w); };
  std::vector<int> out;
  for (int w = lanes / 2; w >= 4 && padded_work(w) < padded_work(2 * w); w /= 2) out.push_back(w);
  return out;
}

// Whether `p`, the tensor-core fused, runs its ring of input patches in fp16 or bf16: the one
// timed against the unfused GEMM's tile shapes (f16 tensors channels last, H100,
// bench/results/h100_cudnn_bench_f16_session47{a,b}.json; bf16 runs the same kernels), where the
// cost model ranks it first on the 64- and 128-channel layers, 1.2-2.3x faster than the unfused
// F(2,3) there (scripts/planner_replay.py). Elsewhere it runs where named: without the ring it took
// 1.2-3.5x the unfused plan's time (sessions 43-45), and in tf32 and 3xtf32 the ring was not timed.
bool half_tile_ring(const ConvDesc& d, const plans::PlanOptions& p) {
  if (p.precision != Precision::fp16 && p.precision != Precision::bf16) return false;
  try {
    const std::optional<plans::GemmTiles> g = resolve_plan(d, p).gemm;
    return g && g->tile_patch_ring();
  } catch (const Error&) {
    return false;
  }
}

// The tensor-core fused ring `f` with its tiles the other way than the planner's rule takes them
// (choose_patch_region): runs where it takes a 2D block, else the squarest block (F(2,3) at 32
// tiles: 8 x 4, the fewest pixels a tile), for the model to weigh. One candidate, not every shape:
// each costs the planner a kernel's build (all five doubled plan auto's time in fp16).
std::optional<plans::PlanOptions> other_tile_block(const ConvDesc& d, const plans::PlanOptions& f) {
  const plans::GemmTiles g = *resolve_plan(d, f).gemm;
  plans::PlanOptions v = f;
  v.tile_block_cols = -1;
  if (!g.region.cols)
    for (int cols = 2; cols * cols <= g.bp; ++cols)
      if (g.bp % cols == 0) v.tile_block_cols = cols;
  if (v.tile_block_cols < 0 && !g.region.cols) return std::nullopt;
  return v;
}

// Every plan x m x tile shape worth building for `d`: F(m, r) with alpha <= 8, and for the
// unfused GEMM a few tile shapes besides its defaults (bk, bp, rk, rp, cc).
std::vector<plans::PlanOptions> candidate_plans(const ConvDesc& d, const Options& o, const DeviceCaps& caps) {
  // Each candidate is what compile() builds when asked for it by name (the CPU-shaped plans on a
  // CPU), so that tune mode measures the candidate it describes.
  std::vector<plans::PlanOptions> out = {on_device(given_plan(d, o, "direct", 0), o, caps)};
  if (!winograd_applies(d)) return out;
  std::vector<int> ms;
  for (int m : {2, 4, 6})
    if ((o.m == 0 || o.m == m) && m + d.r - 1 <= 8) ms.push_back(m);
  // An odd m where its tiles cut the output more evenly than every even one, so that its GEMM has
  // fewer points: resnet50.c4 (14 x 14) takes 3 x 3 tiles of F(5,3), 441 points against 576 for
  // F(4,3) and F(6,3); Zen 4, 2 cores: 295 us against 384
  // (bench/results/cpu_odd_m_zen4_2c_session36.txt); H200, resnet50.c4.b32: 78.4 us against 89.6
  // (bench/results/h200_fused_ab_session39.txt). Elsewhere the larger transforms of odd alpha cost
  // more than they save (resnet50.c3 at F(5,3): 319 us against 300), and the model weighs the
  // GEMM's part-empty blocks (vgg16.5_2.b8 on the H200: 102.6 us against 90.7).
  if (o.m == 0)
    for (int m : {3, 5})
      if (m + d.r - 1 <= 8 && std::all_of(ms.begin(), ms.end(), [&](int even) { return gemm_points(d, m) < gemm_points(d, even); }))
        ms.push_back(m);
  if (o.m > 0 && ms.empty()) ms.push_back(o.m);
  static const std::vector<TileShape> unfused_tiles = {
      {0, 0, 0, 0, 16}, {128, 64, 8, 8, 8}, {64, 64, 8, 8, 8}, {128, 128, 8, 8, 16}};
  for (int m : ms) {
    out.push_back(on_device(given_plan(d, o, "unfused", m), o, caps));
    // The CPU-shaped GEMM by rows of points, U made from the weights as it goes (r^2 / alpha^2 of
    // U's bytes): for few tiles, where each value of U serves few FMAs and U streams from memory.
    if (out.back().vector_lanes && !tiles_given(o)) {
      plans::PlanOptions rows = out.back();
      rows.points_per_thread = m + static_cast<int>(d.r) - 1;
      out.push_back(rows);
    }
    if (m >= 4 && !tiles_given(o))
      for (const auto& t : unfused_tiles) {
        // Without register tiles a CPU makes the CPU-shaped GEMM of these (the default above).
        if (!(caps.vector_lanes && !t[2] && !t[3])) out.push_back(with_tiles(given_plan(d, o, "unfused", m), t));
      }
    for (const char* plan : {"fused-input", "fused-output", "fused"}) {
      out.push_back(on_device(given_plan(d, o, plan, m), o, caps));
      if (lean_tiles_apply(plan, o, caps))
        for (const TileShape& t : kLeanAllPointsTiles) out.push_back(with_tiles(given_plan(d, o, plan, m), t));
    }
    if (o.precision != Precision::fp32) {  // the tensor-core GEMM, besides the fp32 plans above
      plans::PlanOptions p = given_plan(d, o, "unfused", m);
      p.precision = o.precision;
      out.push_back(p);
      // Besides the default: the other block shapes, and warps of 64 x 64 or 128 x 32 (fewer
      // fragment loads per mma, 128 accumulators per thread), the latter also on chunks of 32
      // channels (half the barriers: 1.0-1.2x faster in fp16 on 7 of 9 layers, session 52). Not
      // blocks of 256 x 128 or 128 x 256 (8 warps of 128 accumulators, a quarter fewer reads a
      // multiply-add): their fp16 GEMMs took 1.06-1.70x the time of 128 x 128 with 16 x 8 tiles on
      // all nine batch >= 8 layers (H100, bench/results/h100_half_gemm_blocks_session49.txt; again
      // 1.0-1.6x in session 52).
      static const std::vector<TileShape> mma_tiles = {{128, 64, 8, 8, 16},   {64, 128, 8, 8, 16},
                                                       {128, 128, 8, 8, 16},  {128, 128, 8, 16, 16},
                                                       {128, 128, 16, 8, 16}, {128, 128, 16, 8, 32}};
      if (!tiles_given(o))
        for (const auto& t : mma_tiles) out.push_back(with_tiles(p, t));
      for (const char* plan : {"fused-output", "fused"}) {
        if (!tensor_core_plan(plan, m + static_cast<int>(d.r) - 1)) continue;
        plans::PlanOptions f = given_plan(d, o, plan, m);
        f.precision = o.precision;
        f = on_device(f, o, caps);  // as run by name (the fused ring's tiles follow the device)
        if (f.plan == "fused" && !half_tile_ring(d, f)) continue;
        out.push_back(f);
        if (f.plan == "fused" && !o.tile_block_cols)
          if (const std::optional<plans::PlanOptions> v = other_tile_block(d, f)) out.push_back(*v);
      }
    }
  }
  for (size_t i = 0, n = out.size(); i < n; ++i)  // the CPU-shaped ones at each narrower width
    for (int w : narrower_lanes(d, out[i].vector_lanes)) {
      plans::PlanOptions q = out[i];
      q.vector_lanes = w;
      out.push_back(q);
    }
  for (plans::PlanOptions& p : out) device_features(p, caps);  // each as run by name (on_device)
  return out;
}

}  // namespace

PlanCandidate describe_plan(const plans::PlanOptions& p) {
  PlanCandidate c;
  c.plan = p.plan;
  c.m = p.plan == "direct" ? 0 : p.m;
  c.precision = p.precision;
  if (p.block_k || p.block_tiles || p.reg_k || p.reg_tiles || p.chunk_c || p.points_per_thread)
    c.tiles = std::to_string(p.block_k) + "," + std::to_string(p.block_tiles) + "," + std::to_string(p.reg_k) + "," +
              std::to_string(p.reg_tiles) + "," + std::to_string(p.chunk_c);
  if (p.points_per_thread) c.tiles += "," + std::to_string(p.points_per_thread);
  if (p.tile_block_cols)
    c.tiles += (c.tiles.empty() ? "" : ",") +
               (p.tile_block_cols < 0 ? std::string("runs") : "cols" + std::to_string(p.tile_block_cols));
  // The CPU-shaped GEMM is its own candidate, whatever tiles it shares with the GPU core.
  if (p.vector_lanes) c.tiles += (c.tiles.empty() ? "" : ",") + std::string("v") + std::to_string(p.vector_lanes);
  return c;
}

void apply_candidate_tiles(const std::string& tiles, Options& o) {
  std::vector<int> numbers;
  for (size_t at = 0; at < tiles.size();) {
    const size_t end = std::min(tiles.find(',', at), tiles.size());
    const std::string part = tiles.substr(at, end - at);
    const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    const bool cols =
        part.rfind("cols", 0) == 0 && part.size() > 4 && part.find_first_not_of("0123456789", 4) == std::string::npos;
    if (digits && part.size() <= 6) numbers.push_back(std::stoi(part));
    else if (part == "runs") o.tile_block_cols = -1;
    else if (cols && part.size() <= 10) o.tile_block_cols = std::stoi(part.substr(4));
    else
      throw Error("candidate tiles '" + tiles + "': '" + part + "' is not a tile size, 'runs' or 'colsN'" +
                  (part.rfind('v', 0) == 0 ? " (a CPU-shaped GEMM at a narrower vector, which no option names)" : ""));
    at = end + 1;
  }
  if (!numbers.empty() && numbers.size() != 5 && numbers.size() != 6)
    throw Error("candidate tiles '" + tiles + "': 5 or 6 numbers (bk,bp,rk,rp,cc[,ppt]), got " +
                std::to_string(numbers.size()));
  if (numbers.empty()) return;
  std::tie(o.block_k, o.block_tiles, o.reg_k, o.reg_tiles, o.chunk_c) =
      std::tuple(numbers[0], numbers[1], numbers[2], numbers[3], numbers[4]);
  if (numbers.size() == 6) o.points_per_thread = numbers[5];
}

namespace {

std::string tensor_cores_missing(Precision p, const DeviceCaps& caps) {
  return std::string("precision ") + precision_name(p) + " runs on tensor cores (CUDA sm_80 or newer, or the "
         "interpreter); " + caps.name + " has none";
}

// The device as kernels of `lanes`-wide vectors see it: narrower vectors than the host's widest
// keep its FLOP rate where the widest issue as two halves (Zen 4: vector_loads_per_fma 2) and lose
// it in proportion elsewhere.
DeviceCaps at_vector_width(DeviceCaps caps, int lanes) {
  if (lanes > 0 && lanes < caps.vector_lanes)
    caps.vector_gflops *= std::min(1.0, static_cast<double>(lanes) * caps.vector_loads_per_fma / caps.vector_lanes);
  return caps;
}

// Whether plan `p` stores the unfused GEMM's sums M in its half type (GemmTiles::half_m), which the
// half modes' error model counts; none where its tiles cannot be built (refused where they are).
std::optional<bool> stores_half_m(const ConvDesc& d, const plans::PlanOptions& p) {
  try {
    const std::optional<plans::GemmTiles> g = resolve_plan(d, p).gemm;
    return g && g->half_m;
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Builds one candidate and judges it against the accuracy and the device's budgets.
void evaluate(PlanCandidate& c, const plans::PlanOptions& p, const ConvDesc& d, const Options& o,
              const DeviceCaps& caps) {
  if (c.m > 0) {
    const double bound = fp32_error_bound(c.m, d.r);
    if (bound > o.max_rel_err) {
      c.rejected = "F(" + std::to_string(c.m) + "," + std::to_string(d.r) + ") float32 error bound " +
                   num("%.2g", bound) + " > max_rel_err " + num("%.2g", o.max_rel_err);
      c.over_error_bound = true;
      return;
    }
    if (p.precision == Precision::fp16 || p.precision == Precision::bf16) {
      c.rejected = half_error_rejection(d, c.m, p.precision, stores_half_m(d, p).value_or(false));
      if (!c.rejected.empty()) {
        c.over_error_bound = true;
        return;
      }
    }
  }
  if (p.precision != Precision::fp32 && !caps.mma) {
    c.rejected = tensor_cores_missing(p.precision, caps);
    return;
  }
  try {
    const plans::Program prog = lower::lower(d, resolve_plan(d, p), caps.dialect).program;
    std::vector<KernelStats> stats;
    for (const auto& k : prog.kernels) {
      stats.push_back(analyze(*k));
      c.pred_regs = std::max(c.pred_regs, stats.back().pred_regs);
      const int budget = register_budget(*k, caps), limit = spill_limit(budget, caps);
      if (stats.back().pred_regs > limit && c.rejected.empty())
        c.rejected = k->name + ": predicted " + std::to_string(stats.back().pred_regs) + " registers > " +
                     (limit > budget ? "twice " : "") + std::to_string(budget) + " per thread";
      if (stats.back().local_bytes > 0 && caps.regs_per_thread < (1 << 20) && c.rejected.empty())
        c.rejected = k->name + ": " + std::to_string(stats.back().local_bytes) +
                     " bytes of per-thread arrays indexed at run time (local memory on this device)";
      if (k->threads_per_group > caps.max_threads && c.rejected.empty())
        c.rejected = k->name + ": " + std::to_string(k->threads_per_group) + " threads per work-group > " +
                     std::to_string(caps.max_threads);
      if (ir::shared_array_bytes(*k) > caps.shared_bytes && c.rejected.empty())
        c.rejected = k->name + ": " + std::to_string(ir::shared_array_bytes(*k) / 1024) + " KiB of work-group memory > " +
                     std::to_string(caps.shared_bytes / 1024) + " KiB";
    }
    predict(c, prog, stats, at_vector_width(caps, p.vector_lanes));
  } catch (const Error& e) {
    c.rejected = e.what();
  }
}

// A fused plan asked for by name on a device whose budgets its default tiles exceed: the first
// lean tiles that fit (the default when none does; explain then flags it).
plans::PlanOptions within_device_budget(const plans::PlanOptions& p, const ConvDesc& d, const Options& o,
                                          const DeviceCaps& caps) {
  std::vector<plans::PlanOptions> tries = {p};
  for (const TileShape& t : kLeanAllPointsTiles) tries.push_back(with_tiles(p, t));
  for (const plans::PlanOptions& q : tries) {
    PlanCandidate c = describe_plan(q);
    evaluate(c, q, d, o, caps);
    if (c.rejected.empty()) return q;
  }
  return p;
}

// A CPU-shaped plan asked for by name at the vector width the cost model predicts fastest
// (narrower_lanes); a tie goes to the narrower, whose lanes are less padding (the direct plan at
// C = K = 8 on a host whose 512-bit FMAs run at full rate: both widths 4.9 us by the model).
plans::PlanOptions fastest_vector_width(const plans::PlanOptions& p, const ConvDesc& d, const Options& o,
                                        const DeviceCaps& caps) {
  const std::vector<int> widths = narrower_lanes(d, p.vector_lanes);
  if (widths.empty()) return p;
  plans::PlanOptions pick = p;
  PlanCandidate best = describe_plan(p);
  evaluate(best, p, d, o, caps);
  for (int w : widths) {
    plans::PlanOptions q = p;
    q.vector_lanes = w;
    PlanCandidate c = describe_plan(q);
    evaluate(c, q, d, o, caps);
    if (c.rejected.empty() && (!best.rejected.empty() || c.predicted_us <= best.predicted_us)) best = c, pick = q;
  }
  return pick;
}

// The order tune mode measures in: the model's, except that a plan, m and precision's third and
// later tile shapes wait until every other one has had its first two (ties among tile shapes would
// otherwise crowd out a better m, or the tensor-core GEMM: on resnet50.c2.b32 asked for tf32, the
// model put the fp32 GEMM's tile shapes first and tune never measured tf32's, 1.35x faster).
std::vector<size_t> tune_order(const std::vector<PlanCandidate>& cands) {
  std::map<std::tuple<std::string, int, Precision>, int> seen;
  std::vector<size_t> first, later;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (!cands[i].rejected.empty()) continue;
    (++seen[{cands[i].plan, cands[i].m, cands[i].precision}] <= 2 ? first : later).push_back(i);
  }
  first.insert(first.end(), later.begin(), later.end());
  return first;
}

// Tune mode's rounds after the first turns, and the candidates they take: those within this
// factor of the best first turn (a slow phase made whole runs 1.6-1.9x slower on Zen 4).
constexpr int kTuneRounds = 3;
constexpr double kTuneContenders = 2.0;
// On a CPU, measured times this close to the fastest are a tie, which goes to the candidate that
// moves the fewest bytes through memory: the one that slows down least when other work shares
// the memory (resnet50.c2 on Zen 4, 2 cores: fused F(4,3) 329-331 us against unfused F(6,3)'s 335 alone,
// 394-438 against 695-703 while another tenant's traffic slowed the machine's memory). At 5%,
// resnet50.c3 took unfused F(4,3) at 302 us over F(6,3)'s 289 (2.4 MB of U against 4.2).
constexpr double kTuneTie = 1.03;
// ... unless the candidate with fewer bytes does this much more arithmetic: it does not get faster
// when the memory does (resnet50.c5: fused F(2,3), 33.6 MB and 1.8x the FLOPs, tied unfused
// F(4,3) at 626 us in a slow phase; F(4,3) runs 406-516 us outside one). Fused F(4,3) against
// unfused F(6,3) on resnet50.c2 does 1.10x the FLOPs.
constexpr double kTieMoreFlops = 1.25;

// Measured candidates first, and of those the ones measured in tune's rounds (their rounds
// compare them; the others' first turns may come from a faster phase), each group fastest first.
void rank_measured(std::vector<PlanCandidate>& cands, const std::vector<bool>& in_rounds) {
  std::vector<size_t> rank(cands.size());
  for (size_t i = 0; i < rank.size(); ++i) rank[i] = i;
  std::stable_sort(rank.begin(), rank.end(), [&](size_t a, size_t b) {
    const PlanCandidate &x = cands[a], &y = cands[b];
    if ((x.measured_us >= 0) != (y.measured_us >= 0)) return x.measured_us >= 0;
    if (x.measured_us < 0) return false;
    if (in_rounds[a] != in_rounds[b]) return static_cast<bool>(in_rounds[a]);
    return x.measured_us < y.measured_us;
  });
  std::vector<PlanCandidate> ranked;
  for (size_t i : rank) ranked.push_back(cands[i]);
  cands = std::move(ranked);
}

// Of the first `compared` ranked candidates, those within kTuneTie of the fastest's time and
// kTieMoreFlops of its arithmetic: the one with the fewest predicted bytes goes first.
void take_tie_with_fewer_bytes(std::vector<PlanCandidate>& cands, size_t compared) {
  if (cands.empty() || cands.front().measured_us < 0) return;
  size_t pick = 0;
  const double tie = kTuneTie * cands[0].measured_us;
  const size_t n = std::min(compared, cands.size());
  for (size_t i = 1; i < n && cands[i].measured_us >= 0 && cands[i].measured_us <= tie; ++i)
    if (cands[i].predicted_mb >= 0 && cands[i].predicted_mb < cands[pick].predicted_mb &&
        cands[i].predicted_mflop <= kTieMoreFlops * cands[0].predicted_mflop)
      pick = i;
  const auto at = cands.begin() + static_cast<std::ptrdiff_t>(pick);
  std::rotate(cands.begin(), at, at + 1);
}

// Tune mode: measures `o.tune_top` candidates in tune_order and keeps the fastest first;
// `ties_to_fewer_bytes` on a CPU, whose cost model counts the bytes that reach memory (memory_bytes in cost_model.cpp).
void tune(std::vector<PlanCandidate>& cands, const std::vector<plans::PlanOptions>& plans, const Measure& measure,
          const Options& o, bool ties_to_fewer_bytes) {
  std::vector<size_t> order = tune_order(cands);
  order.resize(std::min(order.size(), static_cast<size_t>(std::max(o.tune_top, 1))));
  const PlanCandidate* best = nullptr;
  for (size_t n = 0; n < order.size(); ++n) {
    PlanCandidate& c = cands[order[n]];
    std::string why;
    const double us = measure(plans[order[n]], &why);
    if (us < 0) c.rejected = why.empty() ? "failed when measured" : why;
    else c.measured_us = us;
    if (us >= 0 && (!best || us < best->measured_us)) best = &c;
    if (o.tune_progress && best) o.tune_progress(static_cast<int>(n + 1), static_cast<int>(order.size()), *best);
  }
  // A machine shared with others slows down in phases of seconds, which only ever make runs
  // slower. The close contenders are measured again in rounds, taking turns, and compared by their
  // fastest turn in those rounds alone: each then has turns in the same phases. (Counting the
  // first turns too, a phase that began during them left the candidates measured before it with
  // a fast time the later ones could not get: tune took fused F(4,3) on resnet50.c3 at 362 us in
  // the benchmark's run against unfused F(6,3)'s 289.)
  std::vector<size_t> contenders;
  for (size_t n : order)
    if (best && cands[n].measured_us >= 0 && cands[n].measured_us <= kTuneContenders * best->measured_us)
      contenders.push_back(n);
  if (contenders.size() < 2) contenders.clear();
  std::map<size_t, double> fastest;
  for (int round = 0; round < kTuneRounds && !contenders.empty(); ++round)
    for (size_t n : contenders) {
      std::string why;
      if (const double us = measure(plans[n], &why); us >= 0)
        fastest[n] = fastest.count(n) ? std::min(fastest[n], us) : us;
    }
  std::vector<bool> in_rounds(cands.size(), false);
  for (const auto& [n, us] : fastest) {
    cands[n].measured_us = us;
    in_rounds[n] = true;
  }
  rank_measured(cands, in_rounds);
  if (ties_to_fewer_bytes) take_tie_with_fewer_bytes(cands, fastest.empty() ? cands.size() : fastest.size());
}

// Why an eligible candidate `c` was not the pick, for the candidate table.
std::string why_not_chosen(const PlanCandidate& c, const PlanCandidate& pick, bool from_cache) {
  const std::string us = num("%.1f", c.measured_us), pick_us = num("%.1f", pick.measured_us);
  if (from_cache) return "the tuning cache holds a measured pick (" + pick_us + " us)";
  if (c.measured_us >= 0 && c.measured_us < pick.measured_us) {
    if (pick.measured_us <= kTuneTie * c.measured_us)
      return "a tie when measured (" + us + " us vs " + pick_us + "), and the pick moves fewer bytes: " +
             num("%.1f", pick.predicted_mb) + " MB vs " + num("%.1f", c.predicted_mb);
    return "measured once (" + us + " us), outside the rounds that timed the pick against its contenders (" +
           pick_us + " us)";
  }
  if (c.measured_us >= 0) return "slower when measured: " + us + " us vs " + pick_us;
  if (pick.measured_us >= 0) return "not measured: predicted " + num("%.1f", c.predicted_us) + " us";
  return "predicted slower: " + num("%.1f", c.predicted_us) + " us vs " + num("%.1f", pick.predicted_us);
}

bool same_candidate(const PlanCandidate& a, const PlanCandidate& b) {
  return a.plan == b.plan && a.m == b.m && a.tiles == b.tiles && a.precision == b.precision;
}

// The tuning cache's pick goes first when it is still eligible; returns whether it was.
bool take_remembered(std::vector<PlanCandidate>& cands, const PlanCandidate& remembered) {
  for (size_t i = 0; i < cands.size(); ++i)
    if (cands[i].rejected.empty() && same_candidate(cands[i], remembered)) {
      PlanCandidate pick = cands[i];
      pick.measured_us = remembered.measured_us;
      cands.erase(cands.begin() + static_cast<std::ptrdiff_t>(i));
      cands.insert(cands.begin(), pick);
      return true;
    }
  return false;
}

}  // namespace

double fp32_error_bound(int m, int r) {
  static std::mutex mutex;
  static std::map<std::pair<int, int>, double> bounds;
  std::lock_guard lock(mutex);
  auto [it, fresh] = bounds.try_emplace({m, r}, 0.0);
  if (fresh) it->second = measure_fp32_error(cook_toom(m, r)).max_rel;
  return it->second;
}

HalfError half_error_bound(int m, int r, Precision precision, bool round_m, bool round_output) {
  static std::mutex mutex;
  static std::map<std::tuple<int, int, Precision, bool, bool>, HalfError> bounds;
  std::lock_guard lock(mutex);
  auto [it, fresh] = bounds.try_emplace({m, r, precision, round_m, round_output});
  if (fresh)
    it->second = measure_half_error(cook_toom(m, r), precision == Precision::bf16 ? round_to_bf16 : round_to_f16,
                                    round_m, round_output);
  return it->second;
}

std::string half_error_rejection(const ConvDesc& d, int m, Precision precision, bool half_m) {
  const HalfError h = half_error_bound(m, static_cast<int>(d.r), precision, half_m, d.dtype != DType::f32);
  if (h.winograd <= kHalfErrorFactor * h.output) return "";
  return "F(" + std::to_string(m) + "," + std::to_string(d.r) + ") in " + precision_name(precision) +
         (half_m ? ": U, V and M" : ": U and V") + " rounded to it model error " + num("%.2g", h.winograd) + " > " +
         num("%.0f", kHalfErrorFactor) + "x the " + num("%.2g", h.output) + " of rounding the output";
}

namespace {

// The m of a plan named without one: in fp16 and bf16 on tensor cores the largest from the
// default down to 2 whose modelled error the half modes' bound admits (3x3: F(2,3)); else, and
// where none is admitted, the default (0).
int named_plan_m(const ConvDesc& d, const Options& o) {
  const bool half = o.precision == Precision::fp16 || o.precision == Precision::bf16;
  if (o.m > 0 || !half || !winograd_applies(d)) return o.m;
  for (int m = d.r <= 3 ? 4 : 2; m >= 2; --m) {
    plans::PlanOptions p = given_plan(d, o, o.plan, m);
    p.precision = o.precision;
    if (!tensor_core_plan(p.plan, m + static_cast<int>(d.r) - 1)) return o.m;  // runs in float32
    const std::optional<bool> half_m = stores_half_m(d, p);
    if (!half_m) return o.m;  // refused below, where the plan is built
    if (half_error_rejection(d, m, o.precision, *half_m).empty()) return m;
  }
  return o.m;
}

}  // namespace

Choice plan_convolution(const ConvDesc& d, const Options& o, const DeviceCaps& caps, const Measure& measure,
                        const std::optional<PlanCandidate>& remembered) {
  if (o.m < 0) throw Error("m must be >= 1, got " + std::to_string(o.m));
  if (o.plan != "auto") {
    plans::PlanOptions p = given_plan(d, o, o.plan, named_plan_m(d, o));
    p.precision = o.precision;
    p = on_device(p, o, caps);
    if (tensor_core_plan(p.plan, p.m + static_cast<int>(d.r) - 1) && p.precision != Precision::fp32 && !caps.mma)
      throw Error(tensor_cores_missing(p.precision, caps) +
                  ": use --precision fp32 (or a plan other than unfused, fused-output and fused, which runs in fp32)");
    if (lean_tiles_apply(p.plan, o, caps)) p = within_device_budget(p, d, o, caps);
    if (p.vector_lanes) p = fastest_vector_width(p, d, o, caps);
    return {resolve_plan(d, p), {}};
  }
  std::vector<plans::PlanOptions> plans = candidate_plans(d, o, caps);
  std::vector<PlanCandidate> cands;
  for (const plans::PlanOptions& p : plans) {
    cands.push_back(describe_plan(p));
    evaluate(cands.back(), p, d, o, caps);
  }
  // Eligible first, fastest predicted first; `order` keeps each candidate with its plan.
  std::vector<size_t> order(cands.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const bool ea = cands[a].rejected.empty(), eb = cands[b].rejected.empty();
    return ea != eb ? ea : ea && cands[a].predicted_us < cands[b].predicted_us;
  });
  std::vector<PlanCandidate> sorted;
  std::vector<plans::PlanOptions> sorted_plans;
  for (size_t i : order) sorted.push_back(cands[i]), sorted_plans.push_back(plans[i]);
  bool from_cache = false;
  if (measure) tune(sorted, sorted_plans, measure, o, caps.private_arrays);
  else if (remembered) from_cache = take_remembered(sorted, *remembered);
  if (sorted.empty() || !sorted.front().rejected.empty()) {
    std::string why = "no plan fits " + d.str() + " on " + caps.name + ":";
    for (const PlanCandidate& c : sorted) why += "\n  " + c.plan + " m=" + std::to_string(c.m) + ": " + c.rejected;
    throw Error(why);
  }
  PlanCandidate& pick = sorted.front();
  pick.chosen = true;
  for (size_t i = 1; i < sorted.size(); ++i) {
    PlanCandidate& c = sorted[i];
    if (!c.rejected.empty()) continue;
    c.rejected = why_not_chosen(c, pick, from_cache);
  }
  for (const plans::PlanOptions& p : plans)  // the pick's plan, found by its description
    if (same_candidate(describe_plan(p), pick)) return {resolve_plan(d, p), sorted, from_cache};
  throw Error("internal: the planner lost its pick");
}

plans::PlanOptions choose_plan(const ConvDesc& desc, const Options& options, const Device& device) {
  return plan_convolution(desc, options, caps_for_device(device)).plan;
}


}  // namespace wino::planner

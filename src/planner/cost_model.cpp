// The planner's cost model: a launch's time from its FLOPs, bytes, work-group memory traffic and
// one thread's path against the device's rates (DeviceCaps), and what limits it.
#include "planner/cost_model.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <string>
#include <utility>

namespace wino::planner {

// The registers a thread of `k` may take: the device's limit, or fewer where the kernel asks CUDA
// to fit several work-groups on a multiprocessor (ptxas then caps them; above the cap it spills).
int register_budget(const ir::Kernel& k, const DeviceCaps& caps) {
  if (caps.dialect != render::Dialect::cuda || caps.regs_per_core == 0 || k.min_groups_per_multiprocessor <= 1)
    return caps.regs_per_thread;
  const int64_t fit = caps.regs_per_core / (int64_t{k.threads_per_group} * k.min_groups_per_multiprocessor);
  return static_cast<int>(std::min<int64_t>(caps.regs_per_thread, fit / 8 * 8));  // allocated in 8s
}

// The prediction over which a kernel with register budget `budget` spills. Against the device's
// limit, a prediction over it. A kernel that asks CUDA for several work-groups per multiprocessor chose that budget
// where ptxas fits it (the channels-last transforms: PlansStructure.NhwcTransformsAskForMoreWarpsInFlight;
// fused's ring leaves 60 registers past its accumulators), and ptxas may need as little as half
// the prediction (PlansStructure.RegisterModelWithinDocumentedBoundOfPtxas): there only a
// prediction over twice the budget is a spill for sure. (Rejecting every prediction over the
// budget left no channels-last F(4,3) candidate: predicted 82-88 registers against 64, which
// ptxas met without spilling.)
int spill_limit(int budget, const DeviceCaps& caps) { return budget < caps.regs_per_thread ? 2 * budget : budget; }

namespace {

bool on_gpu(const DeviceCaps& caps) { return caps.regs_per_core > 0 && caps.simd_width > 1; }

int64_t warps_per_group(const ir::Kernel& k, const DeviceCaps& caps) {
  return (k.threads_per_group + caps.simd_width - 1) / caps.simd_width;
}

// The work-groups a multiprocessor holds at once, limited by registers, work-group memory and its
// warp slots (GPUs only).
int64_t resident_groups(const ir::Kernel& k, int pred_regs, const DeviceCaps& caps) {
  const int64_t warps = warps_per_group(k, caps);
  const int64_t regs = (std::clamp(pred_regs, 16, register_budget(k, caps)) + 7) / 8 * 8;
  int64_t groups = caps.regs_per_core / (regs * caps.simd_width * warps);
  groups = std::min(groups, caps.max_warps_per_core / std::max<int64_t>(warps, 1));
  if (const int64_t shared = ir::shared_array_bytes(k); shared > 0) groups = std::min(groups, caps.shared_per_core / shared);
  return std::max<int64_t>(groups, 1);
}

// The share of the device's rates a kernel reaches from its occupancy: resident warps against
// those that hide latency fully (GPUs only; 1 elsewhere). A tensor-core kernel needs fewer: each
// warp's accumulator tiles give the mma pipe independent work. (At 16 warps, the model put the
// fp16 GEMM's 128 x 128 blocks of 4 warps with 16 x 8 tiles, two a multiprocessor, at twice the
// time of 8 x 8 tiles; they measured 0.72-0.95x of it on all 9 batch >= 8 layers, the fastest
// GEMM on each: bench/results/h100_cudnn_bench_f16_session47{a,b}.json.)
//
// An FMA kernel's warps count by their registers: a thread's accumulators are independent FMAs,
// so fewer warps of larger register tiles hide as much latency. (By warps alone, the fused ring's
// F(4,3), 12 warps of 152 registers with 6 points a thread, took 0.74 of the rate; it ran at the
// same FLOP rate as the F(2,3) ring's 18 warps of 97: 27.3 TFLOP/s each on vgg16.1_2.b8, H100,
// session 68.)
constexpr int kFullRateRegisters = 96;  // a warp's registers a thread at which it counts as one warp
double occupancy_rate(const ir::Kernel& k, const KernelStats& s, const DeviceCaps& caps) {
  if (!on_gpu(caps)) return 1.0;
  double active = static_cast<double>(resident_groups(k, s.pred_regs, caps) * warps_per_group(k, caps));
  if (s.mma_flops == 0) active *= std::max(1.0, static_cast<double>(s.pred_regs) / kFullRateRegisters);
  const double full = s.mma_flops > 0 ? caps.mma_warps_for_full_rate : caps.warps_for_full_rate;
  return std::clamp(active / full, 1.0 / full, 1.0);
}

// The share of an FMA kernel's time its multiprocessor issues where its work-groups stop at
// barriers: each waits about half the time (a chunk's transform and multiplication, each fed by
// the other's barrier), and a multiprocessor idles while all of its `groups` wait. With 2, the FMA
// fused rings ran 1.44-1.56x their FLOPs at the device's rate (H100, 9 layers, session 68): this
// share takes 1.33x of it, their stores (launch_cost) the rest; with 9 or more, the unfused GEMMs
// lose nothing to them. Like occupancy, it scales every term through the launch's utilisation;
// the transforms, with a barrier or none and many work-groups, lose nothing.
constexpr double kBarrierWaitShare = 0.5;
double barrier_rate(const ir::Kernel& k, const KernelStats& s, const DeviceCaps& caps) {
  if (!on_gpu(caps) || s.mma_flops > 0 || s.barriers == 0) return 1.0;
  return 1.0 - std::pow(kBarrierWaitShare, static_cast<double>(resident_groups(k, s.pred_regs, caps)));
}

// A CPU thread's arrays indexed at run time (the CPU fused plan's V and M) live in its core's L2
// when they fit. A work-group whose arrays do not fit runs its GEMM out of L3, at the share of the
// vector rate measured there: 78 of 185 GFLOP/s (vgg16.3_2 at F(6,3), 1.7 MiB per group on a
// 1 MiB L2, against F(4,3)'s 1.0 MiB; docs/performance.md).
constexpr double kArraysPastL2Rate = 0.42;
double vector_rate_share(const KernelStats& s, const DeviceCaps& caps) {
  return caps.private_arrays && s.local_bytes > caps.l2_bytes ? kArraysPastL2Rate : 1.0;
}

// The bytes a kernel moves through memory where caches take its repeated reads (a CPU's, a GPU's
// L2): each of its buffers once, at most what it loads and stores. On a CPU, charging every load
// at memory's rate made the GEMM of small blocks look byte-bound and ranked F(6,3) below F(4,3) on
// resnet50.c3, which measured 285-289 us against 334 (Zen 4, 2 cores). The exception there: a
// kernel whose work-groups hold arrays of their own (the fused pipeline) walks all of U in each
// work-group, and a U larger than L2 comes again from L3 or memory each time (resnet50.c5's fused
// F(4,3): 2 groups, 75 MB, 1485-1560 us).
int64_t memory_bytes(const plans::Program& prog, const plans::Launch& l, const ir::Kernel& k, const KernelStats& s,
                     const DeviceCaps& caps) {
  int64_t bytes = 0;
  for (int index : l.buffers) {
    const plans::ProgramBuffer& b = prog.buffers.at(index);
    const bool per_group = caps.private_arrays && b.role == plans::BufferRole::prepared_weights &&
                           s.local_bytes > 0 && b.bytes() > caps.l2_bytes;
    bytes += b.bytes() * (per_group ? k.num_groups : 1);
  }
  return std::min(bytes, s.bytes);
}

// A lone work-group's phases take longer than one thread's modelled path, and nothing overlaps
// them (at 1 an H100 took tf32's fused-output F(4,3) on resnet50.c2.b32: 167.1 us against the
// unfused F(6,3)'s 105.5, session 48). The factor is fitted to the picks, as the latency term it
// scales decides only where it exceeds the others: since the ring's transform is counted as the
// code runs it (one band a thread, not every band's branch; session 54), the ring's FLOPs term
// fell 15% and, at 1.5, took resnet50.c4.b32 from the unfused plan, which measured 35.9 us against
// the ring's 40.4 (H100, bench/results/h100_ring_exchange_quads_ab_session54.txt). At 2.4 the
// ring's latency term decides it, and the picks are the H100's measured best on all nine batch >=
// 8 layers in fp16 and bf16 (2.8 loses vgg16.2_2.b8's ring, 119 us against 185); the replay of
// session 40's H200 sweep (fp32, tf32, 3xtf32) is the same at 1.5 and 2.4.
constexpr double kLonePathFactor = 2.4;

// A tensor-core kernel's warps wait at every chunk's barrier for the chunk's copies, and a chunk
// is a few mmas a warp: the other resident work-groups hide only part of the wait. Chunks of 32
// channels (half the barriers) ran the fp16 GEMM 1.0-1.2x faster than 16 on 7 of the 9 batch >= 8
// layers (H100, bench/results/h100_gemm_chunks_session5{1,2}.txt), which the model had tied. Taken
// from those: at 0.1 us vgg16.3_2 and resnet50.c4 kept chunks of 16; at 0.12 the replay of session
// 40's H200 sweep moves one 3xtf32 pick (resnet50.c2.b32) to a shape 1.05x slower.
constexpr double kMmaBarrierUs = 0.12;

// One thread's path through kernel `k` (us): its FLOPs at one thread's rate, its mmas one
// dependent chain per accumulator tile a run interleaves (16 x 8 tiles: twice the mmas of 8 x 8 in
// as many steps; counted as one chain, the model put the fp16 GEMM's 16 x 8 tiles 1.2x above 8 x 8
// on vgg16.5_2.b8 and resnet50.c5.b32, where they measured 0.74-0.92x of them), and its barriers.
double thread_path_us(const ir::Kernel& k, const KernelStats& s, const DeviceCaps& caps) {
  const double threads = static_cast<double>(k.num_groups) * k.threads_per_group;
  const double mma_rate = caps.thread_mma_gflops > 0 ? caps.thread_mma_gflops : caps.thread_gflops;
  const double chains = std::max<double>(1.0, static_cast<double>(s.mma_chains));
  const double work = caps.thread_gflops > 0 ? (static_cast<double>(s.flops - s.mma_flops) / caps.thread_gflops +
                                                s.mma_flops / mma_rate / chains) / threads / 1e3
                                             : 0;
  return work + static_cast<double>(s.barriers) * caps.barrier_us;
}

// One launch by the cost model: its time, what limits it and the bytes it moves through memory.
struct LaunchCost {
  double us = 0, bytes = 0;
  const char* limit = "";
};

// The cost model: each launch takes the longest of its FLOPs at the device's rate, its bytes at
// the device's bandwidth and its work-group memory traffic at that memory's bandwidth, stretched
// by the idle cores of its last wave of work-groups and by low occupancy (and at least one
// thread's share of the FLOPs at one thread's rate, for each wave where a multiprocessor holds
// one work-group: "latency"), plus the launch cost. A tensor-core kernel's warps issue their
// fragment loads from work-group memory and their mmas in turn: those two add up.
LaunchCost launch_cost(const plans::Program& prog, const plans::Launch& l, const KernelStats& s,
                       const DeviceCaps& caps) {
  const double peak = caps.tf32_peak_gflops > 0 ? caps.tf32_peak_gflops : caps.tf32_gflops;
  const double mma = s.mma_flops > 0 ? (s.mma_tf32_flops - s.peak_mma_tf32_flops) / (caps.tf32_gflops * 1e3) +
                                           s.peak_mma_tf32_flops / (peak * 1e3)
                                     : 0;
  const double vec =
      caps.vector_gflops > 0 ? s.vector_flops / (caps.vector_gflops * vector_rate_share(s, caps) * 1e3) : 0;
  const double scalar = s.flops - s.mma_flops - (caps.vector_gflops > 0 ? s.vector_flops : 0);
  const double f = scalar / (caps.gflops * 1e3) + mma + vec;
  const ir::Kernel& k = *prog.kernels[l.kernel];
  const bool cached = caps.private_arrays || caps.l2_gbs > 0;
  const double charged = static_cast<double>(cached ? memory_bytes(prog, l, k, s, caps) : s.bytes);
  // On a GPU the reads past a launch's buffers' first (a GEMM's panels, once per block) come
  // from L2: they are charged at its rate, not memory's.
  const double b = std::max(charged / (caps.bandwidth_gbs * 1e3),
                            caps.l2_gbs > 0 ? static_cast<double>(s.bytes) / (caps.l2_gbs * 1e3) : 0.0);
  const double sh = caps.shared_gbs > 0 ? s.shared_bytes / (caps.shared_gbs * 1e3) : 0;
  // Warps issue their fragment loads between their mmas; warpgroup mmas read their operands from
  // work-group memory themselves, with no thread's instruction. Counted as issued, those reads put
  // the 8 x 4 ring 1.3x above the unfused plan on vgg16.3_2.b8, where it measured 0.83x of it (86.2
  // against 103.9 us on the H100, session 59). Bulk copies' landings stay in: the tf32 GEMMs'
  // picks were fitted with them.
  const double issued_sh =
      caps.shared_gbs > 0 ? (s.shared_bytes - s.mma_async_shared_bytes) / (caps.shared_gbs * 1e3) : 0;
  // An FMA kernel's global stores, at the device's bandwidth, add to its FLOPs: a GEMM's or a
  // ring's work-groups store their results at their end, where nothing of theirs overlaps them
  // (a transform's stores are in its bytes term, which decides it). Counted so, the unfused GEMM's
  // 16 KiB a work-group of M took its time on vgg16.1_2.b8 from 152 us (its FLOPs) to 222 (H100:
  // 242.5 measured, session 64).
  const double stores = on_gpu(caps) && s.mma_flops == 0 ? s.stored_bytes / (caps.bandwidth_gbs * 1e3) : 0;
  const double issue = s.mma_flops > 0 ? f + issued_sh : f;
  // Work-groups run in waves of one per core: the last wave's idle cores are lost.
  const double groups = static_cast<double>(k.num_groups);
  const double util = std::max(
      groups / (std::ceil(groups / caps.cores) * caps.cores) * occupancy_rate(k, s, caps) * barrier_rate(k, s, caps), 1e-3);
  const double serial = thread_path_us(k, s, caps);
  // Where a multiprocessor holds one work-group (the tensor-core fused ring, or fused-output in
  // tf32, each the whole register file), nothing overlaps a group's phases and the path repeats
  // for each wave, kLonePathFactor times the modelled path.
  const double waves = on_gpu(caps) && resident_groups(k, s.pred_regs, caps) == 1
                           ? kLonePathFactor * std::ceil(groups / caps.cores)
                           : 1.0;
  // A tensor-core kernel's FLOPs term is its mmas with their fragment loads and the waits at its
  // barriers (kMmaBarrierUs) in each wave of resident work-groups; ties go to the first.
  const double barrier_wait =
      s.mma_flops > 0 && on_gpu(caps)
          ? static_cast<double>(s.barriers) * kMmaBarrierUs * groups / (caps.cores * resident_groups(k, s.pred_regs, caps))
          : 0.0;
  const std::pair<double, const char*> terms[] = {
      {issue / util + barrier_wait + stores, "FLOPs"}, {b / util, "bytes"}, {sh / util, "work-group memory"}, {serial * waves, "latency"}};
  const auto* top = std::max_element(std::begin(terms), std::end(terms),
                                     [](const auto& x, const auto& y) { return x.first < y.first; });
  return {top->first + caps.launch_us, charged, top->second};
}

}  // namespace

// A candidate's predicted time, bytes and FLOPs, and what limits it: the limit of the launches
// that take most of the time ("launches" where their launch costs do).
void predict(PlanCandidate& c, const plans::Program& prog, const std::vector<KernelStats>& stats,
             const DeviceCaps& caps) {
  std::map<std::string, double> by_limit;
  double total = 0, bytes = 0, flops = 0;
  for (const plans::Launch& l : prog.launches) {
    const LaunchCost cost = launch_cost(prog, l, stats.at(l.kernel), caps);
    total += cost.us;
    bytes += cost.bytes;
    by_limit[cost.limit] += cost.us - caps.launch_us;
    flops += static_cast<double>(stats.at(l.kernel).flops);
  }
  c.predicted_us = total;
  c.predicted_mb = bytes / 1e6;
  c.predicted_mflop = flops / 1e6;
  const auto top = std::max_element(by_limit.begin(), by_limit.end(),
                                    [](const auto& x, const auto& y) { return x.second < y.second; });
  const double launches = caps.launch_us * static_cast<double>(prog.launches.size());
  c.bound = top == by_limit.end() || launches > top->second ? "launches" : top->first;
}

}  // namespace wino::planner

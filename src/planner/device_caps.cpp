#include "planner/device_caps.h"

#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cctype>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/opencl/opencl_device.h"

namespace wino::planner {

namespace {

// The rates are what Wino's kernels reach, not the datasheet's: about half the FMA peak for the
// GEMMs and 80% of the bandwidth for the transforms (measured on the H200: docs/performance.md).
double boost_ghz(int major) { return major >= 9 ? 1.98 : 1.41; }

DeviceCaps nvidia(int major, int sms, const std::string& name) {
  DeviceCaps c;
  c.name = name;
  c.dialect = render::Dialect::cuda;
  c.regs_per_thread = 255;
  // Static shared memory, or what sm_80+ lets a kernel opt in to (above 48 KiB, render.h): the
  // GEMMs with asynchronous copies take 96 KiB for deeper rings; the tensor-core fused's ring
  // gives its exchange what a work-group's share of the SM leaves (227 KiB on sm_90 and sm_100, the
  // SM's 228 less 1 for the driver; sm_86, sm_89 and sm_12x have 99 KiB, so they keep 96). A
  // device the driver describes caps it at its own opt-in (caps_for_device).
  const bool big_shared = major == 9 || major == 10;
  c.shared_bytes = big_shared ? 227 * 1024 : major >= 8 ? 96 * 1024 : 48 * 1024;
  c.simd_width = 32;
  c.cores = sms;
  const double clock_ghz = boost_ghz(major);
  c.gflops = 0.6 * nvidia_peak_gflops(major, sms, Precision::fp32);
  const bool h200 = name.find("H200") != std::string::npos;
  c.bandwidth_gbs = 0.8 * (h200 ? 4300 : major >= 9 ? 3350 : major == 8 ? 1550 : 900);
  // L2 serves a GEMM's repeated panel reads: its kernels moved 3-10 TB/s counting every load on
  // the H200 (bench/results/h200_f32_table_session40.json). Without this the model thought every
  // GEMM bound by memory and ranked tile shapes by their rereads alone.
  c.l2_gbs = 3.0 * c.bandwidth_gbs;
  c.launch_us = 2.5;
  c.regs_per_core = 65536;
  c.shared_gbs = 0.8 * sms * 128 * clock_ghz;  // 32 banks x 4 bytes per clock per SM
  c.shared_per_core = big_shared ? 228 * 1024 : major >= 11 ? 100 * 1024 : 164 * 1024;  // sm_12x: 100 KiB
  c.max_warps_per_core = major >= 9 ? 64 : 48;
  c.barrier_us = 0.5;
  c.thread_gflops = 1.0;  // a lone thread: dependent FMAs, about 2 FLOPs per 4 cycles at ~2 GHz
  // A lane's share of dependent mmas: an m16n8k8 tf32 mma is 64 FLOPs per lane in some 16 cycles.
  // (Charged at the FMA rate, the tensor-core GEMMs of layers with few tiles looked latency-bound
  // and slower than the FMA GEMM: 99.3 us each on resnet50.c5.b32, measured 30 against 81.)
  c.thread_mma_gflops = 8.0;
  // mma.sync GEMMs fed from work-group memory reach well under half of the tensor cores' peak:
  // 10-27% in tf32 on the H200's batch >= 8 layers (session 40). The model charges their fragment
  // loads besides (launch_cost in cost_model.cpp): replayed against the H200's fp32/tf32/3xtf32
  // sweep and the H100's fp16 one (scripts/planner_replay.py), 0.325 of the peak picks best; at
  // 0.30 and below 3xtf32's GEMMs look slower than fp32's (picks up to 1.29x the best), from 0.35
  // fp16's fused ring looks slower than it is (mean 1.13x the best instead of 1.10x).
  c.mma = major >= 8;
  c.bulk_copies = major >= 9;
  c.warpgroup_mma = major == 9;
  c.tf32_peak_gflops = nvidia_peak_gflops(major, sms, Precision::tf32);
  c.tf32_gflops = 0.325 * c.tf32_peak_gflops;
  return c;
}

// "48K", "1024K", "32M" (sysfs's cache sizes) in bytes; 0 when it is none of those.
int64_t size_bytes(const std::string& text) {
  size_t end = 0;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == 0 || end > 9) return 0;
  const int64_t n = std::stoll(text.substr(0, end));
  const std::string unit = text.substr(end);
  return unit == "K" ? n << 10 : unit == "M" ? n << 20 : unit.empty() ? n : 0;
}

// The size of the level-`level` data (or unified) cache of the first core: sysfs, else glibc's
// sysconf; 0 when neither says (some virtual machines).
int64_t data_cache_bytes(int level) {
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level_in(dir + "level"), type_in(dir + "type"), size_in(dir + "size");
    int l = 0;
    std::string type, size;
    if ((level_in >> l) && (type_in >> type) && (size_in >> size) && l == level && type != "Instruction")
      if (const int64_t bytes = size_bytes(size); bytes > 0) return bytes;
  }
  const long bytes = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE : _SC_LEVEL2_CACHE_SIZE);
  return bytes > 0 ? bytes : 0;
}

// Vector loads a core issues per vector FMA: 2 on Zen 4 (AMD family 25 with AVX-512), whose 512-bit
// FMAs occupy both 256-bit FMA pipes for a cycle while two 512-bit loads still issue; 1 elsewhere
// (Intel's AVX-512 cores and Zen 5 run two full-width FMAs a cycle, AVX2 cores two 256-bit ones).
int vector_loads_per_fma(int lanes) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (lanes < 16 || !__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 1;
  const bool amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;  // "AuthenticAMD"
  if (!amd || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 1;
  const unsigned family = ((eax >> 8) & 0xf) + (((eax >> 8) & 0xf) == 0xf ? (eax >> 20) & 0xff : 0);
  return family == 0x19 ? 2 : 1;
#else
  (void)lanes;
  return 1;
#endif
}

DeviceCaps cpu_caps(int cores) {
  DeviceCaps c;
  c.name = "cpu (" + std::to_string(cores) + " cores)";
  c.dialect = render::Dialect::c;
  c.regs_per_thread = 1 << 20;  // C compilers keep what does not fit on the stack, in cache
  c.shared_bytes = 1 << 30;     // a work-group's shared arrays are ordinary memory
  c.cores = cores;
  c.gflops = 2.0 * cores;       // Wino's scalar C kernels (the plans that are not CPU-shaped)
  // What a core streams from L3 or memory: resnet50.c5's unfused GEMM read its 37.7 MB of U in
  // 417 us on 2 Zen 4 cores (90 GB/s; 25 per core had ranked it behind F(2,3), 1.3x slower).
  c.bandwidth_gbs = 40.0 * cores;
  c.launch_us = 2;                 // the thread pool spins between back-to-back launches
  // The host's vector width, detected at run time (the kernels are built with -march=native).
  __builtin_cpu_init();
  c.vector_lanes = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4;
  // Register-blocked vector FMAs: the CPU-shaped GEMM measured 220-230 GFLOP/s with AVX-512 on
  // 2 Zen 4 cores (one 512-bit FMA per cycle per core).
  c.vector_gflops = cores * c.vector_lanes * 7.0;
  c.vector_loads_per_fma = vector_loads_per_fma(c.vector_lanes);
  c.private_arrays = true;  // a C function's locals, on an 8 MiB stack (the plan keeps them under 2 MiB)
  if (const int64_t l1 = data_cache_bytes(1); l1 > 0) c.l1_bytes = l1;
  if (const int64_t l2 = data_cache_bytes(2); l2 > 0) c.l2_bytes = l2;
  return c;
}

int host_cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// "model name" of /proc/cpuinfo (tuning results are per CPU model).
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

std::string DeviceCaps::budget_text() const {
  auto num = [](double v) { return std::to_string(static_cast<long long>(v + 0.5)); };
  return (regs_per_thread < (1 << 20) ? num(regs_per_thread) + " regs/thread, " : "") +
         (shared_bytes < (1 << 30) ? num(shared_bytes / 1024.0) + " KiB shared, " : "") +
         (vector_lanes > 0 && dialect == render::Dialect::c
              ? num(vector_lanes) + " float lanes, " + num(vector_loads_per_fma) + " loads per FMA, L1d " +
                    num(l1_bytes / 1024.0) + " KiB, L2 " +
                    num(l2_bytes / 1024.0) + " KiB, "
              : "") +
         num(bandwidth_gbs) + " GB/s, " + num(gflops) + " GFLOP/s";
}

double nvidia_peak_gflops(int major, int sms, Precision p) {
  const double per_sm_clock = sms * boost_ghz(major);
  const double tf32 = major >= 9 ? 2048 : major >= 8 ? 1024 : 0;
  switch (p) {
    case Precision::fp32: return per_sm_clock * 256;
    case Precision::tf32x3: return per_sm_clock * tf32 / 3;
    case Precision::tf32: return per_sm_clock * tf32;
    case Precision::fp16:
    case Precision::bf16: return per_sm_clock * tf32 * 2;
  }
  return 0;
}

DeviceCaps caps_for_target(const std::string& t) {
  if (t == "cpu" || t == "c") return cpu_caps(host_cores());
  if (t == "metal") {
    DeviceCaps c;
    c.name = "metal (Apple GPU)";
    c.dialect = render::Dialect::metal;
    c.regs_per_thread = 128;  // above it the kernel does not get full occupancy and spills
    c.shared_bytes = 32 * 1024;
    c.simd_width = 32;
    c.cores = 10;
    c.gflops = 0.5 * 3600;
    c.bandwidth_gbs = 0.8 * 100;
    c.launch_us = 5;
    return c;
  }
  if (t == "opencl") {
    DeviceCaps c = nvidia(8, 40, "opencl (a generic GPU)");
    c.dialect = render::Dialect::opencl;
    c.regs_per_thread = 128;
    c.shared_bytes = 32 * 1024;
    c.mma = false;  // OpenCL C has no warp-level matrix op (nor asynchronous copies)
    c.bulk_copies = false;
    c.warpgroup_mma = false;
    c.max_threads = 256;  // what OpenCL GPUs allow at least (AMD, Mali and many Intel GPUs: exactly 256)
    c.tf32_gflops = c.tf32_peak_gflops = 0;
    return c;
  }
  // sm_XX, or sm_90:h100 and sm_90:h200 for the GPU a measurement came from (the H100's memory is
  // slower; plain sm_90 is the H200 class).
  const std::string arch = target_architecture(t);
  const bool named_gpu = arch.size() < t.size();
  const std::string gpu = named_gpu ? t.substr(arch.size() + 1) : "";
  const std::string digits = arch.rfind("sm_", 0) == 0 ? arch.substr(3) : "";
  if (digits.size() >= 2 && digits.size() <= 3 && digits.find_first_not_of("0123456789") == std::string::npos &&
      (!named_gpu || (arch == "sm_90" && (gpu == "h100" || gpu == "h200")))) {
    const int major = std::stoi(digits) / 10;
    if (gpu == "h100") return nvidia(major, 132, "H100 (" + arch + ")");
    DeviceCaps c = nvidia(major, major >= 9 ? 132 : 108, arch + (major >= 9 ? " (H200 class)" : ""));
    if (major >= 9) c.bandwidth_gbs = 0.8 * 4300;
    return c;
  }
  throw Error("unknown target '" + t + "' (expected cpu, c, opencl, metal, or sm_XX such as sm_90, sm_90:h100)");
}

std::string target_architecture(const std::string& target) { return target.substr(0, target.find(':')); }

DeviceCaps caps_for_device(const Device& d) {
  switch (d.kind) {
    case Device::Kind::cuda: {
      for (const cuda::DeviceInfo& i : cuda::list_cuda_devices())
        if (i.ordinal == d.index) {
          DeviceCaps c = nvidia(i.cc_major, i.sm_count, i.name + " (" + i.arch + ")");
          if (i.max_shared_per_block_optin > 0) c.shared_bytes = std::min<int64_t>(c.shared_bytes, i.max_shared_per_block_optin);
          c.identity = "cuda " + i.name + " " + i.arch + " driver " + cuda::cuda_driver_version();
          return c;
        }
      return caps_for_target("sm_90");
    }
    case Device::Kind::opencl: {
      std::vector<opencl::DeviceInfo> all = opencl::list_devices();
      if (d.index < 0 || d.index >= static_cast<int>(all.size())) return caps_for_target("opencl");
      const opencl::DeviceInfo& i = all[d.index];
      DeviceCaps c = i.is_gpu() ? caps_for_target("opencl") : cpu_caps(std::max(1, i.compute_units));
      c.name = "opencl:" + std::to_string(d.index) + " " + i.name;
      c.dialect = render::Dialect::opencl;
      c.private_arrays = false;  // OpenCL private memory is not for arrays that large
      if (i.is_gpu()) c.shared_bytes = static_cast<int64_t>(i.local_mem_bytes);
      if (i.max_work_group_size > 0) c.max_threads = static_cast<int>(std::min<size_t>(i.max_work_group_size, 1024));
      // A CPU device runs a work-group as loops over its work-items. PoCL 5.0's (the GPU machine's)
      // returned zeros for plan fused's work-groups of exactly 512, by its default method and
      // right by another (POCL_WORK_GROUP_METHOD=cbs), while 128, 256 and 1024 were right
      // (session 65): work-groups of 256 at most there.
      if (!i.is_gpu()) c.max_threads = std::min(c.max_threads, 256);
      c.cores = std::max(1, i.compute_units);
      c.identity = "opencl " + i.name + " " + i.platform_name + " driver " + i.driver_version;
      return c;
    }
    case Device::Kind::interp: {
      DeviceCaps c = cpu_caps(host_cores());
      c.identity = "interp";
      c.dialect = render::Dialect::cuda;  // candidates render in the dialect every IR op has
      c.vector_lanes = 4;  // the CPU-shaped GEMM, at the vector width CUDA's dialect can spell
      c.mma = true;  // the interpreter runs the warp-level ops lane by lane
      c.tf32_gflops = c.gflops;
      c.tf32_peak_gflops = 0;
      // An sm_90 multiprocessor's memory, so that the tensor-core fused's ring is planned (and
      // checked) as on the GPU it was timed on: 64 x 32 blocks, the exchange over the staging in one
      // slice (planner/tile_choice.cpp: widen_tile_ring).
      c.shared_per_core = 228 * 1024;
      return c;
    }
    default: {
      DeviceCaps c = cpu_caps(host_cores());
      c.identity = "cpu " + cpu_model() + " " + std::to_string(host_cores()) + " threads";
      return c;
    }
  }
}

}  // namespace wino::planner

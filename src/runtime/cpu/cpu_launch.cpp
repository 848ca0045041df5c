#include "runtime/cpu/cpu_launch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"

namespace wino::cpu {
namespace {

/// Spins until `done()` or `kSpin` has passed; true when done. Waking a sleeping thread takes tens
/// of microseconds on virtual machines, as long as a small kernel runs, so the threads of a
/// convolution's back-to-back launches wait by spinning first (as OpenMP runtimes do).
constexpr auto kSpin = std::chrono::microseconds(300);
template <class Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() > until) return false;
  }
}

/// Worker threads waiting for chunks of the current launch. A launch is published under mu_ with
/// a new generation; chunks are claimed through `claim_`, which packs (generation, next chunk)
/// into one word so that a worker waking late can never claim a chunk of a later launch with the
/// kernel and buffers of an earlier one.
class ThreadPool {
 public:
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      stopping_.store(true);
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  void run(KernelFn fn, void* const* buffers, long num_groups, int chunks) {
    std::lock_guard<std::mutex> launch_lock(launch_mu_);
    while (static_cast<int>(workers_.size()) < chunks - 1) {
      int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] { worker_loop(index); });
    }
    Job job{fn, buffers, num_groups, chunks, 0};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (++generation_ == 0) ++generation_;  // 0 means "no launch seen yet" to workers
      job.generation = generation_;
      job_ = job;
      published_.store(generation_, std::memory_order_release);
      done_.store(0);
      claim_.store(pack(job.generation, 0));
      active_workers_ = chunks - 1;
    }
    work_cv_.notify_all();
    run_chunks(job);
    if (spin_until([&] { return done_.load() == chunks; })) return;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.load() == chunks; });
  }

 private:
  struct Job {
    KernelFn fn;
    void* const* buffers;
    long num_groups;
    int chunks;
    uint32_t generation;
  };

  static uint64_t pack(uint32_t generation, uint32_t chunk) { return uint64_t{generation} << 32 | chunk; }

  void run_chunks(const Job& job) {
    for (;;) {
      uint64_t cur = claim_.load();
      uint32_t chunk = static_cast<uint32_t>(cur);
      if (static_cast<uint32_t>(cur >> 32) != job.generation || chunk >= static_cast<uint32_t>(job.chunks)) return;
      if (!claim_.compare_exchange_weak(cur, cur + 1)) continue;
      long begin = job.num_groups * chunk / job.chunks, end = job.num_groups * (chunk + 1) / job.chunks;
      job.fn(job.buffers, begin, end);
      if (done_.fetch_add(1) + 1 == job.chunks) {
        std::lock_guard<std::mutex> lock(mu_);  // pairs with the launcher's predicate check
        done_cv_.notify_one();
      }
    }
  }

  void worker_loop(int index) {
    uint32_t seen = 0;
    for (;;) {
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen || stopping_.load(); });
      Job job{};
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || (generation_ != seen && index < active_workers_); });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      run_chunks(job);
    }
  }

  std::mutex launch_mu_;  // one launch at a time
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  Job job_{};
  uint32_t generation_ = 0;
  int active_workers_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint32_t> published_{0};  // generation_, readable without the lock while spinning
  std::atomic<bool> stopping_{false};
  std::atomic<int> done_{0};
};

}  // namespace

void cpu_launch(KernelFn fn, void* const* buffers, long num_groups, int num_threads) {
  if (!fn) throw Error("cpu_launch: null kernel function");
  if (num_threads < 0) throw Error("cpu_launch: num_threads must be >= 0, got " + std::to_string(num_threads));
  if (num_groups <= 0) return;
  long threads = num_threads > 0 ? num_threads : std::max(1u, std::thread::hardware_concurrency());
  int chunks = static_cast<int>(std::min(threads, num_groups));
  if (chunks == 1) {
    fn(buffers, 0, num_groups);
    return;
  }
  static ThreadPool pool;
  pool.run(fn, buffers, num_groups, chunks);
}

}  // namespace wino::cpu

// One Conv shared by several threads through the host-pointer API: each call has its own
// intermediates (a workspace leased per call on the CPU), so each thread gets exactly its own
// input's output.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "common/random.h"
#include "common/tensor.h"
#include "wino/wino.h"

namespace wino {
namespace {

TEST(ConvThreads, EightThreadsTimesAHundredRunsEachGetTheirOwnResult) {
  ConvDesc d;
  d.n = 1, d.c = 4, d.h = d.w = 9, d.k = 5, d.pad = Padding::all(1);
  Options o;
  o.plan = "unfused";
  o.m = 2;
  Conv conv = compile(Device::cpu(), d, o);
  const Tensor w = random_normal(DType::f32, {5, 4, 3, 3}, 1);
  conv.set_weights(w.f32());
  constexpr int kThreads = 8, kRuns = 100;
  const size_t out = static_cast<size_t>(d.n) * d.k * d.out_h() * d.out_w();
  // Each thread's input and the output a lone run gives for it.
  std::vector<Tensor> inputs;
  std::vector<std::vector<float>> expected(kThreads, std::vector<float>(out));
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(random_normal(DType::f32, {1, 4, 9, 9}, 100 + t));
    conv.run(inputs[t].f32(), expected[t].data());
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Conv mine = conv;  // copies share the compiled convolution
      std::vector<float> y(out);
      for (int i = 0; i < kRuns; ++i) {
        std::fill(y.begin(), y.end(), -1.0f);
        mine.run(inputs[t].f32(), y.data());
        if (y != expected[t]) wrong++;
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << kThreads * kRuns << " runs";
}

}  // namespace
}  // namespace wino

// The warp-level matrix load (ir::StmtKind::load_matrix, CUDA's ldmatrix): what the interpreter
// gives each lane against the definition written out here, the CUDA source compiled by NVRTC for
// sm_90 (no GPU needed), the GPU agreeing with the interpreter, and clear refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_only.h"
#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "error_of.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kWarps = 2, kPitch = 24;  // rows of 24 halves: 16 columns and a pad of 8
constexpr int kRows = kWarps * 4 * 8;   // each warp's 4 matrices of 8 rows

struct Shape {
  int matrices;
  bool transposed;
};

// The value at element e of the staged array: distinct and exact in f16 and bf16 (integers up to
// 255 and a sign).
float value_at(int64_t e) { return static_cast<float>((e % 255) - 127); }

// Warp w's matrix j starts at row (4 w + j) 8, column 8 (odd warps) or 0: lane 8 j + r gives row
// r's element. Each thread stores the 2 x matrices values it gets to out[tid][.].
std::unique_ptr<Kernel> load_matrix_kernel(Shape s, Type half, int threads = kWarps * kWarp, bool misaligned = false) {
  KernelBuilder b(std::make_shared<Context>(), "load_matrix_test", 1, threads);
  const Memory* in = b.buffer("in", kRows * kPitch, true);
  const Memory* out = b.buffer("out", int64_t{threads} * 8, false);
  const Memory* sm = b.shared_array("sm", kRows * kPitch, half);
  b.threads([&](Expr tid) {
    b.loop("e", kRows * kPitch / threads, LoopKind::serial,
           [&](Expr e) { b.store(sm, e * threads + tid, b.load("x", in, e * threads + tid)); });
  });
  b.barrier();
  b.threads([&](Expr tid) {
    Expr w = b.let("w", tid / kWarp), lane = b.let("lane", tid % kWarp);
    Expr row = b.let("row", (w * 4 + lane / 8 % s.matrices) * 8 + lane % 8);
    Expr at = b.let("at", row * kPitch + w % 2 * 8 + (misaligned ? 2 : 0));
    const std::vector<Expr> v = b.load_matrix("v", sm, at, s.matrices, s.transposed);
    for (size_t i = 0; i < v.size(); ++i) b.store(out, tid * 8 + static_cast<int>(i), v[i]);
  });
  return b.finish();
}

std::vector<float> input() {
  std::vector<float> in(kRows * kPitch);
  for (size_t e = 0; e < in.size(); ++e) in[e] = value_at(static_cast<int64_t>(e));
  return in;
}

// The definition: lane 4 g + t gets row g's columns 2 t, 2 t + 1 of each matrix; transposed,
// column g's rows 2 t, 2 t + 1.
std::vector<float> expected(Shape s) {
  std::vector<float> want(kWarps * kWarp * 8, -1);
  for (int w = 0; w < kWarps; ++w)
    for (int l = 0; l < kWarp; ++l)
      for (int j = 0; j < s.matrices; ++j)
        for (int h = 0; h < 2; ++h) {
          const int g = l / 4, t = l % 4;
          const int r = s.transposed ? 2 * t + h : g, c = s.transposed ? g : 2 * t + h;
          const int64_t e = ((w * 4 + j) * 8 + r) * kPitch + w % 2 * 8 + c;
          want[(w * kWarp + l) * 8 + 2 * j + h] = value_at(e);
        }
  return want;
}

const Shape kShapes[] = {{1, false}, {2, false}, {4, false}, {1, true}, {2, true}, {4, true}};

std::string label(Shape s) { return "x" + std::to_string(s.matrices) + (s.transposed ? " transposed" : ""); }

TEST(LoadMatrix, InterpreterGivesEachLaneItsValues) {
  for (Type half : {Type::f16, Type::bf16})
    for (Shape s : kShapes) {
      SCOPED_TRACE(label(s) + " " + type_name(half));
      std::unique_ptr<Kernel> k = load_matrix_kernel(s, half);
      ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
      std::vector<float> in = input(), out(kWarps * kWarp * 8, -1);
      interp::interpret(*k, {in.data(), out.data()});
      EXPECT_EQ(out, expected(s));
    }
}

TEST(LoadMatrix, CudaSourceCompilesForSm90) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (Shape s : kShapes) {
    std::unique_ptr<Kernel> k = load_matrix_kernel(s, Type::f16);
    const std::string src =
        cuda_translation_unit(*k);
    EXPECT_NE(src.find("wino_load_matrix<" + std::to_string(s.matrices)), std::string::npos) << label(s);
    cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, "sm_90");
    EXPECT_FALSE(out.cubin.empty()) << label(s) << ":\n" << out.log;
  }
}

TEST(LoadMatrix, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  for (Type half : {Type::f16, Type::bf16})
    for (Shape s : kShapes) {
      SCOPED_TRACE(label(s) + " " + type_name(half));
      std::unique_ptr<Kernel> k = load_matrix_kernel(s, half);
      EXPECT_EQ(run_on_cuda(*k, input(), kWarps * kWarp * 8), expected(s));
    }
}

TEST(LoadMatrix, MisuseIsRefusedClearly) {
  // Not 16-bit work-group memory, a matrix count other than 1, 2 or 4, part of a warp.
  {
    std::unique_ptr<Kernel> k = load_matrix_kernel({4, true}, Type::f32);
    std::vector<std::string> problems = verify(*k);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("16-bit work-group memory"), std::string::npos) << problems[0];
  }
  {
    std::unique_ptr<Kernel> k = load_matrix_kernel({3, true}, Type::f16);
    std::vector<std::string> problems = verify(*k);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("1, 2 or 4 matrices"), std::string::npos) << problems[0];
  }
  {
    std::unique_ptr<Kernel> k = load_matrix_kernel({4, true}, Type::f16, 48);
    std::vector<std::string> problems = verify(*k);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("whole warps"), std::string::npos) << problems[0];
  }
  // A row that does not start on 16 bytes: the interpreter names the lane's element.
  std::unique_ptr<Kernel> k = load_matrix_kernel({4, false}, Type::f16, kWarps * kWarp, true);
  std::vector<float> in = input(), out(kWarps * kWarp * 8);
  const std::string why = testing::error_of([&] { interp::interpret(*k, {in.data(), out.data()}); });
  EXPECT_NE(why.find("not a multiple of 8"), std::string::npos) << why;
  expect_cuda_only(*load_matrix_kernel({4, true}, Type::f16), "warp-level matrix load");
}

}  // namespace
}  // namespace wino

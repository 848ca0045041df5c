// Metal source that is checked, not just printed: every plan x F(m, r) of the sweep, rendered in
// the Metal dialect, compiles as C++17 against tests/metal/metal_stdlib (clang++ -fsyntax-only).
// The negative cases show the shim rejects what Apple's compiler would: CUDA or C builtins,
// unknown attributes, double precision, a pointer in the wrong address space.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "conv_tester.h"
#include "planner/choose_plan.h"
#include "ir/builder.h"
#include "lower/lower.h"
#include "render/render.h"
#include "runtime/cpu/subprocess.h"

namespace wino::testing {
namespace {

namespace fs = std::filesystem;

// Where the shim lives: tests/metal beside this file.
const fs::path kShimDir = fs::path(__FILE__).parent_path() / "metal";

struct Check {
  bool ran = false;  // false: no clang++ on this machine
  bool ok = false;
  std::string output;
};

Check metal_syntax_check(const std::string& source, const std::string& name) {
  Check c;
  const std::string clang = cpu::find_executable("clang++");
  if (clang.empty()) return c;
  const fs::path file = fs::temp_directory_path() / ("wino_metal_" + std::to_string(getpid()) + "_" + name + ".metal");
  std::ofstream(file) << source;
  cpu::ProcessResult r = cpu::run_process(
      {clang, "-x", "c++", "-std=c++17", "-fsyntax-only", "-I", kShimDir.string(),
       "-Werror=unknown-attributes", "-Werror=double-promotion", "-Werror=implicit-float-conversion",
       file.string()});
  fs::remove(file);
  c.ran = true;
  c.ok = r.exit_status == 0;
  c.output = r.output;
  return c;
}

std::string metal_program(const std::string& plan, int m, int r) {
  ConvDesc d;
  d.n = 1, d.c = 8, d.h = d.w = 32, d.k = 8, d.r = d.s = r, d.pad = Padding::all(r / 2);
  Options o;
  o.plan = plan;
  o.m = m;
  return lower::lower(d, planner::plan_convolution(d, o, planner::caps_for_target("metal")).plan, render::Dialect::metal).source;
}

class MetalSyntax : public ::testing::TestWithParam<PlanCase> {};

TEST_P(MetalSyntax, CompilesAsCxxAgainstTheShim) {
  const PlanCase& pc = GetParam();
  const std::string source = metal_program(pc.plan, pc.m, pc.r);
  ASSERT_NE(source.find("#include <metal_stdlib>"), std::string::npos);
  Check c = metal_syntax_check(source, plan_case_name({pc, 0}));
  if (!c.ran) GTEST_SKIP() << "no clang++ (scripts/setup.sh installs it)";
  EXPECT_TRUE(c.ok) << c.output;
}

INSTANTIATE_TEST_SUITE_P(Sweep, MetalSyntax, ::testing::ValuesIn(all_plan_cases()), plan_case_name);

// Vector values (f32x4 loads from float and half buffers, broadcast, extract, min/max, vector
// stores and accumulation) in the Metal dialect's spelling.
TEST(MetalSyntax, VectorValuesCompile) {
  using namespace ir;
  KernelBuilder b(std::make_shared<Context>(), "lanes", 2, 4);
  const Memory* x = b.buffer("x", 32, true);
  const Memory* h = b.buffer("h", 32, true, Type::f16);
  const Memory* y = b.buffer("y", 32, false, Type::f16);
  b.threads([&](Expr tid) {
    Expr e = b.let("e", (b.group_id() * 4 + tid) * 4);
    Expr v = b.load("v", x, e, {}, 4), w = b.load("w", h, e, lt(e, b.i32(24)), 4);
    Expr r = min(v * w, broadcast(extract(v, 2), 4)) - v;
    b.store(y, e, r);
  });
  auto k = b.finish();
  const auto d = render::Dialect::metal;
  Check c = metal_syntax_check(render::translation_unit({render::render_kernel(*k, d)}, d), "lanes");
  if (!c.ran) GTEST_SKIP() << "no clang++";
  EXPECT_TRUE(c.ok) << c.output;
}

// Each edit of a good kernel must make the check fail, naming the problem.
TEST(MetalSyntaxShim, RejectsWhatMetalRejects) {
  const std::string good = metal_program("fused", 4, 3);
  Check base = metal_syntax_check(good, "good");
  if (!base.ran) GTEST_SKIP() << "no clang++";
  ASSERT_TRUE(base.ok) << base.output;
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return pos == std::string::npos ? s : s.replace(pos, from.size(), to);
  };
  const struct {
    std::string from, to, expect;
  } cases[] = {
      {"threadgroup_barrier(mem_flags::mem_threadgroup);", "__syncthreads();", "__syncthreads"},
      {"[[buffer(0)]]", "[[bufer(0)]]", "bufer"},
      {"[[thread_position_in_threadgroup]]", "[[thread_index_in_simdgroup]]", "thread_index_in_simdgroup"},
      {"const int kb = ", "const double kb = ", "metal_has_no_double"},
      {"acc[0] = 0.0f;", "acc[0] = 0.1;", "implicit conversion"},
      {"const int kb = ", "device const float* bad = &smem[0]; const int kb = ", "address_space(3)"},
  };
  for (const auto& c : cases) {
    Check bad = metal_syntax_check(edited(c.from, c.to), "bad");
    EXPECT_FALSE(bad.ok) << c.to << " was accepted";
    EXPECT_NE(bad.output.find(c.expect), std::string::npos) << c.to << ":\n" << bad.output;
  }
}

// Issue 16's Apple budget: on the seed's layer and on vgg16.3_2 at batch 8, plans fused and
// fused-input for --target metal take tiles whose predicted registers fit 128 (and whose
// threadgroup memory fits 32 KiB), whatever F(m, 3); the sweep above checks their syntax.
TEST(MetalReport, FusedPlansFitAnAppleGpusRegisterBudget) {
  ConvDesc seed, vgg;
  seed.c = seed.k = 8, seed.h = seed.w = 32, seed.pad = Padding::all(1);
  vgg.n = 8, vgg.c = vgg.k = 256, vgg.h = vgg.w = 56, vgg.pad = Padding::all(1);
  for (const ConvDesc& d : {seed, vgg})
    for (const char* plan : {"fused", "fused-input", "auto"})
      for (int m : {2, 4, 6}) {
        Options o;
        o.plan = plan;
        o.m = m;
        const Report rep = explain(d, o, "metal");
        for (const KernelReport& k : rep.kernels) {
          EXPECT_LE(k.pred_regs, 128) << d.str() << " " << plan << " F(" << m << ",3): " << k.name;
          std::printf("[ measured ] metal %s %s F(%d,3): %s predicts %d registers\n", d.str().c_str(), plan, m,
                      k.name.c_str(), k.pred_regs);
        }
      }
}

TEST(MetalReport, ExplainGivesLinesSsaPredictedRegistersAndApplesBudget) {
  CliResult r = run_wino({"explain", "--shape", "1,8,32,32", "--k", "8", "--pad", "1", "--plan",
                          "all", "--m", "6", "--target", "metal"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("target  metal (no Metal compiler here"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("at most 128 32-bit registers per thread"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lines     ssa  pred  regs  spill"), std::string::npos) << r.out;
  // naive-fused F(6,3) predicts more than 128 registers: flagged as a spill on Apple GPUs.
  EXPECT_NE(r.out.find("over Apple's 128 per thread"), std::string::npos) << r.out;
  CliResult j = run_wino({"explain", "--shape", "1,8,32,32", "--k", "8", "--pad", "1", "--plan",
                          "fused", "--target", "metal", "--json"});
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_NE(j.out.find("\"max_regs_per_thread\": 128"), std::string::npos) << j.out;
}

}  // namespace
}  // namespace wino::testing

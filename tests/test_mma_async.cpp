// Warpgroup matrix multiplies from work-group memory (ir::StmtKind::mma_async; CUDA sm_90a wgmma):
// the interpreter computes D += A x B from the matrices' core-matrix layout (ir::SharedMatrix) for
// f16, bf16 and tf32, chained over two reduction steps, in two warpgroups at once, the first step
// adding to zeros the threads stored or writing over unset accumulators; a kernel that
// touches the accumulators or writes the matrices before the wait, reads a matrix the threads wrote
// in the same barrier interval, never waits, or whose warpgroup's threads disagree on overwriting
// fails by name; the verifier refuses malformed ones,
// other dialects refuse them, the CUDA source compiles for sm_90a, and the GPU agrees.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "cuda_only.h"
#include "cuda_skip.h"
#include "cuda_source.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "render/render.h"
#include "plans/gemm_tiles.h"
#include "runtime/cuda/nvrtc.h"

namespace wino {
namespace {

using namespace ir;

constexpr int kGroups = 2, kSteps = 2, kRows = kMmaAsyncRows;

enum class Fault {
  none, write_before_wait, copy_before_wait, read_before_wait, no_wait, no_commit, never_waited, no_barrier, starts_differ,
  overwrite_differs
};

struct Shape {
  MmaKind kind;
  int n;
  bool swizzled = false;  // B in rows of its reduction's bytes (64: two k-steps), swizzled (ir::SharedMatrix)
  bool overwrite = false;  // no zeros stored: the first step writes A x B over the accumulators
  int depth() const { return mma_depth(kind); }
  int per() const { return 16 / type_bytes(mma_storage_type(kind)); }  // elements in 16 bytes
  int reduction() const { return kSteps * depth(); }
  int64_t a_floats() const { return int64_t{kGroups} * kRows * reduction(); }
  int64_t b_floats() const { return int64_t{kGroups} * n * reduction(); }
  int64_t out_floats() const { return int64_t{kGroups} * kRows * n; }
};

// Where element (row, kk) of warpgroup g's matrix lies. A: core matrices by reduction column, then
// rows ([kk / per][row / 8][row % 8][kk % per]); B the other way round ([row / 8][kk / per]...), so
// that the two strides are tried both ways.
struct Layout {
  int64_t rows_stride, depth_stride, group;
  int64_t at(int64_t g, int64_t row, int64_t kk, int per) const {
    return g * group + row / 8 * rows_stride + kk / per * depth_stride + row % 8 * per + kk % per;
  }
};
Layout a_layout(const Shape& s) { return {8 * s.per(), int64_t{kRows} * s.per(), int64_t{kRows} * s.reduction()}; }
Layout b_layout(const Shape& s) { return {int64_t{8} * s.reduction(), s.swizzled ? 0 : 8 * s.per(), int64_t{s.n} * s.reduction()}; }
int swizzle_bytes(const Shape& s) { return s.swizzled ? s.reduction() * type_bytes(mma_storage_type(s.kind)) : 0; }

// Where B's element (row, kk) of a group lies swizzled (ir::SharedMatrix): rows of the reduction,
// each row's 16-byte units xor'ed with (row bytes / 128) % units, the xor spelled bit by bit.
Expr swizzled_at(const Shape& s, Expr row, Expr kk) {
  const int units = swizzle_bytes(s) / 16, per = s.per(), bits = units == 2 ? 1 : units == 4 ? 2 : 3;
  Expr out = xor_low_bits(kk / per, row * swizzle_bytes(s) / 128 % units, bits);
  return row * s.reduction() + out * per + kk % per;
}

// in = [A: g, row, kk][B: g, column, kk] row-major; out[g][row][column] = sum_kk A B.
std::unique_ptr<Kernel> async_kernel(const Shape& s, Fault fault) {
  KernelBuilder b(std::make_shared<Context>(), "mma_async_test", 1, kGroups * kWarpGroup);
  const Memory* in = b.buffer("in", s.a_floats() + s.b_floats(), true);
  const Memory* out = b.buffer("out", s.out_floats(), false);
  const Type stored = mma_storage_type(s.kind);
  const Memory* as = b.shared_array("as", s.a_floats(), stored);
  const Memory* bs = b.shared_array("bs", s.b_floats(), stored, false, s.swizzled ? 1024 : 16);
  const Memory* acc = b.thread_array("acc", s.n / 2);
  const Layout la = a_layout(s), lb = b_layout(s);
  const int threads = kGroups * kWarpGroup;
  auto stage = [&](Expr tid) {  // each thread stores elements tid, tid + threads, ... of both matrices
    for (int side = 0; side < 2; ++side) {
      const int rows = side ? s.n : kRows;
      const Layout& l = side ? lb : la;
      const int64_t count = int64_t{kGroups} * rows * s.reduction();
      for (int64_t i = 0; i < count / threads; ++i) {
        Expr e = b.let("e", tid + i * threads);
        Expr g = b.let("g", e / (rows * s.reduction())), row = b.let("row", e / s.reduction() % rows),
             kk = b.let("kk", e % s.reduction());
        Expr at = side && s.swizzled ? g * l.group + swizzled_at(s, row, kk)
                                     : g * l.group + row / 8 * l.rows_stride + kk / s.per() * l.depth_stride +
                                           row % 8 * s.per() + kk % s.per();
        b.store(side ? bs : as, at, b.load("x", in, e + (side ? s.a_floats() : 0)));
      }
    }
  };
  b.threads([&](Expr tid) { stage(tid); });
  if (fault != Fault::no_barrier) b.barrier();
  b.threads([&](Expr tid) {
    if (fault == Fault::no_barrier) stage(tid);
    Expr g = b.let("wg", tid / kWarpGroup);
    if (!s.overwrite && fault != Fault::overwrite_differs)
      for (int i = 0; i < s.n / 2; ++i) b.store(acc, b.i32(i), b.f32(0));
    // Overwriting: false in every thread, though not a constant (the CUDA text computes it).
    Expr first = fault == Fault::overwrite_differs ? lt(tid % 2, b.i32(1)) : s.overwrite ? lt(b.i32(kGroups), g) : Expr{};
    std::vector<int64_t> slots(static_cast<size_t>(s.n / 2));
    for (int i = 0; i < s.n / 2; ++i) slots[static_cast<size_t>(i)] = i;
    for (int step = 0; step < kSteps; ++step) {
      const int64_t along = int64_t{step} * s.depth() / s.per();  // core matrices along the reduction
      Expr bstart = g * lb.group + (s.swizzled ? b.i32(int64_t{step} * s.depth()) : b.i32(along * lb.depth_stride));
      Expr astart = g * la.group + along * la.depth_stride;
      if (fault == Fault::starts_differ) astart = astart + tid % 2 * 8;
      b.mma_async(s.kind, acc, slots, {as, astart, la.rows_stride, la.depth_stride},
                  {bs, bstart, lb.rows_stride, lb.depth_stride, swizzle_bytes(s)}, step == 0 ? first : Expr{});
    }
    if (fault == Fault::write_before_wait) b.store(as, tid, b.f32(1));
    if (fault == Fault::copy_before_wait) {  // a copy may land while the tensor cores read
      b.copy_async(bs, tid * 8, in, tid * 8, 8);
      b.copy_commit();
      b.copy_wait(0);
    }
    if (fault == Fault::read_before_wait) b.store(out, tid, b.load("early", acc, b.i32(0)));
    if (fault != Fault::no_commit) b.mma_async_commit();
    if (fault == Fault::never_waited) return;
    if (fault != Fault::no_wait) b.mma_async_wait(0);
    Expr lane = b.let("lane", tid % kWarpGroup);
    Expr row0 = b.let("r0", lane / 32 * 16 + lane % 32 / 4), col0 = b.let("c0", lane % 4 * 2);
    for (int i = 0; i < s.n / 2; ++i) {  // mma_async_c_pos
      Expr row = row0 + (i % 4 / 2) * 8, col = col0 + (i / 4) * 8 + i % 2;
      b.store(out, g * (kRows * s.n) + row * s.n + col, b.load("d", acc, b.i32(i)));
    }
  });
  return b.finish();
}

// Values every type holds exactly (multiples of 1/8 in [-1, 1]), so every sum is exact in fp32.
std::vector<float> input(const Shape& s) {
  std::vector<float> in(static_cast<size_t>(s.a_floats() + s.b_floats()));
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(static_cast<int>(i * 37 % 17) - 8) / 8;
  return in;
}

std::vector<float> expected(const Shape& s) {
  const std::vector<float> in = input(s);
  const int kk = s.reduction();
  std::vector<float> want(static_cast<size_t>(s.out_floats()));
  for (int g = 0; g < kGroups; ++g)
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < s.n; ++c) {
        double sum = 0;
        for (int k = 0; k < kk; ++k)
          sum += double{in[static_cast<size_t>((g * kRows + r) * kk + k)]} *
                 in[static_cast<size_t>(s.a_floats() + (g * s.n + c) * kk + k)];
        want[static_cast<size_t>((g * kRows + r) * s.n + c)] = static_cast<float>(sum);
      }
  return want;
}

std::string run_error(const Shape& s, Fault fault, std::vector<float>* result = nullptr) {
  std::unique_ptr<Kernel> k = async_kernel(s, fault);
  std::vector<float> in = input(s), out(static_cast<size_t>(s.out_floats()), -1);
  try {
    interp::interpret(*k, {in.data(), out.data()});
  } catch (const Error& e) {
    return e.what();
  }
  if (result) *result = out;
  return "";
}

const std::vector<Shape> kShapes = {{MmaKind::f16_m16n8k16, 32},       {MmaKind::bf16_m16n8k16, 8},
                                    {MmaKind::tf32_m16n8k8, 16},       {MmaKind::f16_m16n8k16, 16, true},
                                    {MmaKind::bf16_m16n8k16, 32, true}, {MmaKind::tf32_m16n8k8, 8, true},
                                    {MmaKind::f16_m16n8k16, 32, true, true}, {MmaKind::tf32_m16n8k8, 16, false, true}};

TEST(MmaAsync, InterpreterMultipliesEachWarpgroupsMatricesFromTheirLayout) {
  for (const Shape& s : kShapes) {
    std::unique_ptr<Kernel> k = async_kernel(s, Fault::none);
    ASSERT_TRUE(verify(*k).empty()) << verify(*k)[0];
    // The printed IR says which mma_asyncs may write over the accumulators.
    EXPECT_EQ(print(*k).find(" ? acc : 0) + A as[") != std::string::npos, s.overwrite) << print(*k);
    std::vector<float> out;
    EXPECT_EQ(run_error(s, Fault::none, &out), "") << mma_name(s.kind);
    EXPECT_EQ(out, expected(s)) << mma_name(s.kind);
  }
}

// SharedMatrix::element against addresses written out by hand: core matrices, and rows of 32, 64
// and 128 bytes whose 16-byte units are xor'ed with the row's place in its pattern of 8 rows.
TEST(MmaAsync, ElementLayoutsAreTheHardwares) {
  const SharedMatrix core{nullptr, Expr{}, 64, 512, 0};
  EXPECT_EQ(core.element(0, 9, 10, 2), 512 + 64 + 8 + 2);  // row group 1, row 1; unit 1 along k, element 2
  const SharedMatrix w32{nullptr, Expr{}, 128, 0, 32}, w64{nullptr, Expr{}, 256, 0, 64}, w128{nullptr, Expr{}, 512, 0, 128};
  // 32 bytes: row 4 starts at byte 128, pattern (128 / 128) % 2 = 1: unit 0 lies at unit 1.
  EXPECT_EQ(w32.element(0, 4, 0, 2), (128 + 16) / 2);
  EXPECT_EQ(w32.element(0, 4, 8, 2), 128 / 2);
  EXPECT_EQ(w32.element(0, 3, 8, 2), (96 + 16) / 2);  // pattern 0
  // 64 bytes: row 3 at byte 192, pattern 1; row 6 at 384, pattern 3; a k-step of 16 halves on: + 32 bytes.
  EXPECT_EQ(w64.element(0, 3, 0, 2), (192 + 16) / 2);
  EXPECT_EQ(w64.element(16, 6, 0, 2), (384 + (2 ^ 3) * 16) / 2);
  EXPECT_EQ(w64.element(0, 9, 0, 2), (512 + 64 + 0) / 2);  // the next pattern's row 1: pattern 0
  // 128 bytes of floats: row 5 at byte 640, pattern 5; element 6 is unit 1.
  EXPECT_EQ(w128.element(0, 5, 6, 4), (640 + (1 ^ 5) * 16 + 8) / 4);
}

// The plans' U and V offsets (plans::core_matrix_offset, swizzled_v_offset) lie where the matrices
// the GEMM core reads for each k-step (plans::u_async_matrix, v_async_matrix) have them.
TEST(MmaAsync, PlansStageWhereTheMatricesRead) {
  Context ctx;
  for (int cc : {16, 32}) {
    plans::GemmTiles g;
    g.bk = 64, g.bp = 32, g.cc = cc, g.mma = MmaKind::f16_m16n8k16;
    for (int s = 0; s < cc / 16; ++s) {
      const SharedMatrix u = plans::u_async_matrix(g, nullptr, ctx.i32(0), s);
      const SharedMatrix v = plans::v_async_matrix(g, nullptr, ctx.i32(0), s);
      for (int row = 0; row < 32; ++row)
        for (int kk = 0; kk < 16; ++kk) {
          const int ch = 16 * s + kk;
          const Expr vat = plans::swizzled_v_offset(ctx.i32(row), ctx.i32(ch), cc);
          ASSERT_TRUE(vat->op == Op::const_int && v.start->op == Op::const_int) << cc;
          EXPECT_EQ(vat->ival, v.element(v.start->ival, row, kk, 2)) << cc << " " << row << " " << ch;
          const Expr uat = plans::core_matrix_offset(ctx.i32(row), ctx.i32(ch), g.bk);
          EXPECT_EQ(uat->ival, u.element(u.start->ival, row, kk, 2)) << cc << " " << row << " " << ch;
        }
    }
    // The ring transforming on the tensor cores stores each point's V in core matrices of bp rows.
    plans::GemmTiles ring = g;
    ring.points = 16, ring.ppt = 4, ring.rk = 2, ring.rp = 8, ring.stages = 2, ring.region.cols = 4;
    ring.async_mma = ring.mma_transform = true;
    ASSERT_TRUE(ring.transforms_by_mma()) << ring.str();
    for (int s = 0; s < cc / 16; ++s) {
      const SharedMatrix v = plans::v_async_matrix(ring, nullptr, ctx.i32(0), s);
      EXPECT_EQ(v.swizzle, 0);
      for (int row = 0; row < 32; ++row)
        for (int kk = 0; kk < 16; ++kk) {
          const Expr vat = plans::core_matrix_offset(ctx.i32(row), ctx.i32(16 * s + kk), ring.bp);
          EXPECT_EQ(vat->ival, v.element(v.start->ival, row, kk, 2)) << cc << " " << row << " " << kk;
        }
    }
  }
}

TEST(MmaAsync, InterpreterNamesEveryMisuse) {
  const Shape s = kShapes[0];
  const std::vector<std::pair<Fault, std::string>> faults = {
      {Fault::write_before_wait, "writes shared 'as' element 0 while an mma_async that reads it is in flight"},
      {Fault::copy_before_wait, "copies to shared 'bs' element 0 while an mma_async that reads it is in flight"},
      {Fault::read_before_wait, "reads thread 'acc' element 0 while an mma_async that accumulates into it is in flight"},
      {Fault::no_wait, "reads thread 'acc' element 0 while an mma_async"},
      {Fault::no_commit, "reads thread 'acc' element 0 while an mma_async"},
      {Fault::never_waited, "an mma_async using 'as' was never retired by an mma_async_wait before the work-group ended"},
      {Fault::no_barrier, "in this barrier interval"},
      {Fault::starts_differ, "(a warpgroup's threads give one matrix)"},
      {Fault::overwrite_differs, "(a warpgroup's threads give one choice)"},
  };
  for (const auto& [fault, message] : faults) {
    const std::string error = run_error(s, fault);
    EXPECT_NE(error.find(message), std::string::npos) << static_cast<int>(fault) << ": [" << error << "]";
  }
}

TEST(MmaAsync, MalformedOnesAndOtherDialectsAreRefusedByName) {
  KernelBuilder b(std::make_shared<Context>(), "bad_mma_async", 1, 64);
  const Memory* halves = b.shared_array("halves", 4096, Type::f16);
  const Memory* floats = b.shared_array("floats", 4096);
  const Memory* acc = b.thread_array("acc", 8);
  b.threads([&](Expr) {
    b.mma_async(MmaKind::f16_m16n8k16, acc, {0, 1, 2, 3, 4, 5}, {halves, b.i32(0), 8, 4}, {floats, b.i32(0), 64, 8});
    b.mma_async(MmaKind::tf32x3_m16n8k8, acc, {0, 1, 2, 3}, {floats, b.i32(0), 32, 4}, {floats, b.i32(0), 32, 4});
  });
  const std::vector<std::string> problems = verify(*b.finish());
  auto has = [&](const std::string& what) {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(has("not whole warpgroups of 128 threads")) << problems.size();
  EXPECT_TRUE(has("mma_async's n is a multiple of 8 from 8 to 256, not 12"));
  EXPECT_TRUE(has("mma_async's A's strides must be positive multiples of 16 bytes"));
  EXPECT_TRUE(has("mma_async's B is not a f16 work-group array"));
  EXPECT_TRUE(has("not tf32x3"));
  expect_cuda_only(*async_kernel(kShapes[0], Fault::none), "no warpgroup matrix op (mma_async)");
}

TEST(MmaAsync, CudaSourceCompilesForSm90a) {
  std::string why;
  if (!cuda::nvrtc_available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  for (const Shape& s : kShapes) {
    std::unique_ptr<Kernel> k = async_kernel(s, Fault::none);
    const std::string src = cuda_translation_unit(*k);
    EXPECT_NE(src.find("wgmma.mma_async.sync.aligned.m64n" + std::to_string(s.n)), std::string::npos) << src;
    EXPECT_NE(src.find("fence.proxy.async.shared::cta"), std::string::npos) << src;
    EXPECT_EQ(src.find("\"r\"((int)(") == std::string::npos, !s.overwrite) << src;  // the scale-d operand computed
    EXPECT_TRUE(render::needs_arch_specific(*k));
    cuda::NvrtcOutput out = cuda::nvrtc_compile(src, k->name, cuda::kernel_arch("sm_90", true));
    EXPECT_FALSE(out.cubin.empty()) << out.log;
  }
  EXPECT_THROW(cuda::kernel_arch("sm_100", true), Error);
  EXPECT_EQ(cuda::kernel_arch("sm_100", false), "sm_100");
}

TEST(MmaAsync, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  for (const Shape& s : kShapes) {
    const std::vector<float> out = run_on_cuda(*async_kernel(s, Fault::none), input(s), static_cast<size_t>(s.out_floats()));
    EXPECT_EQ(out, expected(s)) << mma_name(s.kind);
  }
}

}  // namespace
}  // namespace wino

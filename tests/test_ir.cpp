#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/transform_code.h"
#include "ir/values.h"
#include "ir/verifier.h"
#include "transforms/winograd.h"

namespace wino::ir {
namespace {

TEST(IrExpr, HashConsingReturnsTheSameNode) {
  Context ctx;
  Expr x = ctx.var("x", Type::f32), y = ctx.var("y", Type::f32);
  EXPECT_EQ((x + y).node(), (x + y).node());
  EXPECT_EQ((x + y).node(), (y + x).node());  // commutative operands are ordered
  EXPECT_EQ((x * y - x).node(), (x * y - x).node());
  EXPECT_NE((x - y).node(), (y - x).node());
  EXPECT_NE(ctx.var("x", Type::f32).node(), x.node());  // variables are objects, not names
  size_t before = ctx.node_count();
  Expr again = x * y - x;
  (void)again;
  EXPECT_EQ(ctx.node_count(), before);
}

TEST(IrExpr, SharingOffMakesNewNodes) {
  Context ctx;
  ctx.set_sharing(false);
  Expr x = ctx.var("x", Type::f32), y = ctx.var("y", Type::f32);
  EXPECT_NE((x + y).node(), (x + y).node());
  EXPECT_EQ(count_distinct_ops({(x + y) * (x + y)}), 3u);
  Context shared;
  Expr a = shared.var("a", Type::f32), b = shared.var("b", Type::f32);
  EXPECT_EQ(count_distinct_ops({(a + b) * (a + b)}), 2u);
}

TEST(IrExpr, ConstantFolding) {
  Context ctx;
  EXPECT_TRUE((ctx.i32(6) * ctx.i32(7))->is_const(42));
  EXPECT_TRUE((ctx.i32(7) / ctx.i32(2))->is_const(3));
  EXPECT_TRUE((ctx.i32(7) % ctx.i32(3))->is_const(1));
  EXPECT_TRUE((ctx.f32(0.5) + ctx.f32(0.25))->is_const(0.75));
  EXPECT_TRUE(min(ctx.i32(3), ctx.i32(-2))->is_const(-2));
  Expr c = lt(ctx.i32(1), ctx.i32(2));
  EXPECT_EQ(c.type(), Type::boolean);
  EXPECT_EQ(c->ival, 1);
  EXPECT_THROW(ctx.i32(int64_t{1} << 40), Error);
}

TEST(IrExpr, AlgebraicSimplification) {
  Context ctx;
  Expr x = ctx.var("x", Type::f32), i = ctx.var("i", Type::i32);
  EXPECT_EQ((x * ctx.f32(0))->op, Op::const_float);
  EXPECT_EQ((i * 0)->op, Op::const_int);
  EXPECT_EQ((x * ctx.f32(1)).node(), x.node());
  EXPECT_EQ((x + ctx.f32(0)).node(), x.node());
  EXPECT_EQ((-(-x)).node(), x.node());
  EXPECT_EQ((x * ctx.f32(-1))->op, Op::neg);
  // c1 * (c2 * x) -> (c1 c2) * x
  Expr scaled = ctx.f32(2) * (ctx.f32(3) * x);
  EXPECT_EQ(scaled->op, Op::mul);
  EXPECT_TRUE(scaled->args[0]->is_const(6));
  EXPECT_EQ(scaled->args[1], x.node());
  // Index arithmetic.
  EXPECT_EQ(((i + 3) + 4).node(), (i + 7).node());
  EXPECT_EQ(((i + 3) - 3).node(), i.node());
  EXPECT_EQ(((i * 8) / 4).node(), (i * 2).node());
  EXPECT_TRUE(((i * 8) % 4)->is_const(0));
  EXPECT_EQ((i / 1).node(), i.node());
  EXPECT_TRUE((i % 1)->is_const(0));
  EXPECT_TRUE((i - i)->is_const(0));
  EXPECT_EQ(select(ctx.boolean(true), x, ctx.f32(2)).node(), x.node());
}

TEST(IrExpr, TypeErrorsAreRejected) {
  Context ctx;
  Expr x = ctx.var("x", Type::f32), i = ctx.var("i", Type::i32);
  EXPECT_THROW(x + i, Error);
  EXPECT_THROW(x % x, Error);
  EXPECT_THROW(select(i, x, x), Error);
}

std::unique_ptr<Kernel> small_kernel(bool break_it) {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "copy", 4, 8);
  const Memory* in = b.buffer("in", 32, true);
  const Memory* out = b.buffer("out", 32, false);
  b.threads([&](Expr tid) {
    Expr idx = b.group_id() * 8 + tid;
    Expr v = b.load("v", in, idx);
    b.store(out, break_it ? b.i32(32) : idx, v * b.f32(2));
  });
  return b.finish();
}

TEST(IrVerifier, AcceptsAWellFormedKernel) { EXPECT_TRUE(verify(*small_kernel(false)).empty()); }

// f16/bf16 are storage types: buffers of them load as f32 and store f32 values (rounded); an
// array of them, or accumulating into them, is refused.
TEST(IrVerifier, HalfBuffersLoadAndStoreFloatValuesOnly) {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "half", 1, 2);
  const Memory* in = b.buffer("in", 2, true, Type::f16);
  const Memory* out = b.buffer("out", 2, false, Type::bf16);
  b.thread_array("bad", 2, Type::f16);
  b.threads([&](Expr tid) {
    Expr v = b.load("v", in, tid);
    EXPECT_EQ(v.type(), Type::f32);
    b.store(out, tid, v * b.f32(2));
    b.accumulate(out, tid, v);
  });
  std::string all;
  for (const std::string& p : verify(*b.finish())) all += p + "\n";
  EXPECT_NE(all.find("array bad has storage type f16"), std::string::npos) << all;
  EXPECT_NE(all.find("accumulating store into bf16 memory out"), std::string::npos) << all;
  EXPECT_EQ(all.find("load type mismatch"), std::string::npos) << all;
  EXPECT_EQ(type_bytes(Type::f16), 2);
  EXPECT_EQ(type_bytes(Type::f32), 4);
}

TEST(IrVerifier, RejectsConstantIndexOutOfBounds) {
  auto problems = verify(*small_kernel(true));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("out of bounds"), std::string::npos);
  EXPECT_THROW(verify_or_throw(*small_kernel(true)), Error);
}

TEST(IrVerifier, RejectsUseBeforeDefinitionAndBadPlacement) {
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "bad", 1, 4);
  const Memory* in = b.buffer("in", 4, true);
  const Memory* out = b.buffer("out", 4, false);
  Expr undefined = ctx->var("ghost", Type::f32);
  b.threads([&](Expr tid) {
    b.store(out, tid, undefined);
    b.store(in, tid, b.f32(1));  // read-only buffer
  });
  b.barrier();
  auto k = b.finish();
  // A barrier inside a thread region and a load outside of one.
  auto inner = std::make_unique<Stmt>();
  inner->kind = StmtKind::barrier;
  k->body[0]->body.push_back(std::move(inner));
  auto outside = std::make_unique<Stmt>();
  outside->kind = StmtKind::load;
  outside->var = ctx->var("w", Type::f32);
  outside->memory = k->buffers[0].get();
  outside->index = ctx->i32(0);
  k->body.push_back(std::move(outside));
  std::string all;
  for (const std::string& p : verify(*k)) all += p + "\n";
  EXPECT_NE(all.find("'ghost' before it is defined"), std::string::npos) << all;
  EXPECT_NE(all.find("read-only"), std::string::npos) << all;
  EXPECT_NE(all.find("barrier inside a thread region"), std::string::npos) << all;
  EXPECT_NE(all.find("outside a thread region"), std::string::npos) << all;
}

TEST(IrPrinter, GoldenTextOfASmallTransform) {
  // Output transform of F(2,3): Y = AT M A on a 4x4 tile, stored to a 2x2 output.
  WinogradTransforms t = cook_toom(2, 3);
  auto ctx = std::make_shared<Context>();
  KernelBuilder b(ctx, "at_f2x3", 1, 1);
  const Memory* in = b.buffer("m", 16, true);
  const Memory* out = b.buffer("y", 4, false);
  b.threads([&](Expr) {
    std::vector<Expr> tile;
    for (int i = 0; i < 16; ++i) tile.push_back(b.load("m", in, b.i32(i)));
    std::vector<Expr> y = transform_2d(*ctx, t.AT, tile);
    for (int i = 0; i < 4; ++i) b.store(out, b.i32(i), y[i]);
  });
  auto k = b.finish();
  ASSERT_TRUE(verify(*k).empty());
  std::string text = print(*k);
  // Every AT row of F(2,3) has three nonzero +-1 entries: each output is built from shared row
  // sums, with no multiplication at all.
  EXPECT_EQ(text.find("mul("), std::string::npos) << text;
  EXPECT_NE(text.find("kernel at_f2x3 groups=1 threads=1"), std::string::npos);
  EXPECT_NE(text.find("buffer m: f32[16] read_only"), std::string::npos);
  EXPECT_NE(text.find("store y[3] = "), std::string::npos);
  // The 4 row sums of the first pass are shared between the two outputs of each row.
  ValuePlan plan = plan_values(*k);
  EXPECT_GE(plan.materialized.size(), 4u);
  // Printing twice gives the same text.
  EXPECT_EQ(text, print(*k));
}

TEST(IrTransformCode, SharedDagNeedsFewerOpsThanDenseProducts) {
  for (int m : {2, 4, 6}) {
    WinogradTransforms t = cook_toom(m, 3);
    for (const RationalMatrix* L : {&t.AT, &t.BT, &t.G}) {
      TransformOpCount c = count_transform_ops(*L);
      EXPECT_GT(c.dag_ops, 0);
      EXPECT_LT(c.dag_ops, c.dense_ops) << "m=" << m;
    }
  }
}

// Each row of a tile transformed (apply_transform), then transform_columns: L X L^T as transform_2d
// computes it, to float rounding (the warpgroup ring's exchange carries the rows transformed).
TEST(IrTransformCode, ColumnsOfTransformedRowsMakeTheWholeTransform) {
  for (auto [m, r] : std::vector<std::pair<int, int>>{{2, 3}, {3, 2}, {4, 3}}) {
    const RationalMatrix& L = cook_toom(m, r).AT;
    const int q = L.cols, p = L.rows;
    Context ctx;
    std::vector<Expr> tile, rows_done;
    for (int k = 0; k < q * q; ++k) tile.push_back(ctx.f32(0.31 * k - 2.0 + 0.02 * k * k));
    for (int i = 0; i < q; ++i) {
      const std::vector<Expr> z = apply_transform(ctx, L, std::vector<Expr>(tile.begin() + i * q, tile.begin() + (i + 1) * q));
      rows_done.insert(rows_done.end(), z.begin(), z.end());
    }
    const std::vector<Expr> want = transform_2d(ctx, L, tile), got = transform_columns(ctx, L, rows_done);
    ASSERT_EQ(got.size(), static_cast<size_t>(p * p));
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i]->op == Op::const_float && want[i]->op == Op::const_float);
      EXPECT_NEAR(got[i]->fval, want[i]->fval, 1e-5 * (std::abs(want[i]->fval) + 1)) << "F(" << m << "," << r << ") " << i;
    }
  }
  Context ctx;
  EXPECT_THROW(transform_columns(ctx, cook_toom(2, 3).AT, std::vector<Expr>(7, ctx.f32(1))), Error);
}

// apply_transform computes L x exactly as the rows' linear combinations do (constants fold in
// float: within float rounding of the exact product), never in more operations, and in fewer
// where rows share two-term sums: F(6,3)'s symmetric points (+-1, +-1/2, +-2) and F(4,3)'s and
// F(5,3)'s B^T (x3 - x1 and x4 - x2 in three rows each at F(4,3)).
TEST(IrTransformCode, SharedSumsMatchTheRowsInFewerOps) {
  for (auto [m, r] : std::vector<std::pair<int, int>>{{2, 3}, {3, 2}, {4, 3}, {5, 3}, {6, 3}}) {
    WinogradTransforms t = cook_toom(m, r);
    for (const RationalMatrix* L : {&t.AT, &t.BT, &t.G}) {
      Context ctx;
      std::vector<Expr> x, vars;
      std::vector<double> xv;
      for (int k = 0; k < L->cols; ++k) {
        xv.push_back(0.37 * k - 1.1 + 0.05 * k * k);
        x.push_back(ctx.f32(xv.back()));
        vars.push_back(ctx.var("x", Type::f32));
      }
      const std::vector<Expr> y = apply_transform(ctx, *L, x);
      ASSERT_EQ(static_cast<int>(y.size()), L->rows);
      for (int i = 0; i < L->rows; ++i) {
        double want = 0, scale = 0;
        for (int k = 0; k < L->cols; ++k) want += L->at(i, k).to_double() * xv[k], scale += std::abs(L->at(i, k).to_double() * xv[k]);
        ASSERT_TRUE(y[i]->op == Op::const_float) << "F(" << m << "," << r << ") row " << i;
        EXPECT_NEAR(y[i]->fval, want, 1e-6 * (scale + 1)) << "F(" << m << "," << r << ") row " << i;
      }
      std::vector<Expr> rows;
      for (int i = 0; i < L->rows; ++i) rows.push_back(linear_combination(ctx, *L, i, vars));
      const size_t paired = count_distinct_ops(apply_transform(ctx, *L, vars)), plain = count_distinct_ops(rows);
      const bool shares = m == 6 || (L == &t.BT && (m == 4 || m == 5));
      if (shares) EXPECT_LT(paired, plain) << "F(" << m << "," << r << ")";
      else EXPECT_LE(paired, plain) << "F(" << m << "," << r << ")";
    }
  }
}

}  // namespace
}  // namespace wino::ir

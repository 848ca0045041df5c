// Work-group arrays that reuse the others' bytes (Memory::reuses): CUDA places them at the start
// of the one block of work-group memory, over the others, and the kernel takes the larger of the
// two; the interpreter refuses both kinds between two barriers and a read of data the other kind
// overwrote; the CPU's C (arrays of their own) and the GPU agree with it. A kept array
// (Memory::kept) lies past both and outlives the switch.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "cuda_skip.h"
#include "device_run.h"
#include "interp/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "render/render.h"

namespace wino {
namespace {

using namespace ir;

enum class Reuse { ok, same_phase, stale_read };

// Two work-groups of 4 threads, y[4 g + t] = 9 x[4 g + t]: `a` (8 floats) takes x and 2 x; after
// a barrier y = a[3 - t] + a[7 - t]; after another, `r` (12 floats, over `a`) takes 3 y; after a
// third, y = r[3 - t]. same_phase drops the second barrier; stale_read reads `a` at the end.
std::unique_ptr<Kernel> reuse_kernel(Reuse mode) {
  KernelBuilder b(std::make_shared<Context>(), "reuse", 2, 4);
  const Memory* x = b.buffer("x", 8, true);
  const Memory* y = b.buffer("y", 8, false);
  const Memory* a = b.shared_array("a", 8);
  const Memory* r = b.shared_array("r", 12, Type::f32, true);
  b.threads([&](Expr t) {
    Expr v = b.let("v", b.load("v", x, b.group_id() * 4 + t));
    b.store(a, t, v);
    b.store(a, t + 4, v * b.f32(2));
  });
  b.barrier();
  b.threads([&](Expr t) { b.store(y, b.group_id() * 4 + t, b.load("p", a, b.i32(3) - t) + b.load("q", a, b.i32(7) - t)); });
  if (mode != Reuse::same_phase) b.barrier();
  b.threads([&](Expr t) { b.store(r, t, b.load("w", y, b.group_id() * 4 + t) * b.f32(3)); });
  b.barrier();
  const Memory* last = mode == Reuse::stale_read ? a : r;
  b.threads([&](Expr t) { b.store(y, b.group_id() * 4 + t, b.load("z", last, b.i32(3) - t)); });
  return b.finish();
}

std::vector<float> input() { return {1, -2, 3.5f, 4, 0.25f, -6, 7, 8}; }

// What the interpreter refuses in `kernel` run on input() into `outputs` floats ("": nothing).
std::string interpreter_error(const Kernel& kernel, size_t outputs) {
  std::vector<float> x = input(), y(outputs, -1);
  try {
    interp::interpret(kernel, {x.data(), y.data()});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SharedReuse, CudaPlacesTheArrayOverTheOthers) {
  std::unique_ptr<Kernel> k = reuse_kernel(Reuse::ok);
  EXPECT_EQ(shared_array_bytes(*k), 48);  // the larger: 12 floats, not 8 + 12
  EXPECT_EQ(shared_array_offsets(*k), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(render::dynamic_shared_bytes(*k, render::Dialect::cuda), 48) << "one block, however small";
  const std::string src = render::render_kernel(*k, render::Dialect::cuda);
  EXPECT_NE(src.find("float* a = reinterpret_cast<float*>(wino_shared_ + 0);"), std::string::npos) << src;
  EXPECT_NE(src.find("float* r = reinterpret_cast<float*>(wino_shared_ + 0);"), std::string::npos) << src;
  EXPECT_EQ(render::dynamic_shared_bytes(*k, render::Dialect::c), 0) << "C: arrays of their own";
}

TEST(SharedReuse, InterpreterComputesWhatTheKernelSays) {
  std::vector<float> x = input(), y(8, -1);
  interp::interpret(*reuse_kernel(Reuse::ok), {x.data(), y.data()});
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], 9 * x[i]) << i;
  EXPECT_EQ(run_on_device(Device::cpu(), *reuse_kernel(Reuse::ok), x, 8), y);
}

TEST(SharedReuse, InterpreterRefusesBothKindsBetweenTwoBarriers) {
  const std::string what = interpreter_error(*reuse_kernel(Reuse::same_phase), 8);
  EXPECT_NE(what.find("uses work-group array 'r' and 'a', whose bytes one of them reuses, with no barrier between"),
            std::string::npos)
      << what;
}

TEST(SharedReuse, InterpreterRefusesAReadOfOverwrittenData) {
  const std::string what = interpreter_error(*reuse_kernel(Reuse::stale_read), 8);
  EXPECT_NE(what.find("reads shared 'a' element 3 that nothing wrote (an uninitialized read)"), std::string::npos) << what;
}

// A kept array (Memory::kept) lies past both kinds, before the barriers: its data outlive the
// switch to the reusing array, and it may be used in the same phase as either kind.
TEST(SharedReuse, KeptArrayOutlivesTheReusingPhase) {
  KernelBuilder b(std::make_shared<Context>(), "kept", 1, 4);
  const Memory* x = b.buffer("x", 4, true);
  const Memory* y = b.buffer("y", 4, false);
  const Memory* a = b.shared_array("a", 8);  // written and never read: it takes the bytes r reuses
  const Memory* k = b.kept_shared_array("k", 4, Type::f32);
  const Memory* r = b.shared_array("r", 12, Type::f32, true);
  b.barrier_array("bars", 1);
  b.threads([&](Expr t) {
    Expr v = b.let("v", b.load("v", x, t));
    b.store(a, t, v);
    b.store(k, t, v * b.f32(5));
  });
  b.barrier();
  b.threads([&](Expr t) { b.store(r, t, b.load("q", k, t) * b.f32(2)); });
  b.barrier();
  b.threads([&](Expr t) { b.store(y, t, b.load("z", r, b.i32(3) - t) + b.load("w", k, t)); });
  std::unique_ptr<Kernel> kernel = b.finish();
  EXPECT_TRUE(verify(*kernel).empty());
  // a at 0 (32 bytes), r over it (48), k past both, the barriers past k.
  EXPECT_EQ(shared_array_offsets(*kernel), (std::vector<int64_t>{0, 48, 0, 64}));
  EXPECT_NE(render::render_kernel(*kernel, render::Dialect::cuda).find("float* k = reinterpret_cast<float*>(wino_shared_ + 48);"),
            std::string::npos);
  std::vector<float> in = input(), out(4, -1);
  interp::interpret(*kernel, {in.data(), out.data()});
  for (int t = 0; t < 4; ++t) EXPECT_EQ(out[t], 10 * in[3 - t] + 5 * in[t]) << t;
}

// An array that the reusing one lies over in part (`a`: 8 floats, `r`: 4): its elements past r's
// bytes keep their data through r's phase, and a copy into them may land during it; those under r
// are gone. `b`, wholly past r, is of neither kind: r's phase may use it. Modes: read_under reads
// a[1] after r's phase (refused); land_under copies into a[0..3] and lets that land in r's phase
// (refused: the copy could land on r's data).
enum class Under { ok, read_under, land_under };
std::unique_ptr<Kernel> partly_under_kernel(Under mode) {
  KernelBuilder b(std::make_shared<Context>(), "partly_under", 1, 4);
  const Memory* x = b.buffer("x", 8, true);
  const Memory* y = b.buffer("y", 4, false);
  const Memory* a = b.shared_array("a", 8);
  const Memory* past = b.shared_array("b", 4);
  const Memory* r = b.shared_array("r", 4, Type::f32, true);
  b.threads([&](Expr t) {
    b.store(a, t, b.load("v", x, t));
    b.copy_async(a, mode == Under::land_under ? t : t + 4, x, t + 4, 1);  // lands during r's phase
    b.copy_commit();
  });
  b.barrier();
  b.threads([&](Expr t) {
    b.store(r, t, b.load("w", x, t) * b.f32(3));
    b.store(past, t, b.load("u", x, t) * b.f32(2));
    b.copy_wait(0);
  });
  b.barrier();
  b.threads([&](Expr t) {
    Expr under = b.load("z", a, mode == Under::read_under ? b.i32(1) : b.i32(7) - t);
    b.store(y, t, under + b.load("q", past, t));
  });
  return b.finish();
}

TEST(SharedReuse, ArrayPartlyUnderTheReusingOneKeepsTheRest) {
  std::unique_ptr<Kernel> k = partly_under_kernel(Under::ok);
  EXPECT_EQ(shared_array_offsets(*k), (std::vector<int64_t>{0, 32, 0}));  // b past r's 16 bytes
  std::vector<float> xs = input(), ys(4, -1);
  interp::interpret(*k, {xs.data(), ys.data()});
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ys[t], xs[7 - t] + 2 * xs[t]) << t;
  const std::string stale = interpreter_error(*partly_under_kernel(Under::read_under), 4);
  EXPECT_NE(stale.find("reads shared 'a' element 1 that nothing wrote (an uninitialized read)"), std::string::npos)
      << stale;
  const std::string landing = interpreter_error(*partly_under_kernel(Under::land_under), 4);
  EXPECT_NE(landing.find("reuses the bytes of shared 'a' element 0 while an asynchronous copy into it is in flight"),
            std::string::npos)
      << landing;
}

// A copy into `a` still in flight when `r`, over it, is written: the copy could land on r's data.
TEST(SharedReuse, InterpreterRefusesACopyInFlightUnderTheReusingArray) {
  KernelBuilder b(std::make_shared<Context>(), "reuse_in_flight", 1, 4);
  const Memory* x = b.buffer("x", 8, true);
  const Memory* y = b.buffer("y", 4, false);
  const Memory* a = b.shared_array("a", 4);
  const Memory* r = b.shared_array("r", 4, Type::f32, true);
  b.threads([&](Expr t) {
    b.copy_async(a, t, x, t, 1);
    b.copy_commit();
  });
  b.barrier();
  b.threads([&](Expr t) { b.store(r, t, b.load("v", x, t + 4)); });
  b.barrier();
  b.threads([&](Expr t) {
    b.copy_wait(0);
    b.store(y, t, b.load("w", r, t));
  });
  std::vector<float> xs = input(), ys(4, -1);
  std::string what;
  try {
    interp::interpret(*b.finish(), {xs.data(), ys.data()});
  } catch (const Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("reuses the bytes of shared 'a' element 0 while an asynchronous copy into it is in flight"),
            std::string::npos)
      << what;
}

TEST(SharedReuse, VerifierRefusesTwoReusingArrays) {
  KernelBuilder b(std::make_shared<Context>(), "two_reusing", 1, 4);
  const Memory* y = b.buffer("y", 4, false);
  const Memory* r = b.shared_array("r", 4, Type::f32, true);
  const Memory* s = b.shared_array("s", 4, Type::f32, true);
  b.threads([&](Expr t) { b.store(r, t, b.f32(1)); });
  b.barrier();
  b.threads([&](Expr t) { b.store(s, t, b.load("v", r, t)); });
  b.barrier();
  b.threads([&](Expr t) { b.store(y, t, b.load("w", s, t)); });
  std::string what;
  for (const std::string& p : ir::verify(*b.finish())) what += p + "\n";
  EXPECT_NE(what.find("more than one work-group array reuses memory"), std::string::npos) << what;
  EXPECT_TRUE(ir::verify(*reuse_kernel(Reuse::ok)).empty());
}

TEST(SharedReuse, GpuAgreesWithTheInterpreter) {
  SKIP_WITHOUT_CUDA();
  std::vector<float> x = input(), want(8, -1);
  interp::interpret(*reuse_kernel(Reuse::ok), {x.data(), want.data()});
  EXPECT_EQ(run_on_cuda(*reuse_kernel(Reuse::ok), x, 8), want);
  // The part of `a` past the reusing array keeps its data on the GPU too.
  std::vector<float> partly(4, -1);
  interp::interpret(*partly_under_kernel(Under::ok), {x.data(), partly.data()});
  EXPECT_EQ(run_on_cuda(*partly_under_kernel(Under::ok), x, 4), partly);
}

}  // namespace
}  // namespace wino

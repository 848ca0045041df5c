#include "render/wgmma.h"

#include <algorithm>
#include <functional>

#include "ir/mma.h"
#include "render/render.h"

namespace wino::render {

using namespace ir;

namespace {
void each_stmt(const Block& b, const std::function<void(const Stmt&)>& f) {
  for (const StmtPtr& s : b) {
    f(*s);
    each_stmt(s->body, f);
  }
}
}  // namespace

bool needs_arch_specific(const Kernel& kernel) {
  bool found = false;
  each_stmt(kernel.body, [&](const Stmt& s) {
    found = found || s.kind == StmtKind::mma_async || (s.kind == StmtKind::roles && s.role_registers[0] != 0);
  });
  return found;
}

AsyncOperands AsyncOperands::of(const Kernel& k) {
  AsyncOperands o;
  each_stmt(k.body, [&](const Stmt& s) {
    if (s.kind == StmtKind::mma_async)
      for (const SharedMatrix& m : s.matrices) o.arrays.insert(m.memory);
  });
  each_stmt(k.body, [&](const Stmt& s) { o.copied = o.copied || (s.kind == StmtKind::copy_async && o.arrays.count(s.memory)); });
  return o;
}

bool AsyncOperands::written_by(const Block& region) const {
  return !arrays.empty() && std::any_of(region.begin(), region.end(), [&](const StmtPtr& s) {
    return (s->kind == StmtKind::store && arrays.count(s->memory)) || (s->kind == StmtKind::copy_wait && copied) ||
           written_by(s->body);
  });
}

int wgmma_swizzle_mode(int swizzle_bytes) {
  return swizzle_bytes == 128 ? 1 : swizzle_bytes == 64 ? 2 : swizzle_bytes == 32 ? 3 : 0;
}

std::vector<std::string> wgmma_lines(const Stmt& s, const std::string& adesc, const std::string& bdesc,
                                     const std::string& acc, const std::string& accumulate) {
  const std::string type = mma_operand_name(s.mma);
  const size_t regs = s.slots.size();
  std::string regs_text;
  for (size_t i = 0; i < regs; ++i) regs_text += (i ? ",%" : "%") + std::to_string(i);
  const std::string op = "wgmma.mma_async.sync.aligned.m64n" + std::to_string(s.extent) + "k" +
                         std::to_string(mma_depth(s.mma)) + ".f32." + type + "." + type;
  std::string outs;
  for (size_t i = 0; i < regs; ++i) outs += std::string(i ? ", " : "") + "\"+f\"(" + acc + "[" + std::to_string(s.slots[i]) + "])";
  return {"asm volatile(\"{.reg .pred p; setp.ne.b32 p, %" + std::to_string(regs + 2) + ", 0; " + op + " {" + regs_text +
              "}, %" + std::to_string(regs) + ", %" + std::to_string(regs + 1) + ", p, 1, 1" +
              (mma_is_tf32(s.mma) ? "" : ", 0, 0") + ";}\"",
          "    : " + outs, "    : \"l\"(" + adesc + "), \"l\"(" + bdesc + "), \"r\"(" + accumulate + ") : \"memory\");"};
}

}  // namespace wino::render

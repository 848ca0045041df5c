#include "render/kernel_scan.h"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "ir/mma.h"

namespace wino::render {

using namespace ir;

std::unordered_map<const Node*, const Memory*> raw_half_values(const Block& body) {
  std::unordered_map<const Node*, const Memory*> raw;
  std::unordered_set<const Node*> operands;
  std::function<void(const Block&)> mmas = [&](const Block& b) {
    for (const StmtPtr& s : b) {
      if (s->kind == StmtKind::mma && !mma_is_tf32(s->mma))
        for (size_t i = 0; i < s->args.size(); ++i)
          if (s->operands_rounded[mma_side(s->mma, i)]) operands.insert(s->args[i].node());
      mmas(s->body);
    }
  };
  std::function<void(const Block&)> loads = [&](const Block& b) {
    for (const StmtPtr& s : b) {
      if (s->kind == StmtKind::load_matrix)  // always bits: any use as a float widens them
        for (Expr v : s->vars) raw[v.node()] = s->memory;
      // (only loads from half memory hold bits; the verifier refuses a promise on any other)
      if (s->kind == StmtKind::load && operands.count(s->var.node()) && value_type(s->memory->type) != s->memory->type)
        raw[s->var.node()] = s->memory;
      loads(s->body);
    }
  };
  mmas(body);
  loads(body);
  return raw;
}

std::unordered_map<const Node*, std::vector<const Memory*>> shared_bases(const Block& body) {
  std::unordered_map<const Node*, std::vector<const Memory*>> bases;
  std::unordered_set<const Node*> lets;
  std::function<void(const Block&)> walk = [&](const Block& b) {
    for (const StmtPtr& s : b) {
      if (s->kind == StmtKind::let) lets.insert(s->var.node());
      const bool access = s->kind == StmtKind::load || s->kind == StmtKind::store || s->kind == StmtKind::copy_async;
      if (access && s->memory->space == Space::shared) {
        const Node* n = s->index.node();
        if (n->op == Op::add && n->type == Type::i32)
          for (int side : {0, 1})
            if (n->args[side]->op == Op::const_int && lets.count(n->args[1 - side])) {
              std::vector<const Memory*>& ms = bases[n->args[1 - side]];
              if (std::find(ms.begin(), ms.end(), s->memory) == ms.end()) ms.push_back(s->memory);
            }
      }
      walk(s->body);
    }
  };
  walk(body);
  return bases;
}

}  // namespace wino::render

// Expressions: uniform nodes one value at a time (ueval), varying nodes one value per active lane
// (veval), both memoized (see machine.h); and the mask stack that decides the active lanes.
#include <cmath>

#include "interp/machine.h"
#include "interp/ops.h"

namespace wino::interp::detail {

using namespace ir;

namespace {

bool fits_i32(double v) { return v >= kMin32 && v <= kMax32; }

}  // namespace

// ---- masks ----

void Mask::finish() {
  dense = !lanes.empty() && size_t{lanes.back()} - lanes.front() + 1 == lanes.size();
  lo = lanes.empty() ? 0 : lanes.front();
  hi = lanes.empty() ? 0 : lanes.back() + 1;
}

void Mask::set_dense(int l, int h) {
  lanes.clear();
  for (int i = l; i < h; ++i) lanes.push_back(static_cast<uint32_t>(i));
  finish();
}

Mask& Machine::next_mask() {
  if (depth_ + 1 >= static_cast<int>(masks_.size())) masks_.emplace_back();
  return masks_[depth_ + 1];
}

int Machine::narrow(const Node* cond) {
  if (!slots_[cond->id].varying) return ueval(cond) != 0 ? kAll : kNone;
  const double* c = veval(cond);
  Mask& next = next_mask();
  next.lanes.clear();
  each(top(), [&](int l) {
    if (c[l] != 0) next.lanes.push_back(static_cast<uint32_t>(l));
  });
  if (next.lanes.empty()) return kNone;
  if (next.lanes.size() == top().lanes.size()) return kAll;
  next.finish();
  return kSome;
}

void Machine::enter(int how) {
  if (how == kAll) {
    ++masks_[depth_].same;
    return;
  }
  ++depth_;
  masks_[depth_].id = ++next_mask_id_;
  masks_[depth_].same = 0;
}

void Machine::leave() {
  if (masks_[depth_].same > 0) --masks_[depth_].same;
  else --depth_;
}

// ---- uniform nodes ----

double Machine::ueval(const Node* n) {
  Slot& s = slots_[n->id];
  if (s.time >= vtime_[s.key]) return s.value;  // leaves are always current
  const double v = ucompute(n);
  s.value = v;
  s.time = clock_;
  return v;
}

double Machine::cast(const Node* n, double a, int lane) const {
  const Type from = n->args[0]->type;
  if (n->type == Type::boolean) return a != 0;
  if (n->type == Type::f32) return static_cast<float>(a);
  if (from == Type::f32 && (!std::isfinite(a) || !fits_i32(std::trunc(a))))
    fail_at(lane, "cast of " + std::to_string(a) + " to i32 is out of range");
  return std::trunc(a);
}

void Machine::overflow(const Node* n, int64_t v, int lane) const {
  fail_at(lane, std::string("32-bit overflow in ") + op_name(n->op) + ": " + std::to_string(v));
}

double Machine::ucompute(const Node* n) {
  if (n->op == Op::select) return ueval(n->args[0]) != 0 ? ueval(n->args[1]) : ueval(n->args[2]);
  const OneLane one{current_lane()};
  double a = ueval(n->args[0]);
  if (is_unary(n->op)) {
    unary_op(n, &a, &a, one);
    return a;
  }
  const double b = ueval(n->args[1]);
  double out = 0;
  binary_op(n, &out, Same{a}, Same{b}, one);
  return out;
}

// ---- varying nodes ----

const double* Machine::veval(const Node* n) {
  Slot& s = slots_[n->id];
  if (s.time >= vtime_[s.key] && alive(s)) return s.lanes;  // variables are always current
  vcompute(n, node_lanes(s, n->id));
  s.time = clock_;
  s.mask = top().id;
  s.depth = static_cast<uint32_t>(depth_);
  return s.lanes;
}

const double* Machine::spread(double v, double* scratch) const {
  each(top(), [&](int l) { scratch[l] = v; });
  return scratch;
}

void Machine::vcompute(const Node* n, double* out) {
  if (n->op == Op::select) return vselect(n, out);
  if (slots_[n->id].width > 1 || n->op == Op::extract) return vvector(n, out);
  const MaskLanes lanes{top()};
  if (is_unary(n->op)) return unary_op(n, out, veval(n->args[0]), lanes);  // varying operand
  const Node* x = n->args[0];  // both operands, in order
  const Node* y = n->args[1];
  const bool xv = slots_[x->id].varying, yv = slots_[y->id].varying;
  const double* a = xv ? veval(x) : nullptr;
  const double as = xv ? 0 : ueval(x);
  const double* b = yv ? veval(y) : nullptr;
  const double bs = yv ? 0 : ueval(y);
  if (xv && yv) binary_op(n, out, PerLane{a}, PerLane{b}, lanes);
  else if (xv) binary_op(n, out, PerLane{a}, Same{bs}, lanes);
  else binary_op(n, out, Same{as}, PerLane{b}, lanes);
}

void Machine::vselect(const Node* n, double* out) {
  const Node* cond = n->args[0];
  if (!slots_[cond->id].varying) return vbranch(ueval(cond) != 0 ? n->args[1] : n->args[2], out);
  const double* c = veval(cond);
  size_t taken = 0;
  each(top(), [&](int l) { taken += c[l] != 0; });
  if (taken == top().lanes.size()) return vbranch(n->args[1], out);
  if (taken == 0) return vbranch(n->args[2], out);
  for (const bool pick : {true, false}) {  // each branch on the lanes that choose it
    Mask& next = next_mask();
    next.lanes.clear();
    each(top(), [&](int l) {
      if ((c[l] != 0) == pick) next.lanes.push_back(static_cast<uint32_t>(l));
    });
    next.finish();
    enter(kSome);
    vbranch(n->args[pick ? 1 : 2], out);
    leave();
  }
}

void Machine::vvector(const Node* n, double* out) {
  const MaskLanes lanes{top()};
  const Node* x = n->args[0];
  if (n->op == Op::broadcast) {  // a scalar operand
    const double* a = slots_[x->id].varying ? veval(x) : spread(ueval(x), scratch_.data());
    for (int i = 0; i < slots_[n->id].width; ++i) each(top(), [&](int l) { out[i * threads_ + l] = a[l]; });
    return;
  }
  const double* a = veval(x);  // a vector: varying
  if (n->op == Op::extract || n->op == Op::slice) {  // lanes from ival on
    for (int i = 0; i < slots_[n->id].width; ++i) {
      const double* e = a + (n->ival + i) * threads_;
      each(top(), [&](int l) { out[i * threads_ + l] = e[l]; });
    }
    return;
  }
  const double* b = n->nargs > 1 ? veval(n->args[1]) : nullptr;  // vector arithmetic: same types
  if (n->op == Op::interleave) {
    const int width = slots_[n->id].width;
    for (int i = 0; i < width; ++i) {
      const int from = ir::interleave_lane(width, n->ival, i);
      const double* src = from < width ? a + from * threads_ : b + (from - width) * threads_;
      each(top(), [&](int l) { out[i * threads_ + l] = src[l]; });
    }
    return;
  }
  for (int i = 0; i < slots_[n->id].width * threads_; i += threads_) {
    if (b) binary_op(n, out + i, PerLane{a + i}, PerLane{b + i}, lanes);
    else unary_op(n, out + i, a + i, lanes);
  }
}

void Machine::vbranch(const Node* branch, double* out) {
  if (slots_[branch->id].varying) {
    const double* v = veval(branch);
    each(top(), [&](int l) { out[l] = v[l]; });
    return;
  }
  const double v = ueval(branch);
  each(top(), [&](int l) { out[l] = v; });
}

}  // namespace wino::interp::detail

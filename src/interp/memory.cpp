// The memories of a kernel and the strictness of every access: bounds, uninitialized reads of
// work-group and per-thread arrays, races on work-group arrays, stores to read-only buffers.
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/half.h"
#include "interp/machine.h"

namespace wino::interp::detail {

using namespace ir;

namespace {

constexpr size_t kKeptChunks = 96;  // 24 MiB of lane storage kept by a thread between launches
thread_local Workspace workspace;

}  // namespace

Machine::Machine(const Kernel& k, const std::vector<void*>& buffers)
    : k_(k), threads_(k.threads_per_group) {
  if (buffers.size() != k.buffers.size())
    throw Error("interpreter: kernel " + k.name + " takes " + std::to_string(k.buffers.size()) +
                " buffers, got " + std::to_string(buffers.size()));
  cells_.reserve(k.buffers.size() + k.arrays.size());  // stable addresses for cell_of()
  find_roles(k.body);
  for (size_t i = 0; i < buffers.size(); ++i) {
    Cells& c = cells_.emplace_back();
    c.mem = k.buffers[i].get();
    integral_ = integral_ && is_f32(value_type(c.mem->type));
    c.size = c.mem->size;
    if (value_type(c.mem->type) != c.mem->type) c.bits = static_cast<uint16_t*>(buffers[i]);
    else c.data = static_cast<float*>(buffers[i]);
  }
  for (const auto& a : k.arrays) {
    Cells& c = cells_.emplace_back();
    c.mem = a.get();
    integral_ = integral_ && is_f32(value_type(c.mem->type));
    c.size = a->size;
    const int64_t copies = a->space == Space::per_thread ? k.threads_per_group : 1;
    c.storage.assign(static_cast<size_t>(copies * a->size), std::nanf(""));
    c.data = c.storage.data();
    if (a->space == Space::shared) {
      c.track.assign(c.storage.size(), Cells::Track{});
      if (roles_) c.sync.assign(c.storage.size(), Cells::Sync{});
    } else {
      c.written.assign(c.storage.size(), 0);
    }
    reuse_ = reuse_ || a->reuses;
  }
  if (reuse_) mark_overlaps(k);
  const size_t lanes = static_cast<size_t>(std::max(threads_, 1));
  scratch_.assign(lanes, 0);
  elements_.assign(lanes, 0);
  masks_.resize(8);
  spare_ = std::move(workspace.chunks);
  slots_ = std::move(workspace.slots);
  vtime_ = std::move(workspace.vtime);
}

void Machine::fail_at(int lane, const std::string& what) const {
  std::string where = "kernel " + k_.name + ", work-group " + std::to_string(group_);
  if (lane >= 0) where += ", thread " + std::to_string(lane);
  throw Error("interpreter: " + where + ": " + what);
}

Machine::~Machine() {
  var_arena_.release();
  node_arena_.release();
  if (spare_.size() > kKeptChunks) spare_.resize(kKeptChunks);
  workspace.chunks = std::move(spare_);
  workspace.slots = std::move(slots_);
  workspace.vtime = std::move(vtime_);
}

void Machine::flush() {
  for (const uint32_t id : owners_) {
    Slot& s = slots_[id];
    s.lanes = nullptr, s.cap = 0, s.time = 0;
  }
  owners_.clear();
  node_arena_.rewind();
}

Cells& Machine::cell_of(const Memory* m) {
  for (Cells& c : cells_)
    if (c.mem == m) {
      if (reuse_ && m->space == Space::shared) use_kind(c);
      return c;
    }
  fail("uses memory '" + m->name + "' that is not the kernel's");
}

void Machine::mark_overlaps(const Kernel& k) {
  const std::vector<int64_t> at = shared_array_offsets(k);
  int64_t reused = 0, others = 0;  // bytes from 0 the reusing array takes, and the others' end
  for (size_t i = 0; i < k.arrays.size(); ++i) {
    const Memory& a = *k.arrays[i];
    if (a.space != Space::shared || a.kept || a.barriers) continue;
    int64_t& end = a.reuses ? reused : others;
    end = std::max(end, at[i] + aligned_shared_bytes(a));
  }
  for (size_t i = 0; i < k.arrays.size(); ++i) {
    Cells& c = cells_[k.buffers.size() + i];  // (the arrays' cells follow the buffers', in order)
    if (c.mem->space != Space::shared || c.mem->kept || c.mem->barriers) continue;
    const int64_t bytes = type_bytes(c.mem->type), under = (c.mem->reuses ? others : reused) - at[i];
    c.overlapped = std::clamp<int64_t>((under + bytes - 1) / bytes, 0, c.size);
  }
}

void Machine::use_kind(const Cells& c, int64_t element) {
  // Nothing of the array lies under the other kind's bytes, or the landing element lies past them.
  const bool past = element >= 0 ? element >= c.overlapped : c.overlapped == 0;
  if (c.mem->barriers || c.mem->kept || past) return;
  const int kind = c.mem->reuses ? 1 : 0;
  kind_phase_[kind] = phase_;
  if (kind_ == kind) return;
  for (Cells& o : cells_) {
    if (o.mem->space != Space::shared || o.mem->reuses == c.mem->reuses || o.overlapped == 0) continue;
    if (kind_phase_[1 - kind] == phase_)
      fail("uses work-group array '" + c.mem->name + "' and '" + o.mem->name +
           "', whose bytes one of them reuses, with no barrier between");
    for (int64_t e = 0; e < o.overlapped; ++e) {  // (the elements past the other kind's bytes keep their data)
      if (o.landing(e)) in_flight(current_lane(), o, e, "reuses the bytes of");
      if (o.async_use(e)) async_in_use(current_lane(), o, e, "reuses the bytes of");
      o.track[e].write_phase = 0;  // its data are gone: a read before a write is uninitialized
    }
  }
  kind_ = kind;
}

/// The flat element index of `mem[index]` for thread `lane`, checked.
int64_t Machine::element(const Cells& c, double index, const char* what, int lane) const {
  if (!(index >= 0 && index < static_cast<double>(c.size)))
    fail_at(lane, std::string(what) + " " + space_name(c.mem->space) + " '" + c.mem->name + "' at index " +
                      std::to_string(static_cast<int64_t>(index)) + ", outside [0, " +
                      std::to_string(c.size) + ")");
  if (c.mem->space == Space::per_thread) {
    if (lane < 0) fail_at(lane, "per-thread array '" + c.mem->name + "' used outside a thread region");
    return static_cast<int64_t>(index) * threads_ + lane;
  }
  return static_cast<int64_t>(index);
}

void Machine::race(int lane, const Cells& c, int64_t e, const char* verb, const std::string& other) const {
  fail_at(lane, std::string(verb) + " shared '" + c.mem->name + "' element " + std::to_string(e) + " " + other +
                    (roles_ ? " with no barrier between, nor a later arrival of it on a barrier phase this thread waited for (a race)"
                            : " with no barrier between (a race)"));
}

void Machine::in_flight(int lane, const Cells& c, int64_t e, const char* verb) const {
  fail_at(lane, std::string(verb) + " shared '" + c.mem->name + "' element " + std::to_string(e) +
                    " while an asynchronous copy into it is in flight (wait for it first: copy_wait and a barrier, or "
                    "mbarrier_wait)");
}

float Machine::read(Cells& c, int64_t e, int lane) {
  if (c.bits) return c.mem->type == Type::f16 ? f16_to_float(c.bits[e]) : bf16_to_float(c.bits[e]);
  if (c.mem->space == Space::global) return c.data[e];
  if (c.landing(e)) in_flight(lane, c, e, "reads");
  if (c.mem->space == Space::per_thread && c.async_use(e)) async_in_use(lane, c, e, "reads");
  if (!written(c, e)) {
    const int64_t i = c.mem->space == Space::per_thread ? e / threads_ : e;  // in the thread's copy
    fail_at(lane, "reads " + std::string(space_name(c.mem->space)) + " '" + c.mem->name + "' element " +
                      std::to_string(i) + " that nothing wrote (an uninitialized read)");
  }
  if (c.mem->space == Space::shared) {
    Cells::Track& t = c.track[e];
    if (written_by_other(t, phase_, lane) && !landed_for(c, e, lane) && !write_published(c, e, lane))
      race(lane, c, e, "reads", writer_name(t));
    note_read(c, e, lane);
  }
  return c.data[e];
}

namespace {

// What an f16 or bf16 work-group array keeps of a float (global half buffers keep the bits).
float as_stored(const Memory& m, float v) {
  if (m.type == Type::f16) return round_to_f16(v);
  if (m.type == Type::bf16) return round_to_bf16(v);
  return v;
}

}  // namespace

void Machine::write(Cells& c, int64_t e, float v, int lane) {
  if (c.mem->space == Space::global) {
    if (c.mem->read_only) fail_at(lane, "stores to read-only buffer '" + c.mem->name + "'");
    if (c.bits) c.bits[e] = c.mem->type == Type::f16 ? float_to_f16(v) : float_to_bf16(v);
    else c.data[e] = v;
    return;
  }
  if (c.async_use(e)) async_in_use(lane, c, e, "writes");
  if (c.mem->space == Space::shared) {
    if (c.landing(e)) in_flight(lane, c, e, "writes");
    Cells::Track& t = c.track[e];
    if (written_by_other(t, phase_, lane) && !landed_for(c, e, lane) && !write_published(c, e, lane))
      race(lane, c, e, "writes", "also " + writer_name(t));
    if (t.read_phase == phase_ && t.reader != lane && !read_published(c, e, lane))
      race(lane, c, e, "writes", "that another thread read");
    note_write(c, e, lane);
  } else {
    c.written[e] = 1;
  }
  c.data[e] = as_stored(*c.mem, v);
}

int64_t Machine::element_lanes(const Cells& c, const Stmt& s, const char* what, int offset) {
  return element_lanes(c, s.index.node(), what, offset);
}

int64_t Machine::element_lanes(const Cells& c, const Node* index, const char* what, int offset) {
  int64_t* e = elements_.data();
  const double size = static_cast<double>(c.size);
  const bool own = c.mem->space == Space::per_thread;  // element i of thread l at i * threads + l
  const Slot& slot = slots_[index->id];
  if (slot.varying) {
    const double* v = veval(index);
    const int64_t scale = own ? threads_ : 1;
    const int64_t lane_step = own ? 1 : 0;
    if (slot.lo <= slot.hi && slot.lo + offset >= 0 && slot.hi + offset < c.size) {  // all in bounds
      each(top(), [&](int l) { e[l] = (static_cast<int64_t>(v[l]) + offset) * scale + l * lane_step; });
      return -1;
    }
    each(top(), [&](int l) {
      const double i = v[l] + offset;
      if (!(i >= 0 && i < size)) element(c, i, what, l);  // throws
      e[l] = static_cast<int64_t>(i) * scale + l * lane_step;
    });
    return -1;
  }
  const double v = ueval(index) + offset;
  if (!(v >= 0 && v < size)) element(c, v, what, current_lane());  // throws
  if (own) return static_cast<int64_t>(v) * threads_;
  each(top(), [&](int l) { e[l] = static_cast<int64_t>(v); });
  return -1;
}

// The fast paths below check what read() and write() check and call them when a check fails, so
// that the error and its message are theirs.

void Machine::check_written(Cells& c, int64_t base) {
  const uint8_t* w = c.written.data() + base;
  unsigned missing = 0;  // no branch: the loop vectorizes
  each(top(), [&](int l) { missing |= unsigned{w[l] == 0}; });
  if (missing) each(top(), [&](int l) { (void)read(c, base + l, l); });  // throws
}

void Machine::read_lanes(Cells& c, int64_t base, double* out) {
  const int64_t* e = elements_.data();
  const float* data = c.data;
  if (base >= 0) {  // a per-thread array at one index: the lanes' elements are contiguous
    check_written(c, base);
    if (c.async_live) each(top(), [&](int l) { (void)read(c, base + l, l); });  // the checked path
    each(top(), [&](int l) { out[l] = data[base + l]; });
  } else if (c.bits) {
    each(top(), [&](int l) { out[l] = read(c, e[l], l); });
  } else if (c.mem->space == Space::global) {
    each(top(), [&](int l) { out[l] = data[e[l]]; });
  } else if (c.mem->space == Space::per_thread) {
    each(top(), [&](int l) {
      if (!c.written[e[l]] || c.async_use(e[l])) read(c, e[l], l);  // throws
      out[l] = data[e[l]];
    });
  } else {
    const uint64_t phase = phase_, first = group_phase_;
    Cells::Track* track = c.track.data();
    each(top(), [&](int l) {
      const int64_t x = e[l];
      Cells::Track& t = track[x];
      if (t.write_phase < first || written_by_other(t, phase, l) || c.landing(x)) read(c, x, l);  // the checked path: throws on what it finds
      note_read(c, x, l);
      out[l] = data[x];
    });
  }
}

void Machine::write_lanes(Cells& c, int64_t base, const double* v, bool accumulate) {
  if (c.mem->space == Space::shared && value_type(c.mem->type) != c.mem->type) {  // rare: one at a time
    const int64_t* e = elements_.data();
    each(top(), [&](int l) {
      const float x = static_cast<float>(v[l]);
      write(c, e[l], accumulate ? read(c, e[l], l) + x : x, l);
    });
    return;
  }
  const int64_t* e = elements_.data();
  float* data = c.data;
  if (base >= 0 && c.async_live) {  // the checked path
    each(top(), [&](int l) { write(c, base + l, static_cast<float>(v[l]) + (accumulate ? read(c, base + l, l) : 0.f), l); });
  } else if (base >= 0) {  // a per-thread array at one index
    if (accumulate) {
      check_written(c, base);
      each(top(), [&](int l) { data[base + l] += static_cast<float>(v[l]); });
    } else {
      uint8_t* w = c.written.data() + base;
      each(top(), [&](int l) { w[l] = 1, data[base + l] = static_cast<float>(v[l]); });
    }
  } else if (c.mem->space == Space::global || accumulate) {
    each(top(), [&](int l) {
      const float x = static_cast<float>(v[l]);
      write(c, e[l], accumulate ? read(c, e[l], l) + x : x, l);
    });
  } else if (c.mem->space == Space::per_thread) {
    each(top(), [&](int l) {
      if (c.async_use(e[l])) write(c, e[l], static_cast<float>(v[l]), l);  // throws
      c.written[e[l]] = 1, data[e[l]] = static_cast<float>(v[l]);
    });
  } else {
    const uint64_t phase = phase_;
    Cells::Track* track = c.track.data();
    each(top(), [&](int l) {
      const int64_t x = e[l];
      Cells::Track& t = track[x];
      if (written_by_other(t, phase, l) || (t.read_phase == phase && t.reader != l) || c.landing(x) || c.async_use(x))
        write(c, x, static_cast<float>(v[l]), l);  // the checked path
      note_write(c, x, l);
      data[x] = static_cast<float>(v[l]);
    });
  }
}

}  // namespace wino::interp::detail

#include "plans/program_builder.h"

#include <algorithm>
#include <functional>

#include "common/error.h"
#include "plans/plan_common.h"

namespace wino::plans {

const char* role_name(BufferRole role) {
  switch (role) {
    case BufferRole::input: return "input";
    case BufferRole::weights: return "weights";
    case BufferRole::prepared_weights: return "prepared_weights";
    case BufferRole::bias: return "bias";
    case BufferRole::residual: return "residual";
    case BufferRole::output: return "output";
    case BufferRole::scratch: return "scratch";
  }
  return "?";
}

std::vector<int64_t> Program::start_alignments() const {
  std::vector<int64_t> align(buffers.size(), 1);
  std::function<void(const ir::Block&)> walk = [&](const ir::Block& block) {
    for (const ir::StmtPtr& s : block) {
      if (s->kind == ir::StmtKind::copy_async && s->source && s->source->binding >= 0) {
        int64_t& a = align.at(static_cast<size_t>(s->source->binding));
        a = std::max(a, s->extent * ir::type_bytes(s->source->type));
      }
      const bool vector_access = (s->kind == ir::StmtKind::load || s->kind == ir::StmtKind::store) && s->aligned;
      if (vector_access && s->memory && s->memory->binding >= 0) {
        const int lanes = (s->kind == ir::StmtKind::load ? s->var.type() : s->value.type()).lanes;
        int64_t& a = align.at(static_cast<size_t>(s->memory->binding));
        a = std::max<int64_t>(a, lanes * ir::type_bytes(s->memory->type));
      }
      walk(s->body);
    }
  };
  for (const auto& k : kernels) walk(k->body);
  return align;
}

int Program::buffer(BufferRole role) const {
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].role == role) return static_cast<int>(i);
  return -1;
}

namespace {

// The storage type of the convolution's tensors.
ir::Type storage_type(DType t) {
  switch (t) {
    case DType::f16: return ir::Type::f16;
    case DType::bf16: return ir::Type::bf16;
    default: return ir::Type::f32;
  }
}

}  // namespace

ProgramBuilder::ProgramBuilder(const ConvDesc& d, std::string plan, int m, int r) : desc_(d) {
  program_.plan = std::move(plan);
  program_.m = m;
  program_.r = r;
  const ir::Type t = storage_type(d.dtype);
  const int64_t out = d.n * d.k * d.out_h() * d.out_w();
  input_ = declare("x", d.n * d.c * d.h * d.w, BufferRole::input, t);
  output_ = declare("y", out, BufferRole::output, t);
  if (d.epilogue.bias) bias_ = declare("bias", d.k, BufferRole::bias, t);
  if (d.epilogue.residual) residual_ = declare("z", out, BufferRole::residual, t);
}

BufferHandle ProgramBuilder::declare(const std::string& name, int64_t elements, BufferRole role,
                                     ir::Type type) {
  check_index_range(program_.plan, desc_, elements);
  program_.buffers.push_back({name, elements, role, type});
  return {static_cast<int>(program_.buffers.size()) - 1};
}

BufferHandle ProgramBuilder::weights() {
  if (weights_.index < 0)
    weights_ = declare("w", desc_.k * (desc_.c / desc_.groups) * desc_.r * desc_.s, BufferRole::weights,
                       storage_type(desc_.dtype));
  return weights_;
}

BufferHandle ProgramBuilder::prepared_weights(const std::string& name, int64_t elements, ir::Type type) {
  return declare(name, elements, BufferRole::prepared_weights, type);
}

BufferHandle ProgramBuilder::scratch(const std::string& name, int64_t elements, ir::Type type) {
  return declare(name, elements, BufferRole::scratch, type);
}

const ir::Memory* ProgramBuilder::param(ir::KernelBuilder& b, BufferHandle h, bool writes) const {
  const ProgramBuffer& pb = program_.buffers.at(h.index);
  if (writes && pb.role != BufferRole::output && pb.role != BufferRole::scratch && pb.role != BufferRole::prepared_weights)
    throw Error("internal: plan " + plan() + " writes its " + role_name(pb.role) + " buffer");
  return b.buffer(pb.name, pb.elements, !writes, pb.type, h.index);
}

void ProgramBuilder::add(std::unique_ptr<ir::Kernel> kernel) { append(std::move(kernel), program_.launches); }
void ProgramBuilder::add_preparation(std::unique_ptr<ir::Kernel> kernel) {
  preparations_.push_back(std::move(kernel));  // after the run's kernels: kernels[0] stays the first of a run
}

void ProgramBuilder::append(std::unique_ptr<ir::Kernel> kernel, std::vector<Launch>& launches) {
  Launch launch{static_cast<int>(program_.kernels.size()), {}};
  for (const auto& mem : kernel->buffers) {
    if (mem->binding < 0)
      throw Error("internal: kernel " + kernel->name + " has parameter " + mem->name +
                  " that is not a program buffer");
    launch.buffers.push_back(mem->binding);
  }
  program_.kernels.push_back(std::move(kernel));
  launches.push_back(std::move(launch));
}

Program ProgramBuilder::finish() {
  if (weights_.index < 0) throw Error("internal: plan " + plan() + " declares no weights");
  for (auto& k : preparations_) append(std::move(k), program_.prepare_launches);
  preparations_.clear();
  return std::move(program_);
}

}  // namespace wino::plans

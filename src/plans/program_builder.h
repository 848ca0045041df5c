// ProgramBuilder: how a plan makes its Program. Each buffer is declared once (name, size, role);
// kernels take buffers as parameters by handle, and each added kernel's launch is derived from
// its parameters, so no plan wires launches by position.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "plans/program.h"

namespace wino::plans {

/// A buffer of the program being built.
struct BufferHandle {
  int index = -1;
};

class ProgramBuilder {
 public:
  /// Declares the input x, the output y and the epilogue's buffers of `d`. m and r: F(m, r), 0
  /// for direct.
  ProgramBuilder(const ConvDesc& d, std::string plan, int m = 0, int r = 0);

  const ConvDesc& desc() const { return desc_; }
  const std::string& plan() const { return program_.plan; }
  BufferHandle input() const { return input_; }
  BufferHandle output() const { return output_; }
  /// The epilogue's buffers; index -1 when the description's epilogue has none.
  BufferHandle bias() const { return bias_; }
  BufferHandle residual() const { return residual_; }
  /// The caller's K x C/groups x R x S weights, as set_weights writes them.
  BufferHandle weights();
  /// The weights in the plan's layout (`elements` floats), made from weights() by the kernels
  /// given to add_preparation().
  BufferHandle prepared_weights(const std::string& name, int64_t elements, ir::Type type = ir::Type::f32);
  /// An intermediate (V, M) that lives in device memory between launches.
  BufferHandle scratch(const std::string& name, int64_t elements, ir::Type type = ir::Type::f32);

  /// The element type buffer `h` is stored in.
  ir::Type buffer_type(BufferHandle h) const { return program_.buffers.at(h.index).type; }
  /// Makes buffer `h` the next parameter of the kernel `b` builds; read-only unless `writes`.
  const ir::Memory* param(ir::KernelBuilder& b, BufferHandle h, bool writes = false) const;
  /// Appends a kernel and its launch (parameters bound to the buffers they were made from).
  void add(std::unique_ptr<ir::Kernel> kernel);
  /// Appends a kernel that set_weights launches (once per set of weights), e.g. the weight transform.
  void add_preparation(std::unique_ptr<ir::Kernel> kernel);

  Program finish();

 private:
  BufferHandle declare(const std::string& name, int64_t elements, BufferRole role,
                       ir::Type type = ir::Type::f32);

  ConvDesc desc_;
  Program program_;
  void append(std::unique_ptr<ir::Kernel> kernel, std::vector<Launch>& launches);

  BufferHandle input_, output_, bias_, residual_, weights_;
  std::vector<std::unique_ptr<ir::Kernel>> preparations_;
};

}  // namespace wino::plans

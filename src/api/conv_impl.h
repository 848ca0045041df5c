// The state behind a wino::Conv, shared by compile (conv.cpp) and the calls that set weights and
// run (conv_run.cpp).
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "api/workspaces.h"
#include "plans/program.h"
#include "runtime/backend.h"
#include "wino/wino.h"

namespace wino {

struct Conv::Impl {
  ConvDesc desc;
  plans::Program program;
  std::unique_ptr<runtime::Backend> backend;
  Report report;
  // Per program buffer: the Conv's own memory for the weights, prepared weights and bias (null
  // for the others: tensors come with each run, intermediates from a workspace).
  std::vector<std::unique_ptr<runtime::Allocation>> held;
  std::vector<int> scratch;  // program buffers that are intermediates, in workspace order
  std::vector<int64_t> start_alignments;  // per program buffer (plans::Program::start_alignments)
  std::unique_ptr<api::Workspaces> workspaces;
  std::shared_mutex weights_mutex;  // runs share it; set_weights holds it alone
  bool weights_set = false;         // guarded by weights_mutex
  std::mutex host_mutex;            // host-pointer calls on GPUs (staging), benchmark, the report
  std::vector<std::unique_ptr<runtime::Allocation>> staging;  // per buffer, for host-pointer calls
};

}  // namespace wino

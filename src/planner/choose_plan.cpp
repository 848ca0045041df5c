#include "planner/choose_plan.h"

#include "common/error.h"

namespace wino::planner {

plans::PlanOptions choose_plan(const ConvDesc& d, const Options& o, const Device&) {
  plans::PlanOptions p;
  p.plan = o.plan;
  p.m = o.m > 0 ? o.m : (d.r <= 3 ? 4 : 2);
  p.block_k = o.block_k;
  p.block_tiles = o.block_tiles;
  p.reg_k = o.reg_k;
  p.reg_tiles = o.reg_tiles;
  p.chunk_c = o.chunk_c;
  if (o.m < 0) throw Error("m must be >= 1, got " + std::to_string(o.m));
  if (p.plan == "auto") {
    const bool winograd_applies =
        d.groups == 1 && d.r == d.s && d.r > 1 && d.stride == 1 && d.dilation == 1;
    p.plan = winograd_applies ? "unfused" : "direct";
  }
  return p;
}

}  // namespace wino::planner

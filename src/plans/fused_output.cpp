// Plan `fused-output`: the seed's Option 2 done right. A separate kernel writes V = BT d B; the
// GEMM kernel keeps all alpha^2 accumulators of its tiles in registers (computed once) and
// applies Y = AT M A to them in its epilogue, so M never goes to memory. On tensor cores each
// lane's accumulators of every point stand for the same output channels and tiles (the mma's
// fragment places do not depend on the point), so the transform needs no exchange either.
#include "plans/gemm_core.h"

namespace wino::plans {

Program build_fused_output(const ConvDesc& d, const PlanOptions& o) {
  const std::string plan = "fused-output";
  Tiling t = make_tiling(d, o.m);
  const GemmTiles& g = given_tiles(o);
  check_all_points_tiles(g, t, plan, true);
  ProgramBuilder prog(d, plan, t.m, t.r);
  const StoredValues values = gemm_operand_values(g);
  BufferHandle u = transformed_weights(prog, t, 0, 0, values, u_storage_type(g, d));
  BufferHandle v = prog.scratch("v", int64_t{t.alpha} * t.alpha * d.c * t.tiles, v_storage_type(g, t));
  prog.add(input_transform_kernel(prog, t, o.threads > 0 ? o.threads : 128, v, values, g.v_tile_major));
  prog.add(gemm_kernel(prog, t, g, {GemmSource::transformed, GemmSink::transform_in_registers, u, v, {}, values}));
  return prog.finish();
}

}  // namespace wino::plans

// Plans `fused` and `fused-input`: the input transform inside the GEMM kernel (tiles transformed
// into work-group memory chunk by chunk). `fused` also applies the output transform in the same
// kernel, after an exchange of the accumulators through work-group memory; `fused-input` writes
// M[xi][k][p] and leaves the output transform to a second kernel.
#include "plans/cpu_unfused.h"

namespace wino::plans {

namespace {

Program fused_program(const ConvDesc& d, const PlanOptions& o, bool with_output) {
  const std::string plan = with_output ? "fused" : "fused-input";
  Tiling t = make_tiling(d, o.m);
  const GemmTiles& g = given_tiles(o);
  if (g.lanes && with_output) {
    check_point_gemm_tiles(g, t, plan);
    return build_cpu_fused(d, t, g);
  }
  check_all_points_tiles(g, t, plan, false);
  ProgramBuilder prog(d, plan, t.m, t.r);
  BufferHandle u = g.bulk_u ? staged_weights(prog, t, g, u_storage_type(g, d), gemm_operand_values(g))
                            : transformed_weights(prog, t, 0, 0, StoredValues::f32, u_storage_type(g, d));
  if (with_output) {
    prog.add(gemm_kernel(prog, t, g, {GemmSource::image, GemmSink::transform_after_exchange, u, prog.input(), {}}));
    return prog.finish();
  }
  BufferHandle mm = prog.scratch("mm", int64_t{t.alpha} * t.alpha * d.k * t.tiles);
  prog.add(gemm_kernel(prog, t, g, {GemmSource::image, GemmSink::store_m, u, prog.input(), mm}));
  prog.add(output_transform_kernel(prog, t, o.threads > 0 ? o.threads : 128, mm));
  return prog.finish();
}

}  // namespace

Program build_fused(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, true); }
Program build_fused_input(const ConvDesc& d, const PlanOptions& o) { return fused_program(d, o, false); }

}  // namespace wino::plans

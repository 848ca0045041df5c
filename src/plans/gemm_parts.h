// Internal to the GEMM core (gemm_core.cpp, gemm_sinks.cpp): the accumulators a multiplication
// leaves, their layout over the threads, and the sinks that consume them.
#pragma once

#include <functional>

#include "plans/gemm_core.h"

namespace wino::plans {

/// The register tile of one thread: point group, row and column block.
struct ThreadTile {
  ir::Expr group, kq, pq;
  ir::Expr k0;  // tensor cores: the warp's first row in the block (GemmCore::row_group)
};

/// Position of register element i of thread q along a block dimension of the FMA core (GemmCore's
/// rows and columns): runs of 4 when the register tile is a multiple of 4 (16-byte reads), spaced
/// so neighbouring threads read neighbouring runs; else single elements strided by the thread
/// count (conflict-free). The position is `offset + q * run`.
struct Spacing {
  int64_t offset = 0;
  int run = 1;
};
inline Spacing spacing(int i, int reg, int block) {
  const int w = reg % 4 == 0 ? 4 : 1;
  return {int64_t{i / w} * (block / (reg / w)) + i % w, w};
}

/// Where the exchange puts its rows: row r of plane xi (r < rows, a slice's rows) starts at
/// (xi rows + r) pitch floats, and `pad` floats further after every `group` rows (group 0: none).
/// The groups' padding puts rows a warp's stores span on distinct banks where no one pitch of
/// whole runs does (exchange_pitch.cpp). A slice's rows are a multiple of group.
struct ExchangeLayout {
  int pitch = 0;  // floats from one row to the next (0: no exchange)
  int group = 0, pad = 0;
  /// Floats `planes` planes of `rows` rows take.
  int64_t floats(int64_t planes, int64_t rows) const;
  /// The rows of a slice (bk, else halved until `planes` planes of them fit `room` floats; 0 where
  /// none does, or a half does not divide bk or is not a multiple of group).
  int64_t slice_rows(int64_t bk, int64_t planes, int64_t room) const;
  int64_t row_start(int64_t plane, int64_t rows, int64_t r) const;
  ir::Expr row_start(ir::Expr plane, int64_t rows, ir::Expr r) const;
};

struct GemmCore {
  const ConvDesc* d = nullptr;
  const Tiling* t = nullptr;
  GemmTiles g;
  const ir::Memory* smem = nullptr;  // work-group memory: staging of the operands not staged in
                                     // halves (none when both are: ChunkStager) and the exchange
  int64_t smem_size = 0;
  ExchangeLayout exchange;           // where the exchanged rows lie (pitch 0: no exchange)
  const ir::Memory* acc = nullptr;   // per thread: ppt x rk x rp accumulators
  ir::Expr kb, pb;                   // block coordinates: the block being run (a persistent tile ring
                                     // sets them each round; the stager and the sinks read them then)
  ir::Expr xi0;                      // the work-group's first Winograd point
  bool tf32_operands = false;        // U and V hold tf32 values (GemmStages::operands)
  /// Whether a warp loads A's (U's) fragments with load_matrix: f16/bf16 mma with U staged in
  /// halves (GemmTiles::half_u). An mma row then stands for a block row one to one within each
  /// run of 8 (the matrices' rows of 8 consecutive values).
  bool a_matrix_loads() const { return g.mma && !ir::mma_is_tf32(*g.mma) && g.half_u; }
  /// The same for B (V) where V is staged in halves: by tiles (GemmTiles::v_tile_major), whose
  /// matrix rows are tiles that each lane names, so B's columns keep their runs; or by channels
  /// (transposed matrices, one to one columns) where a lane's columns are one to one already (an
  /// odd count of 8-column slices per warp: fused-output's one); elsewhere B's runs of 4 columns
  /// let M leave in 16-byte stores, which one-to-one columns would cut to 2 columns.
  bool b_matrix_loads() const { return g.b_matrix_loads(); }

  ThreadTile tile(ir::KernelBuilder& b, ir::Expr tid) const;
  /// Work-group-local Winograd point of the thread's j-th point.
  ir::Expr point(ir::KernelBuilder& b, const ThreadTile& tt, int j) const;
  /// Block-local row (output channel) of register row i, column (tile) of register column j.
  ir::Expr row(ir::KernelBuilder& b, const ThreadTile& tt, int i) const;
  ir::Expr col(ir::KernelBuilder& b, const ThreadTile& tt, int j) const;
  /// Tensor cores: where the rows register row i stands for over the warp's lanes start, a
  /// warp-uniform value; they lie among the row_group_size() rows from it on.
  ir::Expr row_group(ir::KernelBuilder& b, const ThreadTile& tt, int i) const;
  int row_group_size() const;
  /// The register columns grouped in runs of contiguous block columns, each run starting at a
  /// multiple of its length (single columns where the layout promises no more).
  std::vector<std::vector<int>> column_runs() const;
  /// The accumulator of register row i, column j of point `point`; tensor cores keep each run of
  /// columns (column_runs) in consecutive ones.
  int acc_index(int point, int i, int j) const;
};

/// Whether the output transform after an exchange gives neighbouring threads neighbouring channels
/// (channels-last y on tensor cores: its stores in runs of a pixel's channels), reading down the
/// exchanged rows; the exchange then pads each row by one, which spreads such reads over the banks.
bool output_by_channels(const ConvDesc& d, const GemmTiles& g);

/// Where the accumulators of a block go: GemmCore's kb and pb say which block.
using AccumulatorSink = std::function<void(const GemmCore&)>;

class ChunkStager;

// The multiplication's steps the pipelines share (gemm_core.cpp) and the tensor-core fused's ring
// of input patches (tile_ring_pipeline.cpp).
/// acc = 0 (in a thread region).
void zero_accumulators(ir::KernelBuilder& b, const GemmCore& core);
/// acc += the chunk of staged copy `buf` on warpgroup mmas (gemm_core.cpp says how).
void multiply_chunk_async(ir::KernelBuilder& b, const GemmCore& core, const ChunkStager& st, ir::Expr tid,
                          ir::Expr buf, ir::Expr accumulate, bool wait = true);
/// acc += the staged copy `buf`: all of the work-group's points, or on tensor cores the `count`
/// points from first_point on that the copy holds; on warpgroup mmas `chunk` is the chunk's place
/// in its block.
void multiply(ir::KernelBuilder& b, const GemmCore& core, const ChunkStager& st, ir::Expr tid, ir::Expr buf,
              int first_point = 0, int count = 0, ir::Expr chunk = {});
/// Warps with roles: a producer's wait until the consumers have let copy s % copies go for its
/// use at step s (its release after step s - copies; none before the first use of each copy).
void wait_until_released(ir::KernelBuilder& b, const ir::Memory* empty, ir::Expr s, int copies);
/// The tensor-core fused's ring of input patches (GemmTiles::tile_patch_ring) over the chunks of
/// each of the work-group's blocks, `sink` after each (tile_ring_pipeline.cpp).
void pipeline_tile_patches(ir::KernelBuilder& b, GemmCore& core, ChunkStager& st, int64_t chunks, int64_t pblocks,
                           int64_t kblocks, const AccumulatorSink& sink);

/// Zeroes the accumulators, multiplies every channel chunk and runs `sink`, for each tile block
/// of the work-group (one, or GemmTiles::persistent_groups' several); `exchange` (pitch 0: none)
/// sizes work-group memory for an exchange of the accumulators afterwards, its rows so laid out.
void multiply_chunks(ir::KernelBuilder& b, const ConvDesc& d, const Tiling& t, const GemmTiles& g,
                     const GemmStages& stages, const ir::Memory* input, const ir::Memory* u,
                     const ExchangeLayout& exchange, const AccumulatorSink& sink);

/// M[xi][k][p] straight from each thread's accumulators (one point per work-group).
void store_m_from_registers(ir::KernelBuilder& b, const GemmCore& core, const ir::Memory* mm);
/// The accumulators through work-group memory, a slice of output channels at a time; `consume`
/// then reads Ms[xi][row] (core.exchange's layout) for rows [lo, lo + rows) of the block. With
/// `row_transform` (AT; a thread's ppt points one row of the alpha x alpha grid: rows_exchanged),
/// each thread stores its row already transformed, (M AT^T)[r][j] as plane r m + j of alpha m.
void exchange(ir::KernelBuilder& b, const GemmCore& core, const std::function<void(ir::Expr lo, int64_t rows)>& consume,
              const RationalMatrix* row_transform = nullptr);
/// Whether the exchange's stores go as runs of 4 accumulators (one 16-byte store each): the FMA
/// core's register columns in runs of 4 (GemmCore::col) and rows starting at multiples of 4.
bool exchange_stores_runs(const GemmTiles& g, const ExchangeLayout& layout);
/// The FMA core's exchange layout for a tile-a-thread reader (transform_exchanged), its rows one
/// point each (not rows_exchanged): rows bp apart, or padded by multiples of 4 (each row, or each
/// group of rows) where the stores and the reads then take fewer passes over the banks in `floats`
/// of work-group memory (exchange_pitch.cpp).
ExchangeLayout fma_exchange_layout(const GemmTiles& g, const Tiling& t, int64_t floats);
/// M[xi][k][p] from the exchanged accumulators, neighbouring threads on neighbouring tiles.
void store_m_exchanged(ir::KernelBuilder& b, const GemmCore& core, const ir::Memory* mm);
/// y = epilogue(AT M A) from the exchanged accumulators, one tile per thread at a time.
void transform_exchanged(ir::KernelBuilder& b, const GemmCore& core, const OutputSink& y);
/// y = epilogue(AT M A) on each thread's own alpha^2 accumulators (ppt = alpha^2).
void transform_in_registers(ir::KernelBuilder& b, const GemmCore& core, const OutputSink& y);

}  // namespace wino::plans

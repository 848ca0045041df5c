// The tensor-core GEMM's staged layout (plans/mma_runs.h): a permutation of each staged row that
// puts every lane's fragment values side by side, and a warp's float4 / float2 reads of them free
// of bank conflicts, for every operand kind and every tile shape the planner and the tests use.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "ir/mma.h"
#include "plans/gemm_tile_shape.h"
#include "plans/mma_runs.h"

namespace wino::plans {
namespace {

using ir::MmaKind;

const MmaKind kKinds[] = {MmaKind::tf32_m16n8k8, MmaKind::tf32x3_m16n8k8, MmaKind::f16_m16n8k16,
                          MmaKind::bf16_m16n8k16};
// bk, bp, rk, rp: the planner's tensor-core shapes (planner/choose_plan.cpp, tile_choice.cpp) and
// the precision tests' others; {64, 96, 2, 6}: runs of 2 (float2) and 3 (singles).
const int kShapes[][4] = {{128, 128, 8, 8}, {64, 64, 8, 8}, {128, 64, 8, 8}, {128, 128, 8, 16},
                          {128, 128, 16, 8}, {64, 128, 4, 4}, {64, 96, 2, 6}};

GemmTiles tiles(MmaKind kind, const int s[4]) {
  GemmTiles g;
  g.bk = s[0], g.bp = s[1], g.rk = s[2], g.rp = s[3], g.cc = 16, g.mma = kind;
  return g;
}

// Block columns a lane of a warp tile reads: U's rows g and g + 8 of each 16-row slice, V's
// column g of each 8-column slice (ir/mma.h), in the run's order s = 0..n-1.
int needed_column(int g, int s) { return 8 * s + g; }

TEST(MmaRuns, StagingPermutesEachRowAndPutsEveryLanesValuesInItsRun) {
  for (const auto& shape : kShapes)
    for (bool is_u : {true, false}) {
      const int width = is_u ? shape[0] : shape[1], n = run_length(is_u ? shape[2] : shape[3], is_u);
      std::set<int64_t> seen;
      for (int64_t j = 0; j < width; ++j) seen.insert(fragment_column<int64_t>(j, n));
      EXPECT_EQ(static_cast<int>(seen.size()), width) << "not a permutation, width " << width << " run " << n;
      EXPECT_EQ(*seen.rbegin(), width - 1);
      for (int64_t tile0 = 0; tile0 < width; tile0 += 8 * n)
        for (int g = 0; g < 8; ++g)
          for (int s = 0; s < n; ++s) {  // value s of lane g: in chunk s / 4 of its run, or at s
            const int64_t in_run = run_chunks(n) ? run_chunk_offset<int64_t>(g, s / 4, n) + s % 4 : s;
            EXPECT_EQ(fragment_column<int64_t>(tile0 + needed_column(g, s), n), tile0 + int64_t{g} * n + in_run)
                << "run " << n << " lane g " << g << " value " << s;
          }
    }
}

// Shared-memory wavefronts of one warp-wide load of `width` words per lane at `words[lane]`:
// 16-byte loads go a quarter-warp at a time, 8-byte ones a half; two lanes of a phase on one bank
// at different words conflict.
int conflicts(const std::vector<int64_t>& words, int width) {
  const int phase = width == 4 ? 8 : width == 2 ? 16 : 32;
  int out = 0;
  for (int first = 0; first < 32; first += phase) {
    std::map<int64_t, int64_t> bank_word;
    for (int lane = first; lane < first + phase; ++lane)
      for (int i = 0; i < width; ++i) {
        const int64_t word = words[lane] + i, bank = word % 32;
        auto [at, fresh] = bank_word.emplace(bank, word);
        if (!fresh && at->second != word) ++out;
      }
  }
  return out;
}

TEST(MmaRuns, FragmentReadsAreFreeOfBankConflicts) {
  for (MmaKind kind : kKinds)
    for (const auto& shape : kShapes) {
      const GemmTiles g = tiles(kind, shape);
      const int step = ir::mma_t_step(kind);
      for (bool is_u : {true, false}) {
        const int n = run_length(is_u ? g.rk : g.rp, is_u), pitch = (is_u ? g.bk : g.bp) + g.pad();
        std::set<int> rows;  // channel offsets from the lane's first channel t * step
        for (int i = 0; i < (is_u ? ir::mma_a_values(kind) : ir::mma_b_values(kind)); ++i)
          rows.insert(is_u ? ir::mma_a_pos(kind, 0, i).col : ir::mma_b_pos(kind, 0, i).row);
        const int chunks = run_chunks(n) ? run_chunks(n) : n % 2 == 0 ? n / 2 : n;
        const int width = run_chunks(n) ? 4 : n % 2 == 0 ? 2 : 1;
        for (int row : rows)
          for (int c = 0; c < chunks; ++c) {  // one load instruction: every lane's chunk c of this row
            std::vector<int64_t> words;
            for (int lane = 0; lane < 32; ++lane) {
              const int lg = lane / 4, t = lane % 4;
              const int64_t start = int64_t{t * step + row} * pitch + int64_t{lg} * n;
              words.push_back(start + (run_chunks(n) ? run_chunk_offset<int64_t>(lg, c, n) : int64_t{width} * c));
            }
            EXPECT_EQ(conflicts(words, width), 0)
                << ir::mma_name(kind) << " " << g.str() << (is_u ? " U" : " V") << " row " << row << " chunk " << c;
          }
      }
    }
}

TEST(MmaRuns, StagingStoresOfAWarpAreFreeOfBankConflicts) {
  for (MmaKind kind : kKinds)
    for (const auto& shape : kShapes) {
      const GemmTiles g = tiles(kind, shape);
      for (bool is_u : {true, false}) {  // a warp stores 32 consecutive columns of one staged row
        const int width = is_u ? g.bk : g.bp, n = run_length(is_u ? g.rk : g.rp, is_u);
        if (n & (n - 1)) continue;  // runs of 3 (rp = 6, no planner shape) conflict on stores, not reads
        for (int j0 = 0; j0 < width; j0 += 32) {
          std::vector<int64_t> words;
          for (int lane = 0; lane < 32; ++lane) words.push_back(fragment_column<int64_t>(j0 + lane, n));
          EXPECT_EQ(conflicts(words, 1), 0) << ir::mma_name(kind) << " " << g.str() << (is_u ? " U" : " V") << " from " << j0;
        }
      }
    }
}

}  // namespace
}  // namespace wino::plans

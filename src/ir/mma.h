// Warp-level matrix multiply-accumulate (the `mma` statement): D = A x B + C on a 16 x 8 tile per
// warp of 32 threads, with A 16 x k and B k x 8 (k = 8 for tf32, 16 for f16 and bf16) spread over
// the warp's lanes as fragments: each lane holds some elements of A, B and C in fixed positions
// (PTX's mma.sync.m16n8k8 / m16n8k16 layouts). These functions are the one definition of those
// positions: plans use them to decide which element each lane loads, the interpreter to gather
// the fragments, and the CUDA dialect issues the matching instruction.
#pragma once

#include <cstddef>
#include <string>

#include "ir/expr.h"

namespace wino::ir {

/// The operand type and shape of an mma. Operands are rounded to the operand type (tf32: to
/// nearest, ties away; f16 and bf16: to nearest even); products are exact and summed in f32.
/// tf32x3 is fp32-accurate on tf32 units: each operand x splits into big = tf32(x) and small =
/// x - big truncated to tf32 (its error, at most 2^-21 |x|, is far below fp32's sums'), and
/// D = C + small(A) big(B) + big(A) small(B) + big(A) big(B) (three mmas).
enum class MmaKind : unsigned char { tf32_m16n8k8, tf32x3_m16n8k8, f16_m16n8k16, bf16_m16n8k16 };

constexpr int kMmaRows = 16, kMmaCols = 8, kWarp = 32;

/// "tf32.m16n8k8", ...
std::string mma_name(MmaKind k);
/// "tf32", "tf32x3", "f16", "bf16".
std::string mma_operand_name(MmaKind k);
/// Whether A and B are tf32 (one or three mmas), with k = 8.
inline bool mma_is_tf32(MmaKind k) { return k == MmaKind::tf32_m16n8k8 || k == MmaKind::tf32x3_m16n8k8; }
/// The depth k of the product (8 or 16).
int mma_depth(MmaKind k);
/// Values of A and B each lane holds (C and D: always 4).
int mma_a_values(MmaKind k);
int mma_b_values(MmaKind k);

struct MmaPos {
  int row, col;
};
/// Where value i of `lane`'s fragment sits in A (16 x k), B (k x 8) and C or D (16 x 8).
MmaPos mma_a_pos(MmaKind k, int lane, int i);
MmaPos mma_b_pos(MmaKind k, int lane, int i);
MmaPos mma_c_pos(int lane, int i);

/// The exact product of the rounded operands a and b that the mma sums (three terms for tf32x3).
double mma_product(MmaKind k, float a, float b);
/// Lane = 4 g + t: a lane's positions are those of lane 0 moved by g along A's rows and B's
/// columns, and by t times this step along A's columns and B's rows (tests check it against the
/// functions above), which is how plans compute them per lane.
inline int mma_t_step(MmaKind k) { return mma_is_tf32(k) ? 1 : 2; }

/// `x` rounded to the operand type of a one-mma kind (tf32, f16, bf16), as the mma rounds it.
float mma_round_operand(MmaKind k, float x);
/// Which side operand i of an mma's lane values (A's, then B's) belongs to: 0 for A, 1 for B.
inline int mma_side(MmaKind k, size_t i) { return i < static_cast<size_t>(mma_a_values(k)) ? 0 : 1; }
/// The memory type that holds an mma's operands exactly as it takes them: f16 or bf16 for those
/// kinds, f32 for the tf32 kinds (tf32 values live in f32 memory).
inline Type mma_storage_type(MmaKind k) {
  return k == MmaKind::f16_m16n8k16 ? Type::f16 : k == MmaKind::bf16_m16n8k16 ? Type::bf16 : Type::f32;
}

/// mma_async (a warpgroup's wgmma): rows of D, threads, and where value i of thread `lane` (0 ..
/// 127) of the warpgroup sits in D (64 x n): warp w's rows 16 w .. 16 w + 15, each 8-column slice
/// j of them as an m16n8 mma's C (values 4 j .. 4 j + 3).
constexpr int kMmaAsyncRows = 64, kWarpGroup = 128;
MmaPos mma_async_c_pos(int lane, int i);
/// The n an mma_async takes: a multiple of 8 from 8 to 256.
inline bool mma_async_n_ok(int64_t n) { return n >= 8 && n <= 256 && n % 8 == 0; }

/// `x` rounded to tf32 (10 mantissa bits; to nearest, ties away from zero: PTX cvt.rna.tf32.f32).
float round_tf32(float x);
/// `x` truncated to tf32 (toward zero).
float truncate_tf32(float x);

}  // namespace wino::ir

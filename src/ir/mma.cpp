#include "ir/mma.h"

#include <bit>
#include <cmath>
#include <cstdint>

#include "common/half.h"

namespace wino::ir {

std::string mma_name(MmaKind k) {
  switch (k) {
    case MmaKind::tf32_m16n8k8: return "tf32.m16n8k8";
    case MmaKind::tf32x3_m16n8k8: return "tf32x3.m16n8k8";
    case MmaKind::f16_m16n8k16: return "f16.m16n8k16";
    case MmaKind::bf16_m16n8k16: return "bf16.m16n8k16";
  }
  return "?";
}

std::string mma_operand_name(MmaKind k) {
  const std::string n = mma_name(k);
  return n.substr(0, n.find('.'));
}

int mma_depth(MmaKind k) { return mma_is_tf32(k) ? 8 : 16; }
int mma_a_values(MmaKind k) { return mma_depth(k) / 2; }
int mma_b_values(MmaKind k) { return mma_depth(k) / 4; }

// Lane = 4 * g + t: g picks the row of A and C (and the column of B), t the column pair.
MmaPos mma_a_pos(MmaKind k, int lane, int i) {
  const int g = lane / 4, t = lane % 4;
  if (mma_is_tf32(k)) return {g + 8 * (i % 2), t + 4 * (i / 2)};
  return {g + 8 * ((i / 2) % 2), 2 * t + i % 2 + 8 * (i / 4)};  // register i / 2, half i % 2
}

MmaPos mma_b_pos(MmaKind k, int lane, int i) {
  const int g = lane / 4, t = lane % 4;
  if (mma_is_tf32(k)) return {t + 4 * i, g};
  return {2 * t + i % 2 + 8 * (i / 2), g};
}

MmaPos mma_c_pos(int lane, int i) {
  const int g = lane / 4, t = lane % 4;
  return {g + 8 * (i / 2), 2 * t + i % 2};
}

MmaPos mma_async_c_pos(int lane, int i) {
  const MmaPos p = mma_c_pos(lane % kWarp, i % 4);
  return {16 * (lane / kWarp) + p.row, 8 * (i / 4) + p.col};
}

float round_tf32(float x) {
  if (!std::isfinite(x)) return x;
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  return std::bit_cast<float>((bits + 0x1000u) & ~0x1fffu);  // magnitude rounding: ties away
}

float truncate_tf32(float x) {
  if (!std::isfinite(x)) return x;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(x) & ~0x1fffu);
}

float mma_round_operand(MmaKind k, float x) {
  switch (k) {
    case MmaKind::f16_m16n8k16: return round_to_f16(x);
    case MmaKind::bf16_m16n8k16: return round_to_bf16(x);
    default: return round_tf32(x);
  }
}

double mma_product(MmaKind k, float a, float b) {
  switch (k) {
    case MmaKind::tf32x3_m16n8k8: {
      const float ab = round_tf32(a), as = truncate_tf32(a - ab), bb = round_tf32(b), bs = truncate_tf32(b - bb);
      return double{as} * bb + double{ab} * bs + double{ab} * bb;
    }
    default: return double{mma_round_operand(k, a)} * mma_round_operand(k, b);
  }
  return double{a} * b;
}

}  // namespace wino::ir

// Vectors that do not depend on luck: besides its generic edge cases and
// its seeded random vectors, a kernel task is scored with
//   - for an elementwise kernel (output i depends on input i only) whose input domain has at
//     most kMaxSweepValues values: every input value at every position of the vector
//     (sweep_vectors), so a kernel wrong at one value cannot pass;
//   - for the reductions (softmax, rmsnorm, layernorm): vectors derived from the golden
//     model's constants (hdl/quant.h's decision points), aimed at the places where the model
//     changes behaviour: the sums where a reciprocal, shift or table index changes, the ends
//     of the exp table, the rounding of the mean, all-equal, all-minimum, all-maximum,
//     one-hot, every logit far below zero (quant_directed_vectors).
// These are fixed: the same for every seed and salt, in `score` and in `evolve`.
#pragma once
#include <string>
#include <vector>

#include "hdl/quant.h"

namespace chipgym::env {

using Vector = std::vector<long long>;

// A fixed vector and why it is there (shown as its origin when a candidate fails on it).
struct DirectedVector {
  Vector in;
  std::string why;
};

// Larger domains are sampled (16 int8 lanes: 256 values; 10 bits: 1024 vectors of 16).
constexpr long long kMaxSweepValues = 1 << 10;

// Values lo..hi, each at every one of `length` positions: vector k holds lo + (k + i) mod D at
// position i (D = hi - lo + 1), D vectors in all. Empty when D > kMaxSweepValues.
std::vector<DirectedVector> sweep_vectors(long long lo, long long hi, int length);

// The directed vectors of a quantized reduction at configuration `c` (empty for gelu, which
// is elementwise and swept).
std::vector<DirectedVector> quant_directed_vectors(const hdl::QuantConfig& c);

}  // namespace chipgym::env

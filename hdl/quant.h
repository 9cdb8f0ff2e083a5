// Integer-only quantized operators as streaming kernels (the interface of docs/stream.md):
// gelu-int8, softmax-int8, rmsnorm-int8 and layernorm-int8. Each is a design family with a
// bit-exact integer model (the golden the RTL is checked against), a floating-point
// reference (for error figures), a Verilog generator and an exact cycle model.
// The algorithms, scales and error bounds are documented in docs/quant.md.
//
// Plain functions below (quant_model, quant_verilog, quant_interface, ...) are meant for
// callers outside the Family interface, e.g. `chipgym score`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hdl/family.h"

namespace chipgym::hdl {

enum class QuantOp { Gelu, Softmax, RmsNorm, LayerNorm };
// How gelu computes: piecewise polynomial (the canonical kernel), a direct table of every
// input in [-threshold, threshold), or a table of knots with linear interpolation.
enum class GeluImpl { Poly, Table, Interp };
std::string gelu_impl_name(GeluImpl impl);  // "poly", "table", "interp"

// Family name ("gelu", "softmax", "rmsnorm", "layernorm"), module name ("gelu_int8", ...).
std::string quant_family_name(QuantOp op);
std::string quant_module_name(QuantOp op);
// Accepts a family, module or task name ("softmax", "softmax_int8", "softmax-int8").
// Throws ParamError naming the known operators.
QuantOp quant_op(const std::string& name);

// Fixed scales (documented in docs/quant.md).
constexpr int kQuantInFrac = 4;        // gelu and softmax inputs: real = x / 16
constexpr int kGeluCoefFrac = 16;      // gelu polynomial coefficients: fraction bits
constexpr int kExpBits = 15;           // softmax exp LUT default (exp_bits): exp(0) = 2^15
constexpr int kRecipFrac = 16;         // softmax reciprocal default (recip_frac): M in (2^15, 2^16]
constexpr int kSoftmaxOutFrac = 7;     // softmax output: probability = p / 128 (int8, 0..127)
constexpr int kNormOutFrac = 5;        // rmsnorm / layernorm output: real = y / 32
constexpr int kNormGuard = 4;          // fraction bits kept in the mean of squares
constexpr int kRsqrtFrac = 14;         // Newton-Raphson 1/sqrt default (rsqrt_frac): Q1.14
constexpr int kGammaFrac = 6;          // gamma: real = g / 64

struct QuantConfig {
  QuantOp op = QuantOp::Gelu;
  int vector_length = 16;  // N elements per vector
  int stages = 1;          // register stages of the per-element output datapath (1..3)
  // gelu
  int threshold = 4;       // saturation outside [-threshold, threshold) (real units)
  int segments = 8;        // polynomial segments over [-threshold, threshold)
  int order = 2;           // polynomial order per segment (1 linear, 2 quadratic)
  GeluImpl impl = GeluImpl::Poly;
  int table_bits = 0;      // table and interp: width of a table entry (signed); 0 = the least that holds the range
  int table_frac = 0;      // interp: fraction bits of the knots (output LSB / 2^table_frac)
  int interp_entries = 17; // interp: knots over [-threshold, threshold], both ends included (2^k + 1)
  // softmax
  int lut_entries = 64;    // exp look-up table entries
  int exp_shift = 1;       // LUT index = (max - x) >> exp_shift
  int recip_bits = 6;      // reciprocal mantissa table: 2^recip_bits entries
  int exp_bits = kExpBits; // exp table scale: e(0) = 2^exp_bits (entries exp_bits + 1 bits at most)
  int recip_frac = kRecipFrac;  // reciprocal mantissa M in (2^(recip_frac-1), 2^recip_frac]
  // rmsnorm / layernorm
  int pre_shift = 2;       // each square is shifted right by this before accumulation
  int acc_bits = 24;       // sum-of-squares accumulator width
  int iterations = 2;      // Newton-Raphson iterations of 1/sqrt
  int rsqrt_frac = kRsqrtFrac;  // 1/sqrt (seed and Newton-Raphson) in Q1.rsqrt_frac, registers rsqrt_frac + 2 bits

  static QuantConfig from(QuantOp op, const Params& p);
};

// Constants chosen offline in C++ and baked into the Verilog (and used by the model).
struct QuantTables {
  std::vector<std::int64_t> c0, c1, c2;   // gelu poly: per segment, kGeluCoefFrac fraction bits
  std::vector<std::int64_t> table;        // gelu table: round(16 GELU(x / 16)) for x = -16T .. 16T - 1;
                                          // interp: knots round(2^table_frac 16 GELU(x_i / 16)), x_i = -16T + i w
  int table_width = 0;                    // gelu table / interp: the least signed width that holds `table`
  std::vector<std::int64_t> exp_lut;      // softmax: e[i] = round(2^15 exp(-(i 2^s + (2^s-1)/2) / 16))
  std::vector<std::int64_t> recip;        // softmax: M[j] = round(2^16 / (1 + (j + 0.5) / 2^R))
  std::vector<std::int64_t> seed;         // norms: 12 quarter-buckets of m in [1, 4): round(2^F / sqrt(center)), F = rsqrt_frac
  std::vector<std::int64_t> gamma, beta;  // norms: per element (beta only for layernorm)
  std::int64_t mean_mul = 0; int mean_shift = 0;    // layernorm mean: (sum * M) >> s
  std::int64_t msq_mul = 0; int msq_shift = 0;      // mean of squares with kNormGuard fraction bits
  std::int64_t max_square = 0;   // largest square before the pre-shift (16384 rms, 65536 layernorm)
  std::int64_t acc_max = 0;      // bound of the accumulator: N * (max_square >> pre_shift)
};
QuantTables quant_tables(const QuantConfig& c);

// Checks the constraints between parameters; throws ParamError naming the violated one.
void quant_validate(const QuantConfig& c);

// The bit-exact integer model: one input vector (int8 values) -> one output vector.
std::vector<int> quant_model(const QuantConfig& c, const std::vector<int>& x);
// The model's decision points, for test vectors that aim at them (env/coverage.cpp): a
// vector's reduction and the shift and table index the model derives from it. quant_model
// computes through these, so a vector built from them tests what the model really does.
struct QuantLookup {
  int shift = 0;  // softmax: k = floor(log2 sum); norms: k of the 1/sqrt normalisation (2^-k)
  int index = 0;  // softmax: reciprocal table index j; norms: Newton-Raphson seed table index
};
// softmax: e(max - x) from the exp table (0 past its end), the sum of a vector's exponentials,
// and the reciprocal look-up of a sum (>= 1).
std::int64_t quant_softmax_exp(const QuantConfig& c, const QuantTables& t, int difference);
std::int64_t quant_softmax_sum(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x);
QuantLookup quant_softmax_lookup(const QuantConfig& c, const QuantTables& t, std::int64_t sum);
// rmsnorm / layernorm: the integer mean (0 for rmsnorm), the accumulator of pre-shifted
// centred squares, and the 1/sqrt look-up of an accumulator (the mean of squares it gives is
// clamped to >= 1 first, as in the model).
std::int64_t quant_norm_mean(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x);
std::int64_t quant_norm_acc(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x);
QuantLookup quant_rsqrt_lookup(const QuantConfig& c, const QuantTables& t, std::int64_t acc);

// Floating-point reference in output LSBs (unrounded, clamped to the int8 range).
std::vector<double> quant_reference(const QuantConfig& c, const std::vector<int>& x);

// Error of the integer model against floating point, in output LSBs.
struct QuantError {
  double max_abs = 0, mean_abs = 0;
  long long values = 0;
  std::vector<int> worst_input;  // the vector holding the largest error
};
QuantError quant_error(const QuantConfig& c, const std::vector<std::vector<int>>& vectors);

// Workload JSON: {"vectors": V random vectors, "patterns": [...], "seed": S}. Patterns:
// random, min (all -128), max (all 127), zero, onehot (127 at one place, -128 elsewhere),
// ramp, sweep (every int8 value once, in order, over ceil(256 / N) vectors). Returns the vectors
// the harness streams, in order.
std::vector<std::vector<int>> quant_vectors(const QuantConfig& c, const json& workload);

// Cycles of one pass with no stalls (in_valid always high, out_ready always high): from the
// first rising edge after reset to the edge of the last output transfer, for `vectors`
// vectors. Equals the RTL (tested).
long long quant_model_cycles(const QuantConfig& c, long long vectors);
// Cycles from the first input transfer of a vector to its first output transfer.
long long quant_latency(const QuantConfig& c);
// Cycles per vector in steady state (the throughput is N divided by it).
long long quant_cycles_per_vector(const QuantConfig& c);

// The canonical Verilog of the operator (one module, named quant_module_name(op)) and its
// interface JSON (docs/stream.md).
std::string quant_verilog(const QuantConfig& c);
json quant_interface(const QuantConfig& c);

// Conveniences by name and Params (validated), for `chipgym score`.
std::vector<int> quant_model(const std::string& op, const Params& p, const std::vector<int>& x);
std::string quant_verilog(const std::string& op, const Params& p);
json quant_interface(const std::string& op, const Params& p);

const Family& quant_family(QuantOp op);
// The stream harness (hdl/stream_harness.h) for the top module `module_name`.
std::string quant_harness_source(const std::string& module_name);

}  // namespace chipgym::hdl

// The gemm-int8 family: a systolic-array GEMM accelerator with its own controller, which
// computes C = A x B for any M x K x N problem (shapes need not divide the array).
//
// Interface (both dataflows): the accelerator reads A (M x K, row-major) and B (K x N,
// row-major) from two memories with one-cycle read latency and writes C (M x N, row-major)
// through a masked write port. A read returns `rows` consecutive elements spaced by
// a_rd_stride (A column or row slices), a B read `cols` consecutive elements; elements past
// the matrix are whatever the memory holds, and the accelerator masks them itself.
//
// Arithmetic: signed in_bits operands, products sign-extended to acc_bits, and sums that wrap
// modulo 2^acc_bits (two's complement). Results are exact while K <= max_exact_k() =
// floor((2^(acc_bits-1) - 1) / 2^(2*in_bits-2)); beyond that they wrap, and the golden model
// wraps the same way.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hdl/family.h"

namespace chipgym::hdl {

struct GemmConfig {
  int rows = 4, cols = 4, in_bits = 8, acc_bits = 32;
  bool weight_stationary = false;
  int a_depth = 16, b_depth = 16, c_depth = 16;
  int pipeline = 0;

  static GemmConfig from(const Params& p);
  // Output-stationary: K steps held per buffer load. Weight-stationary: A rows per pass.
  int k_chunk() const { return a_depth < b_depth ? a_depth : b_depth; }
  int m_chunk() const { return a_depth < c_depth ? a_depth : c_depth; }
  long long max_exact_k() const;
};

struct GemmShape {
  int m = 0, k = 0, n = 0;
  long long count = 1;  // identical GEMMs (attention heads, convolution groups, repeated layers)
};

// Workload JSON: {"shapes": [[M,K,N], ...], "patterns": ["random", ...], "seed": S}; a shape
// may carry a fourth number, the count of identical GEMMs ([M,K,N,count]: the workload runs it
// count times; RTL simulation runs it once and counts its cycles count times).
// Patterns: random, min, max, zero, identity, minmax (A at minimum, B at maximum).
std::vector<GemmShape> gemm_shapes(const json& workload);

// RTL simulation feeds every element of A and B through the harness's stdin, so a large shape
// (more than kGemmRtlMaxElements elements of A, B and C together, more than kGemmRtlSampleMacs
// MACs, or a dim above 4096) is simulated as one sampled sub-GEMM: per dimension at most two
// tiles, a full one and the shape's edge tile (M by rows, N by cols, K by max(rows, k-chunk)),
// with the workload's seeded data, checked bit-exactly against the integer reference; its
// cycles are the exact cycle model's for the whole shape (the model equals the RTL, tested).
// The check's details list every sampled shape ("sampled"). Empty when the workload can be
// simulated, else why not: more than kGemmRtlMaxProblems shapes x data patterns.
constexpr long long kGemmRtlMaxElements = 1 << 20;
constexpr long long kGemmRtlSampleMacs = 1LL << 22;
constexpr std::size_t kGemmRtlMaxProblems = 512;
bool gemm_rtl_sampled(const GemmShape& sh);
GemmShape gemm_rtl_sample(const GemmConfig& g, const GemmShape& sh);  // the sub-GEMM simulated (count kept)
std::string gemm_rtl_refusal(const json& workload);

// Integer GEMM reference: row-major A (m x k) and B (k x n), result wrapped to acc_bits.
std::vector<std::int64_t> gemm_reference(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b,
                                         int m, int k, int n, int acc_bits);

// Cycles from the start pulse until `done`, for one problem.
long long gemm_model_cycles(const GemmConfig& cfg, const GemmShape& shape);

// Memory-port traffic of one problem under the schedule the cycle model describes, in
// transfers of the port's full width (an A read is `rows` elements, a B read `cols`, a C write
// `cols` accumulators), padding past the matrix included: what the ports actually carry.
struct GemmTraffic {
  long long a_reads = 0, b_reads = 0, c_writes = 0;
  long long bytes(const GemmConfig& g) const;
};
GemmTraffic gemm_model_traffic(const GemmConfig& cfg, const GemmShape& shape);

// Building blocks for other families (e.g. codesign): the output-stationary datapath modules
// (PE, array, A and B input buffers of g's depths, read-out multiplexer) as (module name,
// Verilog text) pairs, exactly as the gemm family emits them; A and B buffers of the same
// shape come out once each under the same name (callers skip repeats).
std::vector<std::pair<std::string, std::string>> gemm_os_datapath(const GemmConfig& g);
std::string gemm_buffer_name(int depth, int width);
// The workload's data patterns (default ["random"]), and one matrix filled with a pattern.
std::vector<std::string> gemm_data_patterns(const json& workload);
void gemm_fill_matrix(const std::string& pattern, int rows, int cols, int bits, bool is_b, std::mt19937_64& rng,
                      std::vector<std::int64_t>& out);

// The gemm harness's stdin for every shape and data pattern of the workload (the cycle limit
// of a problem: 4 x model_cycles + 1000), with the golden C of each problem; and the check of
// the harness's output against it. Shared by the families that use the gemm harness.
Stimulus gemm_stimulus(const GemmConfig& g, const json& workload,
                       const std::function<long long(const GemmShape&)>& model_cycles);
SimCheck gemm_check(const Stimulus& stim, const std::string& output);

const Family& gemm_family();

// Verilator testbench source for the family (hdl/gemm_harness.cpp).
// `top`: the top module (its Verilator class is V<top>); accumulating_c: a C write with
// c_wr_acc set adds to what the memory holds, wrapping to acc_bits (the codesign family).
std::string gemm_harness_source(const std::string& top = "gemm_top", bool accumulating_c = false);

}  // namespace chipgym::hdl

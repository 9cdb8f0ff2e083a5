// The quantized-operator tasks (hdl/quant.cpp, docs/quant.md): gelu-int8, softmax-int8,
// rmsnorm-int8 and layernorm-int8. Each is a design task (the family's parameters, searched
// for throughput per area under an error budget) and a kernel task (a candidate Verilog
// kernel scored against the integer model, with the family's default design as the canonical
// kernel), in one entry.
#include "env/coverage.h"
#include "env/task.h"
#include "hdl/quant.h"

namespace chipgym::env {

namespace {

// The design part: vectors of 16 int8 values, edge patterns plus random vectors; throughput
// per area under a maximum-error budget.
Task quant_task(const std::string& family, const std::string& what, double max_error_lsb, json search, json agents,
                const KernelTask& (*kernel)(), int order) {
  Task q;
  q.name = family + "-int8";
  q.family = family;
  q.description = what;
  q.workload = {{"patterns", {"min", "max", "zero", "onehot", "ramp"}}, {"vectors", 32}, {"seed", 1}};
  q.objective = "throughput per area: output elements per cycle per million transistors (0 if the integer "
                "model's maximum error against floating point on the workload exceeds budget.max_error_lsb)";
  q.budget = {{"max_error_lsb", max_error_lsb}, {"max_transistors", 20000000}};
  q.search = std::move(search);
  q.agents = std::move(agents);
  q.fidelity = "synth";  // the cycle model equals the RTL exactly (tests); eval --fidelity rtl simulates
  q.kernel_part = kernel;
  q.order = order;
  return q;
}

// The kernel part: the operator at its family's default parameters; the integer model is the
// golden, the generated Verilog the canonical kernel (docs/quant.md).
KernelTask quant_kernel(hdl::QuantOp op, std::string description) {
  const hdl::QuantConfig c = hdl::QuantConfig::from(op, hdl::quant_family(op).space().defaults());
  const json iface = hdl::quant_interface(c);
  KernelTask t = stream_task(hdl::quant_family_name(op) + "-int8", std::move(description), hdl::quant_module_name(op),
                             [c](const std::vector<int>& x) { return hdl::quant_model(c, x); }, hdl::quant_verilog(c));
  t.iface = StreamInterface::from_json(iface);
  t.elementwise = op == hdl::QuantOp::Gelu;
  t.directed = quant_directed_vectors(c);  // the reductions' thresholds, from the model's constants
  return t;
}

const KernelTask& gelu_kernel() {
  static const KernelTask k =
      quant_kernel(hdl::QuantOp::Gelu, "GELU on int8, piecewise polynomial with saturation (docs/quant.md)");
  return k;
}
const KernelTask& softmax_kernel() {
  static const KernelTask k = quant_kernel(
      hdl::QuantOp::Softmax,
      "softmax over a vector of int8: exp look-up table, sum, reciprocal by multiply-and-shift (docs/quant.md)");
  return k;
}
const KernelTask& rmsnorm_kernel() {
  static const KernelTask k = quant_kernel(hdl::QuantOp::RmsNorm,
                                           "RMSNorm over a vector of int8: pre-shifted sum of squares, Newton-Raphson "
                                           "1/sqrt, fixed-point gamma (docs/quant.md)");
  return k;
}
const KernelTask& layernorm_kernel() {
  static const KernelTask k = quant_kernel(hdl::QuantOp::LayerNorm,
                                           "LayerNorm over a vector of int8: mean, pre-shifted variance, Newton-Raphson "
                                           "1/sqrt, gamma and beta (docs/quant.md)");
  return k;
}

const Registration<Task> gelu{quant_task(
    "gelu", "int8 GELU streaming unit (piecewise polynomial, direct table or interpolated table; saturation), x and y in 1/16 steps",
    1.0,
    {{"impl", {"poly", "table", "interp"}}, {"threshold", {2, 4, 8}}, {"segments", {2, 4, 8, 16}}, {"order", {1, 2}},
     {"interp_entries", {9, 17, 33}}, {"table_frac", {0, 2}}, {"stages", {1, 2, 3}}},
    {{"approximation", {"impl", "threshold", "segments", "order", "interp_entries", "table_frac"}}, {"pipeline", {"stages"}}},
    &gelu_kernel, 70)};
const Registration<Task> softmax{quant_task(
    "softmax", "int8 softmax streaming unit (exp table, reciprocal by multiply-and-shift), p in 1/128 steps", 3.0,
    {{"lut_entries", {16, 32, 64}}, {"exp_shift", {0, 1, 2}}, {"recip_bits", {2, 4, 6, 8}}, {"exp_bits", {10, 15}},
     {"recip_frac", {10, 16}}, {"stages", {1, 2, 3}}},
    {{"exp", {"lut_entries", "exp_shift", "exp_bits"}}, {"reciprocal", {"recip_bits", "recip_frac"}}, {"pipeline", {"stages"}}},
    &softmax_kernel,
    80)};
const Registration<Task> rmsnorm{quant_task(
    "rmsnorm", "int8 RMSNorm streaming unit (pre-shifted squares, Newton-Raphson 1/sqrt), y in 1/32 steps", 1.0,
    {{"pre_shift", {2, 4, 6}}, {"acc_bits", {17, 20, 24}}, {"iterations", {0, 1, 2, 3}}, {"rsqrt_frac", {10, 14}}, {"stages", {1, 2, 3}}},
    {{"accumulator", {"pre_shift", "acc_bits"}}, {"sqrt", {"iterations", "rsqrt_frac"}}, {"pipeline", {"stages"}}}, &rmsnorm_kernel,
    90)};
const Registration<Task> layernorm{quant_task(
    "layernorm", "int8 LayerNorm streaming unit (mean, pre-shifted squares, Newton-Raphson 1/sqrt), y in 1/32 steps",
    1.5,
    {{"pre_shift", {2, 4, 6}}, {"acc_bits", {19, 22, 26}}, {"iterations", {0, 1, 2, 3}}, {"rsqrt_frac", {10, 14}}, {"stages", {1, 2, 3}}},
    {{"accumulator", {"pre_shift", "acc_bits"}}, {"sqrt", {"iterations", "rsqrt_frac"}}, {"pipeline", {"stages"}}}, &layernorm_kernel,
    100)};

}  // namespace

}  // namespace chipgym::env

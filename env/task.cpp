#include "env/task.h"

#include "evaluators/stage.h"

namespace chipgym::env {

json Task::to_json() const {
  return {{"name", name},         {"family", family},       {"description", description}, {"workload", workload},
          {"objective", objective}, {"budget", budget},     {"fidelity", fidelity}, {"search", search}, {"agents", agents}};
}

Task Task::from_json(const json& j) {
  for (const char* field : {"name", "family", "workload"})
    if (!j.contains(field)) throw hdl::ParamError(std::string("task JSON lacks the field '") + field + "'");
  Task t;
  try {
  t.name = j.at("name").get<std::string>();
  t.family = j.at("family").get<std::string>();
  t.description = j.value("description", std::string());
  t.workload = j.at("workload");
  t.objective = j.value("objective", std::string());
  t.budget = j.value("budget", json::object());
  t.fidelity = j.value("fidelity", std::string("rtl"));
  t.search = j.value("search", json::object());
  t.agents = j.value("agents", json::object());
  if (!t.budget.is_object() || !t.search.is_object() || !t.agents.is_object() || !t.workload.is_object())
    throw hdl::ParamError("task JSON: workload, budget, search and agents must be objects");
  } catch (const json::exception& e) {
    throw hdl::ParamError(std::string("task JSON has a field of the wrong type: ") + e.what());
  }
  // Refused here, before a run spends its budget on evaluations that all fail for it. The
  // fidelities are those evaluators::Pipeline::evaluate runs.
  if (!Registry<evaluators::FidelityInfo>::instance().find(t.fidelity))
    throw hdl::ParamError("task " + t.name + ": unknown fidelity '" + t.fidelity +
                          "'; the fidelities are model (the cycle model), synth (+ Yosys synthesis) and rtl (+ lint "
                          "and Verilator simulation against the golden model)");
  return t;
}

json Task::score(const evaluators::Metrics& m) const {
  // The family scores the figures; a failed evaluation or an incorrect simulation earns 0.
  json out = design_family().score(m.to_json(), budget);
  if (out.contains("objective") && (!m.ok() || m.incorrect())) out["objective"] = 0.0;
  return out;
}

double Task::reward(const evaluators::Metrics& m) const {
  if (m.error) return -3;
  if (m.incorrect()) return -2;
  json s = score(m);
  if (!s.contains("objective")) return -3;  // nothing to score (e.g. no synthesis at this fidelity)
  if (!s.value("within_budget", true)) return -1;
  return s["objective"].get<double>();
}

std::vector<std::pair<std::string, std::vector<hdl::Value>>> Task::search_domains() const {
  const auto& space = design_family().space();
  std::vector<std::pair<std::string, std::vector<hdl::Value>>> out;
  for (auto it = search.begin(); it != search.end(); ++it)
    if (!space.find(it.key()))
      throw hdl::ParamError("task '" + name + "' searches unknown parameter '" + it.key() + "'");
  for (const auto& p : space.params()) {
    if (search.empty()) {
      out.emplace_back(p.name, p.domain());
      continue;
    }
    if (!search.contains(p.name)) continue;
    std::vector<hdl::Value> values;
    if (!search[p.name].is_array())
      throw hdl::ParamError("task '" + name + "': search." + p.name + " must be a list of values");
    for (const auto& v : search[p.name]) {
      if (!v.is_string() && !v.is_number_integer())
        throw hdl::ParamError("task '" + name + "': search." + p.name + " has " + v.dump() + ", not an integer or a name");
      hdl::Value value = v.is_string() ? hdl::Value(v.get<std::string>()) : hdl::Value(v.get<long long>());
      if (!p.contains(value))
        throw hdl::ParamError("task '" + name + "': " + p.name + " = " + v.dump() + " is outside " + p.describe_domain());
      values.push_back(value);
    }
    out.emplace_back(p.name, values);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> Task::agent_groups() const {
  std::map<std::string, std::vector<std::string>> out;
  if (agents.empty()) {
    for (const auto& [name, values] : search_domains()) out[name] = {name};
    return out;
  }
  try {
    for (auto it = agents.begin(); it != agents.end(); ++it) out[it.key()] = it->get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw hdl::ParamError("task '" + name + "': \"agents\" must map names to lists of parameters: " + e.what());
  }
  return out;
}

const std::vector<Task>& tasks() {
  static const std::vector<Task> all = [] {
    std::vector<Task> v;
    Task gemm;
    gemm.name = "gemm-int8";
    gemm.family = "gemm";
    gemm.description = "int8 systolic-array GEMM accelerator for the GEMMs of a small transformer block";
    // One transformer block with sequence 16, model width 32, MLP width 64, one head:
    // fused Q/K/V projection, attention scores, attention x V, output projection, MLP up, MLP down.
    gemm.workload = {{"shapes", {{16, 32, 96}, {16, 32, 16}, {16, 16, 32}, {16, 32, 32}, {16, 32, 64}, {16, 64, 32}}},
                     {"patterns", {"random"}},
                     {"seed", 1}};
    gemm.objective =
        "throughput per area: MACs per cycle per million transistors (0 if incorrect, over budget, or if "
        "the accumulators can wrap on the workload)";
    gemm.budget = {{"max_transistors", 20000000}};
    // 5 x 5 x 2 x 3 x 3 x 3 x 2 = 2,700 designs: int8 operands, 32-bit accumulators.
    gemm.search = {{"rows", {1, 2, 4, 8, 16}}, {"cols", {1, 2, 4, 8, 16}}, {"dataflow", {"os", "ws"}},
                   {"a_depth", {4, 16, 64}}, {"b_depth", {4, 16, 64}}, {"c_depth", {4, 16, 64}},
                   {"pipeline", {0, 1}}};
    gemm.agents = {{"compute", {"rows", "cols", "pipeline"}},
                   {"memory", {"a_depth", "b_depth", "c_depth"}},
                   {"dataflow", {"dataflow"}}};
    gemm.fidelity = "synth";  // the cycle model equals the RTL exactly (tests); eval --fidelity rtl simulates
    v.push_back(gemm);

    // Meet a target specification: the workload within 12,000 cycles, in as little area as
    // possible.
    Task target = gemm;
    target.name = "gemm-int8-target";
    target.description = "smallest gemm-int8 design that runs the workload within 12,000 cycles";
    target.objective = "meet the target (workload within budget.max_cycles cycles), then minimize area: 10^6 / transistors";
    target.budget = {{"kind", "target"}, {"max_cycles", 12000}, {"max_transistors", 20000000}};
    v.push_back(target);

    // Small enough to enumerate (72 designs), so its optimum is known: `chipgym optimum`.
    Task small = gemm;
    small.name = "gemm-int8-small";
    small.description = "gemm-int8 over 72 designs, enumerable: ground truth for agent regret";
    small.search = {{"rows", {2, 4, 8}}, {"cols", {2, 4, 8}}, {"dataflow", {"os", "ws"}}, {"a_depth", {4, 16}},
                    {"pipeline", {0, 1}}};
    small.agents = {{"compute", {"rows", "cols", "pipeline"}}, {"memory", {"a_depth"}}, {"dataflow", {"dataflow"}}};
    v.push_back(small);

    // Hardware and kernel mapping together (issue 5): the same transformer-block GEMMs.
    Task codesign;
    codesign.name = "codesign-gemm";
    codesign.family = "codesign";
    codesign.description =
        "int8 GEMM accelerator (array, buffers) and its kernel mapping (tiles, loop order, double buffering) together";
    codesign.workload = gemm.workload;
    codesign.objective = gemm.objective;
    codesign.budget = gemm.budget;
    // 4 x 4 x 3 x 3 x 3 x 3 x 3 x 6 x 2 = 46,656 points (the largest space; invalid tile and
    // buffer combinations are refused with the constraint they break).
    codesign.search = {{"rows", {2, 4, 8, 16}}, {"cols", {2, 4, 8, 16}}, {"a_depth", {16, 64, 256}},
                       {"b_depth", {16, 64, 256}}, {"tile_m", {1, 2, 4}}, {"tile_n", {1, 2, 4}},
                       {"tile_k", {4, 16, 64}}, {"loop_order", {"mnk", "mkn", "nmk", "nkm", "kmn", "knm"}},
                       {"double_buffer", {0, 1}}};
    codesign.agents = {{"compute", {"rows", "cols"}},
                       {"memory", {"a_depth", "b_depth"}},
                       {"mapping", {"tile_m", "tile_n", "tile_k", "loop_order", "double_buffer"}}};
    codesign.fidelity = "synth";  // the cycle model equals the RTL on the validation matrix (tests)
    v.push_back(codesign);
    // The classic SHA-256 miner under an FPGA budget: 32 independent 80-byte messages (the
    // size of a block header, two compressions each) on an iCE40 UltraPlus 5K.
    Task sha;
    sha.name = "sha256-miner";
    sha.family = "sha256";
    sha.description = "SHA-256 hashing cores on an iCE40 UP5K: 32 independent 80-byte headers";
    sha.workload = {{"messages", 32}, {"min_length", 80}, {"max_length", 80}, {"seed", 1}};
    sha.objective =
        "hashes (compressed blocks) per second per iCE40 LUT, clock = 1 / (0.25 ns x logic depth + 1 ns) "
        "(0 if incorrect or over the LUT/FF budget)";
    sha.budget = {{"fpga", "iCE40 UP5K"}, {"max_luts", 5280}, {"max_ffs", 5280}};
    // 4 x 4 x 3 = 48 designs.
    sha.search = {{"unroll", {1, 2, 4, 8}}, {"pipeline", {1, 2, 4, 8}}, {"cores", {1, 2, 4}}};
    sha.agents = {{"core", {"unroll", "pipeline"}}, {"parallel", {"cores"}}};
    sha.fidelity = "synth";  // the cycle model equals the RTL exactly (tests); eval --fidelity rtl simulates
    v.push_back(sha);
    // Quantized operators (hdl/quant.cpp, docs/quant.md): vectors of 16 int8 values, edge
    // patterns plus random vectors; throughput per area under a maximum-error budget.
    auto quant = [&](const std::string& family, const std::string& what, double max_error_lsb, json search, json agents) {
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
      v.push_back(q);
    };
    quant("gelu", "int8 GELU streaming unit (piecewise polynomial, saturation), x and y in 1/16 steps", 1.0,
          {{"threshold", {2, 4}}, {"segments", {2, 4, 8, 16}}, {"order", {1, 2}}, {"stages", {1, 2, 3}}},
          {{"approximation", {"threshold", "segments", "order"}}, {"pipeline", {"stages"}}});
    quant("softmax", "int8 softmax streaming unit (exp table, reciprocal by multiply-and-shift), p in 1/128 steps",
          3.0,
          {{"lut_entries", {16, 32, 64}}, {"exp_shift", {0, 1, 2}}, {"recip_bits", {2, 4, 6, 8}}, {"stages", {1, 2, 3}}},
          {{"exp", {"lut_entries", "exp_shift"}}, {"reciprocal", {"recip_bits"}}, {"pipeline", {"stages"}}});
    quant("rmsnorm", "int8 RMSNorm streaming unit (pre-shifted squares, Newton-Raphson 1/sqrt), y in 1/32 steps",
          1.0,
          {{"pre_shift", {2, 4, 6}}, {"acc_bits", {17, 20, 24}}, {"iterations", {0, 1, 2, 3}}, {"stages", {1, 2, 3}}},
          {{"accumulator", {"pre_shift", "acc_bits"}}, {"sqrt", {"iterations"}}, {"pipeline", {"stages"}}});
    quant("layernorm", "int8 LayerNorm streaming unit (mean, pre-shifted squares, Newton-Raphson 1/sqrt), y in 1/32 steps",
          1.5,
          {{"pre_shift", {2, 4, 6}}, {"acc_bits", {19, 22, 26}}, {"iterations", {0, 1, 2, 3}}, {"stages", {1, 2, 3}}},
          {{"accumulator", {"pre_shift", "acc_bits"}}, {"sqrt", {"iterations"}}, {"pipeline", {"stages"}}});
    return v;
  }();
  return all;
}

const Task& task(const std::string& name) {
  std::string known;
  for (const auto& t : tasks()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw hdl::ParamError("unknown task '" + name + "'; known tasks: " + known);
}

}  // namespace chipgym::env

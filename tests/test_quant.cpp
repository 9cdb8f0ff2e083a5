// The quantized-operator families (gelu, softmax, rmsnorm, layernorm): integer models against
// floating point (error bounds of docs/quant.md), generated Verilog lint-clean and bit-exact
// against the integer models in Verilator, cycle and latency models equal to the RTL.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "hdl/quant.h"
#include "test_support.h"

using namespace chipgym;
using hdl::ParamError;
using hdl::QuantOp;
using json = nlohmann::json;

namespace {

const hdl::Family& fam(QuantOp op) { return hdl::quant_family(op); }
hdl::Params params(QuantOp op, const std::string& set) { return fam(op).space().parse_assignments(set); }
hdl::QuantConfig config(QuantOp op, const std::string& set) { return hdl::QuantConfig::from(op, params(op, set)); }

std::vector<std::vector<int>> random_vectors(int n, int count, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<std::vector<int>> out(static_cast<std::size_t>(count), std::vector<int>(static_cast<std::size_t>(n)));
  for (auto& v : out)
    for (auto& e : v) e = dist(rng);
  return out;
}

// verilator --lint-only -Wall on the operator's canonical Verilog: the number of warnings
// (and the text, for the failure message).
std::pair<long long, std::string> lint(const hdl::QuantConfig& c) {
  evaluators::TempDir dir("chipgym-quant-lint-");
  const std::string file = hdl::quant_module_name(c.op) + ".v";
  std::ofstream(dir.path() / file) << hdl::quant_verilog(c);
  evaluators::RunRequest req;
  req.argv = {"verilator", "--lint-only", "-Wall", file};
  req.cwd = dir.path();
  req.limits.wall_seconds = 120;
  auto r = evaluators::run_process(req);
  long long warnings = 0;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("%Warning", 0) == 0 || line.rfind("%Error", 0) == 0) ++warnings;
  if (r.exit_code != 0 && warnings == 0) warnings = 1;
  return {warnings, r.err};
}

const json kEdgeWorkload = {{"patterns", {"min", "max", "zero", "onehot", "ramp", "random"}}, {"vectors", 6}, {"seed", 7}};

// Simulates one design on the edge-case workload (no synthesis) and checks it bit for bit,
// cycles and latency against the models.
void check_rtl(QuantOp op, const std::string& set, const std::shared_ptr<evaluators::Cache>& cache) {
  INFO(hdl::quant_family_name(op) << " " << set);
  evaluators::Pipeline pipeline(cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  auto p = params(op, set);
  auto m = pipeline.evaluate(fam(op), p, kEdgeWorkload, o);
  INFO((m.error ? m.error->message : std::string("no error")) << " / " << m.first_mismatch);
  REQUIRE(m.ok());
  CHECK(m.correct);
  CHECK(m.mismatches == 0);
  const auto c = hdl::QuantConfig::from(op, p);
  const long long vectors = 12;
  CHECK(m.checked == 2 * vectors * c.vector_length);  // both passes
  CHECK(m.cycles == m.cycles_model);
  CHECK(m.cycles == hdl::quant_model_cycles(c, vectors));
  const json per = m.stages["simulate"]["cycles_per_problem"];
  REQUIRE(per.size() == 3);
  CHECK(per[1].get<long long>() == hdl::quant_latency(c));
  CHECK(per[2].get<long long>() > m.cycles);  // the back-pressured pass is slower
}

}  // namespace

TEST_CASE("quantized operators: generated Verilog is lint-clean under verilator -Wall") {
  const std::vector<std::pair<QuantOp, std::string>> matrix = {
      {QuantOp::Gelu, ""},
      {QuantOp::Gelu, "threshold=2,segments=32,order=1,stages=3"},
      {QuantOp::Gelu, "segments=2,order=2,stages=2"},
      {QuantOp::Softmax, ""},
      {QuantOp::Softmax, "vector_length=5,lut_entries=16,exp_shift=4,recip_bits=2,stages=3"},
      {QuantOp::Softmax, "vector_length=64,lut_entries=256,recip_bits=8,stages=2"},
      {QuantOp::RmsNorm, ""},
      {QuantOp::RmsNorm, "vector_length=3,pre_shift=7,acc_bits=16,iterations=0,stages=3"},
      {QuantOp::RmsNorm, "vector_length=64,pre_shift=0,acc_bits=21,iterations=3,stages=2"},
      {QuantOp::LayerNorm, ""},
      {QuantOp::LayerNorm, "vector_length=12,pre_shift=5,acc_bits=16,iterations=1,stages=3"},
      {QuantOp::LayerNorm, "vector_length=64,pre_shift=0,acc_bits=23,iterations=3,stages=2"},
  };
  for (const auto& [op, set] : matrix) {
    auto [warnings, text] = lint(config(op, set));
    INFO(hdl::quant_family_name(op) << " " << set << "\n" << text);
    CHECK(warnings == 0);
  }
}

TEST_CASE("quantized operators: RTL matches the integer models bit for bit, cycle and latency models equal the RTL") {
  test_support::ScratchCache scratch;
  const std::vector<std::pair<QuantOp, std::string>> matrix = {
      {QuantOp::Gelu, ""},
      {QuantOp::Gelu, "threshold=2,segments=32,order=1,stages=3,vector_length=5"},
      {QuantOp::Gelu, "segments=2,order=2,stages=2"},
      {QuantOp::Softmax, ""},
      {QuantOp::Softmax, "vector_length=5,lut_entries=16,exp_shift=4,recip_bits=2,stages=3"},
      {QuantOp::Softmax, "vector_length=64,lut_entries=256,recip_bits=8,stages=2"},
      {QuantOp::RmsNorm, ""},
      {QuantOp::RmsNorm, "vector_length=3,pre_shift=7,acc_bits=16,iterations=0,stages=3"},
      {QuantOp::RmsNorm, "vector_length=64,pre_shift=1,acc_bits=21,iterations=3,stages=2"},
      {QuantOp::LayerNorm, ""},
      {QuantOp::LayerNorm, "vector_length=12,pre_shift=5,acc_bits=16,iterations=1,stages=3"},
      {QuantOp::LayerNorm, "vector_length=64,pre_shift=0,acc_bits=23,iterations=3,stages=2"},
  };
  for (const auto& [op, set] : matrix) check_rtl(op, set, scratch.cache);
}

TEST_CASE("quantized operators: error figures of the integer models (print)", "[.print]") {
  for (QuantOp op : {QuantOp::Gelu, QuantOp::Softmax, QuantOp::RmsNorm, QuantOp::LayerNorm}) {
    const auto& f = fam(op);
    auto task = env::task(hdl::quant_family_name(op) + "-int8");
    for (const auto& [name, values] : task.search_domains()) {
      for (const auto& value : values) {
        auto p = f.space().with(f.space().defaults(), name, hdl::to_string(value));
        auto c = hdl::QuantConfig::from(op, p);
        auto e = hdl::quant_error(c, random_vectors(c.vector_length, 2000, 3));
        std::printf("%-10s %-24s max %.3f mean %.4f LSB\n", f.name().c_str(), p.to_assignments().c_str(), e.max_abs, e.mean_abs);
      }
    }
  }
}

// The quantized-operator families (gelu, softmax, rmsnorm, layernorm): integer models against
// floating point (error bounds of docs/quant.md), generated Verilog lint-clean and bit-exact
// against the integer models in Verilator, cycle and latency models equal to the RTL.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "evaluators/sha256.h"
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
  CHECK(m.correct == true);
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
      {QuantOp::Gelu, "impl=table"},
      {QuantOp::Gelu, "impl=table,threshold=2,table_bits=12,stages=2"},
      {QuantOp::Gelu, "impl=table,threshold=8,stages=3"},
      {QuantOp::Gelu, "impl=interp"},
      {QuantOp::Gelu, "impl=interp,threshold=8,interp_entries=9,table_frac=4,stages=3"},
      {QuantOp::Gelu, "impl=interp,threshold=2,interp_entries=33,table_frac=2,stages=2"},
      {QuantOp::Softmax, ""},
      {QuantOp::Softmax, "vector_length=5,lut_entries=16,exp_shift=4,recip_bits=2,stages=3"},
      {QuantOp::Softmax, "vector_length=64,lut_entries=256,exp_shift=0,recip_bits=8,stages=2"},
      {QuantOp::Softmax, "exp_bits=10,recip_frac=10,stages=2"},
      {QuantOp::RmsNorm, ""},
      {QuantOp::RmsNorm, "vector_length=3,pre_shift=7,acc_bits=16,iterations=0,stages=3"},
      {QuantOp::RmsNorm, "vector_length=64,pre_shift=0,acc_bits=21,iterations=3,stages=2"},
      {QuantOp::RmsNorm, "rsqrt_frac=8,iterations=3"},
      {QuantOp::LayerNorm, "rsqrt_frac=6,iterations=1,stages=2"},
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
      {QuantOp::Softmax, "vector_length=64,lut_entries=256,exp_shift=0,recip_bits=8,stages=2"},
      {QuantOp::Softmax, "exp_bits=10,recip_frac=10,stages=2"},
      {QuantOp::Softmax, "vector_length=5,lut_entries=128,exp_shift=0,recip_bits=8,exp_bits=9,recip_frac=8,stages=3"},
      {QuantOp::RmsNorm, ""},
      {QuantOp::RmsNorm, "vector_length=3,pre_shift=7,acc_bits=16,iterations=0,stages=3"},
      {QuantOp::RmsNorm, "vector_length=64,pre_shift=1,acc_bits=21,iterations=3,stages=2"},
      {QuantOp::RmsNorm, "rsqrt_frac=8,iterations=3"},
      {QuantOp::LayerNorm, "rsqrt_frac=6,iterations=1,stages=2"},
      {QuantOp::LayerNorm, "vector_length=12,rsqrt_frac=10,pre_shift=3,acc_bits=20"},
      {QuantOp::LayerNorm, ""},
      {QuantOp::LayerNorm, "vector_length=12,pre_shift=5,acc_bits=16,iterations=1,stages=3"},
      {QuantOp::LayerNorm, "vector_length=64,pre_shift=0,acc_bits=23,iterations=3,stages=2"},
  };
  for (const auto& [op, set] : matrix) check_rtl(op, set, scratch.cache);
}

TEST_CASE("quantized operators: error figures of the searched values (print only)", "[.print]") {
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
  // The table-driven variants and narrower widths of docs/quant.md (gelu on all 256 inputs).
  std::vector<int> all(256);
  for (int i = 0; i < 256; ++i) all[i] = i - 128;
  const std::vector<std::pair<QuantOp, std::string>> variants = {
      {QuantOp::Gelu, ""}, {QuantOp::Gelu, "impl=table"}, {QuantOp::Gelu, "impl=table,threshold=2"},
      {QuantOp::Gelu, "impl=table,threshold=8"}, {QuantOp::Gelu, "impl=interp,interp_entries=9"},
      {QuantOp::Gelu, "impl=interp"}, {QuantOp::Gelu, "impl=interp,table_frac=2"}, {QuantOp::Gelu, "impl=interp,interp_entries=33"},
      {QuantOp::Gelu, "impl=interp,interp_entries=33,table_frac=2"}, {QuantOp::Gelu, "impl=interp,interp_entries=65,table_frac=4"},
      {QuantOp::Softmax, ""}, {QuantOp::Softmax, "exp_bits=12,recip_frac=12"}, {QuantOp::Softmax, "exp_bits=10,recip_frac=10"},
      {QuantOp::Softmax, "exp_bits=10,recip_frac=16"}, {QuantOp::Softmax, "exp_bits=15,recip_frac=10"}, {QuantOp::Softmax, "exp_bits=8,recip_frac=8"},
      {QuantOp::RmsNorm, ""}, {QuantOp::RmsNorm, "rsqrt_frac=12"}, {QuantOp::RmsNorm, "rsqrt_frac=10"}, {QuantOp::RmsNorm, "rsqrt_frac=8"},
      {QuantOp::RmsNorm, "rsqrt_frac=6"}, {QuantOp::LayerNorm, ""}, {QuantOp::LayerNorm, "rsqrt_frac=12"}, {QuantOp::LayerNorm, "rsqrt_frac=10"},
      {QuantOp::LayerNorm, "rsqrt_frac=8"}, {QuantOp::LayerNorm, "rsqrt_frac=6"}};
  for (const auto& [op, set] : variants) {
    auto c = config(op, set);
    auto e = op == QuantOp::Gelu ? hdl::quant_error(c, {all}) : hdl::quant_error(c, random_vectors(c.vector_length, 5000, 11));
    std::printf("variant %-10s %-44s max %.3f mean %.4f LSB\n", hdl::quant_family_name(op).c_str(), set.c_str(), e.max_abs, e.mean_abs);
  }
}

// The bounds stated in docs/quant.md: 5,000 random int8 vectors of 16 (seed 11), errors in
// output LSBs against the floating-point reference.
TEST_CASE("quantized operators: the integer models stay within the documented error bounds of floating point") {
  struct Bound {
    QuantOp op;
    std::string set;
    double max_abs, mean_abs;
  };
  const std::vector<Bound> bounds = {
      {QuantOp::Gelu, "", 0.55, 0.11},
      {QuantOp::Gelu, "threshold=2", 0.75, 0.11},
      {QuantOp::Gelu, "order=1", 1.0, 0.12},
      {QuantOp::Gelu, "segments=16", 0.5, 0.11},
      {QuantOp::Softmax, "", 3.0, 0.25},
      {QuantOp::Softmax, "lut_entries=128,exp_shift=0,recip_bits=8", 1.5, 0.22},
      {QuantOp::Softmax, "recip_bits=2", 16.0, 0.5},
      {QuantOp::RmsNorm, "", 0.55, 0.26},
      {QuantOp::RmsNorm, "iterations=1", 0.85, 0.26},
      {QuantOp::RmsNorm, "iterations=0", 6.0, 0.65},
      {QuantOp::LayerNorm, "", 1.45, 0.32},
      {QuantOp::LayerNorm, "iterations=0", 6.5, 0.65},
      // Table-driven variants and narrower widths (docs/quant.md).
      {QuantOp::Gelu, "impl=table", 0.5, 0.11},
      {QuantOp::Gelu, "impl=table,threshold=2", 0.75, 0.11},
      {QuantOp::Gelu, "impl=interp,table_frac=2", 0.75, 0.13},
      {QuantOp::Gelu, "impl=interp,interp_entries=33,table_frac=2", 0.65, 0.11},
      {QuantOp::Softmax, "exp_bits=10,recip_frac=10", 3.0, 0.25},
      {QuantOp::Softmax, "exp_bits=8,recip_frac=8", 3.0, 0.25},
      {QuantOp::RmsNorm, "rsqrt_frac=10", 0.6, 0.26},
      {QuantOp::RmsNorm, "rsqrt_frac=8", 0.9, 0.26},
      {QuantOp::LayerNorm, "rsqrt_frac=10", 1.45, 0.32},
  };
  for (const auto& b : bounds) {
    auto c = config(b.op, b.set);
    auto e = hdl::quant_error(c, random_vectors(c.vector_length, 5000, 11));
    INFO(hdl::quant_family_name(b.op) << " " << b.set << ": max " << e.max_abs << ", mean " << e.mean_abs);
    CHECK(e.values == 5000LL * c.vector_length);
    CHECK(e.max_abs <= b.max_abs);
    CHECK(e.mean_abs <= b.mean_abs);
  }
  // gelu is elementwise: all 256 inputs at once, and its saturation regions exactly.
  auto c = config(QuantOp::Gelu, "");
  std::vector<int> all(256);
  for (int i = 0; i < 256; ++i) all[i] = i - 128;
  auto y = hdl::quant_model(c, all);
  CHECK(hdl::quant_error(c, {all}).max_abs <= 0.55);
  for (int i = 0; i < 256; ++i) {
    if (all[i] >= 64) CHECK(y[i] == all[i]);
    if (all[i] < -64) CHECK(y[i] == 0);
  }
}

TEST_CASE("quantized operators: integer models on edge cases") {
  const std::vector<int> zeros(16, 0), mins(16, -128), maxs(16, 127);
  std::vector<int> onehot(16, -128);
  onehot[3] = 127;
  // softmax: equal inputs share the probability evenly (128 / 16 = 8), a one-hot takes it all.
  auto sm = config(QuantOp::Softmax, "");
  for (const auto& v : {zeros, mins, maxs}) CHECK(hdl::quant_model(sm, v) == std::vector<int>(16, 8));
  auto p = hdl::quant_model(sm, onehot);
  CHECK(p[3] == 127);
  CHECK(p[0] == 0);
  // rmsnorm: a constant vector normalizes to +-1 times gamma (in 1/32 steps); zeros stay 0.
  auto rms = config(QuantOp::RmsNorm, "");
  auto t = hdl::quant_tables(rms);
  auto y = hdl::quant_model(rms, maxs);
  for (int i = 0; i < 16; ++i) CHECK(std::abs(y[i] - t.gamma[i] / 2.0) <= 1.0);
  CHECK(hdl::quant_model(rms, zeros) == zeros);
  // layernorm: a constant vector has no variance: the output is beta.
  auto ln = config(QuantOp::LayerNorm, "");
  auto tl = hdl::quant_tables(ln);
  for (const auto& v : {zeros, mins, maxs}) {
    auto out = hdl::quant_model(ln, v);
    for (int i = 0; i < 16; ++i) CHECK(out[i] == tl.beta[i]);
  }
  // gamma and beta are the documented fixed values: gamma in 32..96 (0.5..1.5), beta in -16..16.
  for (int i = 0; i < 16; ++i) {
    CHECK(tl.gamma[i] >= 32);
    CHECK(tl.gamma[i] <= 96);
    CHECK(std::abs(tl.beta[i]) <= 16);
  }
  CHECK_THROWS_WITH(hdl::quant_model(sm, {0, 128}), Catch::Contains("128 is outside int8"));
}

TEST_CASE("quantized operators: invalid parameter combinations are rejected naming the constraint") {
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "threshold=2,segments=32,order=2"),
                    Catch::Contains("32 * threshold / segments > order"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "segments=3"), Catch::Contains("power of two"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "threshold=3"), Catch::Contains("one of 2, 4"));
  CHECK_THROWS_WITH(params(QuantOp::Softmax, "lut_entries=256,exp_shift=1"),
                    Catch::Contains("lut_entries * 2^exp_shift <= 256"));
  CHECK_THROWS_WITH(params(QuantOp::RmsNorm, "vector_length=64,pre_shift=0,acc_bits=20"),
                    Catch::Contains("vector_length * (16384 >> pre_shift) <= 2^acc_bits - 1"));
  CHECK_THROWS_WITH(params(QuantOp::LayerNorm, "pre_shift=2,acc_bits=18"),
                    Catch::Contains("vector_length * (65536 >> pre_shift) <= 2^acc_bits - 1"));
  CHECK_THROWS_WITH(params(QuantOp::RmsNorm, "iterations=4"), Catch::Contains("0..3"));
  CHECK_THROWS_WITH(params(QuantOp::Softmax, "vector_length=1"), Catch::Contains("2..64"));
  // The plain functions check the same constraints (they do not go through a ParamSpace).
  hdl::QuantConfig bad = config(QuantOp::LayerNorm, "");
  bad.acc_bits = 18;
  CHECK_THROWS_WITH(hdl::quant_verilog(bad), Catch::Contains("accumulator can overflow") && Catch::Contains("raise acc_bits or pre_shift"));
  CHECK_THROWS_WITH(hdl::quant_op("tanh"), Catch::Contains("known: gelu, softmax, rmsnorm, layernorm"));
  // Workloads.
  auto c = config(QuantOp::Gelu, "");
  CHECK_THROWS_WITH(hdl::quant_vectors(c, {{"patterns", {"sine"}}}), Catch::Contains("unknown data pattern"));
  CHECK_THROWS_WITH(hdl::quant_vectors(c, {{"vectors", 0}}), Catch::Contains("no vectors"));
  CHECK_THROWS_WITH(hdl::quant_vectors(c, {{"vectors", -1}}), Catch::Contains("\"vectors\" must be an integer"));
  CHECK_THROWS_WITH(hdl::quant_vectors(c, {{"seed", "x"}}), Catch::Contains("\"seed\" must be"));
}

TEST_CASE("quantized operators: interface JSON, canonical Verilog and models by name for chipgym score") {
  for (QuantOp op : {QuantOp::Gelu, QuantOp::Softmax, QuantOp::RmsNorm, QuantOp::LayerNorm}) {
    const std::string task = hdl::quant_family_name(op) + "-int8";
    auto p = fam(op).space().defaults();
    json i = hdl::quant_interface(task, p);
    CHECK(i["module"] == hdl::quant_module_name(op));
    CHECK(i["protocol"] == "stream");
    CHECK(i["signed"] == true);
    CHECK(i["vector_length"] == 16);
    CHECK(i["ports"] == json{{"clk", 1}, {"rst", 1}, {"in_valid", 1}, {"in_ready", -1}, {"in_data", 8}, {"in_last", 1},
                             {"out_valid", -1}, {"out_ready", 1}, {"out_data", -8}, {"out_last", -1}});
    const std::string v = hdl::quant_verilog(task, p);
    CHECK(v.find("module " + hdl::quant_module_name(op) + " (") != std::string::npos);
    CHECK(v.find("$") == v.find("$signed"));  // no system tasks, only $signed
    CHECK(fam(op).emit(p).files.begin()->second.find(v) != std::string::npos);
    std::vector<int> x(16);
    for (int k = 0; k < 16; ++k) x[k] = k * 13 - 100;
    CHECK(hdl::quant_model(task, p, x) == hdl::quant_model(hdl::QuantConfig::from(op, p), x));
    CHECK(&hdl::family(hdl::quant_family_name(op)) == &fam(op));
  }
}

TEST_CASE("quantized operators: a wrong design is caught with the first mismatch named") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  auto p = params(QuantOp::Gelu, "");
  auto rtl = fam(QuantOp::Gelu).emit(p);
  std::string text = rtl.files.begin()->second;
  // Saturate the top region to x - 1 instead of x.
  const std::string from = "bc_high ? bc_x :", to = "bc_high ? bc_x - 8'd1 :";
  REQUIRE(text.find(from) != std::string::npos);
  text.replace(text.find(from), from.size(), to);
  o.inject = std::make_pair(rtl.files.begin()->first, text);
  auto m = pipeline.evaluate(fam(QuantOp::Gelu), p, kEdgeWorkload, o);
  REQUIRE(m.ok());
  CHECK(m.correct == false);  // simulated, and wrong
  CHECK(m.mismatches > 0);
  CHECK_THAT(m.first_mismatch, Catch::Contains("pass 0 vector 1 element 0") && Catch::Contains("expected 127, got 126"));
}

TEST_CASE("quantized tasks: listed, scored with the error budget, and evaluated from the command line") {
  for (const char* name : {"gelu-int8", "softmax-int8", "rmsnorm-int8", "layernorm-int8"}) {
    const auto& t = env::task(name);
    CHECK(t.agent_groups().size() >= 2);
    CHECK(t.budget.contains("max_error_lsb"));
    for (const auto& [param, values] : t.search_domains()) CHECK(!values.empty());
  }
  // score(): the error budget decides admissibility.
  const auto& f = fam(QuantOp::Softmax);
  json m = {{"cycles", 1000}, {"transistors", 500000},
            {"derived", {{"elements", 800}, {"latency_cycles", 50}, {"max_abs_error_lsb", 2.5}, {"mean_abs_error_lsb", 0.2}}}};
  json s = f.score(m, {{"max_error_lsb", 3.0}});
  CHECK(s["within_budget"] == true);
  CHECK(s["objective"].get<double>() == Approx(0.8 / 0.5));
  s = f.score(m, {{"max_error_lsb", 2.0}});
  CHECK(s["within_budget"] == false);
  CHECK(s["objective"].get<double>() == 0.0);
  CHECK(s["accurate"] == false);

  auto tasks = test_support::run_chipgym({"tasks"});
  for (const char* name : {"gelu-int8", "softmax-int8", "rmsnorm-int8", "layernorm-int8"})
    CHECK(tasks.out.find(name) != std::string::npos);
  test_support::ScratchCache scratch;
  auto r = test_support::run_chipgym({"eval", "--task", "softmax-int8", "--fidelity", "rtl", "--no-fpga", "--json",
                                      "--cache-dir", (scratch.dir.path() / "c").string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  CHECK(j.dump().find("\"correct\":true") != std::string::npos);
  CHECK(j.dump().find("max_abs_error_lsb") != std::string::npos);
  REQUIRE(j["score"].contains("elements_per_cycle_backpressured"));
  CHECK(j["score"]["elements_per_cycle_backpressured"].get<double>() < j["score"]["elements_per_cycle"].get<double>());
  CHECK(j["derived"]["latency_cycles"] == 2 * 16 + 1 + 1);
  auto bad = test_support::run_chipgym({"eval", "--task", "rmsnorm-int8", "--set", "pre_shift=0,acc_bits=16"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("2^acc_bits - 1") != std::string::npos);
}

TEST_CASE("quantized operators: RTL bit-exact on 300 random vectors per operator, with and without back-pressure") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  const json workload = {{"vectors", 300}, {"seed", 99}};
  for (QuantOp op : {QuantOp::Gelu, QuantOp::Softmax, QuantOp::RmsNorm, QuantOp::LayerNorm}) {
    for (const std::string set : {"", "vector_length=7,stages=2"}) {
      auto p = params(op, set);
      auto m = pipeline.evaluate(fam(op), p, workload, o);
      INFO(hdl::quant_family_name(op) << " " << set << ": " << (m.error ? m.error->message : "") << m.first_mismatch);
      REQUIRE(m.ok());
      CHECK(m.correct == true);
      CHECK(m.checked == 2 * 300 * p.integer("vector_length"));
      CHECK(m.cycles == m.cycles_model);
    }
  }
}

TEST_CASE("quantized operators: every operator synthesizes (generic cells and iCE40) and reports its area") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.fidelity = "synth";
  const json workload = {{"vectors", 4}, {"seed", 1}};
  const std::vector<std::pair<QuantOp, std::string>> designs = {
      {QuantOp::Gelu, ""}, {QuantOp::Gelu, "order=1,segments=4"}, {QuantOp::Gelu, "impl=table"}, {QuantOp::Softmax, ""},
      {QuantOp::Softmax, "exp_bits=10,recip_frac=10"},
      {QuantOp::RmsNorm, ""}, {QuantOp::RmsNorm, "iterations=0"}, {QuantOp::LayerNorm, ""}};
  std::map<std::string, long long> area;
  for (const auto& [op, set] : designs) {
    auto m = pipeline.evaluate(fam(op), params(op, set), workload, o);
    INFO(hdl::quant_family_name(op) << " " << set << ": " << (m.error ? m.error->message : ""));
    REQUIRE(m.ok());
    CHECK(m.transistors > 0);
    CHECK(m.luts > 0);
    CHECK(m.cycles == m.cycles_model);
    area[hdl::quant_family_name(op) + " " + set] = m.transistors;
  }
  // Cheaper approximations are smaller: a linear 4-segment GELU, 1/sqrt without Newton-Raphson.
  CHECK(area["gelu order=1,segments=4"] < area["gelu "]);
  CHECK(area["rmsnorm iterations=0"] < area["rmsnorm "]);
  // A direct table of GELU is at least 8x smaller than the canonical polynomial, and
  // narrower exp and reciprocal tables make a smaller softmax.
  CHECK(area["gelu impl=table"] * 8 <= area["gelu "]);
  CHECK(area["gelu impl=table"] <= 1488);
  CHECK(area["softmax exp_bits=10,recip_frac=10"] < area["softmax "]);
}

// Parameters added with the tables (impl, table_bits, exp_bits, rsqrt_frac, ...) stay out of a
// design's key at their defaults: every design cached before them keeps its key, and the
// canonical kernels keep their Verilog byte for byte (hashes recorded before the change).
TEST_CASE("quantized operators: a default design keeps the key and Verilog recorded before the table parameters") {
  struct Recorded {
    QuantOp op;
    std::string params, key, verilog;
  };
  const std::vector<Recorded> recorded = {
      {QuantOp::Gelu, R"({"order":2,"segments":8,"stages":1,"threshold":4,"vector_length":16})",
       "0696e55503143ce8e0267f4494437aef1c1c1f823a61ea4bb6c60fab128b1310",
       "b8068004eba84a8ed466dff39359b52d59b3e75346aa19cb903fbbccb5858aee"},
      {QuantOp::Softmax, R"({"exp_shift":1,"lut_entries":64,"recip_bits":6,"stages":1,"vector_length":16})",
       "d69beb10beb15b06c47a80b90eee7be341dafe54d84179dcf0f66db5f6a9ba56",
       "0673caad301618bea4b74a8c0deee3f29df501c37186920d75a017665994732d"},
      {QuantOp::RmsNorm, R"({"acc_bits":24,"iterations":2,"pre_shift":2,"stages":1,"vector_length":16})",
       "98d51990c670fcd7df94a6893151d22f2a183e7f558c3874d14a7fa474b4e042",
       "8cb1fad3bce4a5b022385519f37001c1cdb29b9c6238fd52108b9b0be7414afc"},
      {QuantOp::LayerNorm, R"({"acc_bits":24,"iterations":2,"pre_shift":2,"stages":1,"vector_length":16})",
       "de892ad51a8ed9ba4e17e91ad8205ba73b6dd981be6d08b5709ce41045a2fa4b",
       "a56b31c2b7a80676c9b5c1b161e13e6249e39d4a9a798b8f9d2be708a08536b2"},
  };
  evaluators::Pipeline pipeline(nullptr);
  evaluators::EvalOptions o;
  o.fidelity = "model";  // the model fidelity's key holds no tool versions: the same on every machine
  for (const auto& r : recorded) {
    const auto& f = fam(r.op);
    const auto p = f.space().defaults();
    const auto& task = env::task(f.name() + "-int8");
    INFO(f.name());
    CHECK(f.space().key(p) == r.params);
    CHECK(pipeline.design_key(f, p, task.workload, o) == r.key);
    const auto rtl = f.emit(p);
    CHECK(evaluators::sha256_hex(rtl.files.begin()->second) == r.verilog);
  }
  // A new parameter away from its default is part of the key (and of the file header).
  const auto table = params(QuantOp::Gelu, "impl=table");
  CHECK(fam(QuantOp::Gelu).space().key(table) != recorded[0].params);
  CHECK_THAT(fam(QuantOp::Gelu).emit(table).files.begin()->second, Catch::Contains("impl=table"));
}

const json kSweep = {{"patterns", {"sweep"}}, {"vectors", 0}, {"seed", 3}};

TEST_CASE("gelu: every implementation matches its integer model on all 256 inputs in RTL") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  for (const std::string set :
       {"", "impl=table", "impl=table,threshold=2,table_bits=12,stages=2", "impl=table,threshold=8,stages=3", "impl=interp",
        "impl=interp,threshold=2,interp_entries=33,table_frac=2,stages=2",
        "impl=interp,threshold=8,interp_entries=9,table_frac=4,table_bits=13,stages=3"}) {
    auto p = params(QuantOp::Gelu, set);
    auto m = pipeline.evaluate(fam(QuantOp::Gelu), p, kSweep, o);
    INFO(set << ": " << (m.error ? m.error->message : "") << m.first_mismatch);
    REQUIRE(m.ok());
    CHECK(m.correct == true);
    CHECK(m.checked == 2 * 256);  // every int8 input, in both passes
    CHECK(m.cycles == m.cycles_model);
  }
  // The sweep holds every int8 value exactly once.
  auto vectors = hdl::quant_vectors(config(QuantOp::Gelu, ""), kSweep);
  REQUIRE(vectors.size() == 16);
  CHECK(vectors.front().front() == -128);
  CHECK(vectors.back().back() == 127);
}

TEST_CASE("gelu: the direct table holds the correctly rounded GELU of every input") {
  std::vector<int> all(256);
  for (int i = 0; i < 256; ++i) all[i] = i - 128;
  for (const std::string set : {"impl=table", "impl=table,threshold=8"}) {
    auto c = config(QuantOp::Gelu, set);
    auto y = hdl::quant_model(c, all);
    auto want = hdl::quant_reference(c, all);
    for (int i = 0; i < 256; ++i) CHECK(y[i] == std::lround(want[i]));
    CHECK(hdl::quant_error(c, {all}).max_abs <= 0.5);
  }
  // Its derived width: GELU over [-4, 4) in 1/16 steps is -3..63, 7 signed bits; over [-2, 2) -3..31, 6 bits;
  // over the whole int8 domain -3..127, 8 bits.
  CHECK(hdl::quant_tables(config(QuantOp::Gelu, "impl=table")).table_width == 7);
  CHECK(hdl::quant_tables(config(QuantOp::Gelu, "impl=table,threshold=2")).table_width == 6);
  CHECK(hdl::quant_tables(config(QuantOp::Gelu, "impl=table,threshold=8")).table_width == 8);
  // Knots with 2 fraction bits over [-4, 4]: -11..256, 10 bits.
  CHECK(hdl::quant_tables(config(QuantOp::Gelu, "impl=interp,table_frac=2")).table_width == 10);
}

TEST_CASE("quantized operators: bad table parameters are refused by name") {
  // A table whose width cannot hold the function's range.
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=table,table_bits=6"), Catch::Contains("table_bits"));
  hdl::QuantConfig narrow = config(QuantOp::Gelu, "impl=table");
  narrow.table_bits = 6;
  CHECK_THROWS_WITH(hdl::quant_verilog(narrow), Catch::Contains("table_bits = 6 cannot hold the range -3..63 of the direct table") &&
                                                    Catch::Contains("needs 7 bits"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=interp,table_frac=2,table_bits=8"), Catch::Contains("table_bits"));
  CHECK_NOTHROW(params(QuantOp::Gelu, "impl=table,table_bits=7"));
  // An interpolating table with fewer than two entries per segment.
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=interp,interp_entries=1"),
                    Catch::Contains("interp_entries >= 2") && Catch::Contains("two entries per segment"));
  hdl::QuantConfig one = config(QuantOp::Gelu, "impl=interp");
  one.interp_entries = 1;
  CHECK_THROWS_WITH(hdl::quant_model(one, {0}), Catch::Contains("interp_entries = 1") && Catch::Contains("two entries per segment"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=interp,interp_entries=6"), Catch::Contains("interp_entries - 1 is a power of two"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=interp,threshold=2,interp_entries=65"), Catch::Contains("at most 16 * threshold"));
  // Parameters that mean nothing for the chosen implementation.
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=table,order=1"), Catch::Contains("no polynomial"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "table_bits=8"), Catch::Contains("impl=poly has no table"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=table,interp_entries=9"), Catch::Contains("only impl=interp has knots"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "threshold=8"), Catch::Contains("threshold = 8"));
  CHECK_THROWS_WITH(params(QuantOp::Gelu, "impl=rom"), Catch::Contains("poly, table, interp"));
  // softmax: the reciprocal index needs recip_bits bits below the sum's leading one.
  CHECK_THROWS_WITH(params(QuantOp::Softmax, "exp_bits=6,recip_bits=6"), Catch::Contains("exp_bits >= recip_bits + 1"));
  CHECK_THROWS_WITH(params(QuantOp::RmsNorm, "rsqrt_frac=5"), Catch::Contains("6..14"));
}

// The gemm-int8 family: parameters, generator, golden model, cycle model, against real
// Verilator simulations.
#include <catch2/catch.hpp>
#include <set>

#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "hdl/gemm.h"
#include "test_support.h"

using namespace chipgym;
using hdl::ParamError;
using json = nlohmann::json;

namespace {

const hdl::Family& gemm() { return hdl::gemm_family(); }
hdl::Params params(const std::string& set) { return gemm().space().parse_assignments(set); }

}  // namespace

TEST_CASE("gemm parameters: unknown names, out-of-range values and broken constraints name what is valid") {
  const auto& space = gemm().space();
  CHECK(space.parse_assignments("").integer("rows") == 4);
  CHECK(space.parse_assignments("rows=8, cols=2,dataflow=ws").symbol("dataflow") == "ws");
  CHECK_THROWS_WITH(space.parse_assignments("rowz=8"),
                    Catch::Contains("unknown parameter 'rowz'") && Catch::Contains("rows, cols, in_bits"));
  CHECK_THROWS_WITH(space.parse_assignments("rows=33"),
                    Catch::Contains("'rows' = 33 is out of range") && Catch::Contains("1..32"));
  CHECK_THROWS_WITH(space.parse_assignments("rows=0"), Catch::Contains("1..32"));
  CHECK_THROWS_WITH(space.parse_assignments("in_bits=7"), Catch::Contains("one of 4, 8, 16"));
  CHECK_THROWS_WITH(space.parse_assignments("dataflow=rs"), Catch::Contains("one of os, ws"));
  CHECK_THROWS_WITH(space.parse_assignments("a_depth=12"), Catch::Contains("power of two"));
  CHECK_THROWS_WITH(space.parse_assignments("rows=eight"), Catch::Contains("not an integer"));
  CHECK_THROWS_WITH(space.parse_assignments("rows"), Catch::Contains("expected name=value"));
  CHECK_THROWS_WITH(space.parse_assignments("rows=,cols=2"), Catch::Contains("expected name=value"));
  CHECK_THROWS_WITH(space.parse_assignments("rows=2,rows=3"), Catch::Contains("set twice"));
  CHECK_THROWS_WITH(space.parse_assignments("in_bits=16,acc_bits=24"), Catch::Contains("acc_bits >= 2 * in_bits"));
  auto p = params("rows=3,cols=5,dataflow=ws,pipeline=1");
  CHECK(space.from_json(p.to_json()) == p);
  CHECK(space.parse_assignments(p.to_assignments()) == p);
  CHECK_THROWS_WITH(space.from_json(json{{"depth", 3}}), Catch::Contains("unknown parameter 'depth'"));
}

TEST_CASE("gemm generator is deterministic: same parameters give the same bytes, different ones differ") {
  auto a = gemm().emit(params("rows=4,cols=3,dataflow=ws"));
  auto b = gemm().emit(params("rows=4,cols=3,dataflow=ws"));
  auto c = gemm().emit(params("rows=4,cols=3,dataflow=os"));
  CHECK(a.files == b.files);
  CHECK(a.source() != c.source());
  CHECK(a.top == "gemm_top");
  CHECK(a.files.count("gemm_pe.v") == 1);
  CHECK(a.files.count("gemm_buf_c.v") == 1);
  CHECK(c.files.count("gemm_buf_16x32.v") == 1);  // os: A buffer, 16 entries of 4 x 8 bits
  CHECK(c.files.count("gemm_buf_16x24.v") == 1);  // os: B buffer, 16 entries of 3 x 8 bits
  // A square array with equal depths shares one buffer module between A and B.
  auto square = gemm().emit(params("rows=4,cols=4"));
  CHECK(square.files.size() == 6);
  CHECK(square.modules.size() == 6);
}

TEST_CASE("integer GEMM reference wraps to the accumulator width") {
  // 2x2 by 2x2, exact.
  auto c = hdl::gemm_reference({1, 2, 3, 4}, {5, 6, 7, 8}, 2, 2, 2, 32);
  CHECK(c == std::vector<std::int64_t>{19, 22, 43, 50});
  // (-128 * -128) * 2 = 32768 does not fit a signed 16-bit accumulator: wraps to -32768.
  CHECK(hdl::gemm_reference({-128, -128}, {-128, -128}, 1, 2, 1, 16) == std::vector<std::int64_t>{-32768});
  hdl::GemmConfig g;
  g.in_bits = 8;
  g.acc_bits = 32;
  CHECK(g.max_exact_k() == 131071);  // (2^31 - 1) / 2^14
}

TEST_CASE("cycle model: documented per-phase counts for small cases") {
  hdl::GemmConfig g;
  g.rows = g.cols = 1;
  g.a_depth = g.b_depth = g.c_depth = 1;
  // os, 1x1x1: clear 1 + load 2 + stream 1 + drain 1 + write 1.
  CHECK(hdl::gemm_model_cycles(g, {1, 1, 1}) == 6);
  g.pipeline = 1;
  CHECK(hdl::gemm_model_cycles(g, {1, 1, 1}) == 7);
  g.pipeline = 0;
  g.weight_stationary = true;
  // ws, 1x1x1: load max(1,1)+1 + stream 1+1+1 + write 1.
  CHECK(hdl::gemm_model_cycles(g, {1, 1, 1}) == 6);
}

// The verification matrix: both dataflows, every operand width, square and non-square
// arrays, buffers that force several K or M chunks, pipelining, and narrow accumulators
// that wrap. Every configuration runs uneven shapes with random and edge-value data.
// Split into four test cases so that ctest runs them side by side.
static const std::vector<std::string> kOutputStationary = {
    "rows=1,cols=1",
    "rows=2,cols=2",
    "rows=3,cols=5",
    "rows=4,cols=4,in_bits=4,acc_bits=12",
    "rows=4,cols=2,in_bits=16,acc_bits=40",
    "rows=5,cols=3,a_depth=2,b_depth=4",
    "rows=2,cols=6,pipeline=1",
    "rows=8,cols=8,a_depth=4,b_depth=4",
    "rows=6,cols=1,in_bits=16,acc_bits=32,pipeline=1",
    "rows=1,cols=7,in_bits=8,acc_bits=16,a_depth=1,b_depth=1",
    "rows=3,cols=3,in_bits=4,acc_bits=8,pipeline=1",
    "rows=7,cols=4,in_bits=8,acc_bits=64",
};
static const std::vector<std::string> kWeightStationary = {
    "rows=1,cols=1,dataflow=ws",
    "rows=2,cols=2,dataflow=ws",
    "rows=3,cols=5,dataflow=ws",
    "rows=4,cols=4,dataflow=ws,in_bits=4,acc_bits=12",
    "rows=4,cols=2,dataflow=ws,in_bits=16,acc_bits=40",
    "rows=5,cols=3,dataflow=ws,a_depth=2,c_depth=4",
    "rows=2,cols=6,dataflow=ws,pipeline=1",
    "rows=8,cols=8,dataflow=ws,a_depth=4,c_depth=8",
    "rows=6,cols=1,dataflow=ws,in_bits=16,acc_bits=32,pipeline=1",
    "rows=1,cols=7,dataflow=ws,in_bits=8,acc_bits=16,a_depth=1,c_depth=1",
    "rows=3,cols=3,dataflow=ws,in_bits=4,acc_bits=8,pipeline=1",
    "rows=7,cols=4,dataflow=ws,in_bits=8,acc_bits=64,c_depth=2",
};
static const std::vector<std::string> kLarge = {
    "rows=16,cols=16,dataflow=os",
    "rows=16,cols=16,dataflow=ws,pipeline=1",
};

static const json kEdgeWorkload = {
    {"shapes", {{1, 1, 1}, {5, 7, 3}, {9, 4, 10}, {8, 17, 8}, {3, 33, 2}}},
    {"patterns", {"random", "min", "max", "zero", "identity", "minmax"}},
    {"seed", 7}};

static void check_bit_exact_and_cycles(const std::vector<std::string>& configs) {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  for (const auto& set : configs) {
    auto p = params(set);
    auto m = pipeline.evaluate(gemm(), p, kEdgeWorkload, o);
    INFO(set);
    INFO((m.error ? m.error->category + ": " + m.error->message : std::string()));
    INFO(m.first_mismatch);
    REQUIRE(m.ok());
    CHECK(m.stages["lint"]["warnings"] == 0);  // verilator --lint-only -Wall is clean
    CHECK(m.correct == true);
    CHECK(m.mismatches == 0);
    CHECK(m.checked == 6 * (1 + 15 + 90 + 64 + 6));  // every element of every problem
    CHECK(m.cycles == m.cycles_model);
    // Per problem, too: the model is exact, not just right on average.
    auto per_problem = m.stages["simulate"]["cycles_per_problem"].get<std::vector<long long>>();
    std::size_t i = 0;
    for (const auto& shape : hdl::gemm_shapes(kEdgeWorkload))
      for (int pattern = 0; pattern < 6; ++pattern, ++i)
        CHECK(per_problem.at(i) == hdl::gemm_model_cycles(hdl::GemmConfig::from(p), shape));
  }
}

TEST_CASE("output-stationary designs are bit-exact against the integer GEMM and take the model's cycles") {
  check_bit_exact_and_cycles(kOutputStationary);
}

TEST_CASE("weight-stationary designs are bit-exact against the integer GEMM and take the model's cycles") {
  check_bit_exact_and_cycles(kWeightStationary);
}

TEST_CASE("16 x 16 arrays in both dataflows are bit-exact and take the model's cycles") {
  check_bit_exact_and_cycles(kLarge);
}

TEST_CASE("the verification matrix covers both dataflows, every width, square and non-square arrays") {
  std::set<std::string> dataflows, widths;
  bool square = false, non_square = false, pipelined = false;
  std::size_t total = 0;
  for (const auto* group : {&kOutputStationary, &kWeightStationary, &kLarge})
    for (const auto& set : *group) {
      auto g = hdl::GemmConfig::from(params(set));
      dataflows.insert(g.weight_stationary ? "ws" : "os");
      widths.insert(std::to_string(g.in_bits));
      (g.rows == g.cols ? square : non_square) = true;
      pipelined |= g.pipeline == 1;
      ++total;
    }
  CHECK(total >= 24);
  CHECK(dataflows.size() == 2);
  CHECK(widths == std::set<std::string>{"16", "4", "8"});
  CHECK(square);
  CHECK(non_square);
  CHECK(pipelined);
}

TEST_CASE("a design that drops a pipeline cycle is caught as a mismatch, not a crash") {
  // Inject a controller whose drain is one cycle short: results are read too early.
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  auto p = params("rows=2,cols=3");
  auto rtl = gemm().emit(p);
  std::string ctrl = rtl.files.at("gemm_ctrl.v");
  const std::string drain = "S_DRAIN: if (cnt == 16'd2)";
  REQUIRE(ctrl.find(drain) != std::string::npos);
  ctrl.replace(ctrl.find(drain), drain.size(), "S_DRAIN: if (cnt == 16'd1)");
  evaluators::EvalOptions o;
  o.synthesis = false;
  o.inject = std::make_pair(std::string("gemm_ctrl.v"), ctrl);
  auto m = pipeline.evaluate(gemm(), p, kEdgeWorkload, o);
  REQUIRE(m.ok());
  CHECK(m.correct == false);  // simulated, and wrong
  CHECK(m.mismatches > 0);
  CHECK_THAT(m.first_mismatch, Catch::Contains("expected") && Catch::Contains("got"));
}

TEST_CASE("a design that fails synthesis or never finishes gives a structured error, not a crash") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  auto p = params("rows=2,cols=2");
  const json workload = {{"shapes", {{3, 3, 3}}}};

  SECTION("Verilog Yosys cannot read") {
    evaluators::EvalOptions o;
    o.fidelity = "synth";  // no lint first: Yosys itself must report the error
    o.fpga = false;
    o.inject = std::make_pair(std::string("gemm_pe.v"), std::string("module gemm_pe(input wire clk;\nendmodule\n"));
    auto m = pipeline.evaluate(gemm(), p, workload, o);
    REQUIRE(m.error);
    CHECK(m.error->category == "synth");
    CHECK_THAT(m.error->message, Catch::Contains("yosys exited with code") && Catch::Contains("ERROR"));
  }
  SECTION("a controller that never raises done stops at the cycle limit") {
    auto rtl = gemm().emit(p);
    std::string ctrl = rtl.files.at("gemm_ctrl.v");
    const std::string done = "assign done        = state == S_DONE;";
    REQUIRE(ctrl.find(done) != std::string::npos);
    ctrl.replace(ctrl.find(done), done.size(), "assign done        = 1'b0;");
    evaluators::EvalOptions o;
    o.synthesis = false;
    o.inject = std::make_pair(std::string("gemm_ctrl.v"), ctrl);
    auto m = pipeline.evaluate(gemm(), p, workload, o);
    REQUIRE(m.error);
    CHECK(m.error->category == "sim_timeout");
    CHECK_THAT(m.error->message, Catch::Contains("no-done-within-cycle-limit"));
    CHECK(m.correct == false);  // simulated, and wrong
  }
}

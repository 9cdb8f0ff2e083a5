// chipgym score: screening of untrusted Verilog, the interface check, and the scoring cascade
// on correct, subtly wrong, cheating, malicious and broken candidates.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "env/kernel_task.h"
#include "evaluators/pool.h"
#include "evaluators/runner.h"
#include "hdl/family.h"
#include "hdl/param_space.h"
#include "env/score.h"
#include "evaluators/screen.h"
#include "relu_support.h"
#include "test_support.h"

using chipgym::evaluators::RunResult;
using chipgym::evaluators::TempDir;
using chipgym::env::find_kernel_task;
using chipgym::env::score_candidate;
using chipgym::evaluators::screen_verilog;
using chipgym::env::ScoreOptions;
using chipgym::env::task_golden;
using json = nlohmann::json;
using test_support::relu;
using test_support::relu_with;
using test_support::run_chipgym;

namespace {

const std::string kReluLine = "data_q <= in_data[7] ? 8'd0 : in_data;";

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

ScoreOptions quick(std::uint64_t seed = 1) {
  ScoreOptions o;
  o.seed = seed;
  o.random_vectors = 16;
  o.eval.sim_timeout = 5;
  return o;
}

chipgym::env::ScoreReport score_relu(const std::string& verilog, const ScoreOptions& o = quick()) {
  const auto& task = find_kernel_task("relu-int8");
  return score_candidate(verilog, chipgym::env::task_golden(task, o.seed, o.random_vectors), o, task.name);
}

json without_timings(json j) {
  j.erase("stages");
  return j;
}

}  // namespace

// ---------------------------------------------------------------- screening (no tools) ---

TEST_CASE("screen accepts the canonical kernel and harmless uses of $ and backticks") {
  CHECK(screen_verilog(relu()).ok);
  const std::string ok =
      "`timescale 1ns/1ps\n`default_nettype none\n`define W 8\n"
      "// $system(\"rm -rf /\") in a comment is not a call\n"
      "/* neither is $fopen here */\n"
      "module m #(parameter W = `W) (input wire [W-1:0] a, output wire [$clog2(W):0] y);\n"
      "  localparam [8*8-1:0] S = \"$system\";  // a string, not a call\n"
      "  assign y = $unsigned($signed(a[0])) + $bits(a);\n"
      "  always @(*) begin end\n"
      "  /* verilator lint_off UNUSEDSIGNAL */ wire unused;  /* verilator lint_on UNUSEDSIGNAL */\n"
      "endmodule\n";
  auto r = screen_verilog(ok);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("screen refuses host-touching system tasks and names the line") {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"module m;\ninitial $system(\"touch /tmp/pwned\");\nendmodule\n", "line 2: $system is not allowed"},
      {"module m;\ninteger f;\ninitial f = $fopen(\"out.txt\", \"w\");\nendmodule\n", "line 3: $fopen is not allowed"},
      {"module m;\ninitial $fwrite(1, \"x\");\nendmodule\n", "line 2: $fwrite is not allowed"},
      {"module m;\nreg [7:0] mem [0:3];\ninitial $readmemh(\"secret.hex\", mem);\nendmodule\n", "line 3: $readmemh is not allowed"},
      {"module m;\ninitial $writememb(\"x\", mem);\nendmodule\n", "$writememb is not allowed"},
      {"module m;\ninitial $dumpfile(\"x.vcd\");\nendmodule\n", "$dumpfile is not allowed"},
      {"module m;\ninitial $display(\"hi\");\nendmodule\n", "$display is not allowed"},
      {"module m;\ninitial $c(\"system(0)\");\nendmodule\n", "$c is not allowed"},
      {"module m;\nwire [7:0] a = 8'hFF$fopen;\nendmodule\n", "line 2: $ inside a name is not allowed"},
      {"module m;\nwire a$b;\nendmodule\n", "$ inside a name is not allowed"},
      {"module m;\nwire a = $ ;\nendmodule\n", "a stray $"},
      {"`include \"/etc/passwd\"\nmodule m; endmodule\n", "line 1: `include is not allowed"},
      {"module m;\nimport \"DPI-C\" function int system(input string cmd);\nendmodule\n", "line 2: DPI import is not allowed"},
      {"module m;\nexport \"DPI-C\" task t;\nendmodule\n", "DPI export is not allowed"},
      {"module m;\n`line 1 \"x\" 0\nendmodule\n", "`line is not allowed"},
      {"module m;\n`UNDEFINED_MACRO\nendmodule\n", "`UNDEFINED_MACRO is not allowed"},
      {"`define P(a) a``_q\nmodule m; endmodule\n", "line 1: `` token pasting"},
      {"module m;\n// synthesis translate_off\nendmodule\n", "line 2: tool directives in comments"},
      {"module m;\nreg r /*verilator public*/;\nendmodule\n", "tool directives in comments"},
      {"module m;\n/* verilator lint_off UNUSED */ /* verilator public */\nendmodule\n", "tool directives in comments"},
      {"(* blackbox *)\nmodule m; endmodule\n", "line 1: attributes"},
      {"module m;\nwire \\$system ;\nendmodule\n", "escaped identifiers"},
      {"module m;\n/* never closed\nendmodule\n", "line 2: a /* comment is never closed"},
      {"module m;\nwire [7:0] x = \"abc;\nendmodule\n", "line 2: a string is never closed"},
      {"module m;\nwire \xc3\xa9;\nendmodule\n", "line 2: a non-ASCII character"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = screen_verilog(c.text);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.message, Catch::Contains(c.expect));
  }
  // Non-ASCII inside a comment is fine (an author's name).
  CHECK(screen_verilog("// Jos\xc3\xa9\nmodule m; endmodule\n").ok);
}

TEST_CASE("screen refuses empty, binary and oversize files") {
  CHECK_THAT(screen_verilog("").message, Catch::Contains("empty"));
  CHECK_THAT(screen_verilog(" \n\t\n").message, Catch::Contains("empty"));
  std::string binary = "module m;\n";
  binary += std::string("\x7f" "ELF\0\0", 6);
  auto b = screen_verilog(binary);
  CHECK_FALSE(b.ok);
  CHECK_THAT(b.message, Catch::Contains("line 2: binary data"));
  CHECK_THAT(screen_verilog(std::string("module m;\x01\n")).message, Catch::Contains("control byte 1"));
  const std::string big(10u << 20, ' ');
  auto r = screen_verilog(big);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.message, Catch::Contains("10485760 bytes; at most 262144"));
}

TEST_CASE("the module header parser reads ANSI ports, parameters and widths") {
  using chipgym::env::parse_module_ports;
  auto ports = parse_module_ports(screen_verilog(relu()).code, "relu_int8");
  CHECK(ports == find_kernel_task("relu-int8").iface.ports);
  const std::string param =
      "module k #(parameter W = 8, parameter integer OW = W * 2) (input wire clk, input logic signed [W-1:0] a, b,\n"
      "  output reg [OW-1:0] y, output wire z);\nendmodule\n";
  auto p = parse_module_ports(param, "k");
  CHECK(p == std::map<std::string, int>{{"clk", 1}, {"a", 8}, {"b", 8}, {"y", -16}, {"z", -1}});
  CHECK_THROWS_WITH(parse_module_ports(param, "relu_int8"), Catch::Contains("no module 'relu_int8' in the candidate (it defines: k)"));
  CHECK_THROWS_WITH(parse_module_ports("module k(a, b);\ninput a;\nendmodule\n", "k"), Catch::Contains("non-ANSI"));
  CHECK_THROWS_WITH(parse_module_ports("module k(input wire [N-1:0] a);\nendmodule\n", "k"),
                    Catch::Contains("the width of port 'a' ([N-1:0]) is not a constant"));
}

TEST_CASE("score refuses a module with the wrong name or ports before any tool runs") {
  auto renamed = score_relu(relu_with("module relu_int8", "module relu8"));
  CHECK(renamed.exit_code() == 2);
  CHECK(renamed.category == "interface");
  CHECK_THAT(renamed.message, Catch::Contains("no module 'relu_int8' in the candidate (it defines: relu8)"));
  CHECK_FALSE(renamed.stages.contains("lint"));

  auto wide = score_relu(relu_with("input  wire [7:0] in_data", "input  wire [15:0] in_data"));
  CHECK(wide.exit_code() == 2);
  CHECK_THAT(wide.message, Catch::Contains("port 'in_data' is input [16 bits], expected input [8 bits]"));

  auto missing = score_relu(relu_with("  output wire       out_last\n", "  output wire       out_end\n"));
  CHECK_THAT(missing.message, Catch::Contains("port 'out_last' is missing (expected output [1 bit])"));
  CHECK_THAT(missing.message, Catch::Contains("port 'out_end' is not part of the interface"));

  auto flipped = score_relu(relu_with("output wire       in_ready", "input  wire       in_ready"));
  CHECK_THAT(flipped.message, Catch::Contains("port 'in_ready' is input [1 bit], expected output [1 bit]"));
}

TEST_CASE("golden vectors JSON is checked field by field") {
  using chipgym::env::golden_from_json;
  const json iface = find_kernel_task("relu-int8").iface.to_json();
  CHECK(golden_from_json({{"interface", iface}, {"cases", {{{"in", {1, -2}}, {"out", {1, 0}}}}}}).inputs.size() == 1);
  CHECK_THROWS_WITH(golden_from_json({{"cases", json::array()}}), Catch::Contains("needs \"interface\" and \"cases\""));
  CHECK_THROWS_WITH(golden_from_json({{"interface", iface}, {"cases", {{{"in", {1, 2}}, {"out", {1}}}}}}),
                    Catch::Contains("case 0 has 2 inputs but 1 outputs"));
  CHECK_THROWS_WITH(golden_from_json({{"interface", iface}, {"cases", {{{"in", {200}}, {"out", {1}}}}}}),
                    Catch::Contains("input 200 does not fit in_data (-128..127)"));
  json no_last = iface;
  no_last["ports"].erase("in_last");
  CHECK_THROWS_WITH(golden_from_json({{"interface", no_last}, {"cases", {{{"in", {1}}, {"out", {1}}}}}}),
                    Catch::Contains("interface has no port 'in_last'"));
}

TEST_CASE("random vectors come from a hidden seed, the same for the same seed and salt") {
  const auto& task = find_kernel_task("relu-int8");
  auto a = chipgym::env::task_golden(task, 5, 4);
  auto b = chipgym::env::task_golden(task, 5, 4);
  auto c = chipgym::env::task_golden(task, 6, 4);
  CHECK(a.inputs == b.inputs);
  CHECK(a.inputs != c.inputs);
  // Edge cases and the sweep of every input value come first, the random vectors last.
  const auto edges = a.inputs.size() - 4;
  CHECK(a.origin[edges] == "random 0");
  // Not the raw user seed: the vectors cannot be regenerated from the seed alone.
  CHECK(std::vector<chipgym::env::Vector>(a.inputs.begin() + edges, a.inputs.end()) != task.random_vectors(5, 4));
  const std::string salt = std::getenv("CHIPGYM_SCORE_SALT");  // tests run with one (test_main.cpp)
  ::setenv("CHIPGYM_SCORE_SALT", "another salt", 1);
  auto salted = chipgym::env::task_golden(task, 5, 4);
  ::setenv("CHIPGYM_SCORE_SALT", salt.c_str(), 1);
  CHECK(salted.inputs != a.inputs);
  for (std::size_t i = 0; i < a.inputs.size(); ++i)
    for (std::size_t k = 0; k < a.inputs[i].size(); ++k) CHECK(a.outputs[i][k] == std::max<long long>(a.inputs[i][k], 0));
  CHECK_THROWS_WITH(find_kernel_task("softmax-int9"), Catch::Contains("unknown kernel task 'softmax-int9'; did you mean 'softmax-int8'? known kernel tasks: relu-int8"));
}

TEST_CASE("a task is one line: stream_task over an integer model, whose outputs are checked") {
  auto doubled = chipgym::env::stream_task(
      "double-int8", "2x, wrapping", "double_int8",
      [](const std::vector<int>& x) {
        std::vector<int> y;
        for (int v : x) y.push_back(static_cast<std::int8_t>(2 * v));
        return y;
      },
      "", 8, 8, true, 4);
  CHECK(doubled.iface.vector_length == 4);
  CHECK(doubled.iface.to_json()["ports"]["out_data"] == -8);
  CHECK(doubled.expected({1, -3, 64, 127}) == chipgym::env::Vector{2, -6, -128, -2});
  auto broken = chipgym::env::stream_task("broken", "", "broken", [](const std::vector<int>& x) {
    return std::vector<int>(x.size(), 300);
  }, "");
  CHECK_THROWS_WITH(broken.expected({1}), Catch::Contains("returned 300, outside out_data's -128..127"));
  CHECK(doubled.edge_cases().size() == 8);
}

// ---------------------------------------------------------- scoring with the real tools ---

TEST_CASE("the canonical relu-int8 passes with latency 1, full throughput and an area") {
  auto r = score_relu(relu());
  INFO(r.message);
  REQUIRE(r.passed());
  CHECK(r.exit_code() == 0);
  const json& sim = r.result["simulation"];
  CHECK(sim["mismatched_cases"] == 0);
  CHECK(sim["latency_cycles"] == 1);
  CHECK(sim["latency_cycles_max"] == 1);
  const long long elements = sim["elements"];
  CHECK(sim["cycles"] == elements + 1);  // one element per cycle, plus the pipeline register
  CHECK(sim["backpressure"]["throughput"].get<double>() < 0.9);  // the second pass really applied pressure
  CHECK(r.result["lint"]["warnings"] == 0);
  CHECK(r.result["synthesis"]["cells"].get<long long>() >= 10);  // 10 flip-flops at least
  CHECK(r.result["synthesis"]["transistors"].get<long long>() > 0);
}

TEST_CASE("the quantized operators are kernel tasks, and their canonical kernels pass against their integer models") {
  for (const char* name : {"gelu-int8", "softmax-int8", "rmsnorm-int8", "layernorm-int8"}) {
    INFO(name);
    const auto& task = find_kernel_task(name);
    ScoreOptions o;
    o.random_vectors = 8;
    o.eval.synthesis = false;  // area of the norms takes tens of seconds; their families' tests synthesize them
    auto r = score_candidate(task.canonical_verilog, task_golden(task, 3, o.random_vectors), o, name);
    INFO(r.message);
    CHECK(r.passed());
    CHECK(r.result["simulation"]["mismatched_cases"] == 0);
    // One wrong LSB in the canonical kernel's output fails.
    std::string wrong = task.canonical_verilog;
    const auto at = wrong.find("assign out_data = ");
    REQUIRE(at != std::string::npos);
    const auto end = wrong.find(';', at);
    wrong.replace(end, 1, " ^ 8'd1;");
    auto bad = score_candidate(wrong, task_golden(task, 3, o.random_vectors), o, name);
    CHECK_FALSE(bad.passed());
    CHECK(bad.category == "mismatch");
  }
}

TEST_CASE("an off-by-one-LSB candidate in one corner case fails with the mismatch shown") {
  // 127 comes out as 126: only the edge cases with the maximum (and rare random draws) see it.
  auto r = score_relu(relu_with(kReluLine, "data_q <= in_data[7] ? 8'd0 : (in_data == 8'd127 ? 8'd126 : in_data);"));
  REQUIRE(r.exit_code() == 1);
  CHECK(r.category == "mismatch");
  const json& sim = r.result["simulation"];
  CHECK(sim["max_abs_error"] == 1);
  CHECK(sim["mean_abs_error"].get<double>() > 0);
  CHECK(sim["mean_abs_error"].get<double>() < 0.1);
  const json& first = sim["first_mismatches"][0];
  CHECK(first["origin"] == "edge 2");  // all maximum
  CHECK(first["first_index"] == 0);
  CHECK(first["expected"][0] == 127);
  CHECK(first["got"][0] == 126);
  CHECK_THAT(r.message, Catch::Contains("expected=[127 127"));
  CHECK_THAT(r.to_text(), Catch::Contains("max abs 1"));
  CHECK_FALSE(r.result.contains("synthesis"));  // a wrong kernel gets no area
}

TEST_CASE("cheats fail: constant output, input-independent output, never valid") {
  auto constant = score_relu(relu_with(kReluLine, "data_q <= 8'd3;"));
  CHECK(constant.exit_code() == 1);
  CHECK(constant.category == "constant_output");
  CHECK_THAT(constant.message, Catch::Contains("the output is the constant 3"));

  // A fixed pattern per element position: varies within a vector, ignores the data.
  auto pattern = score_relu(relu_with(
      "  always @(posedge clk) begin\n    if (in_valid && in_ready) begin\n      " + kReluLine,
      "  reg [7:0] pos;\n  always @(posedge clk) begin\n    if (rst) pos <= 8'd0;\n"
      "    else if (in_valid && in_ready) pos <= in_last ? 8'd0 : pos + 8'd1;\n  end\n"
      "  always @(posedge clk) begin\n    if (in_valid && in_ready) begin\n      data_q <= pos;"));
  CHECK(pattern.exit_code() == 1);
  CHECK(pattern.category == "input_independent");

  auto silent = score_relu(relu_with("assign out_valid = valid_q;", "assign out_valid = 1'b0;"));
  CHECK(silent.exit_code() == 1);
  CHECK(silent.category == "no_output");
  CHECK_THAT(silent.message, Catch::Contains("never asserted out_valid"));
}

TEST_CASE("an infinite loop, an oscillating loop and a hidden logic loop fail") {
  auto spin = score_relu(relu_with(kReluLine,
                                   "begin : w integer k; k = 0; while (in_data != 8'hAA) k = k + 1; data_q <= k[7:0]; end"));
  CHECK(spin.exit_code() == 1);
  CHECK(spin.category == "sim_timeout");
  CHECK_THAT(spin.message, Catch::Contains("time limit of 5 s"));

  auto osc = score_relu(relu_with("assign out_data  = data_q;", "wire [7:0] osc;\n  assign osc = ~osc ^ data_q;\n  assign out_data = osc;"));
  CHECK(osc.exit_code() == 1);
  CHECK(osc.category == "combinational_loop");

  // Transparent in simulation (rst is low), a loop in the netlist: Yosys' check finds it.
  auto latch = score_relu(relu_with("assign out_data  = data_q;", "wire [7:0] fb;\n  assign fb = rst ? fb : data_q;\n  assign out_data = fb;"));
  CHECK(latch.exit_code() == 1);
  CHECK(latch.stage == "loops");
  CHECK(latch.category == "combinational_loop");
  CHECK_THAT(latch.message, Catch::Contains("logic loop"));

  // A loop that reaches no output is a loop too (synthesis alone would optimize it away) ...
  auto unused = score_relu(relu_with("assign out_data  = data_q;",
                                     "wire [7:0] p, q;\n  assign p = q ^ data_q;\n  assign q = p + 8'd1;\n  assign out_data = data_q;"));
  CHECK(unused.stage == "loops");
  CHECK(unused.category == "combinational_loop");
  CHECK_THAT(unused.message, Catch::Contains("reaches no output"));
  // ... while a chain through the bits of one word is not a loop.
  auto chain = score_relu(relu_with("assign out_data  = data_q;",
                                    "wire [7:0] p;\n  assign p = {p[6:0] & data_q[7:1], data_q[0]};\n  assign out_data = data_q | (p & 8'd0);"));
  CHECK(chain.verdict == "pass");
}

TEST_CASE("a design that drops out_valid under back-pressure breaks the protocol") {
  // out_valid for one cycle only, whether or not it was taken.
  auto r = score_relu(relu_with("else if (in_ready) valid_q <= in_valid;", "else valid_q <= in_valid && in_ready;"));
  CHECK(r.exit_code() == 1);
  CHECK(r.category == "protocol");
  CHECK_THAT(r.message, Catch::Contains("under back-pressure"));

  // Always ready: a stalled output register is overwritten and elements are lost.
  auto eager = score_relu(relu_with("assign in_ready = !valid_q || out_ready;", "assign in_ready = 1'b1;"));
  CHECK(eager.exit_code() == 1);
  CHECK(eager.stage == "simulate");
  CHECK((eager.category == "protocol" || eager.category == "backpressure"));
  CHECK(eager.result["simulation"]["mismatched_cases"] == 0);  // correct while nothing stalls
}

TEST_CASE("a design that carries state from one vector to the next is caught by the reversed second pass") {
  // Correct as long as the first element after reset was zero, off by one LSB otherwise. The
  // first pass starts with edge case 0 (all zeros); the second pass, after a reset, starts
  // with the last random vector.
  const auto& task = find_kernel_task("relu-int8");
  const auto o = quick();
  REQUIRE(chipgym::env::task_golden(task, o.seed, o.random_vectors).inputs.back()[0] != 0);
  std::string v = relu_with("  reg       last_q;\n",
                            "  reg       last_q;\n  reg       started, odd;\n"
                            "  always @(posedge clk) begin\n"
                            "    if (rst) begin started <= 1'b0; odd <= 1'b0; end\n"
                            "    else if (in_valid && in_ready && !started) begin started <= 1'b1; odd <= in_data != 8'd0; end\n"
                            "  end\n");
  const auto at = v.find(kReluLine);
  REQUIRE(at != std::string::npos);
  v.replace(at, kReluLine.size(), "data_q <= (in_data[7] ? 8'd0 : in_data) ^ {7'd0, odd};");
  auto r = score_relu(v, o);
  INFO(r.message);
  CHECK(r.exit_code() == 1);
  CHECK(r.result["simulation"]["mismatched_cases"] == 0);  // the first pass is bit-exact
  CHECK(r.category == "backpressure");
  CHECK_THAT(r.message, Catch::Contains("the vectors in reverse order"));
}

TEST_CASE("a score is cached like any evaluation: the same candidate and seed again is a hit with the same report, another seed is not") {
  test_support::ScratchCache scratch;
  ScoreOptions o = quick();
  o.cache = scratch.cache;
  const std::string wrong = relu_with(kReluLine, "data_q <= in_data[7] ? 8'd0 : (in_data == 8'd127 ? 8'd126 : in_data);");
  for (const std::string& candidate : {relu(), wrong}) {
    const auto first = score_relu(candidate, o);
    INFO(first.message);
    CHECK(first.stages["cache_hit"] == false);
    const auto again = score_relu(candidate, o);
    CHECK(again.stages["cache_hit"] == true);
    CHECK(without_timings(again.to_json()) == without_timings(first.to_json()));
    CHECK(again.to_text().find("a cached result") != std::string::npos);
    // Another seed: other hidden vectors and another back-pressure pattern, scored afresh.
    ScoreOptions other = o;
    other.seed = o.seed + 1;
    const auto reseeded = score_relu(candidate, other);
    CHECK(reseeded.stages["cache_hit"] == false);
    CHECK(reseeded.verdict == first.verdict);
    CHECK(reseeded.result["seed"] == other.seed);
  }
  // The same vectors with other golden outputs are another question, not a hit.
  const auto& task = find_kernel_task("relu-int8");
  auto golden = task_golden(task, o.seed, o.random_vectors);
  golden.outputs[1][0] += 1;
  const auto disagrees = score_candidate(relu(), golden, o, task.name);
  CHECK(disagrees.stages["cache_hit"] == false);
  CHECK(disagrees.category == "mismatch");
}

// What an MPI worker rank receives: the job as JSON, the candidate's text in it, the family
// rebuilt from the job's workload (the golden vectors), screened and sandboxed where it runs.
TEST_CASE("a score through a pool travels as a job with its text, rebuilds the stream-kernel family there and gives the same report") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<chipgym::evaluators::Pipeline>(scratch.cache);
  ScoreOptions pooled = quick();
  pooled.pool = chipgym::evaluators::thread_pool(pipeline, 1);
  const std::string wrong = relu_with(kReluLine, "data_q <= in_data[7] ? 8'd0 : (in_data == 8'd127 ? 8'd126 : in_data);");
  for (const std::string& candidate : {relu(), wrong}) {
    const auto here = score_relu(candidate);
    const auto there = score_relu(candidate, pooled);
    INFO(there.message);
    CHECK(without_timings(there.to_json()) == without_timings(here.to_json()));
    CHECK(score_relu(candidate, pooled).stages["cache_hit"] == true);  // kept by the pool's pipeline
  }
  CHECK(score_relu(relu()).verdict == "pass");
  CHECK(score_relu(wrong, pooled).category == "mismatch");
  // A refused text is refused there as here: the screen runs where the job runs.
  TempDir dir("chipgym-test-");
  const auto marker = dir.path() / "escaped";
  const std::string hostile =
      relu_with(kReluLine, "data_q <= in_data[7] ? 8'd0 : in_data; $system(\"touch " + marker.string() + "\");");
  CHECK(score_relu(hostile, pooled).category == "screen");
  CHECK_FALSE(std::filesystem::exists(marker));

  // The message: the text travels, a VCD does not.
  chipgym::evaluators::EvalJob job{"stream-kernel", json::object(), json::object(), quick().eval};
  job.options.inject = std::make_pair("relu_int8.v", relu());
  const auto back = chipgym::evaluators::job_from_json(json::parse(chipgym::evaluators::to_json(job).dump()));
  REQUIRE(back.options.inject);
  CHECK(*back.options.inject == *job.options.inject);
  CHECK(back.options.stage_options() == job.options.stage_options());
  job.options.vcd = "/tmp/never.vcd";
  CHECK_THROWS_AS(chipgym::evaluators::to_json(job), std::invalid_argument);
  // A job whose workload is not the golden vectors, or a family nobody knows: refused by name.
  CHECK_THROWS_WITH(chipgym::hdl::family_for("stream-kernel", json::object()),
                    Catch::Contains("a stream-kernel workload needs the golden vectors"));
  CHECK_THROWS_WITH(chipgym::hdl::family_for("stream-kernal", json::object()), Catch::Contains("unknown design family"));
}

// ----------------------------------------------------------------- the command line ---

TEST_CASE("chipgym score exit codes: 0 pass, 1 fail, 2 refused, and the same seed gives the same report") {
  TempDir dir("chipgym-score-cli-");
  const auto good = write(dir, "good.v", relu());
  RunResult ok = run_chipgym({"score", "--task", "relu-int8", good, "--random", "8"});
  INFO(ok.out << ok.err);
  CHECK(ok.ok());
  CHECK_THAT(ok.out, Catch::Contains("PASS"));
  CHECK_THAT(ok.out, Catch::Contains("latency       1 cycles"));

  const auto wrong = write(dir, "wrong.v", relu_with(kReluLine, "data_q <= in_data[7] ? 8'd0 : (in_data == 8'd127 ? 8'd126 : in_data);"));
  const std::vector<std::string> args = {"score", "--task", "relu-int8", wrong, "--seed", "9", "--json", "--random", "8"};
  RunResult a = run_chipgym(args), b = run_chipgym(args);
  CHECK(a.exit_code == 1);
  json ja = json::parse(a.out), jb = json::parse(b.out);
  CHECK(ja["verdict"] == "fail");
  CHECK(ja["seed"] == 9);
  CHECK(without_timings(ja) == without_timings(jb));
  CHECK(ja["stages"].contains("build"));
}

TEST_CASE("chipgym score refuses empty, binary, 10 MB, malicious and file-writing candidates") {
  TempDir dir("chipgym-score-bad-");
  const std::string pwned = (dir.path() / "pwned").string();
  struct Case {
    std::string name, text, expect;
  };
  const std::vector<Case> cases = {
      {"empty.v", "", "the file is empty"},
      {"binary.v", std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10), "binary data"},
      {"huge.v", std::string(10u << 20, 'a'), "10485760 bytes; at most 262144"},
      {"system.v", relu_with("  assign out_valid", "  initial $system(\"touch " + pwned + "\");\n  assign out_valid"),
       "$system is not allowed"},
      {"writes.v", relu_with("  assign out_valid", "  integer f;\n  initial begin f = $fopen(\"" + pwned +
                                                       "\", \"w\"); $fwrite(f, \"x\"); end\n  assign out_valid"),
       "$fopen is not allowed"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    RunResult r = run_chipgym({"score", "--task", "relu-int8", write(dir, c.name, c.text)});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(c.expect));
  }
  CHECK_FALSE(std::filesystem::exists(pwned));
  RunResult system_line = run_chipgym({"score", "--task", "relu-int8", (dir.path() / "system.v").string()});
  const std::string system_text = cases[3].text;
  const auto system_at = system_text.find("$system");
  const auto line = 1 + std::count(system_text.begin(), system_text.begin() + system_at, '\n');
  CHECK_THAT(system_line.out, Catch::Contains("screen:") && Catch::Contains("line " + std::to_string(line) + ": $system"));
  RunResult none = run_chipgym({"score", "--task", "relu-int8", (dir.path() / "missing.v").string()});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("no such file"));
  RunResult no_candidate = run_chipgym({"score", "--task", "relu-int8"});
  CHECK(no_candidate.exit_code == 2);
  CHECK_THAT(no_candidate.err, Catch::Contains("score needs a candidate Verilog file"));
  RunResult both = run_chipgym({"score", (dir.path() / "empty.v").string()});
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.err, Catch::Contains("exactly one of --task T or --vectors FILE.json"));
}

TEST_CASE("chipgym score --show prints the interface and the canonical kernel, which passes") {
  RunResult shown = run_chipgym({"score", "--task", "relu-int8", "--show", "--json"});
  REQUIRE(shown.ok());
  json j = json::parse(shown.out);
  CHECK(j["interface"] == find_kernel_task("relu-int8").iface.to_json());
  CHECK(j["interface"]["ports"]["in_ready"] == -1);
  CHECK(j["canonical_verilog"] == relu());
  RunResult unknown = run_chipgym({"score", "--task", "nope", "--show"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("unknown kernel task 'nope'; known kernel tasks: relu-int8"));
}

TEST_CASE("chipgym score --vectors scores a user's kernel against the user's golden vectors") {
  TempDir dir("chipgym-score-vec-");
  const json iface = find_kernel_task("relu-int8").iface.to_json();
  const json good = {{"interface", iface},
                     {"cases", {{{"in", {-3, 0, 5, 127}}, {"out", {0, 0, 5, 127}}}, {{"in", {-128}}, {"out", {0}}}}}};
  json bad = good;
  bad["cases"][1]["out"][0] = 1;  // the user's golden disagrees with relu on the second case
  const auto kernel = write(dir, "relu.v", relu());
  RunResult pass = run_chipgym({"score", "--vectors", write(dir, "good.json", good.dump()), kernel, "--json"});
  INFO(pass.out << pass.err);
  CHECK(pass.exit_code == 0);
  json j = json::parse(pass.out);
  CHECK(j["task"].is_null());
  CHECK(j["simulation"]["cases"] == 2);
  CHECK(j["simulation"]["elements"] == 5);

  RunResult fail = run_chipgym({"score", "--vectors", write(dir, "bad.json", bad.dump()), kernel, "--json", "--no-synth"});
  CHECK(fail.exit_code == 1);
  json f = json::parse(fail.out);
  CHECK(f["category"] == "mismatch");
  CHECK(f["simulation"]["first_mismatches"][0]["origin"] == "case 1");
  CHECK(f["simulation"]["first_mismatches"][0]["got"] == json{0});

  json short_case = good;
  short_case["cases"][0]["out"] = {0};
  RunResult malformed = run_chipgym({"score", "--vectors", write(dir, "short.json", short_case.dump()), kernel});
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.err, Catch::Contains("case 0 has 4 inputs but 1 outputs"));
  RunResult not_json = run_chipgym({"score", "--vectors", write(dir, "x.json", "{oops"), kernel});
  CHECK(not_json.exit_code == 2);
  CHECK_THAT(not_json.err, Catch::Contains("is not valid JSON"));
}

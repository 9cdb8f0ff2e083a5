// `chipgym eval --rtl`: a user's own multi-module design through the evaluator (env/rtl_eval.h).
#include <catch2/catch.hpp>
#include <fstream>

#include <nlohmann/json.hpp>

#include "evaluators/runner.h"
#include "test_support.h"

using chipgym::evaluators::TempDir;
using json = nlohmann::json;
using test_support::run_chipgym;

namespace {

// Two accumulators with an asynchronous active-low reset, built from a ripple-carry adder of
// full adders, and summed by a third adder: full_adder has 12 instances, add4 3, acc 2.
const char* kAdder =
    "module full_adder(input a, input b, input cin, output s, output cout);\n"
    "  assign s = a ^ b ^ cin;\n  assign cout = (a & b) | (cin & (a ^ b));\nendmodule\n\n"
    "module add4(input [3:0] a, input [3:0] b, output [4:0] sum);\n  wire [4:0] c;\n  assign c[0] = 1'b0;\n"
    "  genvar i;\n  generate for (i = 0; i < 4; i = i + 1) begin : bit_\n"
    "    full_adder fa(.a(a[i]), .b(b[i]), .cin(c[i]), .s(sum[i]), .cout(c[i + 1]));\n  end endgenerate\n"
    "  assign sum[4] = c[4];\nendmodule\n";
const char* kTop =
    "module acc(input clk, input arst_n, input [3:0] d, output reg [3:0] q);\n  wire [4:0] s;\n"
    "  add4 u(.a(q), .b(d), .sum(s));\n"
    "  always @(posedge clk or negedge arst_n) if (!arst_n) q <= 4'd0; else q <= s[3:0];\nendmodule\n\n"
    "module top(input clk, input arst_n, input [3:0] x, input [3:0] y, output [4:0] total);\n  wire [3:0] qa, qb;\n"
    "  acc a0(.clk(clk), .arst_n(arst_n), .d(x), .q(qa));\n  acc a1(.clk(clk), .arst_n(arst_n), .d(y), .q(qb));\n"
    "  add4 out(.a(qa), .b(qb), .sum(total));\nendmodule\n";
const char* kReference =
    "module top(input clk, input arst_n, input [3:0] x, input [3:0] y, output [4:0] total);\n  reg [3:0] qa, qb;\n"
    "  always @(posedge clk or negedge arst_n)\n    if (!arst_n) begin qa <= 0; qb <= 0; end\n"
    "    else begin qa <= qa + x; qb <= qb + y; end\n  assign total = qa + qb;\nendmodule\n";

}  // namespace

TEST_CASE("eval --rtl: a multi-module design with an asynchronous reset, every module counted, depth over the hierarchy", "[eval_rtl]") {
  TempDir dir("chipgym-evalrtl-");
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return (dir.path() / name).string();
  };
  const std::string adder = file("adder.v", kAdder), top = file("top.v", kTop), ref = file("ref.v", kReference);
  const std::string cache = (dir.path() / "cache").string();
  auto r = run_chipgym({"eval", "--rtl", adder, top, "--top", "top", "--ref", ref, "--cache-dir", cache, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["modules"] == json{"full_adder", "add4", "acc", "top"});
  const json& h = j["hierarchy"];
  CHECK(h["full_adder"]["instances"] == 12);
  CHECK(h["add4"]["instances"] == 3);
  CHECK(h["acc"]["instances"] == 2);
  long long total = 0;
  for (auto& [name, m] : h.items()) total += m["cells"].get<long long>() * m["instances"].get<long long>();
  CHECK(total == j["cells"].get<long long>());  // the per-module synthesis, aggregated, counts every module
  CHECK(h["full_adder"]["cells"].get<long long>() > 0);
  CHECK(h["acc"]["cells"].get<long long>() >= 4);  // its four flip-flops at least
  // The carry chain runs through four full adders of acc and the adder after it: deeper than
  // anything inside one module.
  CHECK(j["depth"].get<long long>() > j["module_depth"].get<long long>());
  CHECK(j["depth"].get<long long>() >= 8);
  CHECK(j["luts"].get<long long>() > 0);
  CHECK(j["ffs"] == 8);
  CHECK(j["correctness"]["verdict"] == "pass");
  // Text: the same figures, per module.
  r = run_chipgym({"eval", "--rtl", adder, top, "--top", "top", "--cache-dir", cache});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("full_adder: 5 cells x 12 instances") &&
                        Catch::Contains("gates over the whole hierarchy") && Catch::Contains("iCE40"));
  // A reference it does not match: the check fails, exit 1.
  const std::string wrong = file("wrong.v", std::string(kReference).replace(std::string(kReference).find("qa + qb"), 7, "qa - qb"));
  r = run_chipgym({"eval", "--rtl", adder, top, "--top", "top", "--ref", wrong, "--cache-dir", cache});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("correct       NO (simulate/mismatch)"));
}

TEST_CASE("eval --rtl: bad input is refused by name, a design that does not compile is a result", "[eval_rtl]") {
  TempDir dir("chipgym-evalrtl-bad-");
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return (dir.path() / name).string();
  };
  const std::string adder = file("adder.v", kAdder);
  auto r = run_chipgym({"eval", "--rtl", (dir.path() / "nope.v").string(), "--top", "top", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("nope.v: no such file"));
  r = run_chipgym({"eval", "--rtl", adder, "--top", "top", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--top top: no such module in the design (it defines: full_adder, add4)"));
  r = run_chipgym({"eval", "--rtl", adder, file("again.v", kAdder), "--top", "add4", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("module full_adder is defined twice"));
  r = run_chipgym({"eval", "--rtl", file("evil.v", "module top(input a, output y);\n  initial $system(\"x\");\n  assign y = a;\nendmodule\n"),
                   "--top", "top", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("evil.v: line 2: $system is not allowed"));
  r = run_chipgym({"eval", "--rtl", adder, "--top", "add4", "--task", "gemm-int8", "--no-cache"});
  CHECK(r.exit_code == 2);
  // Verilog that does not compile is the design's failure, as in score: exit 1, the error shown.
  r = run_chipgym({"eval", "--rtl", file("broken.v", "module top(input a, output y)\n  assign y = a;\nendmodule\n"), "--top",
                   "top", "--no-cache"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("[lint]"));
}

// The offline proposer's structure-aware operators (agents/evolve_ops.h): each on a small
// hand-written module, the header that no operator ever changes, the table operator's child of
// the canonical gelu-int8 kernel (bit-exact on all 256 inputs, and how much smaller), and an
// offline evolve run on gelu-int8 that records which operator made its best.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "agents/diff.h"
#include "agents/evolve.h"
#include "agents/evolve_ops.h"
#include "env/kernel_task.h"
#include "hdl/quant.h"
#include "runs/evolve.h"
#include "test_support.h"

using namespace chipgym::agents;
using chipgym::env::find_kernel_task;
using chipgym::env::kernel_tasks;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// One child per site; the child named `what` (a substring of its line).
std::vector<OperatorChild> children(const std::string& op, const std::string& code, const OpsContext& ctx = {}) {
  return operator_children(op, code, ctx);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every child must be what its reply gives when applied to the parent, with the parent's header.
void check_child(const std::string& parent, const OperatorChild& c) {
  INFO(c.op << ": " << c.what << "\n" << c.reply);
  const EditResult edit = apply_reply(parent, c.reply);
  REQUIRE(edit.ok);
  CHECK(edit.code == c.code);
  CHECK(module_header(c.code) == module_header(parent));
  CHECK_FALSE(module_header(parent).empty());
  CHECK(c.code != parent);
}

const char* kSmall = R"(module small (
  input  wire        clk,
  input  wire [7:0]  a,
  input  wire [7:0]  b,
  output wire [15:0] y,
  output wire [7:0]  z
);
  wire [8:0] sum = a + b;
  wire [15:0] wide = {8'd0, a};
  reg  [7:0] q;
  wire [3:0] low = sum[3:0];
  wire [7:0] top = {q[7], 7'd0};
  wire [7:0] k = 8'd3 + 8'd4;
  wire [7:0] over = 8'd200 + 8'd100;
  wire [7:0] sh = 8'd1 << 3;
  wire [15:0] by4 = wide * 16'd4;
  wire [15:0] p = a * b;
  wire [15:0] p2 = a * b;
  wire [7:0] p3 = a*b;
  always @(posedge clk) q <= sum[7:0];
  assign y = p + p2 + by4 + {8'd0, k} + {8'd0, p3} + {8'd0, over} + {8'd0, sh} + {12'd0, low} + {8'd0, top};
  assign z = q;
endmodule
)";

}  // namespace

TEST_CASE("narrow makes one internal signal one bit narrower, never a port nor a signal whose top bit is selected") {
  const auto cs = children("narrow", kSmall);
  std::set<std::string> narrowed;
  for (const auto& c : cs) {
    check_child(kSmall, c);
    narrowed.insert(c.what.substr(0, c.what.find(' ')));
  }
  CHECK(narrowed.count("sum"));
  CHECK(narrowed.count("wide"));
  CHECK_FALSE(narrowed.count("q"));  // q[7] is selected
  CHECK_FALSE(narrowed.count("a"));  // ports are the header's
  CHECK_FALSE(narrowed.count("y"));
  for (const auto& c : cs)
    if (c.what.rfind("sum ", 0) == 0) {
      CHECK(has(c.code, "  wire [7:0] sum = a + b;\n"));
      CHECK(c.what == "sum [8:0] -> [7:0] (line 8)");
    }
}

TEST_CASE("fold replaces two literals by their value when it fits their width, and a product by a power of two by a shift") {
  const auto cs = children("fold", kSmall);
  std::map<std::string, std::string> by_what;
  for (const auto& c : cs) {
    check_child(kSmall, c);
    by_what[c.what.substr(0, c.what.find(" (line"))] = c.code;
  }
  REQUIRE(by_what.count("8'd3 + 8'd4 -> 8'd7"));
  CHECK(has(by_what["8'd3 + 8'd4 -> 8'd7"], "  wire [7:0] k = 8'd7;\n"));
  CHECK(by_what.count("8'd1 << 3 -> 8'd8"));
  REQUIRE(by_what.count("wide * 16'd4 -> (wide << 2)"));
  CHECK(has(by_what["wide * 16'd4 -> (wide << 2)"], "  wire [15:0] by4 = (wide << 2);\n"));
  // 200 + 100 needs 9 bits: its value depends on the context's width, so it stays.
  for (const auto& [what, code] : by_what) CHECK_FALSE(has(what, "8'd200"));
  // Signed literals fold in two's complement; a sized and an unsized operand are left alone.
  const std::string s = "module s (\n  input wire [7:0] a,\n  output wire [7:0] y\n);\n"
                        "  wire signed [7:0] m = 8'sh05 - 8'sh07;\n  wire [7:0] u = 8'd5 + 1;\n  assign y = a + m + u;\nendmodule\n";
  const auto ss = children("fold", s);
  REQUIRE(ss.size() == 1);
  CHECK(has(ss[0].code, "  wire signed [7:0] m = 8'shfe;\n"));
}

TEST_CASE("share makes the second of two equal multiplications read the first, cut to its width") {
  const auto cs = children("share", kSmall);
  std::set<std::string> codes;
  for (const auto& c : cs) {
    check_child(kSmall, c);
    codes.insert(c.code);
  }
  bool p2 = false, p3 = false;
  for (const auto& code : codes) {
    p2 = p2 || has(code, "  wire [15:0] p2 = p;\n");
    p3 = p3 || has(code, "  wire [7:0] p3 = p[7:0];\n");
  }
  CHECK(p2);
  CHECK(p3);
  // A right shift is not exact in its low bits: not shared.
  const std::string s = "module s (\n  input wire [7:0] a,\n  output wire [7:0] y\n);\n"
                        "  wire [15:0] p = (a * a) >> 4;\n  wire [7:0] q = (a * a) >> 4;\n  assign y = p[7:0] + q;\nendmodule\n";
  CHECK(children("share", s).empty());
}

TEST_CASE("unpipeline removes one register stage of the quant skeleton with its valid/last stage, and the kernel stays bit-exact") {
  chipgym::hdl::QuantConfig c = chipgym::hdl::QuantConfig::from(
      chipgym::hdl::QuantOp::Gelu, chipgym::hdl::quant_family(chipgym::hdl::QuantOp::Gelu).space().defaults());
  c.stages = 2;
  const std::string two = chipgym::hdl::quant_verilog(c);
  const auto cs = children("unpipeline", two);
  REQUIRE(cs.size() == 1);
  check_child(two, cs[0]);
  const std::string& one = cs[0].code;
  CHECK(has(one, "reg [0:0] vld, lst;"));
  CHECK(has(one, "vld <= issue;"));
  CHECK(has(one, "wire signed [7:0] ab_x = a_x;"));
  CHECK_FALSE(has(one, "if (en) ab_"));
  CHECK(children("unpipeline", one).empty());  // one stage: the output register stays
  CHECK(children("unpipeline", find_kernel_task("relu-int8").canonical_verilog).empty());
  // Scored like any candidate: still bit-exact on every input, one cycle sooner.
  const Subject s = kernel_subject("gelu-int8", 1, 4, 20);
  const auto [r2, st2] = s.score(two, false);
  const auto [r1, st1] = s.score(one, false);
  INFO(r1.dump());
  REQUIRE(r2["verdict"] == "pass");
  REQUIRE(r1["verdict"] == "pass");
  CHECK(r1["simulation"]["latency_cycles"].get<long long>() == r2["simulation"]["latency_cycles"].get<long long>() - 1);
}

TEST_CASE("the table operator writes a case table of the given outputs in the stream skeleton, with runs at the ends as comparisons") {
  const std::string relu = find_kernel_task("relu-int8").canonical_verilog;
  OpsContext ctx;
  ctx.domain = {8, 8, true};
  // A made-up behaviour: 0 below -100, y = x from 100 up, x / 2 between.
  ctx.tabulate = [](const std::string&) {
    std::vector<long long> y(256);
    for (long long v = -128; v < 128; ++v) y[static_cast<std::size_t>(v + 128)] = v < -100 ? 0 : v >= 100 ? v : v / 2;
    return std::optional<std::vector<long long>>(y);
  };
  const auto cs = children("table", relu, ctx);
  REQUIRE(cs.size() == 2);  // the ends as comparisons, and the direct table of every input
  check_child(relu, cs[0]);
  check_child(relu, cs[1]);
  CHECK(cs[1].what == "the datapath -> a table of the parent's outputs (256 entries of 8 bits, 1 stage(s))");
  CHECK(has(cs[1].code, "      8'h80: a_t = 8'sh0;\n"));   // -128
  CHECK(has(cs[1].code, "      8'h7f: a_t = 8'sh7f;\n"));  // 127
  CHECK_FALSE(has(cs[1].code, "a_low"));
  const std::string& t = cs[0].code;
  CHECK(has(t, "wire a_low = a_x < 8'sh9c;"));    // -100
  CHECK(has(t, "wire a_high = a_x >= 8'sh64;"));  // 100
  CHECK(has(t, "      8'h9c: a_t = 7'sh4e;\n"));  // -100 / 2 = -50, 7 bits
  CHECK(has(t, "      8'h63: a_t = 7'sh31;\n"));  // 99 / 2 = 49
  CHECK_FALSE(has(t, "      8'h64: a_t"));
  CHECK(has(t, "assign in_ready = en;"));
  CHECK(cs[0].what == "the datapath -> a table of the parent's outputs (200 entries of 7 bits, 1 stage(s))");
  // No behaviour to tabulate: no child.
  ctx.tabulate = [](const std::string&) { return std::optional<std::vector<long long>>(); };
  CHECK(children("table", relu, ctx).empty());
}

TEST_CASE("no operator ever proposes a change to the module header, over many seeds and the canonical kernels") {
  OpsContext ctx;
  ctx.domain = {8, 8, true};
  ctx.tabulate = [](const std::string&) {
    std::vector<long long> y(256);
    for (long long v = -128; v < 128; ++v) y[static_cast<std::size_t>(v + 128)] = std::max(-3LL, v / 3);
    return std::optional<std::vector<long long>>(y);
  };
  std::vector<std::string> seeds = {kSmall};  // fold and share find nothing in the canonical kernels
  for (const auto& k : kernel_tasks()) seeds.push_back(k.canonical_verilog);
  for (int stages : {2, 3}) {
    auto c = chipgym::hdl::QuantConfig::from(chipgym::hdl::QuantOp::Gelu,
                                             chipgym::hdl::quant_family(chipgym::hdl::QuantOp::Gelu).space().defaults());
    c.stages = stages;
    seeds.push_back(chipgym::hdl::quant_verilog(c));
  }
  std::map<std::string, int> by_op;
  int produced = 0;
  for (const auto& seed_code : seeds) {
    // Every operator's every site, then chains of proposals (children of children).
    for (const auto& op : operator_names())
      for (const auto& c : operator_children(op, seed_code, ctx, 3)) check_child(seed_code, c), ++by_op[op], ++produced;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      std::string code = seed_code;
      for (int step = 0; step < 3; ++step) {
        const auto c = propose_child(code, seed * 131 + static_cast<std::uint64_t>(step), nullptr, ctx);
        if (!c) break;
        check_child(code, *c);
        CHECK(module_header(c->code) == module_header(seed_code));
        ++produced;
        code = c->code;
      }
    }
  }
  CHECK(produced > 500);
  for (const auto& op : operator_names()) CHECK(by_op[op] > 0);

  // Bad input: a header on one line, where the old one-line mutation edits the ports (it knows
  // no body there). The operators never propose such a child.
  const std::string one_line = "module tiny (input wire [7:0] a, output wire [7:0] y);\n  wire [8:0] s = a + 8'd1;\n"
                               "  assign y = s[7:0];\nendmodule\n";
  bool old_changes_header = false;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const std::string reply = mutation_reply(one_line, seed, nullptr);
    if (!reply.empty()) old_changes_header = old_changes_header || module_header(apply_reply(one_line, reply).code) != module_header(one_line);
    if (const auto c = propose_child(one_line, seed, nullptr, ctx)) {
      check_child(one_line, *c);
    }
  }
  CHECK(old_changes_header);  // the premise: without the check a header change would be proposed
  // A text without a module header gives nothing.
  CHECK_FALSE(propose_child("wire [7:0] x = 8'd1 + 8'd2;\n", 1, nullptr, ctx));
}

TEST_CASE("operators are drawn by a seeded weighted draw and never propose a code the database holds") {
  const std::string code = find_kernel_task("gelu-int8").canonical_verilog;
  std::map<std::string, int> ops;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const auto a = propose_child(code, seed, nullptr, {});
    const auto b = propose_child(code, seed, nullptr, {});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->code == b->code);
    ++ops[a->op];
    // Refusing the child this seed gives moves the draw on to another one.
    const auto c = propose_child(code, seed, [&](const std::string& x) { return x == a->code; }, {});
    REQUIRE(c);
    CHECK(c->code != a->code);
  }
  CHECK(ops.size() >= 2);
  CHECK(ops.count("table") == 0);  // no tabulate: no table
  CHECK_FALSE(propose_child(code, 1, [](const std::string&) { return true; }, {}));
  CHECK_THROWS_WITH(operator_children("widen", code, {}), Catch::Contains("the operators are narrow, table"));
}

TEST_CASE("the table operator's child of the canonical gelu-int8 kernel is bit-exact on all 256 inputs and at least 8x smaller") {
  const auto& task = find_kernel_task("gelu-int8");
  const Subject s = kernel_subject("gelu-int8", 1, 4, 20);
  CHECK(s.settings["exhaustive"] == true);
  CHECK(s.settings["exhaustive_values"] == 256);
  CHECK(s.settings["exhaustive_vectors"] == 256);  // every value at each of the 16 positions
  REQUIRE(s.tabulate);
  // The parent's behaviour, simulated: the golden model on every input.
  const auto y = s.tabulate(task.canonical_verilog);
  REQUIRE(y);
  REQUIRE(y->size() == 256);
  for (long long v = -128; v < 128; ++v) CHECK((*y)[static_cast<std::size_t>(v + 128)] == task.expected({v}).at(0));
  // A wrong kernel is tabulated as it behaves: relu that gives 1 for negative inputs.
  std::string bad = find_kernel_task("relu-int8").canonical_verilog;
  const std::string line = "data_q <= in_data[7] ? 8'd0 : in_data;";
  REQUIRE(has(bad, line));
  bad.replace(bad.find(line), line.size(), "data_q <= in_data[7] ? 8'd1 : in_data;");
  const Subject relu = kernel_subject("relu-int8", 1, 4, 20);
  const auto ry = relu.tabulate(bad);
  REQUIRE(ry);
  CHECK((*ry)[0] == 1);     // -128
  CHECK((*ry)[127] == 1);   // -1
  CHECK((*ry)[128] == 0);   // 0
  CHECK((*ry)[255] == 127);

  OpsContext ctx;
  ctx.tabulate = s.tabulate;
  ctx.domain = {8, 8, true};
  const auto cs = operator_children("table", task.canonical_verilog, ctx);
  REQUIRE(cs.size() == 2);
  const auto [parent, ps] = s.score(task.canonical_verilog, false);
  REQUIRE(parent["verdict"] == "pass");
  const double before = parent["synthesis"]["transistors"].get<double>();
  for (const auto& c : cs) {
    check_child(task.canonical_verilog, c);
    const auto [child, st] = s.score(c.code, false);
    INFO(c.what << "\n" << child.dump());
    REQUIRE(child["verdict"] == "pass");  // bit-exact on the sweep (every value at every position) and under back-pressure
    const double after = child["synthesis"]["transistors"].get<double>();
    WARN("canonical gelu-int8: " << before << " transistors; " << c.what << ": " << after << " (" << before / after << "x)");
    CHECK(before / after >= 8);
  }
}

TEST_CASE("an offline evolve run on gelu-int8 reaches a kernel 8x smaller than the seed and records the operator that made it") {
  chipgym::evaluators::TempDir dir{"chipgym-evolve-ops-"};
  EvolveConfig c;
  c.task = "gelu-int8";
  c.generations = 3;  // with seed 3 the table operator is drawn in generation 3 (measured)
  c.out = dir.path() / "run";
  c.db.seed = 3;
  c.db.islands = 2;
  c.db.migration_interval = 0;
  c.random_vectors = 4;  // besides the sweep of all 256 values at every position
  c.verify_random_vectors = 16;
  c.workers = 2;
  const auto summary = chipgym::runs::run_evolve(c);
  std::ifstream in(c.out / "checkpoints" / "db.json");
  const json programs = json::parse(in)["programs"];
  const double seed_area = programs[0]["area"].get<double>();
  const json& best = programs[static_cast<std::size_t>(summary.best_id)];
  INFO(summary.to_json().dump());
  REQUIRE(best["passed"] == true);
  CHECK(seed_area / best["area"].get<double>() >= 8);
  const json improvements = summary.to_json()["improvements_by_operator"];
  CHECK(improvements.value("table", 0) >= 1);
  std::ifstream sj(c.out / "summary.json");
  CHECK(has(std::string(std::istreambuf_iterator<char>(sj), {}), "improvements_by_operator"));
  // Each candidate's event names its operator; the best's is table.
  std::string best_op;
  for (const auto& ev : test_support::read_jsonl(c.out / "events.jsonl"))
    if (ev.value("event", "") == "candidate") {
      CHECK(ev.contains("operator"));
      if (ev["program"] == summary.best_id) best_op = ev["operator"];
    }
  CHECK(best_op == "table");
}

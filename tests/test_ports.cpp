// Any RTL at its ports (env/port_score.h): twenty small problems in the style of spec-to-RTL
// benchmarks, each a reference, a correct candidate written differently and a buggy mutant,
// with the verdict expected by hand; port-level vectors; bad input.
#include <catch2/catch.hpp>
#include <fstream>

#include <nlohmann/json.hpp>

#include "env/equiv.h"
#include "env/port_score.h"
#include "env/problem_set.h"
#include "evaluators/runner.h"
#include "test_support.h"

using chipgym::env::PortScoreOptions;
using chipgym::env::score_against_reference;
using chipgym::evaluators::TempDir;
using json = nlohmann::json;
using test_support::run_chipgym;

namespace {

struct Problem {
  const char* name;
  const char* reference;
  const char* correct;  // another implementation that must pass
  const char* mutant;   // a bug that must fail
};

// Written here; the kinds of circuits such problem sets hold.
const Problem kProblems[] = {
    {"mux256 (a 256-bit input)",
     "module top_module(input [255:0] in, input [7:0] sel, output out);\n  assign out = in[sel];\nendmodule\n",
     "module top_module(input [255:0] in, input [7:0] sel, output out);\n  assign out = (in >> sel) & 1'b1;\nendmodule\n",
     "module top_module(input [255:0] in, input [7:0] sel, output out);\n  assign out = in[sel[6:0]];\nendmodule\n"},
    {"kmap with don't-cares",
     "module top_module(input [3:0] x, output reg f);\n  always @(*) case (x)\n    4'd0, 4'd2: f = 1'b1;\n"
     "    4'd5, 4'd7: f = 1'bx;\n    default: f = 1'b0;\n  endcase\nendmodule\n",
     // differs from the reference only where it does not care (x = 5 and 7 give 1)
     "module top_module(input [3:0] x, output f);\n  assign f = x == 4'd0 | x == 4'd2 | x == 4'd5 | x == 4'd7;\nendmodule\n",
     "module top_module(input [3:0] x, output f);\n  assign f = x == 4'd0 | x == 4'd3;\nendmodule\n"},
    {"popcount8",
     "module top_module(input [7:0] in, output [3:0] out);\n  assign out = in[0]+in[1]+in[2]+in[3]+in[4]+in[5]+in[6]+in[7];\nendmodule\n",
     "module top_module(input [7:0] in, output reg [3:0] out);\n  integer i;\n  always @(*) begin\n    out = 0;\n"
     "    for (i = 0; i < 8; i = i + 1) out = out + in[i];\n  end\nendmodule\n",
     "module top_module(input [7:0] in, output [3:0] out);\n  assign out = in[0]+in[1]+in[2]+in[3]+in[4]+in[5]+in[6];\nendmodule\n"},
    {"adder with carry out",
     "module top_module(input [15:0] a, input [15:0] b, output [16:0] sum);\n  assign sum = a + b;\nendmodule\n",
     "module top_module(input [15:0] a, input [15:0] b, output [16:0] sum);\n  assign sum = {1'b0, a} + {1'b0, b};\nendmodule\n",
     "module top_module(input [15:0] a, input [15:0] b, output [16:0] sum);\n  assign sum = {1'b0, a + b};\nendmodule\n"},
    {"counter with synchronous reset",
     "module top_module(input clk, input reset, output reg [3:0] q);\n"
     "  always @(posedge clk) if (reset) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n",
     "module top_module(input clk, input reset, output [3:0] q);\n  reg [3:0] c;\n  assign q = c;\n"
     "  always @(posedge clk) c <= reset ? 4'd0 : c + 4'd1;\nendmodule\n",
     "module top_module(input clk, input reset, output reg [3:0] q);\n"
     "  always @(posedge clk) if (reset) q <= 4'd0; else if (q == 4'd9) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n"},
    {"counter with asynchronous reset",
     "module top_module(input clk, input areset, output reg [3:0] q);\n"
     "  always @(posedge clk or posedge areset) if (areset) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n",
     "module top_module(input clk, input areset, output reg [3:0] q);\n"
     "  always @(posedge areset or posedge clk) q <= areset ? 4'd0 : q + 4'd1;\nendmodule\n",
     // the reset made synchronous: seen before the clock edge
     "module top_module(input clk, input areset, output reg [3:0] q);\n"
     "  always @(posedge clk) if (areset) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n"},
    {"dual-edge flip-flop",
     "module top_module(input clk, input d, output q);\n  reg p, n;\n  always @(posedge clk) p <= d;\n"
     "  always @(negedge clk) n <= d;\n  assign q = clk ? p : n;\nendmodule\n",
     "module top_module(input clk, input d, output reg q);\n  always @(posedge clk or negedge clk) q <= d;\nendmodule\n",
     "module top_module(input clk, input d, output reg q);\n  always @(posedge clk) q <= d;\nendmodule\n"},
    {"lfsr5",
     "module top_module(input clk, input reset, output reg [4:0] q);\n"
     "  always @(posedge clk) if (reset) q <= 5'h1; else q <= {q[0], q[4], q[3] ^ q[0], q[2], q[1]};\nendmodule\n",
     "module top_module(input clk, input reset, output reg [4:0] q);\n  wire [4:0] n = {q[0], q[4], q[3] ^ q[0], q[2:1]};\n"
     "  always @(posedge clk) q <= reset ? 5'd1 : n;\nendmodule\n",
     "module top_module(input clk, input reset, output reg [4:0] q);\n"
     "  always @(posedge clk) if (reset) q <= 5'h1; else q <= {q[0], q[4], q[3] ^ q[1], q[2], q[1]};\nendmodule\n"},
    {"shift register with enable",
     "module top_module(input clk, input resetn, input en, input in, output reg [7:0] q);\n"
     "  always @(posedge clk) if (!resetn) q <= 8'd0; else if (en) q <= {q[6:0], in};\nendmodule\n",
     "module top_module(input clk, input resetn, input en, input in, output reg [7:0] q);\n"
     "  always @(posedge clk) q <= !resetn ? 8'd0 : en ? {q[6:0], in} : q;\nendmodule\n",
     "module top_module(input clk, input resetn, input en, input in, output reg [7:0] q);\n"
     "  always @(posedge clk) if (!resetn) q <= 8'd0; else q <= {q[6:0], in};\nendmodule\n"},
    {"sequence detector 101 (Mealy FSM)",
     "module top_module(input clk, input reset, input x, output z);\n  reg [1:0] s;\n"
     "  always @(posedge clk) if (reset) s <= 0; else case (s)\n    0: s <= x ? 1 : 0;\n    1: s <= x ? 1 : 2;\n"
     "    2: s <= x ? 1 : 0;\n    default: s <= 0;\n  endcase\n  assign z = s == 2 && x;\nendmodule\n",
     "module top_module(input clk, input reset, input x, output z);\n  reg [1:0] last;\n"
     "  always @(posedge clk) last <= reset ? 2'b00 : {last[0], x};\n"
     "  reg seen1;\n  always @(posedge clk) seen1 <= reset ? 1'b0 : 1'b1;\n"
     "  assign z = last == 2'b10 && x && seen1 && 1'b1;\nendmodule\n",
     "module top_module(input clk, input reset, input x, output z);\n  reg [1:0] s;\n"
     "  always @(posedge clk) if (reset) s <= 0; else case (s)\n    0: s <= x ? 1 : 0;\n    1: s <= x ? 1 : 2;\n"
     "    2: s <= x ? 0 : 0;\n    default: s <= 0;\n  endcase\n  assign z = s == 2 && x;\nendmodule\n"},
    {"and-or-invert",
     "module top_module(input a, input b, input c, input d, output y);\n  assign y = ~((a & b) | (c & d));\nendmodule\n",
     "module top_module(input a, input b, input c, input d, output y);\n  assign y = (~a | ~b) & (~c | ~d);\nendmodule\n",
     "module top_module(input a, input b, input c, input d, output y);\n  assign y = ~((a & b) | (c | d));\nendmodule\n"},
    {"4-to-1 mux of bytes",
     "module top_module(input [7:0] a, input [7:0] b, input [7:0] c, input [7:0] d, input [1:0] sel, output reg [7:0] y);\n"
     "  always @(*) case (sel)\n    2'd0: y = a;\n    2'd1: y = b;\n    2'd2: y = c;\n    default: y = d;\n  endcase\nendmodule\n",
     "module top_module(input [7:0] a, input [7:0] b, input [7:0] c, input [7:0] d, input [1:0] sel, output [7:0] y);\n"
     "  assign y = sel[1] ? (sel[0] ? d : c) : (sel[0] ? b : a);\nendmodule\n",
     "module top_module(input [7:0] a, input [7:0] b, input [7:0] c, input [7:0] d, input [1:0] sel, output [7:0] y);\n"
     "  assign y = sel[1] ? (sel[0] ? c : d) : (sel[0] ? b : a);\nendmodule\n"},
    {"priority encoder",
     "module top_module(input [7:0] in, output reg [2:0] pos);\n  always @(*) casez (in)\n"
     "    8'b???????1: pos = 0;\n    8'b??????10: pos = 1;\n    8'b?????100: pos = 2;\n    8'b????1000: pos = 3;\n"
     "    8'b???10000: pos = 4;\n    8'b??100000: pos = 5;\n    8'b?1000000: pos = 6;\n    8'b10000000: pos = 7;\n"
     "    default: pos = 0;\n  endcase\nendmodule\n",
     "module top_module(input [7:0] in, output reg [2:0] pos);\n  integer i;\n  always @(*) begin\n    pos = 0;\n"
     "    for (i = 7; i >= 0; i = i - 1) if (in[i]) pos = i;\n  end\nendmodule\n",
     "module top_module(input [7:0] in, output reg [2:0] pos);\n  integer i;\n  always @(*) begin\n    pos = 0;\n"
     "    for (i = 0; i < 8; i = i + 1) if (in[i]) pos = i;\n  end\nendmodule\n"},
    {"signed less-than",
     "module top_module(input [7:0] a, input [7:0] b, output lt);\n  assign lt = $signed(a) < $signed(b);\nendmodule\n",
     "module top_module(input [7:0] a, input [7:0] b, output lt);\n  wire [8:0] d = {a[7], a} - {b[7], b};\n  assign lt = d[8];\nendmodule\n",
     "module top_module(input [7:0] a, input [7:0] b, output lt);\n  assign lt = a < b;\nendmodule\n"},
    {"gray code",
     "module top_module(input [7:0] b, output [7:0] g);\n  assign g = b ^ (b >> 1);\nendmodule\n",
     "module top_module(input [7:0] b, output [7:0] g);\n  genvar i;\n  assign g[7] = b[7];\n"
     "  generate for (i = 0; i < 7; i = i + 1) begin : x\n    assign g[i] = b[i] ^ b[i + 1];\n  end endgenerate\nendmodule\n",
     "module top_module(input [7:0] b, output [7:0] g);\n  assign g = b ^ (b << 1);\nendmodule\n"},
    {"rotate left",
     "module top_module(input [7:0] in, input [2:0] amt, output [7:0] out);\n  wire [15:0] w = {in, in} << amt;\n"
     "  assign out = w[15:8];\nendmodule\n",
     "module top_module(input [7:0] in, input [2:0] amt, output [7:0] out);\n  assign out = (in << amt) | (in >> (4'd8 - amt));\nendmodule\n",
     "module top_module(input [7:0] in, input [2:0] amt, output [7:0] out);\n  assign out = in << amt;\nendmodule\n"},
    {"decade counter",
     "module top_module(input clk, input reset, output reg [3:0] q);\n"
     "  always @(posedge clk) if (reset || q == 4'd9) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n",
     "module top_module(input clk, input reset, output reg [3:0] q);\n"
     "  always @(posedge clk) q <= reset ? 4'd0 : (q == 4'd9 ? 4'd0 : q + 4'd1);\nendmodule\n",
     "module top_module(input clk, input reset, output reg [3:0] q);\n"
     "  always @(posedge clk) if (reset || q == 4'd10) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n"},
    {"rising-edge detector",
     "module top_module(input clk, input [7:0] in, output reg [7:0] pedge);\n  reg [7:0] last;\n"
     "  always @(posedge clk) begin\n    last <= in;\n    pedge <= in & ~last;\n  end\nendmodule\n",
     "module top_module(input clk, input [7:0] in, output [7:0] pedge);\n  reg [7:0] last, p;\n  assign pedge = p;\n"
     "  always @(posedge clk) {last, p} <= {in, in & ~last};\nendmodule\n",
     "module top_module(input clk, input [7:0] in, output reg [7:0] pedge);\n  reg [7:0] last;\n"
     "  always @(posedge clk) begin\n    last <= in;\n    pedge <= in ^ last;\n  end\nendmodule\n"},
    {"up-down counter with enable and asynchronous active-low reset",
     "module top_module(input clk, input arst_n, input en, input up, output reg [7:0] q);\n"
     "  always @(posedge clk or negedge arst_n) if (!arst_n) q <= 0; else if (en) q <= up ? q + 1 : q - 1;\nendmodule\n",
     "module top_module(input clk, input arst_n, input en, input up, output reg [7:0] q);\n"
     "  always @(negedge arst_n or posedge clk) q <= !arst_n ? 8'd0 : q + (en ? (up ? 8'd1 : 8'hff) : 8'd0);\nendmodule\n",
     "module top_module(input clk, input arst_n, input en, input up, output reg [7:0] q);\n"
     "  always @(posedge clk or negedge arst_n) if (!arst_n) q <= 0; else if (en || !up) q <= up ? q + 1 : q - 1;\nendmodule\n"},
    {"serial receiver FSM",
     "module top_module(input clk, input reset, input in, output done, output [7:0] byte_out);\n"
     "  localparam IDLE = 0, DATA = 1, STOP = 2, DONE = 3, ERR = 4;\n  reg [2:0] s;\n  reg [3:0] n;\n  reg [7:0] sh;\n"
     "  always @(posedge clk)\n    if (reset) begin s <= IDLE; n <= 0; end\n    else case (s)\n"
     "      IDLE: if (!in) begin s <= DATA; n <= 0; end\n"
     "      DATA: begin sh <= {in, sh[7:1]}; n <= n + 1; if (n == 7) s <= STOP; end\n"
     "      STOP: s <= in ? DONE : ERR;\n      DONE: if (!in) begin s <= DATA; n <= 0; end else s <= IDLE;\n"
     "      ERR: if (in) s <= IDLE;\n      default: s <= IDLE;\n    endcase\n"
     "  assign done = s == DONE;\n  assign byte_out = sh;\nendmodule\n",
     // another state encoding, one-hot
     "module top_module(input clk, input reset, input in, output done, output [7:0] byte_out);\n"
     "  reg [4:0] s;  // one-hot: idle, data, stop, done, err\n  reg [2:0] n;\n  reg [7:0] sh;\n"
     "  wire start = !in && (s[0] || s[3]);\n"
     "  always @(posedge clk) begin\n"
     "    if (reset) s <= 5'b00001;\n"
     "    else if (start) s <= 5'b00010;\n"
     "    else if (s[1]) s <= n == 3'd7 ? 5'b00100 : 5'b00010;\n"
     "    else if (s[2]) s <= in ? 5'b01000 : 5'b10000;\n"
     "    else if (s[3]) s <= 5'b00001;\n"
     "    else if (s[4]) s <= in ? 5'b00001 : 5'b10000;\n"
     "    if (reset || start) n <= 0; else if (s[1]) n <= n + 1;\n"
     "    if (!reset && s[1]) sh <= {in, sh[7:1]};\n"
     "  end\n  assign done = s[3];\n  assign byte_out = sh;\nendmodule\n",
     "module top_module(input clk, input reset, input in, output done, output [7:0] byte_out);\n"
     "  localparam IDLE = 0, DATA = 1, STOP = 2, DONE = 3, ERR = 4;\n  reg [2:0] s;\n  reg [3:0] n;\n  reg [7:0] sh;\n"
     "  always @(posedge clk)\n    if (reset) begin s <= IDLE; n <= 0; end\n    else case (s)\n"
     "      IDLE: if (!in) begin s <= DATA; n <= 0; end\n"
     "      DATA: begin sh <= {in, sh[7:1]}; n <= n + 1; if (n == 7) s <= STOP; end\n"
     "      STOP: s <= DONE;\n      DONE: if (!in) begin s <= DATA; n <= 0; end else s <= IDLE;\n"
     "      ERR: if (in) s <= IDLE;\n      default: s <= IDLE;\n    endcase\n"
     "  assign done = s == DONE;\n  assign byte_out = sh;\nendmodule\n"},
};

// The formal verdict expected of each problem's reference against itself, its correct variant
// and its mutant, in the order of kProblems. "unsupported": Yosys cannot read the variant (an
// asynchronous reset written as `q <= areset ? ...` without an if, a dual-edge process); the
// serial receivers do not close by induction (the one-hot variant has unreachable states, the
// shift register no reset) and are equal only to the bound.
struct FormalExpectation {
  const char* self;
  const char* correct;
  const char* mutant;
};
const FormalExpectation kFormal[] = {
    {"equal", "equal", "counterexample"},  // mux256
    {"equal", "equal", "counterexample"},  // kmap: the variant differs only where the reference is x
    {"equal", "equal", "counterexample"},  // popcount8
    {"equal", "equal", "counterexample"},  // adder
    {"equal", "equal", "counterexample"},  // counter, synchronous reset
    {"equal", "unsupported", "counterexample"},  // counter, asynchronous reset
    {"equal", "unsupported", "counterexample"},  // dual-edge flip-flop (clk2fflogic)
    {"equal", "equal", "counterexample"},  // lfsr5
    {"equal", "equal", "counterexample"},  // shift register
    {"equal", "equal", "counterexample"},  // sequence detector
    {"equal", "equal", "counterexample"},  // and-or-invert
    {"equal", "equal", "counterexample"},  // 4-to-1 mux
    {"equal", "equal", "counterexample"},  // priority encoder
    {"equal", "equal", "counterexample"},  // signed less-than
    {"equal", "equal", "counterexample"},  // gray code
    {"equal", "equal", "counterexample"},  // rotate
    {"equal", "equal", "counterexample"},  // decade counter
    {"equal", "equal", "counterexample"},  // rising-edge detector (no reset: X until defined)
    {"equal", "unsupported", "counterexample"},  // up-down counter, asynchronous active-low reset
    {"bounded", "bounded", "counterexample"},  // serial receiver
};
static_assert(std::size(kFormal) == std::size(kProblems));

PortScoreOptions quick() {
  PortScoreOptions o;
  o.stimulus.cycles = 300;
  o.eval.synthesis = false;
  return o;
}

}  // namespace

TEST_CASE("problems at their ports: every reference and correct variant passes, every mutant fails", "[ports]") {
  for (const auto& p : kProblems) {
    INFO(p.name);
    const auto self = score_against_reference(p.reference, p.reference, "", quick());
    INFO(self.message);
    CHECK(self.verdict == "pass");
    const auto ok = score_against_reference(p.reference, p.correct, "", quick());
    INFO(ok.message);
    CHECK(ok.verdict == "pass");
    const auto bad = score_against_reference(p.reference, p.mutant, "", quick());
    INFO(bad.message);
    CHECK(bad.verdict == "fail");
    CHECK(bad.category == "mismatch");
    CHECK(bad.stage == "simulate");
  }
}

TEST_CASE("scoring at the ports judges function: a correct candidate Yosys cannot synthesize passes without area", "[ports]") {
  for (const auto& p : kProblems) {
    if (std::string(p.name) != "dual-edge flip-flop") continue;
    PortScoreOptions o = quick();
    o.eval.synthesis = true;
    const auto r = score_against_reference(p.reference, p.correct, "", o);
    INFO(r.message);
    CHECK(r.verdict == "pass");
    CHECK_THAT(r.message, Catch::Contains("every output matches") && Catch::Contains("not synthesized, so no area"));
    CHECK(r.result["synthesis"]["error"]["category"].get<std::string>().size() > 0);
    // Its mutant still fails at simulation.
    CHECK(score_against_reference(p.reference, p.mutant, "", o).verdict == "fail");
    return;
  }
  FAIL("no dual-edge flip-flop among the problems");
}

TEST_CASE("a mismatch names the cycle, the inputs, expected and got, and writes a waveform", "[ports]") {
  const Problem& counter = kProblems[4];
  TempDir dir("chipgym-ports-");
  PortScoreOptions o = quick();
  o.vcd = dir.path() / "wave.vcd";
  const auto r = score_against_reference(counter.reference, counter.mutant, "", o);
  REQUIRE(r.verdict == "fail");
  // reset for 2 cycles, then zeros (q = 1), ones (2), ... the mutant wraps after 9.
  CHECK_THAT(r.message, Catch::Contains("first at cycle 11") && Catch::Contains("reset=0") &&
                            Catch::Contains("q expected 1010 got 0000"));
  const json sim = r.to_json()["simulation"];
  CHECK(sim["first_mismatches"][0]["cycle"] == 11);
  CHECK(sim["first_mismatches"][0]["expected"]["q"] == "1010");
  CHECK(sim["first_mismatches"][0]["got"]["q"] == "0000");
  std::ifstream vcd(dir.path() / "wave.vcd");
  std::stringstream text;
  text << vcd.rdbuf();
  CHECK_THAT(text.str(), Catch::Contains("$var") && Catch::Contains("chipgym_out_q"));
  // The same stimulus and seed give the same report; another seed other random values.
  CHECK(score_against_reference(counter.reference, counter.mutant, "", o).message == r.message);
}

TEST_CASE("port-level vectors: hex and binary values, don't-care bits and masks, any width", "[ports]") {
  TempDir dir("chipgym-portvec-");
  const std::string ref = kProblems[4].reference;
  std::ofstream(dir.path() / "counter.v") << ref;
  json v = {{"module", "top_module"},
            {"ports", {{"clk", 1}, {"reset", 1}, {"q", -4}}},
            {"clock", "clk"},
            {"sequences",
             {{{{"in", {{"reset", "1"}}}, {"out", {{"q", "0x0"}}}},
               {{"in", {{"reset", "0"}}}, {"out", {{"q", "0b0001"}}}},
               {{"in", {{"reset", "0"}}}, {"out", {{"q", "0b001x"}}}},                           // don't care bit
               {{"in", {{"reset", "0"}}}, {"out", {{"q", "0x2"}}}, {"mask", {{"q", "0b1110"}}}}},  // q = 3, LSB masked
              {{{"in", {{"reset", "1"}}}, {"out", {{"q", "0"}}}}}}}};
  std::ofstream(dir.path() / "v.json") << v.dump();
  auto r = run_chipgym({"score", "--vectors", (dir.path() / "v.json").string(), (dir.path() / "counter.v").string(), "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out)["simulation"]["compared_bits"] == 4 + 4 + 3 + 3 + 4);
  // A wrong expectation fails, naming the cycle.
  v["sequences"][0][1]["out"]["q"] = "0b0010";
  std::ofstream(dir.path() / "w.json") << v.dump();
  r = run_chipgym({"score", "--vectors", (dir.path() / "w.json").string(), (dir.path() / "counter.v").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("cycle 1 (vectors 0:1") && Catch::Contains("q expected 0010 got 0001"));
  // Widths that do not match the ports, and values wider than their port, are refused by name.
  json wide = v;
  wide["ports"]["q"] = -5;
  std::ofstream(dir.path() / "x.json") << wide.dump();
  r = run_chipgym({"score", "--vectors", (dir.path() / "x.json").string(), (dir.path() / "counter.v").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("port 'q' is output [4 bits], expected output [5 bits]"));
  json too_wide = v;
  too_wide["sequences"][0][0]["out"]["q"] = "0x1f";
  std::ofstream(dir.path() / "y.json") << too_wide.dump();
  r = run_chipgym({"score", "--vectors", (dir.path() / "y.json").string(), (dir.path() / "counter.v").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("sequence 0, cycle 0: port q") && Catch::Contains("wider than its 4 bits"));
}

TEST_CASE("bad input at the ports: ports that differ, a reference that does not compile, another top name", "[ports]") {
  TempDir dir("chipgym-portbad-");
  const std::string ref = kProblems[4].reference;
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return (dir.path() / name).string();
  };
  const std::string ref_file = file("ref.v", ref);
  auto r = run_chipgym({"score", "--ref", ref_file,
                        file("wide.v", "module top_module(input clk, input reset, output reg [4:0] q);\n"
                                       "  always @(posedge clk) q <= q + 1;\nendmodule\n")});
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("REFUSED") != std::string::npos);
  CHECK_THAT(r.err, Catch::Contains("port 'q' is output [5 bits], expected output [4 bits]"));
  r = run_chipgym({"score", "--ref", ref_file,
                   file("other.v", "module counter(input clk, input reset, output reg [3:0] q);\n"
                                   "  always @(posedge clk) q <= reset ? 0 : q + 1;\nendmodule\n")});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no module 'top_module' in the candidate"));
  r = run_chipgym({"score", "--ref",
                   file("broken.v", "module top_module(input clk, input reset, output reg [3:0] q)\n"
                                    "  always @(posedge clk) q <= q + 1\nendmodule\n"),
                   ref_file});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("the reference: Icarus Verilog could not compile the design"));
  r = run_chipgym({"score", "--ref", ref_file, ref_file, "--clock", "nope"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--clock nope: module top_module has no 1-bit input of that name"));
  // A reference is untrusted text too: screened before any tool reads it.
  r = run_chipgym({"score", "--ref",
                   file("evil.v", "module top_module(input a, output y);\n  initial $system(\"touch /tmp/x\");\n"
                                  "  assign y = a;\nendmodule\n"),
                   ref_file});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("the reference") && Catch::Contains("$system"));
}

TEST_CASE("pass@k over a problem set: per sample and per problem, failures grouped, a second run from the cache", "[ports]") {
  using chipgym::env::pass_at_k;
  CHECK(pass_at_k(10, 3, 5) == Approx(1.0 - 21.0 / 252.0));  // 1 - C(7,5) / C(10,5)
  CHECK(pass_at_k(3, 0, 1) == 0.0);
  CHECK(pass_at_k(3, 2, 2) == 1.0);
  TempDir dir("chipgym-problems-");
  const auto problems = dir.path() / "problems", samples = dir.path() / "samples";
  auto put = [](const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  };
  for (int i : {2, 4, 7}) {
    put(problems / ("p" + std::to_string(i)) / "ref.v", kProblems[i].reference);
    put(problems / ("p" + std::to_string(i)) / "spec.txt", kProblems[i].name);
  }
  put(samples / "p2" / "a.v", kProblems[2].reference);
  put(samples / "p2" / "b.v", kProblems[2].mutant);
  put(samples / "p2" / "c.v", kProblems[2].correct);
  put(samples / "p4" / "a.v", kProblems[4].mutant);  // p7 has no samples
  const std::vector<std::string> args = {"score", "--problems", problems.string(), "--samples", samples.string(),
                                         "--k", "1,2", "--workers", "2", "--out", (dir.path() / "out").string(),
                                         "--cache-dir", (dir.path() / "cache").string(), "--json"};
  auto r = run_chipgym(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["problems"]["p2"]["n"] == 3);
  CHECK(j["problems"]["p2"]["c"] == 2);
  CHECK(j["problems"]["p4"]["c"] == 0);
  CHECK(j["problems"]["p7"]["missing"] == true);
  CHECK(j["pass_at_k"]["1"]["value"].get<double>() == Approx((2.0 / 3.0 + 0.0) / 2));
  CHECK(j["pass_at_k"]["1"]["problems"] == 2);
  CHECK(j["pass_at_k"]["2"]["value"].get<double>() == Approx(1.0));  // only p2 has 2 samples
  CHECK(j["failures"]["simulate/mismatch"] == 2);
  CHECK(j["samples"].size() == 4);
  CHECK_THAT(r.err, Catch::Contains("warning: no candidate for problem p7"));
  std::ifstream csv(dir.path() / "out" / "results.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK(header == "problem,sample,verdict,stage,category,message");
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  CHECK(lines == 4);
  // Started again, every sample comes from the cache and the figures are the same.
  auto again = run_chipgym(args);
  REQUIRE(again.exit_code == 0);
  const json k = json::parse(again.out);
  CHECK(k["pass_at_k"] == j["pass_at_k"]);
  for (const auto& s : k["samples"]) CHECK(s["cache_hit"] == true);
  // Bad input: no --samples, a --k that is not a number.
  CHECK(run_chipgym({"score", "--problems", problems.string()}).exit_code == 2);
  auto bad_k = run_chipgym({"score", "--problems", problems.string(), "--samples", samples.string(), "--k", "1,x"});
  CHECK(bad_k.exit_code == 2);
  CHECK_THAT(bad_k.err, Catch::Contains("'x' is not a positive integer"));
}

namespace {

chipgym::env::PortSpec spec_of(const char* text) {
  return chipgym::env::read_port_spec(chipgym::evaluators::strip_comments_and_strings(text), "top_module");
}

}  // namespace

TEST_CASE("formal equivalence: every reference, correct variant and mutant gets the verdict expected by hand", "[ports][equiv]") {
  chipgym::env::EquivOptions o;
  o.depth = 14;  // the serial receiver's mutant differs 11 cycles after reset
  for (std::size_t i = 0; i < std::size(kProblems); ++i) {
    const Problem& p = kProblems[i];
    INFO(p.name);
    const auto spec = spec_of(p.reference);
    const auto self = chipgym::env::prove_equivalence(p.reference, p.reference, spec, o);
    INFO("self: " << self.message);
    CHECK(self.verdict == kFormal[i].self);
    const auto ok = chipgym::env::prove_equivalence(p.reference, p.correct, spec, o);
    INFO("correct: " << ok.message);
    CHECK(ok.verdict == kFormal[i].correct);
    const auto bad = chipgym::env::prove_equivalence(p.reference, p.mutant, spec, o);
    INFO("mutant: " << bad.message);
    CHECK(bad.verdict == kFormal[i].mutant);
    CHECK(!bad.trace.empty());
    if (std::string(kFormal[i].self) == "equal" && !spec.clock.empty()) CHECK(self.method == "induction");
  }
}

TEST_CASE("formal equivalence: a counter-example the simulation misses fails the candidate, with its input trace and a VCD", "[ports][equiv]") {
  TempDir dir("chipgym-equiv-");
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return (dir.path() / name).string();
  };
  const std::string ref = file("ref.v", "module top_module(input [31:0] a, input [31:0] b, output [31:0] y);\n"
                                         "  assign y = a + b;\nendmodule\n");
  // Wrong for one value of a in 2^32: random stimulus does not find it.
  const std::string trap = file("trap.v", "module top_module(input [31:0] a, input [31:0] b, output [31:0] y);\n"
                                           "  assign y = a == 32'hdeadbeef ? 32'd0 : a + b;\nendmodule\n");
  const std::string vcd = (dir.path() / "cex.vcd").string();
  auto r = run_chipgym({"score", "--ref", ref, trap, "--no-synth", "--no-cache"});
  INFO(r.err);
  CHECK(r.exit_code == 0);  // the simulation alone passes it
  r = run_chipgym({"score", "--ref", ref, trap, "--equiv", "--vcd", vcd, "--no-synth", "--no-cache", "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const json j = json::parse(r.out);
  CHECK(j["verdict"] == "fail");
  CHECK(j["stage"] == "equivalence");
  CHECK(j["category"] == "formal_mismatch");
  CHECK(j["simulation"]["mismatched_cycles"] == 0);
  CHECK(j["formal"]["verdict"] == "counterexample");
  CHECK(j["formal"]["trace"][0]["inputs"]["a"] == "11011110101011011011111011101111");
  CHECK_THAT(r.err, Catch::Contains("the formal proof did") && Catch::Contains("a=0xdeadbeef"));
  std::ifstream in(vcd);
  std::stringstream text;
  text << in.rdbuf();
  CHECK_THAT(text.str(), Catch::Contains("$var") && Catch::Contains("in_a") && Catch::Contains("in_b"));
  // Text output: the verdict, then the trace.
  r = run_chipgym({"score", "--ref", ref, trap, "--equiv", "--no-synth", "--no-cache"});
  CHECK_THAT(r.out, Catch::Contains("formal        counter-example") && Catch::Contains("a=11011110"));
  // A correct candidate: proved, exit 0; --equiv without --ref is bad input.
  r = run_chipgym({"score", "--ref", ref, ref, "--equiv", "--no-synth", "--no-cache"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("formal        proved: equal for every input"));
  r = run_chipgym({"score", "--vectors", file("v.json", "{}"), ref, "--equiv"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--equiv") && Catch::Contains("needs --ref"));
}

TEST_CASE("formal equivalence: a proof that runs out of time is undecided and the simulation verdict stands", "[ports][equiv]") {
  const std::string ref = "module top_module(input [23:0] a, input [23:0] b, output [47:0] p);\n  assign p = a * b;\nendmodule\n";
  const std::string shift_add =
      "module top_module(input [23:0] a, input [23:0] b, output reg [47:0] p);\n  integer i;\n"
      "  always @(*) begin\n    p = 0;\n    for (i = 0; i < 24; i = i + 1) if (b[i]) p = p + ({24'd0, a} << i);\n"
      "  end\nendmodule\n";
  PortScoreOptions o = quick();
  o.stimulus.cycles = 50;
  o.equiv = true;
  o.equiv_timeout = 1;
  const auto r = score_against_reference(ref, shift_add, "", o);
  INFO(r.message);
  CHECK(r.verdict == "pass");
  CHECK(r.result["formal"]["verdict"] == "undecided");
  CHECK_THAT(r.result["formal"]["message"].get<std::string>(), Catch::Contains("undecided within 1 s"));
}

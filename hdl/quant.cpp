// The quantized-operator families (gelu, softmax, rmsnorm, layernorm): Verilog generators
// over one streaming skeleton, the stream harness of docs/stream.md (hdl/stream_harness.h), and
// the Family glue.
//
// Skeleton (docs/stream.md ports): reduction operators load a vector into a buffer, run
// their passes and solve steps, then issue the N outputs through a per-element datapath of
// `stages` register stages (parts A lookup, B multiply, C round/shift/clamp; registers after
// A when stages >= 2, after B when stages == 3, and always at the output). The datapath stalls
// as a whole when the output is not taken (en = !out_valid || out_ready). gelu is the same
// datapath fed straight from the input.
#include <algorithm>
#include <random>
#include <sstream>
#include <stdexcept>

#include "hdl/quant.h"
#include "hdl/registry.h"
#include "hdl/stream_harness.h"
#include "hdl/verilog_text.h"

namespace chipgym::hdl {

namespace {

using text::clog2;
using text::s;
int bits_for(long long max_value) {  // unsigned bits to hold 0..max_value
  int b = 1;
  while (b < 62 && (1LL << b) <= max_value) ++b;
  return b;
}

// Sized literal in two's complement hex: lit(-64, 8) = "8'shc0"; ulit(5, 4) = "4'h5".
std::string hex(unsigned long long v) {
  std::ostringstream os;
  os << std::hex << v;
  return os.str();
}
unsigned long long mask(int w) { return w >= 64 ? ~0ULL : (1ULL << w) - 1; }
std::string lit(long long v, int w) { return s(w) + "'sh" + hex(static_cast<unsigned long long>(v) & mask(w)); }
std::string ulit(long long v, int w) { return s(w) + "'h" + hex(static_cast<unsigned long long>(v) & mask(w)); }
// Sign or zero extension of a named signal from `from` to `to` bits.
std::string sx(const std::string& n, int from, int to) {
  return to == from ? n : "{{" + s(to - from) + "{" + n + "[" + s(from - 1) + "]}}, " + n + "}";
}
std::string zx(const std::string& n, int from, int to) { return to == from ? n : "{" + s(to - from) + "'b0, " + n + "}"; }
std::string decl(const std::string& kind, int w, bool is_signed, const std::string& name) {
  return kind + (is_signed ? " signed" : "") + (w > 1 ? " [" + s(w - 1) + ":0]" : "") + " " + name;
}
// A case ROM: out = table[index], default 0.
std::string rom(const std::string& out, int out_w, bool out_signed, const std::string& index, int index_w,
                const std::vector<std::int64_t>& table, long long first_index = 0) {
  std::string t = "  " + decl("reg", out_w, out_signed, out) + ";\n  always @(*) begin\n    case (" + index + ")\n";
  for (std::size_t i = 0; i < table.size(); ++i)
    t += "      " + ulit(first_index + static_cast<long long>(i), index_w) + ": " + out + " = " +
         (out_signed ? lit(table[i], out_w) : ulit(table[i], out_w)) + ";\n";
  t += "      default: " + out + " = " + ulit(0, out_w) + ";\n    endcase\n  end\n";
  return t;
}
// Wires whose low or high bits are dropped on purpose (shifts, truncations).
std::string unused_ok(const std::string& lines) {
  return "  /* verilator lint_off UNUSEDSIGNAL */\n" + lines + "  /* verilator lint_on UNUSEDSIGNAL */\n";
}

struct Sig {
  std::string name;  // without prefix
  int width = 1;
  bool is_signed = false;
};

// The per-element datapath: part A (prefix a_) -> [reg] -> part B (reads ab_, writes b_) ->
// [reg] -> part C (reads bc_, writes c_y) -> output register.
struct Datapath {
  std::string part_a, part_b, part_c;
  std::vector<Sig> a_out;    // signals A hands to B (and through B to C)
  std::vector<Sig> b_out;    // signals B computes for C
  std::vector<Sig> through;  // A signals C needs, passed through B
};

std::string boundary(const std::string& from, const std::string& to, const std::vector<Sig>& sigs, bool registered) {
  std::string t;
  for (const auto& g : sigs) {
    if (registered) {
      t += "  " + decl("reg", g.width, g.is_signed, to + g.name) + ";\n";
      t += "  always @(posedge clk) if (en) " + to + g.name + " <= " + from + g.name + ";\n";
    } else {
      t += "  " + decl("wire", g.width, g.is_signed, to + g.name) + " = " + from + g.name + ";\n";
    }
  }
  return t;
}

// The datapath, the valid/last chain and the output port assignments. Expects `issue` and
// `issue_last` (an element enters part A this cycle) and declares `en`.
std::string datapath_head(int stages) {
  return "  // Output datapath: " + s(stages) + " register stage(s); it stalls as a whole while the output waits.\n" +
         "  reg [" + s(stages - 1) + ":0] vld, lst;\n  reg [7:0] out_q;\n" +
         "  wire en = !vld[" + s(stages - 1) + "] || out_ready;\n";
}

std::string datapath_text(const Datapath& d, int stages) {
  std::string t;
  t += "  // Part A\n" + d.part_a;
  t += boundary("a_", "ab_", d.a_out, stages >= 2);
  t += "  // Part B\n" + d.part_b;
  for (const auto& g : d.through) t += "  " + decl("wire", g.width, g.is_signed, "b_" + g.name) + " = ab_" + g.name + ";\n";
  std::vector<Sig> bc = d.b_out;
  bc.insert(bc.end(), d.through.begin(), d.through.end());
  t += boundary("b_", "bc_", bc, stages >= 3);
  t += "  // Part C\n" + d.part_c;
  // Valid and last travel with the data; the output register is the last stage.
  t += "  always @(posedge clk) begin\n";
  if (stages == 1) {
    t += "    if (rst) vld <= 1'b0;\n    else if (en) vld <= issue;\n";
    t += "    if (en) lst <= issue && issue_last;\n";
  } else {
    t += "    if (rst) vld <= " + ulit(0, stages) + ";\n    else if (en) vld <= {vld[" + s(stages - 2) + ":0], issue};\n";
    t += "    if (en) lst <= {lst[" + s(stages - 2) + ":0], issue && issue_last};\n";
  }
  t += "    if (en) out_q <= c_y;\n  end\n";
  t += "  assign out_valid = vld[" + s(stages - 1) + "];\n  assign out_last = lst[" + s(stages - 1) + "];\n";
  t += "  assign out_data = out_q;\n\n";
  return t;
}

const char* kPorts = R"(  input  wire       clk,
  input  wire       rst,
  input  wire       in_valid,
  output wire       in_ready,
  input  wire [7:0] in_data,
  input  wire       in_last,
  output wire       out_valid,
  input  wire       out_ready,
  output wire [7:0] out_data,
  output wire       out_last
)";

std::string module_head(const QuantConfig& c, const std::string& comment) {
  return "module " + quant_module_name(c.op) + " (\n" + kPorts + ");\n" + comment;
}

// Clamp of a signed `w`-bit signal to int8.
std::string clamp_int8(const std::string& v, int w) {
  return "(" + v + " > " + lit(127, w) + ") ? 8'h7f : (" + v + " < " + lit(-128, w) + ") ? 8'h80 : " + v + "[7:0]";
}

// ---------------------------------------------------------------------------------------
// gelu: piecewise polynomial over [-T, T), y = x above, 0 below.

// gelu by table: part A reads the table (direct: y = TABLE[x + 16T]; interp: the knots at both
// ends of the input's segment), part B interpolates (interp), part C saturates.
std::string emit_gelu_table(const QuantConfig& c, const QuantTables& t) {
  const bool interp = c.impl == GeluImpl::Interp, saturate = c.threshold < 8;
  const int t16 = c.threshold << kQuantInFrac, offb = clog2(2 * t16), W = c.table_bits ? c.table_bits : t.table_width;
  Datapath d;
  d.part_a = "  wire signed [7:0] a_x = in_data;\n";
  if (saturate) d.part_a += "  wire a_low = a_x < " + lit(-t16, 8) + ";\n  wire a_high = a_x >= " + lit(t16, 8) + ";\n";
  d.part_a += unused_ok("  wire [" + s(offb - 1) + ":0] a_off = a_x[" + s(offb - 1) + ":0] + " + ulit(t16, offb) + ";\n");
  std::vector<Sig> sat;
  if (saturate) sat = {{"x", 8, true}, {"low", 1, false}, {"high", 1, false}};
  std::string y;  // the table's result, W or more bits, signed
  int yw = W;
  if (!interp) {
    d.part_a += rom("a_t", W, true, "a_off", offb, t.table);
    d.a_out = sat;
    d.a_out.push_back({"t", W, true});
    d.through = d.a_out;
    y = "bc_t";
  } else {
    const int segments = c.interp_entries - 1, wb = clog2(2 * t16 / segments), segb = offb - wb, F = c.table_frac;
    const std::string seg = "a_off[" + s(offb - 1) + ":" + s(wb) + "]";
    d.part_a += "  wire [" + s(wb - 1) + ":0] a_d = a_off[" + s(wb - 1) + ":0];\n";
    d.part_a += "  wire [" + s(segb) + ":0] a_s1 = " + zx(seg, segb, segb + 1) + " + " + ulit(1, segb + 1) + ";\n";
    d.part_a += rom("a_k0", W, true, seg, segb, {t.table.begin(), t.table.end() - 1});
    d.part_a += rom("a_k1", W, true, "a_s1", segb + 1, {t.table.begin() + 1, t.table.end()}, 1);
    d.a_out = sat;
    d.a_out.insert(d.a_out.end(), {{"d", wb, false}, {"k0", W, true}, {"k1", W, true}});
    // k0 w + (k1 - k0) d: the difference needs W + 1 bits, the product W + 1 + wb, the sum one more.
    const int pw = W + wb + 2;
    d.part_b = "  wire signed [" + s(W) + ":0] b_dk = " + sx("ab_k1", W, W + 1) + " - " + sx("ab_k0", W, W + 1) + ";\n";
    d.part_b += "  wire signed [" + s(pw - 1) + ":0] b_v = (" + sx("ab_k0", W, pw) + " <<< " + s(wb) + ") + " + sx("b_dk", W + 1, pw) +
                " * $signed(" + zx("ab_d", wb, pw) + ");\n";
    d.b_out = {{"v", pw, true}};
    d.through = sat;
    const int sh = wb + F;
    d.part_c = unused_ok("  wire signed [" + s(pw - 1) + ":0] c_q = (bc_v + " + lit(1LL << (sh - 1), pw) + ") >>> " + s(sh) + ";\n");
    y = "c_q";
    yw = pw;
  }
  // The table's values lie in GELU's range over [-T, T) (at most -3..127): they fit int8.
  std::string y8 = yw >= 8 ? y + "[7:0]" : sx(y, yw, 8);
  if (!interp && yw > 8) d.part_c += unused_ok("  wire signed [" + s(yw - 1) + ":0] c_t = bc_t;\n"), y8 = "c_t[7:0]";
  d.part_c += "  wire [7:0] c_y = " + (saturate ? "bc_low ? 8'h00 : bc_high ? bc_x : " + y8 : y8) + ";\n";
  const std::string what = interp ? "linear interpolation between " + s(c.interp_entries) + " knots (" + s(W) + " bits, " +
                                        s(c.table_frac) + " fraction bits)"
                                  : "a direct table of " + s(2 * t16) + " entries of " + s(W) + " bits";
  std::string v = module_head(c, "  // GELU, x = in_data / 16, y = out_data / 16: " + what + " over [-" + s(c.threshold) + ", " +
                                     s(c.threshold) + ")" + (saturate ? ", y = x above, 0 below" : "") + ".\n");
  v += datapath_head(c.stages) + "  wire issue = in_valid && en;\n  wire issue_last = in_last;\n  assign in_ready = en;\n\n";
  v += datapath_text(d, c.stages);
  return v + "endmodule\n";
}

std::string emit_gelu(const QuantConfig& c, const QuantTables& t) {
  if (c.impl != GeluImpl::Poly) return emit_gelu_table(c, t);
  const int t16 = c.threshold << kQuantInFrac, w = 2 * t16 / c.segments, wb = clog2(w), offb = clog2(2 * t16),
            segb = offb - wb;
  for (std::size_t i = 0; i < t.c0.size(); ++i)
    if (std::abs(t.c0[i]) >= (1LL << 25) || std::abs(t.c1[i]) >= (1LL << 21) || std::abs(t.c2[i]) >= (1LL << 17))
      throw std::logic_error("gelu generator: a coefficient does not fit its width");
  Datapath d;
  d.part_a = "  wire signed [7:0] a_x = in_data;\n";
  d.part_a += "  wire a_low = a_x < " + lit(-t16, 8) + ";\n  wire a_high = a_x >= " + lit(t16, 8) + ";\n";
  d.part_a += unused_ok("  wire [" + s(offb - 1) + ":0] a_off = a_x[" + s(offb - 1) + ":0] + " + ulit(t16, offb) + ";\n");
  d.part_a += "  wire [" + s(wb - 1) + ":0] a_d = a_off[" + s(wb - 1) + ":0];\n";
  const std::string seg = segb > 0 ? "a_off[" + s(offb - 1) + ":" + s(wb) + "]" : "1'b0";
  const int segw = segb > 0 ? segb : 1;
  d.part_a += rom("a_c0", 26, true, seg, segw, t.c0) + rom("a_c1", 22, true, seg, segw, t.c1);
  if (c.order >= 2) d.part_a += rom("a_c2", 18, true, seg, segw, t.c2);
  d.a_out = {{"x", 8, true}, {"low", 1, false}, {"high", 1, false}, {"d", wb, false}, {"c0", 26, true}, {"c1", 22, true}};
  if (c.order >= 2) d.a_out.push_back({"c2", 18, true});
  d.part_b = "  wire signed [31:0] b_p1 = " + sx("ab_c1", 22, 32) + " * $signed(" + zx("ab_d", wb, 32) + ");\n";
  if (c.order >= 2) {
    d.part_b += "  wire [" + s(2 * wb - 1) + ":0] b_dd = " + zx("ab_d", wb, 2 * wb) + " * " + zx("ab_d", wb, 2 * wb) + ";\n";
    d.part_b += "  wire signed [31:0] b_p2 = " + sx("ab_c2", 18, 32) + " * $signed(" + zx("b_dd", 2 * wb, 32) + ");\n";
    d.b_out = {{"p1", 32, true}, {"p2", 32, true}};
  } else {
    d.b_out = {{"p1", 32, true}};
  }
  d.through = {{"x", 8, true}, {"low", 1, false}, {"high", 1, false}, {"c0", 26, true}};
  d.part_c = "  wire signed [31:0] c_acc = " + sx("bc_c0", 26, 32) + " + bc_p1" + (c.order >= 2 ? " + bc_p2" : "") + " + " +
             lit(1LL << (kGeluCoefFrac - 1), 32) + ";\n";
  d.part_c += "  wire signed [31:0] c_q = c_acc >>> " + s(kGeluCoefFrac) + ";\n";
  d.part_c += "  wire [7:0] c_y = bc_low ? 8'h00 : bc_high ? bc_x : " + clamp_int8("c_q", 32) + ";\n";

  std::string v = module_head(c, "  // GELU, x = in_data / 16, y = out_data / 16: " + s(c.segments) + " segments of order " +
                                     s(c.order) + " over [-" + s(c.threshold) + ", " + s(c.threshold) +
                                     "), y = x above, 0 below.\n");
  v += datapath_head(c.stages) + "  wire issue = in_valid && en;\n  wire issue_last = in_last;\n  assign in_ready = en;\n\n";
  v += datapath_text(d, c.stages);
  return v + "endmodule\n";
}

// ---------------------------------------------------------------------------------------
// The reduction skeleton shared by softmax, rmsnorm and layernorm.

std::string emit_softmax(const QuantConfig& c, const QuantTables& t) {
  const int N = c.vector_length, cb = clog2(N);
  const long long sum_max = static_cast<long long>(N) * t.exp_lut[0];
  const int sw = bits_for(sum_max), kb = clog2(sw + 1), R = c.recip_bits, ib = 8 - c.exp_shift, ew = c.exp_bits + 1;
  const int mw = bits_for(*std::max_element(t.recip.begin(), t.recip.end()));
  std::string v = module_head(c, "  // softmax, x = in_data / 16, p = out_data / 128: exp by a " + s(c.lut_entries) +
                                     "-entry table of (max - x) >> " + s(c.exp_shift) + ", 1/sum by a " + s(1 << R) +
                                     "-entry mantissa table and a shift.\n");
  v += "  localparam [1:0] LOAD = 2'd0, SUM = 2'd1, RECIP = 2'd2, OUT = 2'd3;\n";
  v += "  reg [1:0] state;\n  reg [" + s(cb - 1) + ":0] cnt;\n  reg issued_all;\n";
  v += "  reg signed [7:0] buffer [0:" + s(N - 1) + "];\n  reg signed [7:0] mx;\n";
  v += "  reg [" + s(sw - 1) + ":0] sum;\n  reg [" + s(mw - 1) + ":0] mul;\n  reg [5:0] sh;\n";
  v += "  wire last_index = cnt == " + ulit(N - 1, cb) + ";\n";
  v += "  wire signed [7:0] x_in = in_data;\n";
  v += "  assign in_ready = state == LOAD;\n";
  v += datapath_head(c.stages) + "  wire issue = state == OUT && !issued_all && en;\n  wire issue_last = last_index;\n\n";
  std::string rest;
  // Leading one of the sum and the mantissa bits below it.
  rest += "  reg [" + s(kb - 1) + ":0] lead;\n  reg [" + s(R - 1) + ":0] frac;\n  integer b;\n";
  rest += "  always @(*) begin\n    lead = " + ulit(0, kb) + ";\n    frac = " + ulit(0, R) + ";\n";
  rest += "    for (b = " + s(R) + "; b < " + s(sw) + "; b = b + 1)\n      if (sum[b]) begin\n        lead = b[" + s(kb - 1) +
       ":0];\n        frac = sum[b - 1 -: " + s(R) + "];\n      end\n  end\n";
  rest += rom("recip", mw, false, "frac", R, t.recip);
  rest += "  always @(posedge clk) begin\n    if (rst) begin\n      state <= LOAD;\n      cnt <= " + ulit(0, cb) +
       ";\n      issued_all <= 1'b0;\n    end else begin\n      case (state)\n";
  rest += "        LOAD: if (in_valid) begin\n          buffer[cnt] <= x_in;\n"
       "          mx <= (cnt == " + ulit(0, cb) + " || x_in > mx) ? x_in : mx;\n"
       "          cnt <= last_index ? " + ulit(0, cb) + " : cnt + " + ulit(1, cb) + ";\n"
       "          if (last_index) begin\n            state <= SUM;\n            sum <= " + ulit(0, sw) + ";\n          end\n        end\n";
  rest += "        SUM: begin\n          sum <= sum + " + zx("a_e", ew, sw) + ";\n          cnt <= last_index ? " + ulit(0, cb) +
       " : cnt + " + ulit(1, cb) + ";\n          if (last_index) state <= RECIP;\n        end\n";
  rest += "        RECIP: begin\n          mul <= recip;\n          sh <= " + zx("lead", kb, 6) + " + 6'd" +
       s(c.recip_frac - kSoftmaxOutFrac) + ";\n          issued_all <= 1'b0;\n          state <= OUT;\n        end\n";
  rest += "        default: begin\n          if (issue) begin\n            cnt <= last_index ? " + ulit(0, cb) + " : cnt + " +
       ulit(1, cb) + ";\n            if (last_index) issued_all <= 1'b1;\n          end\n"
       "          if (out_valid && out_ready && out_last) state <= LOAD;\n        end\n      endcase\n    end\n  end\n\n";
  Datapath d;
  d.part_a = "  wire signed [7:0] a_x = buffer[cnt];\n";
  d.part_a += unused_ok("  wire [7:0] a_diff = mx - a_x;\n");
  d.part_a += "  wire [" + s(ib - 1) + ":0] a_idx = a_diff[7:" + s(c.exp_shift) + "];\n";
  d.part_a += rom("a_e", ew, false, "a_idx", ib, t.exp_lut);
  d.a_out = {{"e", ew, false}};
  const int pw = ew + mw;
  d.part_b = "  wire [" + s(pw - 1) + ":0] b_prod = " + zx("ab_e", ew, pw) + " * " + zx("mul", mw, pw) + ";\n";
  d.b_out = {{"prod", pw, false}};
  d.part_c = "  wire [" + s(pw - 1) + ":0] c_round = bc_prod + (" + ulit(1, pw) + " << (sh - 6'd1));\n";
  d.part_c += unused_ok("  wire [" + s(pw - 1) + ":0] c_q = c_round >> sh;\n");
  d.part_c += "  wire [7:0] c_y = (c_q > " + ulit(127, pw) + ") ? 8'h7f : c_q[7:0];\n";
  v += datapath_text(d, c.stages) + rest;
  return v + "  wire unused_in_last = in_last;  // vectors are exactly vector_length long\nendmodule\n";
}

std::string emit_norm(const QuantConfig& c, const QuantTables& t) {
  const bool ln = c.op == QuantOp::LayerNorm;
  const int N = c.vector_length, cb = clog2(N), F = c.rsqrt_frac, A = c.acc_bits, p = c.pre_shift;
  const int yw = F + 2;  // y in Q1.F is below 2^(F+1); Newton's 3 2^F - u needs F + 2 bits
  const int xw = ln ? 10 : 8, sqw = 2 * xw;  // centred value and its square (signed)
  const long long v_max = ((t.acc_max * t.msq_mul) >> t.msq_shift) << (p & 1);
  const int vw = bits_for(std::max(1LL, v_max)), kb = clog2(vw + 1);
  const int msqw = bits_for(t.msq_mul);
  std::string v = module_head(
      c, std::string("  // ") + (ln ? "layernorm" : "rmsnorm") + ", y = out_data / 32, gamma / 64" + (ln ? ", beta / 32" : "") +
             ": squares >> " + s(p) + " summed in " + s(A) + " bits, 1/sqrt by " + s(c.iterations) +
             " Newton-Raphson iteration(s) in Q1." + s(F) + ".\n");
  v += std::string("  localparam [2:0] LOAD = 3'd0, ") + (ln ? "MEAN = 3'd1, VAR = 3'd2, " : "") + "SEED = 3'd3, " +
       (c.iterations > 0 ? "ITER = 3'd4, " : "") + "OUT = 3'd5;\n";
  v += "  reg [2:0] state;\n  reg [" + s(cb - 1) + ":0] cnt;\n" + (c.iterations > 0 ? "  reg [1:0] iter;\n" : "") + "  reg issued_all;\n";
  v += "  reg signed [7:0] buffer [0:" + s(N - 1) + "];\n  reg [" + s(A - 1) + ":0] acc;\n";
  v += "  reg [" + s(yw - 1) + ":0] y;\n" + (c.iterations > 0 ? "  reg [" + s(F + 1) + ":0] m;\n" : "") + "  reg [5:0] sh;\n";
  v += "  wire last_index = cnt == " + ulit(N - 1, cb) + ";\n  wire signed [7:0] x_in = in_data;\n";
  v += "  assign in_ready = state == LOAD;\n";
  v += datapath_head(c.stages) + "  wire issue = state == OUT && !issued_all && en;\n  wire issue_last = last_index;\n\n";
  std::string rest;
  // The centred value of the element at cnt (part A) and of the input; its square, pre-shifted.
  if (ln) {
    v += "  reg signed [15:0] sum;\n  reg signed [9:0] mu;\n";
    rest += "  wire signed [39:0] mean_prod = " + sx("sum", 16, 40) + " * $signed(" + ulit(t.mean_mul, 40) + ");\n";
    rest += unused_ok("  wire signed [39:0] mean_q = mean_prod >>> " + s(t.mean_shift) + ";\n");
  }
  const std::string sq_src = ln ? "a_c" : "x_in";
  rest += "  wire signed [" + s(sqw - 1) + ":0] sq = " + sx(sq_src, xw, sqw) + " * " + sx(sq_src, xw, sqw) + ";\n";
  rest += "  wire [" + s(sqw - 1) + ":0] sq_shifted = sq >> " + s(p) + ";\n";
  if (A >= sqw) rest += "  wire [" + s(A - 1) + ":0] sq_acc = " + zx("sq_shifted", sqw, A) + ";\n";
  else rest += unused_ok("  wire [" + s(sqw - 1) + ":0] sq_wide = sq_shifted;\n") + "  wire [" + s(A - 1) + ":0] sq_acc = sq_wide[" + s(A - 1) + ":0];\n";
  // Seed: mean of squares (multiply-and-shift), normalized to m in [1, 4) times 4^k.
  const int pw = A + msqw;
  rest += "  wire [" + s(pw - 1) + ":0] msq_prod = " + zx("acc", A, pw) + " * " + zx(ulit(t.msq_mul, msqw), msqw, pw) + ";\n";
  rest += unused_ok("  wire [" + s(pw - 1) + ":0] msq_q = msq_prod >> " + s(t.msq_shift) + ";\n");
  if (pw >= vw + 1)
    rest += "  wire [" + s(vw - 1) + ":0] v_raw = " + (p & 1 ? "{msq_q[" + s(vw - 2) + ":0], 1'b0}" : "msq_q[" + s(vw - 1) + ":0]") + ";\n";
  else
    throw std::logic_error("norm generator: mean-of-squares width");
  rest += "  wire [" + s(vw - 1) + ":0] v1 = (v_raw == " + ulit(0, vw) + ") ? " + ulit(1, vw) + " : v_raw;\n";
  rest += "  reg [" + s(kb - 1) + ":0] lead;\n  integer b;\n";
  rest += "  always @(*) begin\n    lead = " + ulit(0, kb) + ";\n    for (b = 0; b < " + s(vw) + "; b = b + 1)\n      if (v1[b]) lead = b[" +
       s(kb - 1) + ":0];\n  end\n";
  rest += "  wire [" + s(kb - 1) + ":0] k = lead >> 1;\n";
  const int nw = vw + F;
  rest += unused_ok("  wire [" + s(nw - 1) + ":0] m_wide = (" + zx("v1", vw, nw) + " << " + s(F) + ") >> {k, 1'b0};\n");
  rest += unused_ok("  wire [" + s(F + 1) + ":0] m_new = m_wide[" + s(F + 1) + ":0];\n");
  rest += rom("seed", yw, false, "m_new[" + s(F + 1) + ":" + s(F - 2) + "]", 4, t.seed, 4);
  // One Newton-Raphson step of 1/sqrt(m): y <- y * (3 - m y^2) / 2, in Q1.F.
  if (c.iterations > 0)  // widths are exact for any yw-bit y and m: nothing is cut but the shifted-out bits
    rest += unused_ok("  wire [" + s(2 * yw - 1) + ":0] nr_yy = " + zx("y", yw, 2 * yw) + " * " + zx("y", yw, 2 * yw) + ";\n  wire [" +
                      s(F + 3) + ":0] nr_t = nr_yy[" + s(2 * yw - 1) + ":" + s(F) + "];\n  wire [" + s(2 * F + 5) + ":0] nr_mt = " +
                      zx("m", F + 2, 2 * F + 6) + " * " + zx("nr_t", F + 4, 2 * F + 6) + ";\n  wire [" + s(F + 5) +
                      ":0] nr_u = nr_mt[" + s(2 * F + 5) + ":" + s(F) + "];\n  wire [" + s(yw - 1) + ":0] nr_w = (nr_u >= " +
                      s(F + 6) + "'d" + s(3LL << F) + ") ? " + s(yw) + "'d0 : " + s(yw) + "'d" + s(3LL << F) + " - nr_u[" +
                      s(yw - 1) + ":0];\n  wire [" + s(2 * yw - 1) + ":0] nr_yw = " + zx("y", yw, 2 * yw) + " * " +
                      zx("nr_w", yw, 2 * yw) + ";\n  wire [" + s(yw) + ":0] nr_next = nr_yw[" + s(2 * yw - 1) + ":" + s(F + 1) + "];\n");
  rest += "  always @(posedge clk) begin\n    if (rst) begin\n      state <= LOAD;\n      cnt <= " + ulit(0, cb) +
       ";\n      issued_all <= 1'b0;\n      acc <= " + ulit(0, A) + ";\n" + (ln ? "      sum <= 16'sd0;\n" : "") +
       "    end else begin\n      case (state)\n";
  rest += "        LOAD: if (in_valid) begin\n          buffer[cnt] <= x_in;\n";
  rest += ln ? "          sum <= sum + " + sx("x_in", 8, 16) + ";\n" : "          acc <= acc + sq_acc;\n";
  rest += "          cnt <= last_index ? " + ulit(0, cb) + " : cnt + " + ulit(1, cb) + ";\n";
  rest += std::string("          if (last_index) state <= ") + (ln ? "MEAN" : "SEED") + ";\n        end\n";
  if (ln) {
    rest += "        MEAN: begin\n          mu <= mean_q[9:0];\n          state <= VAR;\n        end\n";
    rest += "        VAR: begin\n          acc <= acc + sq_acc;\n          cnt <= last_index ? " + ulit(0, cb) + " : cnt + " +
         ulit(1, cb) + ";\n          if (last_index) state <= SEED;\n        end\n";
  }
  rest += std::string("        SEED: begin\n          y <= seed;\n") + (c.iterations > 0 ? "          m <= m_new;\n" : "") + "          sh <= " + zx("k", kb, 6) + " + 6'd" +
       s(F + (p >> 1) + kGammaFrac - kNormOutFrac - 2) + ";\n" + (c.iterations > 0 ? "          iter <= 2'd0;\n" : "") + "          issued_all <= 1'b0;\n";
  rest += std::string("          state <= ") + (c.iterations > 0 ? "ITER" : "OUT") + ";\n        end\n";
  if (c.iterations > 0)
    rest += "        ITER: begin\n          y <= nr_next[" + s(yw - 1) + ":0];\n          iter <= iter + 2'd1;\n          if (iter == 2'd" +
       s(std::max(0, c.iterations - 1)) + ") state <= OUT;\n        end\n";
  rest += "        default: begin\n          if (issue) begin\n            cnt <= last_index ? " + ulit(0, cb) + " : cnt + " +
       ulit(1, cb) + ";\n            if (last_index) issued_all <= 1'b1;\n          end\n"
       "          if (out_valid && out_ready && out_last) begin\n            state <= LOAD;\n            acc <= " +
       ulit(0, A) + ";\n" + (ln ? "            sum <= 16'sd0;\n" : "") + "          end\n        end\n      endcase\n    end\n  end\n\n";
  Datapath d;
  d.part_a = "  wire signed [7:0] a_x = buffer[cnt];\n";
  if (ln) d.part_a += "  wire signed [9:0] a_c = " + sx("a_x", 8, 10) + " - mu;\n";
  else d.part_a += "  wire signed [7:0] a_c = a_x;\n";
  d.part_a += rom("a_g", 8, true, "cnt", cb, t.gamma);
  if (ln) d.part_a += rom("a_b", 8, true, "cnt", cb, t.beta);
  d.a_out = {{"c", xw, true}, {"g", 8, true}};
  if (ln) d.a_out.push_back({"b", 8, true});
  // 48 bits (40 would do): Yosys 0.23's ice40_dsp pass fails an assertion on the 40-bit form.
  d.part_b = "  wire signed [47:0] b_prod = " + sx("ab_c", xw, 48) + " * $signed(" + zx("y", yw, 48) + ") * " + sx("ab_g", 8, 48) + ";\n";
  d.b_out = {{"prod", 48, true}};
  if (ln) d.through = {{"b", 8, true}};
  d.part_c = "  wire signed [47:0] c_q = (bc_prod + (48'sd1 <<< (sh - 6'd1))) >>> sh;\n";
  d.part_c += ln ? "  wire signed [47:0] c_r = c_q + " + sx("bc_b", 8, 48) + ";\n" : "  wire signed [47:0] c_r = c_q;\n";
  d.part_c += "  wire [7:0] c_y = " + clamp_int8("c_r", 48) + ";\n";
  v += datapath_text(d, c.stages) + rest;
  return v + "  wire unused_in_last = in_last;  // vectors are exactly vector_length long\nendmodule\n";
}


// ---------------------------------------------------------------------------------------

class QuantFamily final : public Family {
 public:
  explicit QuantFamily(QuantOp op) : op_(op) {
    space_.add(Param::int_range("vector_length", 2, 64, 16, "elements per vector (N)"));
    switch (op) {
      case QuantOp::Gelu: {
        space_.add(Param::int_choice("threshold", {2, 4, 8}, 4,
                                     "saturation outside [-threshold, threshold): y = x above, 0 below (8: the whole int8 domain, tables only)"))
            .add(Param::pow2("segments", 2, 32, 8, "polynomial segments over [-threshold, threshold)"))
            .add(Param::int_range("order", 1, 2, 2, "polynomial order per segment (1 linear, 2 quadratic)"))
            // Added with the tables; at their defaults they stay out of a design's key.
            .add(Param::choice("impl", {"poly", "table", "interp"}, "poly",
                               "poly: piecewise polynomial; table: every input's value stored; interp: knots and linear interpolation")
                     .added_later())
            .add(Param::int_range("table_bits", 0, 16, 0, "table and interp: signed width of a table entry (0: the least that holds the range)")
                     .added_later())
            .add(Param::int_range("table_frac", 0, 4, 0, "interp: fraction bits of the knots").added_later())
            .add(Param::int_range("interp_entries", 1, 65, 17, "interp: knots over [-threshold, threshold], both ends (2^k + 1)")
                     .added_later());
        auto is = [](const Params& p, const char* impl) { return p.symbol("impl") == impl; };
        space_.require("32 * threshold / segments > order (each segment spans more input steps than the polynomial order)",
                       [is](const Params& p) {
                         return !is(p, "poly") || 32 * p.integer("threshold") / p.integer("segments") > p.integer("order");
                       });
        space_.require("threshold = 8 (no saturation) is for impl=table or interp",
                       [is](const Params& p) { return !is(p, "poly") || p.integer("threshold") <= 4; });
        space_.require("impl=table or interp has no polynomial: segments and order keep their defaults (8, 2)",
                       [is](const Params& p) { return is(p, "poly") || (p.integer("segments") == 8 && p.integer("order") == 2); });
        space_.require("impl=poly has no table: table_bits keeps its default (0)",
                       [is](const Params& p) { return !is(p, "poly") || p.integer("table_bits") == 0; });
        space_.require("only impl=interp has knots: table_frac and interp_entries keep their defaults (0, 17) otherwise",
                       [is](const Params& p) { return is(p, "interp") || (p.integer("table_frac") == 0 && p.integer("interp_entries") == 17); });
        space_.require("interp_entries >= 2 (an interpolating table needs two entries per segment, the knots at its ends)",
                       [is](const Params& p) { return !is(p, "interp") || p.integer("interp_entries") >= 2; });
        space_.require("interp_entries - 1 is a power of two and at most 16 * threshold (segments of 2^k >= 2 input steps)",
                       [is](const Params& p) {
                         const long long segments = p.integer("interp_entries") - 1;
                         return !is(p, "interp") || segments < 1 ||
                                ((segments & (segments - 1)) == 0 && segments <= 16 * p.integer("threshold"));
                       });
        space_.require("table_bits = 0 or at least the signed width of the table's range (GELU over [-threshold, threshold], "
                       "times 2^table_frac for interp)",
                       [this](const Params& p) {
                         if (p.symbol("impl") == "poly" || p.integer("table_bits") == 0) return true;
                         QuantConfig c = QuantConfig::from(op_, p);
                         if (c.impl == GeluImpl::Interp && (c.interp_entries < 2 || ((c.interp_entries - 1) & (c.interp_entries - 2)) != 0))
                           return true;  // said by the constraints above
                         return c.table_bits >= quant_tables(c).table_width;
                       });
        break;
      }
      case QuantOp::Softmax:
        space_.add(Param::pow2("lut_entries", 16, 256, 64, "exp look-up table entries"))
            .add(Param::int_range("exp_shift", 0, 4, 1, "table index = (max - x) >> exp_shift"))
            .add(Param::int_range("recip_bits", 2, 8, 6, "reciprocal mantissa table: 2^recip_bits entries"))
            // Added with the tables; at their defaults they stay out of a design's key.
            .add(Param::int_range("exp_bits", 6, 15, 15, "exp table scale: e(0) = 2^exp_bits, entries of exp_bits + 1 bits").added_later())
            .add(Param::int_range("recip_frac", 8, 16, 16, "reciprocal table: M in (2^(recip_frac-1), 2^recip_frac]").added_later());
        space_.require("exp_bits >= recip_bits + 1 (the sum's leading one has recip_bits bits below it)",
                       [](const Params& p) { return p.integer("exp_bits") >= p.integer("recip_bits") + 1; });
        space_.require("lut_entries * 2^exp_shift <= 256 (the table covers at most the 256 differences max - x)",
                       [](const Params& p) { return (p.integer("lut_entries") << p.integer("exp_shift")) <= 256; });
        break;
      case QuantOp::RmsNorm:
      case QuantOp::LayerNorm: {
        const long long max_square = op == QuantOp::RmsNorm ? 16384 : 65536;
        space_.add(Param::int_range("pre_shift", 0, 8, 2, "each square is shifted right by this before it is summed"))
            .add(Param::int_range("acc_bits", 16, 32, 24, "sum-of-squares accumulator width"))
            .add(Param::int_range("iterations", 0, 3, 2, "Newton-Raphson iterations of 1/sqrt"))
            // Added with the tables; at its default it stays out of a design's key.
            .add(Param::int_range("rsqrt_frac", 6, 14, 14, "1/sqrt seed table and Newton-Raphson in Q1.rsqrt_frac").added_later());
        space_.require("vector_length * (" + std::to_string(max_square) +
                           " >> pre_shift) <= 2^acc_bits - 1 (the sum of pre-shifted squares cannot overflow the accumulator)",
                       [max_square](const Params& p) {
                         return p.integer("vector_length") * (max_square >> p.integer("pre_shift")) <=
                                (1LL << p.integer("acc_bits")) - 1;
                       });
        break;
      }
    }
    space_.add(Param::int_range("stages", 1, 3, 1, "register stages of the per-element output datapath"));
  }

  std::string name() const override { return quant_family_name(op_); }
  int version() const override { return 4; }
  std::string description() const override {
    switch (op_) {
      case QuantOp::Gelu: return "int8 GELU streaming unit: piecewise polynomial, direct table or interpolated table, with saturation";
      case QuantOp::Softmax: return "int8 softmax streaming unit: exp table, sum, reciprocal by multiply-and-shift";
      case QuantOp::RmsNorm: return "int8 RMSNorm streaming unit: pre-shifted squares, Newton-Raphson 1/sqrt, fixed gamma";
      case QuantOp::LayerNorm: return "int8 LayerNorm streaming unit: mean, pre-shifted squares, Newton-Raphson 1/sqrt, fixed gamma/beta";
    }
    return "";
  }
  const ParamSpace& space() const override { return space_; }

  QuantConfig config(const Params& p) const {
    space_.validate(p);
    QuantConfig c = QuantConfig::from(op_, p);
    quant_validate(c);
    return c;
  }

  Rtl emit(const Params& p) const override {
    QuantConfig c = config(p);
    Rtl rtl;
    rtl.top = quant_module_name(op_);
    rtl.files[rtl.top + ".v"] =
        "// Generated by chipgym " + name() + " v" + std::to_string(version()) + ": " + space_.key_params(p).to_assignments() + "\n" +
        quant_verilog(c);
    rtl.modules = {rtl.top};
    rtl.interface = quant_interface(c);
    return rtl;
  }

  std::string harness_cpp() const override { return quant_harness_source(quant_module_name(op_)); }

  Stimulus stimulus(const Params& p, const json& workload) const override {
    QuantConfig c = config(p);
    auto vectors = quant_vectors(c, workload);
    const long long model = quant_model_cycles(c, static_cast<long long>(vectors.size()));
    StreamStimulus in;
    in.in_bits = in.out_bits = 8;
    in.cycle_limit[0] = static_cast<unsigned long long>(4 * model + 1000);
    in.cycle_limit[1] = static_cast<unsigned long long>(20 * model + 1000);
    in.pressure_seed = workload.value("seed", 1ULL);
    json expected = json::array();
    for (const auto& x : vectors) {
      in.vectors.emplace_back(x.begin(), x.end());
      expected.push_back({{"in", x}, {"out", quant_model(c, x)}});
    }
    return {in.text(), expected};
  }

  // Both passes of the stream harness, every element against the integer model, and out_last
  // on each vector's last element only (the harness cuts output vectors at out_last).
  SimCheck check(const Params& p, const Stimulus& stim, const std::string& output) const override {
    SimCheck out;
    const int n = QuantConfig::from(op_, p).vector_length;
    const auto passes = parse_stream_output(output, 8, true);
    const std::size_t count = stim.expected.size();
    for (int pass = 0; pass < 2; ++pass) {
      if (passes.size() <= static_cast<std::size_t>(pass)) {
        out.error = "harness output ended early or is malformed at pass " + std::to_string(pass);
        return out;
      }
      const StreamPass& run = passes[static_cast<std::size_t>(pass)];
      if (pass == 0) out.cycles = run.cycles;
      out.cycles_per_problem.push_back(run.cycles);
      if (pass == 0) out.cycles_per_problem.push_back(run.latency.empty() ? -1 : run.latency[0]);
      if (run.status != "ok") {
        const std::string why = run.status == "cycle_limit" ? "timeout(outputs-missing-within-cycle-limit)" : run.status;
        out.error = "pass " + std::to_string(pass) + (pass ? " (random stalls)" : " (no stalls)") + ": " + why;
        if (run.status.rfind("protocol", 0) == 0) out.category = "protocol";
        return out;
      }
      for (std::size_t vi = 0; vi < count; ++vi) {
        const auto& e = stim.expected[vi];
        const std::size_t k = pass == 0 ? vi : count - 1 - vi;  // pass 1 sent the vectors in reverse
        static const std::vector<long long> none;
        const auto& got_vector = k < run.out.size() ? run.out[k] : none;
        for (int i = 0; i < n; ++i) {
          ++out.checked;
          const std::size_t at = static_cast<std::size_t>(i);
          const std::string got = at < got_vector.size() ? std::to_string(got_vector[at]) : std::string("nothing");
          const bool last = at + 1 == got_vector.size();
          const std::string want = std::to_string(e["out"][at].get<int>());
          const bool want_last = i == n - 1;
          if (got != want || last != want_last) {
            if (out.mismatches == 0)
              out.first_mismatch = "pass " + std::to_string(pass) + " vector " + std::to_string(vi) + " element " +
                                   std::to_string(i) + ": input " + e["in"].dump() + ", expected " + want +
                                   (want_last ? " with out_last" : "") + ", got " + got + (last ? " with out_last" : "");
            ++out.mismatches;
          }
        }
      }
    }
    out.correct = out.mismatches == 0 && out.error.empty();
    return out;
  }

  long long model_cycles(const Params& p, const json& workload) const override {
    QuantConfig c = config(p);
    return quant_model_cycles(c, static_cast<long long>(quant_vectors(c, workload).size()));
  }

  json derived(const Params& p, const json& workload) const override {
    QuantConfig c = config(p);
    auto vectors = quant_vectors(c, workload);
    QuantError e = quant_error(c, vectors);
    const long long elements = static_cast<long long>(vectors.size()) * c.vector_length;
    const long long cycles = quant_model_cycles(c, static_cast<long long>(vectors.size()));
    const double lsb = op_ == QuantOp::Softmax ? 1.0 / (1 << kSoftmaxOutFrac)
                       : op_ == QuantOp::Gelu  ? 1.0 / (1 << kQuantInFrac)
                                               : 1.0 / (1 << kNormOutFrac);
    return {{"elements", elements},
            {"vectors", vectors.size()},
            {"latency_cycles", quant_latency(c)},
            {"cycles_per_vector", quant_cycles_per_vector(c)},
            {"elements_per_cycle_model", static_cast<double>(elements) / static_cast<double>(cycles)},
            {"max_abs_error_lsb", e.max_abs},
            {"mean_abs_error_lsb", e.mean_abs},
            {"output_lsb", lsb},
            {"max_abs_error", e.max_abs * lsb},
            {"mean_abs_error", e.mean_abs * lsb},
            {"interface", quant_interface(c)}};
  }

  // Objective: output elements per cycle per million transistors, 0 (and not within budget)
  // when the integer model's maximum error against floating point on the workload exceeds
  // budget["max_error_lsb"] or the area exceeds budget["max_transistors"].
  json score(const json& m, const json& budget) const override {
    json out = json::object();
    const json& d = m.value("derived", json::object());
    const long long cycles = m.value("cycles", 0LL), transistors = m.value("transistors", 0LL);
    if (!d.contains("elements") || cycles <= 0) return out;
    const double per_cycle = d["elements"].get<double>() / static_cast<double>(cycles);
    out["elements_per_cycle"] = per_cycle;
    // RTL only: the second harness pass, with random input gaps and output back-pressure.
    const json per_pass = m.value("stages", json::object()).value("simulate", json::object()).value("cycles_per_problem", json::array());
    if (per_pass.size() == 3 && per_pass[2].get<double>() > 0)
      out["elements_per_cycle_backpressured"] = d["elements"].get<double>() / per_pass[2].get<double>();
    out["latency_cycles"] = d.value("latency_cycles", 0LL);
    out["max_abs_error_lsb"] = d.value("max_abs_error_lsb", 0.0);
    out["mean_abs_error_lsb"] = d.value("mean_abs_error_lsb", 0.0);
    const double max_error = budget.value("max_error_lsb", 1e9);
    const bool accurate = d.value("max_abs_error_lsb", 0.0) <= max_error;
    out["accurate"] = accurate;
    if (transistors <= 0) return out;
    const long long limit = budget.value("max_transistors", 0LL);
    const bool within = (limit == 0 || transistors <= limit) && accurate;
    const double per_area = per_cycle / (static_cast<double>(transistors) / 1e6);
    out["elements_per_cycle_per_mtransistor"] = per_area;
    out["within_budget"] = within;
    out["objective"] = within ? per_area : 0.0;
    out["objective_unit"] = "elements/cycle per million transistors";
    return out;
  }

 private:
  QuantOp op_;
  ParamSpace space_;
};

}  // namespace

QuantConfig QuantConfig::from(QuantOp op, const Params& p) {
  QuantConfig c;
  c.op = op;
  auto get = [&](const char* name, int dflt) { return p.has(name) ? static_cast<int>(p.integer(name)) : dflt; };
  c.vector_length = get("vector_length", c.vector_length);
  c.stages = get("stages", c.stages);
  c.threshold = get("threshold", c.threshold);
  c.segments = get("segments", c.segments);
  c.order = get("order", c.order);
  c.lut_entries = get("lut_entries", c.lut_entries);
  c.exp_shift = get("exp_shift", c.exp_shift);
  c.recip_bits = get("recip_bits", c.recip_bits);
  c.pre_shift = get("pre_shift", c.pre_shift);
  c.acc_bits = get("acc_bits", c.acc_bits);
  c.iterations = get("iterations", c.iterations);
  if (p.has("impl")) {
    const std::string& impl = p.symbol("impl");
    c.impl = impl == "table" ? GeluImpl::Table : impl == "interp" ? GeluImpl::Interp : GeluImpl::Poly;
  }
  c.table_bits = get("table_bits", c.table_bits);
  c.table_frac = get("table_frac", c.table_frac);
  c.interp_entries = get("interp_entries", c.interp_entries);
  c.exp_bits = get("exp_bits", c.exp_bits);
  c.recip_frac = get("recip_frac", c.recip_frac);
  c.rsqrt_frac = get("rsqrt_frac", c.rsqrt_frac);
  return c;
}

std::string quant_verilog(const QuantConfig& c) {
  quant_validate(c);
  const QuantTables t = quant_tables(c);
  std::string body;
  switch (c.op) {
    case QuantOp::Gelu: body = emit_gelu(c, t); break;
    case QuantOp::Softmax: body = emit_softmax(c, t); break;
    case QuantOp::RmsNorm:
    case QuantOp::LayerNorm: body = emit_norm(c, t); break;
  }
  return "`default_nettype none\n\n" + body + "\n`default_nettype wire\n";
}

json quant_interface(const QuantConfig& c) {
  return {{"module", quant_module_name(c.op)},
          {"protocol", "stream"},
          {"ports",
           {{"clk", 1}, {"rst", 1}, {"in_valid", 1}, {"in_ready", -1}, {"in_data", 8}, {"in_last", 1},
            {"out_valid", -1}, {"out_ready", 1}, {"out_data", -8}, {"out_last", -1}}},
          {"signed", true},
          {"vector_length", c.vector_length}};
}

const Family& quant_family(QuantOp op) {
  static const QuantFamily gelu(QuantOp::Gelu), softmax(QuantOp::Softmax), rmsnorm(QuantOp::RmsNorm),
      layernorm(QuantOp::LayerNorm);
  switch (op) {
    case QuantOp::Gelu: return gelu;
    case QuantOp::Softmax: return softmax;
    case QuantOp::RmsNorm: return rmsnorm;
    case QuantOp::LayerNorm: return layernorm;
  }
  return gelu;
}

namespace {
// One entry per operator; the objects are the four above.
const Family& gelu_family() { return quant_family(QuantOp::Gelu); }
const Family& softmax_family() { return quant_family(QuantOp::Softmax); }
const Family& rmsnorm_family() { return quant_family(QuantOp::RmsNorm); }
const Family& layernorm_family() { return quant_family(QuantOp::LayerNorm); }
const Registration<FamilyEntry> gelu{{"gelu", &gelu_family}}, softmax{{"softmax", &softmax_family}},
    rmsnorm{{"rmsnorm", &rmsnorm_family}}, layernorm{{"layernorm", &layernorm_family}};
}  // namespace

std::string quant_harness_source(const std::string& module_name) { return stream_harness_source(module_name); }

namespace {
QuantConfig config_by_name(const std::string& op, const Params& p) {
  const QuantOp o = quant_op(op);
  const auto& f = quant_family(o);
  f.space().validate(p);
  QuantConfig c = QuantConfig::from(o, p);
  quant_validate(c);
  return c;
}
}  // namespace

std::vector<int> quant_model(const std::string& op, const Params& p, const std::vector<int>& x) {
  return quant_model(config_by_name(op, p), x);
}
std::string quant_verilog(const std::string& op, const Params& p) { return quant_verilog(config_by_name(op, p)); }
json quant_interface(const std::string& op, const Params& p) { return quant_interface(config_by_name(op, p)); }

}  // namespace chipgym::hdl

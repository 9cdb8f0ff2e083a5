#include "hdl/gemm.h"

#include <algorithm>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>

#include "hdl/registry.h"
#include "hdl/verilog_text.h"

namespace chipgym::hdl {

namespace {

using text::clog2;
using text::element_keep;
using text::fill;
using text::s;

// Sign extension of a signed product to the accumulator width.
std::string extend_product(const std::string& product, int in_bits, int acc_bits) {
  int ext = acc_bits - 2 * in_bits;
  if (ext == 0) return product;
  return "{{" + s(ext) + "{" + product + "[" + s(2 * in_bits - 1) + "]}}, " + product + "}";
}

// ---------------------------------------------------------------------------------------
// Processing elements

std::string pe_output_stationary(const GemmConfig& g) {
  std::string product_reg = g.pipeline ? "  reg  signed [${PW}-1:0] product_q;  // pipeline stage after the multiplier\n" : "";
  std::string addend = extend_product(g.pipeline ? "product_q" : "product", g.in_bits, g.acc_bits);
  return fill(R"(// Processing element, output-stationary: multiplies the operands passing through it and
// accumulates into its own element of C; A moves one PE right, B one PE down per cycle.
module gemm_pe (
  input  wire                  clk,
  input  wire                  rst,
  input  wire                  clear,
  input  wire signed [${IW}-1:0]  a_in,
  input  wire signed [${IW}-1:0]  b_in,
  output reg  signed [${IW}-1:0]  a_out,
  output reg  signed [${IW}-1:0]  b_out,
  output reg  signed [${AW}-1:0] acc
);
  wire signed [${PW}-1:0] product = a_in * b_in;
${PRODUCT_REG}  wire signed [${AW}-1:0] addend = ${ADDEND};

  always @(posedge clk) begin
    if (rst) begin
      a_out <= '0;
      b_out <= '0;
      acc   <= '0;${RESET_PRODUCT}
    end else begin
      a_out <= a_in;
      b_out <= b_in;${STEP_PRODUCT}
      acc   <= clear ? '0 : acc + addend;
    end
  end
endmodule

)",
              {{"IW", s(g.in_bits)},
               {"AW", s(g.acc_bits)},
               {"PW", s(2 * g.in_bits)},
               {"PRODUCT_REG", fill(product_reg, {{"PW", s(2 * g.in_bits)}})},
               {"ADDEND", addend},
               {"RESET_PRODUCT", g.pipeline ? "\n      product_q <= '0;" : ""},
               {"STEP_PRODUCT", g.pipeline ? "\n      product_q <= product;" : ""}});
}

std::string pe_weight_stationary(const GemmConfig& g) {
  std::string product_reg = g.pipeline ? "  reg  signed [${PW}-1:0] product_q;  // pipeline stage after the multiplier\n" : "";
  std::string addend = extend_product(g.pipeline ? "product_q" : "product", g.in_bits, g.acc_bits);
  return fill(R"(// Processing element, weight-stationary: holds one weight, multiplies the A operand passing
// right through it, and adds the product to the partial sum passing down through it.
module gemm_pe (
  input  wire                  clk,
  input  wire                  rst,
  input  wire                  w_load,
  input  wire signed [${IW}-1:0]  w_in,
  output reg  signed [${IW}-1:0]  w,
  input  wire signed [${IW}-1:0]  a_in,
  output reg  signed [${IW}-1:0]  a_out,
  input  wire signed [${AW}-1:0] psum_in,
  output reg  signed [${AW}-1:0] psum_out
);
  wire signed [${PW}-1:0] product = a_in * w;
${PRODUCT_REG}  wire signed [${AW}-1:0] addend = ${ADDEND};

  always @(posedge clk) begin
    if (rst) begin
      w        <= '0;
      a_out    <= '0;
      psum_out <= '0;${RESET_PRODUCT}
    end else begin
      if (w_load) w <= w_in;
      a_out    <= a_in;${STEP_PRODUCT}
      psum_out <= psum_in + addend;
    end
  end
endmodule

)",
              {{"IW", s(g.in_bits)},
               {"AW", s(g.acc_bits)},
               {"PW", s(2 * g.in_bits)},
               {"PRODUCT_REG", fill(product_reg, {{"PW", s(2 * g.in_bits)}})},
               {"ADDEND", addend},
               {"RESET_PRODUCT", g.pipeline ? "\n      product_q <= '0;" : ""},
               {"STEP_PRODUCT", g.pipeline ? "\n      product_q <= product;" : ""}});
}

// ---------------------------------------------------------------------------------------
// Arrays

// Delays element `index` of a packed edge vector by `delay` cycles into `target`.
std::string skew_line(const std::string& name, const std::string& edge, int index, int delay, int width,
                      const std::string& target) {
  std::string slice = edge + "[" + s(index * width) + " +: " + s(width) + "]";
  if (delay == 0) return "  assign " + target + " = " + slice + ";\n";
  std::string reg = name + "_" + s(index);
  std::string shift = delay == 1 ? slice : "{" + reg + "[" + s((delay - 1) * width - 1) + ":0], " + slice + "}";
  return "  reg [" + s(delay * width - 1) + ":0] " + reg + ";\n" +
         "  always @(posedge clk) " + reg + " <= rst ? '0 : " + shift + ";\n" +
         "  assign " + target + " = " + reg + "[" + s(delay * width - 1) + " -: " + s(width) + "];\n";
}

// Selects row rd_row of the packed accumulators `acc` into rd_data with gemm_mux2 instances:
// at level l, pairs (2i, 2i+1) are chosen by rd_row[l]; an unpaired last entry passes through.
std::string row_select_tree(int rows, int width) {
  std::vector<std::string> level;
  for (int r = 0; r < rows; ++r) level.push_back("acc[" + s(r * width) + " +: " + s(width) + "]");
  std::string out;
  if (rows == 1) out += "  wire unused_rd_row = rd_row[0];  // one row: nothing to select\n";
  for (int l = 0; level.size() > 1; ++l) {
    std::vector<std::string> next;
    for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
      std::string y = "row_sel_" + s(l) + "_" + s(i / 2);
      out += "  wire [" + s(width - 1) + ":0] " + y + ";\n";
      out += "  gemm_mux2 u_" + y + " (.sel(rd_row[" + s(l) + "]), .a(" + level[i] + "), .b(" + level[i + 1] +
             "), .y(" + y + "));\n";
      next.push_back(y);
    }
    if (level.size() % 2) next.push_back(level.back());
    level = next;
  }
  return out + "  assign rd_data = " + level[0] + ";\n";
}

std::string mux2(int width) {
  return fill(R"(// 2:1 multiplexer of one row of accumulators (the read-out tree's only cell).
module gemm_mux2 (
  input  wire          sel,
  input  wire [${W}-1:0] a,
  input  wire [${W}-1:0] b,
  output wire [${W}-1:0] y
);
  assign y = sel ? b : a;
endmodule

)",
              {{"W", s(width)}});
}

std::string array_output_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols, IW = g.in_bits, AW = g.acc_bits;
  std::string skew, exits, readout;
  for (int r = 0; r < R; ++r)
    skew += skew_line("a_skew", "a_edge", r, r, IW, "a_h[" + s(r * (C + 1) * IW) + " +: " + s(IW) + "]");
  for (int c = 0; c < C; ++c)
    skew += skew_line("b_skew", "b_edge", c, c, IW, "b_v[" + s(c * IW) + " +: " + s(IW) + "]");
  for (int r = 0; r < R; ++r) exits += "a_h[" + s((r * (C + 1) + C) * IW) + " +: " + s(IW) + "], ";
  exits += "b_v[" + s(R * C * IW) + " +: " + s(C * IW) + "]";
  readout = row_select_tree(R, C * AW);
  return fill(R"(// ${R} x ${C} output-stationary array. Row r's A operands are delayed r cycles and column
// c's B operands c cycles, so A[m][k] and B[k][n] meet in PE (m, n) at cycle k + m + n.
module gemm_array (
  input  wire             clk,
  input  wire             rst,
  input  wire             clear,
  input  wire [${AE}-1:0]    a_edge,   // A column slice: element r enters row r
  input  wire [${BE}-1:0]    b_edge,   // B row slice: element c enters column c
  input  wire [${RB}-1:0]     rd_row,
  output wire [${RD}-1:0]   rd_data   // accumulators of row rd_row, for write-back
);
  wire [${AH}-1:0] a_h;  // A operand entering PE (r, c) at [(r*${C1} + c)*${IW}]; c = ${C} is the exit
  wire [${BV}-1:0] b_v;  // B operand entering PE (r, c) at [(r*${C} + c)*${IW}]; r = ${R} is the exit
  wire [${ACC}-1:0] acc;

${SKEW}
  genvar r, c;
  generate
    for (r = 0; r < ${R}; r = r + 1) begin : g_row
      for (c = 0; c < ${C}; c = c + 1) begin : g_col
        gemm_pe u_pe (
          .clk  (clk),
          .rst  (rst),
          .clear(clear),
          .a_in (a_h[(r*${C1} + c)*${IW} +: ${IW}]),
          .a_out(a_h[(r*${C1} + c + 1)*${IW} +: ${IW}]),
          .b_in (b_v[(r*${C} + c)*${IW} +: ${IW}]),
          .b_out(b_v[((r + 1)*${C} + c)*${IW} +: ${IW}]),
          .acc  (acc[(r*${C} + c)*${AW} +: ${AW}])
        );
      end
    end
  endgenerate

  // Operands leaving the last column and row go nowhere.
  wire unused_exits = &{1'b0, ${EXITS}};

  // Write-back read-out: a tree of identical 2:1 multiplexers, one level per bit of rd_row.
${READOUT}endmodule

)",
              {{"R", s(R)},
               {"C", s(C)},
               {"C1", s(C + 1)},
               {"IW", s(IW)},
               {"AW", s(AW)},
               {"AE", s(R * IW)},
               {"BE", s(C * IW)},
               {"RB", s(clog2(R))},
               {"RD", s(C * AW)},
               {"AH", s(R * (C + 1) * IW)},
               {"BV", s((R + 1) * C * IW)},
               {"ACC", s(R * C * AW)},
               {"SKEW", skew},
               {"EXITS", exits},
               {"READOUT", readout}});
}

std::string array_weight_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols, IW = g.in_bits, AW = g.acc_bits;
  const int delay = C - 1;
  std::string skew, deskew, exits;
  for (int r = 0; r < R; ++r)
    skew += skew_line("a_skew", "a_edge", r, r, IW, "a_h[" + s(r * (C + 1) * IW) + " +: " + s(IW) + "]");
  // Column c's sums leave the array c cycles after column 0's; delay each to align the row.
  for (int c = 0; c < C; ++c)
    deskew += skew_line("out_skew", "bottom", c, delay - c, AW, "out_row[" + s(c * AW) + " +: " + s(AW) + "]");
  for (int r = 0; r < R; ++r) exits += "a_h[" + s((r * (C + 1) + C) * IW) + " +: " + s(IW) + "], ";
  exits += "w_v[" + s(R * C * IW) + " +: " + s(C * IW) + "]";
  return fill(R"(// ${R} x ${C} weight-stationary array: PE (r, c) holds B[k0 + r][n0 + c]. Row r's A operands
// are delayed r cycles; partial sums flow down and leave the bottom of column c at a
// fixed offset, then are delayed so that a whole row of C partial sums leaves together.
module gemm_array (
  input  wire             clk,
  input  wire             rst,
  input  wire             w_load,   // shift weights down one row; w_edge enters row 0
  input  wire [${BE}-1:0]    w_edge,
  input  wire [${AE}-1:0]    a_edge,   // A row slice: element r (k = k0 + r) enters row r
  output wire [${RD}-1:0]   out_row   // partial sums of one row of C, all columns aligned
);
  wire [${AH}-1:0] a_h;  // A operand entering PE (r, c) at [(r*${C1} + c)*${IW}]; c = ${C} is the exit
  wire [${WV}-1:0] w_v;  // weight entering PE (r, c) at [(r*${C} + c)*${IW}]; r = ${R} is the exit
  wire [${PV}-1:0] p_v;  // partial sum entering PE (r, c) at [(r*${C} + c)*${AW}]; row ${R} leaves
  wire [${RD}-1:0] bottom = p_v[${PB} +: ${RD}];

  assign w_v[0 +: ${BE}] = w_edge;
  assign p_v[0 +: ${RD}] = '0;
${SKEW}
  genvar r, c;
  generate
    for (r = 0; r < ${R}; r = r + 1) begin : g_row
      for (c = 0; c < ${C}; c = c + 1) begin : g_col
        gemm_pe u_pe (
          .clk     (clk),
          .rst     (rst),
          .w_load  (w_load),
          .w_in    (w_v[(r*${C} + c)*${IW} +: ${IW}]),
          .w       (w_v[((r + 1)*${C} + c)*${IW} +: ${IW}]),
          .a_in    (a_h[(r*${C1} + c)*${IW} +: ${IW}]),
          .a_out   (a_h[(r*${C1} + c + 1)*${IW} +: ${IW}]),
          .psum_in (p_v[(r*${C} + c)*${AW} +: ${AW}]),
          .psum_out(p_v[((r + 1)*${C} + c)*${AW} +: ${AW}])
        );
      end
    end
  endgenerate

  // A operands leaving the last column and weights below the last row go nowhere.
  wire unused_exits = &{1'b0, ${EXITS}};

${DESKEW}endmodule

)",
              {{"R", s(R)},
               {"C", s(C)},
               {"C1", s(C + 1)},
               {"IW", s(IW)},
               {"AW", s(AW)},
               {"AE", s(R * IW)},
               {"BE", s(C * IW)},
               {"RD", s(C * AW)},
               {"AH", s(R * (C + 1) * IW)},
               {"WV", s((R + 1) * C * IW)},
               {"PV", s((R + 1) * C * AW)},
               {"PB", s(R * C * AW)},
               {"SKEW", skew},
               {"DESKEW", deskew},
               {"EXITS", exits}});
}

// ---------------------------------------------------------------------------------------
// Buffers

// Input buffers are named by shape, so that the A and B buffers of a square array with equal
// depths are one module, synthesized once.
std::string buffer_name(int depth, int width) { return "gemm_buf_" + s(depth) + "x" + s(width); }

std::string input_buffer(int depth, int width) {
  return fill(R"(// Input buffer: ${DEPTH} entries of ${WIDTH} bits, written as memory returns data, read
// synchronously (one cycle), so it can map to block RAM.
module ${MODULE} (
  input  wire            clk,
  input  wire            we,
  input  wire [${AB}-1:0]   waddr,
  input  wire [${WIDTH}-1:0]  wdata,
  input  wire [${AB}-1:0]   raddr,
  output reg  [${WIDTH}-1:0]  rdata
);
  reg [${WIDTH}-1:0] mem [0:${DEPTH}-1];

  always @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    rdata <= mem[raddr];
  end
endmodule

)",
              {{"MODULE", buffer_name(depth, width)}, {"DEPTH", s(depth)}, {"WIDTH", s(width)}, {"AB", s(clog2(depth))}});
}

std::string accumulation_buffer(const GemmConfig& g) {
  const int C = g.cols, AW = g.acc_bits;
  std::string adds;
  for (int c = 0; c < C; ++c)
    adds += "  assign sum[" + s(c * AW) + " +: " + s(AW) + "] = old[" + s(c * AW) + " +: " + s(AW) + "] + acc_in[" +
            s(c * AW) + " +: " + s(AW) + "];\n";
  return fill(R"(// C buffer: ${DEPTH} rows of ${C} partial sums. Each pass over a K-chunk adds its partial
// sums into the rows (the first chunk overwrites); write-back reads rows out.
module gemm_buf_c (
  input  wire            clk,
  input  wire            acc_we,
  input  wire            acc_first,
  input  wire [${CB}-1:0]   acc_row,
  input  wire [${RD}-1:0]  acc_in,
  input  wire [${CB}-1:0]   rd_row,
  output wire [${RD}-1:0]  rd_data
);
  reg  [${RD}-1:0] mem [0:${DEPTH}-1];
  wire [${RD}-1:0] old = acc_first ? '0 : mem[acc_row];
  wire [${RD}-1:0] sum;
${ADDS}
  always @(posedge clk) begin
    if (acc_we) mem[acc_row] <= sum;
  end
  assign rd_data = mem[rd_row];
endmodule

)",
              {{"DEPTH", s(g.c_depth)}, {"C", s(C)}, {"CB", s(clog2(g.c_depth))}, {"RD", s(C * AW)}, {"ADDS", adds}});
}

// ---------------------------------------------------------------------------------------
// Controllers

// mask[i] = i < count, for the elements of a slice that lie inside the matrix.
std::string mask_lines(const std::string& mask, const std::string& count, int elements) {
  std::string out;
  for (int i = 0; i < elements; ++i)
    out += "  assign " + mask + "[" + s(i) + "] = " + count + " > 16'd" + s(i) + ";\n";
  return out;
}

// Addresses are kept in registers and stepped by additions (no multipliers): the products
// with the array size are by constants.
std::string controller_output_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols;
  const int XB = std::max(clog2(g.a_depth), clog2(g.b_depth));
  return fill(R"(// Controller, output-stationary. For each ${R} x ${C} tile of C: clear the accumulators; for
// each chunk of up to ${KC} K steps, load the chunk's A and B slices into the buffers
// (one slice each per cycle, plus one cycle of read latency), then stream them through the
// array; drain the array and write the tile back one row per cycle. Row r's last product
// lands r cycles after row 0's, so the write-back of row r, r cycles after row 0's, may
// start ${DRAIN} cycles after the last operands left the buffers.
module gemm_ctrl (
  input  wire        clk,
  input  wire        rst,
  input  wire        start,
  input  wire [15:0] cfg_m,
  input  wire [15:0] cfg_k,
  input  wire [15:0] cfg_n,
  output wire        busy,
  output wire        done,
  output wire        a_rd_en,
  output wire [31:0] a_rd_addr,
  output wire [31:0] a_rd_stride,
  output wire        b_rd_en,
  output wire [31:0] b_rd_addr,
  output reg         buf_we,
  output reg  [${XB}-1:0] buf_waddr,
  output wire [${XB}-1:0] buf_raddr,
  output wire [${R}-1:0] a_mask,        // rows m0 + r inside M
  output wire [${C}-1:0] b_mask,        // columns n0 + c inside N
  output reg         stream_valid,  // buffer outputs are operands this cycle
  output wire        acc_clear,
  output wire        c_wr_en,
  output wire [${RB}-1:0] c_wr_row,
  output wire [31:0] c_wr_addr
);
  localparam [2:0] S_IDLE = 3'd0, S_CLEAR = 3'd1, S_LOAD = 3'd2, S_STREAM = 3'd3,
                   S_DRAIN = 3'd4, S_WRITE = 3'd5, S_DONE = 3'd6;
  reg [2:0]  state;
  reg [15:0] cnt;
  reg [15:0] m, k, n;      // problem shape, latched at start
  reg [15:0] m0, n0, k0;   // tile origin and K-chunk start
  reg [31:0] a_tile;       // m0 * K: A row of the tile
  reg [31:0] c_tile;       // m0 * N: C row of the tile
  reg [31:0] a_addr;       // next A slice: A[m0][k], stride K
  reg [31:0] b_addr;       // next B slice: B[k][n0]
  reg [31:0] c_addr;       // next C row: C[m0 + cnt][n0]

  wire [16:0] k_left  = {1'b0, k} - {1'b0, k0};
  wire [15:0] kl      = (k_left > 17'd${KC}) ? 16'd${KC} : k_left[15:0];  // steps in this chunk
  wire [16:0] m_left  = {1'b0, m} - {1'b0, m0};
  wire [15:0] ml      = (m_left > 17'd${R}) ? 16'd${R} : m_left[15:0];   // valid rows in this tile
  wire [16:0] n_left  = {1'b0, n} - {1'b0, n0};
  wire [15:0] nl      = (n_left > 17'd${C}) ? 16'd${C} : n_left[15:0];   // valid columns
  wire [16:0] k0_next = {1'b0, k0} + 17'd${KC};
  wire [16:0] m0_next = {1'b0, m0} + 17'd${R};
  wire [16:0] n0_next = {1'b0, n0} + 17'd${C};
  wire [31:0] k32     = {16'd0, k};
  wire [31:0] n32     = {16'd0, n};
  wire        empty   = cfg_m == 16'd0 || cfg_k == 16'd0 || cfg_n == 16'd0;

  assign busy        = state != S_IDLE && state != S_DONE;
  assign done        = state == S_DONE;
  assign a_rd_en     = state == S_LOAD && cnt < kl;
  assign a_rd_addr   = a_addr;
  assign a_rd_stride = k32;
  assign b_rd_en     = a_rd_en;
  assign b_rd_addr   = b_addr;
  assign buf_raddr   = cnt[${XB}-1:0];
  assign acc_clear   = state == S_CLEAR;
  assign c_wr_en     = state == S_WRITE;
  assign c_wr_row    = cnt[${RB}-1:0];
  assign c_wr_addr   = c_addr;
${MASKS}
  always @(posedge clk) begin
    if (rst) begin
      buf_we       <= 1'b0;
      buf_waddr    <= '0;
      stream_valid <= 1'b0;
    end else begin
      buf_we       <= a_rd_en;       // memory data arrives one cycle after the request
      buf_waddr    <= cnt[${XB}-1:0];
      stream_valid <= state == S_STREAM;
    end
  end

  always @(posedge clk) begin
    if (rst) begin
      state  <= S_IDLE;
      cnt    <= '0;
      m      <= '0;
      k      <= '0;
      n      <= '0;
      m0     <= '0;
      n0     <= '0;
      k0     <= '0;
      a_tile <= '0;
      c_tile <= '0;
      a_addr <= '0;
      b_addr <= '0;
      c_addr <= '0;
    end else begin
      case (state)
        S_IDLE, S_DONE: if (start) begin
          m      <= cfg_m;
          k      <= cfg_k;
          n      <= cfg_n;
          m0     <= '0;
          n0     <= '0;
          k0     <= '0;
          a_tile <= '0;
          c_tile <= '0;
          a_addr <= '0;
          b_addr <= '0;
          cnt    <= '0;
          state  <= empty ? S_DONE : S_CLEAR;
        end
        S_CLEAR: begin
          c_addr <= c_tile + {16'd0, n0};
          state  <= S_LOAD;
        end
        S_LOAD: if (cnt == kl) begin  // kl requests, then one cycle for the last data
          cnt   <= '0;
          state <= S_STREAM;
        end else begin
          // After a full chunk the addresses point at the next chunk's first slices.
          if (a_rd_en) begin
            a_addr <= a_addr + 32'd1;
            b_addr <= b_addr + n32;
          end
          cnt <= cnt + 16'd1;
        end
        S_STREAM: if (cnt == kl - 16'd1) begin
          cnt <= '0;
          if (k0_next < {1'b0, k}) begin
            k0    <= k0_next[15:0];
            state <= S_LOAD;
          end else state <= S_DRAIN;
        end else cnt <= cnt + 16'd1;
        S_DRAIN: if (cnt == 16'd${DRAIN_LAST}) begin
          cnt   <= '0;
          state <= S_WRITE;
        end else cnt <= cnt + 16'd1;
        S_WRITE: if (cnt == ml - 16'd1) begin
          cnt   <= '0;
          k0    <= '0;
          state <= S_CLEAR;
          if (n0_next < {1'b0, n}) begin
            n0     <= n0_next[15:0];
            a_addr <= a_tile;
            b_addr <= {16'd0, n0_next[15:0]};
          end else begin
            n0     <= '0;
            b_addr <= '0;
            if (m0_next < {1'b0, m}) begin
              m0     <= m0_next[15:0];
              a_tile <= a_tile + k32 * 32'd${R};
              a_addr <= a_tile + k32 * 32'd${R};
              c_tile <= c_tile + n32 * 32'd${R};
            end else state <= S_DONE;
          end
        end else begin
          c_addr <= c_addr + n32;
          cnt    <= cnt + 16'd1;
        end
        default: state <= S_IDLE;
      endcase
    end
  end
endmodule

)",
              {{"R", s(R)},
               {"C", s(C)},
               {"KC", s(g.k_chunk())},
               {"XB", s(XB)},
               {"RB", s(clog2(R))},
               {"DRAIN", s(C + g.pipeline)},
               {"DRAIN_LAST", s(C + g.pipeline - 1)},
               {"MASKS", mask_lines("a_mask", "ml", R) + mask_lines("b_mask", "nl", C)}});
}

std::string controller_weight_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols;
  const int RCP = R + C + g.pipeline;  // cycles from a buffer read to its row's sums
  const int AB = clog2(g.a_depth), CB = clog2(g.c_depth);
  return fill(R"(// Controller, weight-stationary. For each ${C}-column strip of C and each chunk of up to
// ${MC} rows of A: for each group of ${R} K steps, load the ${R} x ${C} weight tile (shifted
// into the array) and the chunk's A row slices (in parallel, one cycle of read latency),
// stream the A slices through the array and add the partial sums into the C buffer; then
// write the chunk's rows of C back.
module gemm_ctrl (
  input  wire        clk,
  input  wire        rst,
  input  wire        start,
  input  wire [15:0] cfg_m,
  input  wire [15:0] cfg_k,
  input  wire [15:0] cfg_n,
  output wire        busy,
  output wire        done,
  output wire        a_rd_en,
  output wire [31:0] a_rd_addr,
  output wire [31:0] a_rd_stride,
  output wire        b_rd_en,
  output wire [31:0] b_rd_addr,
  output reg         buf_we,
  output reg  [${AB}-1:0] buf_waddr,
  output wire [${AB}-1:0] buf_raddr,
  output wire [${R}-1:0] a_mask,        // K steps k0 + r inside K
  output wire [${C}-1:0] b_mask,        // columns n0 + c inside N
  output reg         w_load,        // a weight row arrives this cycle
  output reg         w_row_ok,      // ... and its K index is inside K
  output reg         stream_valid,  // buffer outputs are operands this cycle
  output wire        acc_we,
  output wire        acc_first,
  output wire [${CB}-1:0] acc_row,
  output wire        c_wr_en,
  output wire [${CB}-1:0] c_wr_row,
  output wire [31:0] c_wr_addr
);
  localparam [2:0] S_IDLE = 3'd0, S_LOAD = 3'd1, S_STREAM = 3'd2, S_WRITE = 3'd3, S_DONE = 3'd4;
  reg [2:0]  state;
  reg [15:0] cnt;
  reg [15:0] m, k, n;      // problem shape, latched at start
  reg [15:0] m0, n0, k0;   // chunk origin
  reg [31:0] a_chunk;      // m0 * K: first A row of the chunk
  reg [31:0] c_chunk;      // m0 * N: first C row of the chunk
  reg [31:0] b_group;      // k0 * N + n0: first weight row of the group
  reg [31:0] a_addr;       // next A slice: A[m0 + cnt][k0]
  reg [31:0] b_addr;       // next weight row, bottom-up: B[w_k][n0]
  reg [31:0] c_addr;       // next C row: C[m0 + cnt][n0]
  reg [16:0] w_k;          // K index of the next weight row

  wire [16:0] m_left   = {1'b0, m} - {1'b0, m0};
  wire [15:0] ml       = (m_left > 17'd${MC}) ? 16'd${MC} : m_left[15:0];  // A rows in this chunk
  wire [16:0] k_left   = {1'b0, k} - {1'b0, k0};
  wire [15:0] kl       = (k_left > 17'd${R}) ? 16'd${R} : k_left[15:0];    // K steps in this group
  wire [16:0] n_left   = {1'b0, n} - {1'b0, n0};
  wire [15:0] nl       = (n_left > 17'd${C}) ? 16'd${C} : n_left[15:0];    // valid columns
  wire [15:0] load_len = (ml > 16'd${R}) ? ml : 16'd${R};
  wire [16:0] k0_next  = {1'b0, k0} + 17'd${R};
  wire [16:0] m0_next  = {1'b0, m0} + 17'd${MC};
  wire [16:0] n0_next  = {1'b0, n0} + 17'd${C};
  wire [31:0] k32      = {16'd0, k};
  wire [31:0] n32      = {16'd0, n};
  wire [31:0] top_row  = n32 * 32'd${R_1};  // (R - 1) * N: the group's last weight row
  wire        empty    = cfg_m == 16'd0 || cfg_k == 16'd0 || cfg_n == 16'd0;

  assign busy        = state != S_IDLE && state != S_DONE;
  assign done        = state == S_DONE;
  assign a_rd_en     = state == S_LOAD && cnt < ml;
  assign a_rd_addr   = a_addr;
  assign a_rd_stride = 32'd1;
  assign b_rd_en     = state == S_LOAD && cnt < 16'd${R};
  assign b_rd_addr   = b_addr;
  assign buf_raddr   = cnt[${AB}-1:0];
  assign acc_we      = state == S_STREAM && cnt >= 16'd${RCP};
  assign acc_first   = k0 == 16'd0;
  assign acc_row     = cnt[${CB}-1:0] - ${CB}'d${RCP_MOD};
  assign c_wr_en     = state == S_WRITE;
  assign c_wr_row    = cnt[${CB}-1:0];
  assign c_wr_addr   = c_addr;
${MASKS}
  always @(posedge clk) begin
    if (rst) begin
      buf_we       <= 1'b0;
      buf_waddr    <= '0;
      w_load       <= 1'b0;
      w_row_ok     <= 1'b0;
      stream_valid <= 1'b0;
    end else begin
      buf_we       <= a_rd_en;  // memory data arrives one cycle after the request
      buf_waddr    <= cnt[${AB}-1:0];
      w_load       <= b_rd_en;
      w_row_ok     <= w_k < {1'b0, k};
      stream_valid <= state == S_STREAM && cnt < ml;
    end
  end

  always @(posedge clk) begin
    if (rst) begin
      state   <= S_IDLE;
      cnt     <= '0;
      m       <= '0;
      k       <= '0;
      n       <= '0;
      m0      <= '0;
      n0      <= '0;
      k0      <= '0;
      a_chunk <= '0;
      c_chunk <= '0;
      b_group <= '0;
      a_addr  <= '0;
      b_addr  <= '0;
      c_addr  <= '0;
      w_k     <= '0;
    end else begin
      case (state)
        S_IDLE, S_DONE: if (start) begin
          m       <= cfg_m;
          k       <= cfg_k;
          n       <= cfg_n;
          m0      <= '0;
          n0      <= '0;
          k0      <= '0;
          a_chunk <= '0;
          c_chunk <= '0;
          b_group <= '0;
          a_addr  <= '0;
          b_addr  <= {16'd0, cfg_n} * 32'd${R_1};
          w_k     <= 17'd${R_1};
          cnt     <= '0;
          state   <= empty ? S_DONE : S_LOAD;
        end
        S_LOAD: if (cnt == load_len) begin  // requests, then one cycle for the last data
          cnt   <= '0;
          state <= S_STREAM;
        end else begin
          if (a_rd_en) a_addr <= a_addr + k32;
          if (b_rd_en) begin
            b_addr <= b_addr - n32;
            w_k    <= w_k - 17'd1;
          end
          cnt <= cnt + 16'd1;
        end
        S_STREAM: if (cnt == ml + 16'd${RCP_1}) begin  // ml rows, then ${RCP} cycles to the last sums
          cnt <= '0;
          if (k0_next < {1'b0, k}) begin
            k0      <= k0_next[15:0];
            b_group <= b_group + n32 * 32'd${R};
            b_addr  <= b_group + n32 * 32'd${R} + top_row;
            a_addr  <= a_chunk + {15'd0, k0_next};
            w_k     <= k0_next + 17'd${R_1};
            state   <= S_LOAD;
          end else begin
            c_addr <= c_chunk + {16'd0, n0};
            state  <= S_WRITE;
          end
        end else cnt <= cnt + 16'd1;
        S_WRITE: if (cnt == ml - 16'd1) begin
          cnt   <= '0;
          k0    <= '0;
          w_k   <= 17'd${R_1};
          state <= S_LOAD;
          if (m0_next < {1'b0, m}) begin
            m0      <= m0_next[15:0];
            a_chunk <= a_chunk + k32 * 32'd${MC};
            a_addr  <= a_chunk + k32 * 32'd${MC};
            c_chunk <= c_chunk + n32 * 32'd${MC};
            b_group <= {16'd0, n0};
            b_addr  <= {16'd0, n0} + top_row;
          end else begin
            m0      <= '0;
            a_chunk <= '0;
            a_addr  <= '0;
            c_chunk <= '0;
            b_group <= {15'd0, n0_next};
            b_addr  <= {15'd0, n0_next} + top_row;
            if (n0_next < {1'b0, n}) n0 <= n0_next[15:0];
            else state <= S_DONE;
          end
        end else begin
          c_addr <= c_addr + n32;
          cnt    <= cnt + 16'd1;
        end
        default: state <= S_IDLE;
      endcase
    end
  end
endmodule

)",
              {{"R", s(R)},
               {"R_1", s(R - 1)},
               {"C", s(C)},
               {"MC", s(g.m_chunk())},
               {"AB", s(AB)},
               {"CB", s(CB)},
               {"RCP", s(RCP)},
               {"RCP_1", s(RCP - 1)},
               {"RCP_MOD", s(RCP % (1 << CB))},
               {"MASKS", mask_lines("a_mask", "kl", R) + mask_lines("b_mask", "nl", C)}});
}

// ---------------------------------------------------------------------------------------
// Top level

const char* kTopPorts = R"(  input  wire        clk,
  input  wire        rst,
  input  wire        start,      // pulse: latch cfg_* and run one GEMM
  input  wire [15:0] cfg_m,
  input  wire [15:0] cfg_k,
  input  wire [15:0] cfg_n,
  output wire        busy,
  output wire        done,       // high from the end of a GEMM until the next start
  output wire        a_rd_en,    // A memory: ${R} elements at a_rd_addr + i * a_rd_stride,
  output wire [31:0] a_rd_addr,  //   returned on a_rd_data one cycle later
  output wire [31:0] a_rd_stride,
  input  wire [${AE}-1:0] a_rd_data,
  output wire        b_rd_en,    // B memory: ${C} consecutive elements at b_rd_addr
  output wire [31:0] b_rd_addr,
  input  wire [${BE}-1:0] b_rd_data,
  output wire        c_wr_en,    // C memory: element i to c_wr_addr + i where c_wr_mask[i]
  output wire [31:0] c_wr_addr,
  output wire [${C}-1:0] c_wr_mask,
  output wire [${RD}-1:0] c_wr_data
)";

std::string top_output_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols, IW = g.in_bits;
  const int AB = clog2(g.a_depth), BB = clog2(g.b_depth);
  return fill(std::string(R"(// gemm-int8 accelerator, output-stationary, ${R} x ${C} array, ${IW}-bit operands,
// ${AW}-bit accumulators. Generated by chipgym; same parameters, same bytes.
module gemm_top (
)") + kTopPorts + R"(
);
  wire             buf_we, stream_valid, acc_clear;
  wire [${XB}-1:0]    buf_waddr, buf_raddr;
  wire [${R}-1:0]     a_mask;
  wire [${C}-1:0]     b_mask;
  wire [${RB}-1:0]     c_wr_row;
  wire [${AE}-1:0]    a_buf_out;
  wire [${BE}-1:0]    b_buf_out;

  gemm_ctrl u_ctrl (
    .clk(clk), .rst(rst), .start(start), .cfg_m(cfg_m), .cfg_k(cfg_k), .cfg_n(cfg_n),
    .busy(busy), .done(done),
    .a_rd_en(a_rd_en), .a_rd_addr(a_rd_addr), .a_rd_stride(a_rd_stride),
    .b_rd_en(b_rd_en), .b_rd_addr(b_rd_addr),
    .buf_we(buf_we), .buf_waddr(buf_waddr), .buf_raddr(buf_raddr),
    .a_mask(a_mask), .b_mask(b_mask), .stream_valid(stream_valid), .acc_clear(acc_clear),
    .c_wr_en(c_wr_en), .c_wr_row(c_wr_row), .c_wr_addr(c_wr_addr)
  );

  // Elements outside the matrices are zeroed as they enter the buffers.
  ${BUF_A} u_buf_a (
    .clk(clk), .we(buf_we), .waddr(buf_waddr[${AB}-1:0]), .wdata(a_rd_data & ${A_KEEP}),
    .raddr(buf_raddr[${AB}-1:0]), .rdata(a_buf_out)
  );
  ${BUF_B} u_buf_b (
    .clk(clk), .we(buf_we), .waddr(buf_waddr[${BB}-1:0]), .wdata(b_rd_data & ${B_KEEP}),
    .raddr(buf_raddr[${BB}-1:0]), .rdata(b_buf_out)
  );

  gemm_array u_array (
    .clk(clk), .rst(rst), .clear(acc_clear),
    .a_edge(stream_valid ? a_buf_out : ${AE}'d0),
    .b_edge(stream_valid ? b_buf_out : ${BE}'d0),
    .rd_row(c_wr_row), .rd_data(c_wr_data)
  );

  assign c_wr_mask = b_mask;
endmodule
)",
              {{"R", s(R)},
               {"C", s(C)},
               {"IW", s(IW)},
               {"AW", s(g.acc_bits)},
               {"AE", s(R * IW)},
               {"BE", s(C * IW)},
               {"RD", s(C * g.acc_bits)},
               {"XB", s(std::max(AB, BB))},
               {"BUF_A", buffer_name(g.a_depth, R * IW)},
               {"BUF_B", buffer_name(g.b_depth, C * IW)},
               {"AB", s(AB)},
               {"BB", s(BB)},
               {"RB", s(clog2(R))},
               {"A_KEEP", element_keep("a_mask", R, IW)},
               {"B_KEEP", element_keep("b_mask", C, IW)}});
}

std::string top_weight_stationary(const GemmConfig& g) {
  const int R = g.rows, C = g.cols, IW = g.in_bits;
  const int AB = clog2(g.a_depth), CB = clog2(g.c_depth);
  return fill(std::string(R"(// gemm-int8 accelerator, weight-stationary, ${R} x ${C} array, ${IW}-bit operands,
// ${AW}-bit accumulators. Generated by chipgym; same parameters, same bytes.
module gemm_top (
)") + kTopPorts + R"(
);
  wire             buf_we, stream_valid, w_load, w_row_ok, acc_we, acc_first;
  wire [${AB}-1:0]    buf_waddr, buf_raddr;
  wire [${R}-1:0]     a_mask;
  wire [${C}-1:0]     b_mask;
  wire [${CB}-1:0]    acc_row, c_wr_row;
  wire [${AE}-1:0]    a_buf_out;
  wire [${RD}-1:0]   out_row;

  gemm_ctrl u_ctrl (
    .clk(clk), .rst(rst), .start(start), .cfg_m(cfg_m), .cfg_k(cfg_k), .cfg_n(cfg_n),
    .busy(busy), .done(done),
    .a_rd_en(a_rd_en), .a_rd_addr(a_rd_addr), .a_rd_stride(a_rd_stride),
    .b_rd_en(b_rd_en), .b_rd_addr(b_rd_addr),
    .buf_we(buf_we), .buf_waddr(buf_waddr), .buf_raddr(buf_raddr),
    .a_mask(a_mask), .b_mask(b_mask), .w_load(w_load), .w_row_ok(w_row_ok),
    .stream_valid(stream_valid), .acc_we(acc_we), .acc_first(acc_first), .acc_row(acc_row),
    .c_wr_en(c_wr_en), .c_wr_row(c_wr_row), .c_wr_addr(c_wr_addr)
  );

  // Elements outside the matrices are zeroed as they enter the buffer and the array.
  ${BUF_A} u_buf_a (
    .clk(clk), .we(buf_we), .waddr(buf_waddr), .wdata(a_rd_data & ${A_KEEP}),
    .raddr(buf_raddr), .rdata(a_buf_out)
  );

  gemm_array u_array (
    .clk(clk), .rst(rst), .w_load(w_load),
    .w_edge(w_row_ok ? (b_rd_data & ${B_KEEP}) : ${BE}'d0),
    .a_edge(stream_valid ? a_buf_out : ${AE}'d0),
    .out_row(out_row)
  );

  gemm_buf_c u_buf_c (
    .clk(clk), .acc_we(acc_we), .acc_first(acc_first), .acc_row(acc_row), .acc_in(out_row),
    .rd_row(c_wr_row), .rd_data(c_wr_data)
  );

  assign c_wr_mask = b_mask;
endmodule
)",
              {{"R", s(R)},
               {"C", s(C)},
               {"IW", s(IW)},
               {"AW", s(g.acc_bits)},
               {"AE", s(R * IW)},
               {"BE", s(C * IW)},
               {"RD", s(C * g.acc_bits)},
               {"AB", s(AB)},
               {"CB", s(CB)},
               {"BUF_A", buffer_name(g.a_depth, R * IW)},
               {"A_KEEP", element_keep("a_mask", R, IW)},
               {"B_KEEP", element_keep("b_mask", C, IW)}});
}

// ---------------------------------------------------------------------------------------
// Stimulus data

std::int64_t sign_extend(std::uint64_t v, int bits) {
  if (bits >= 64) return static_cast<std::int64_t>(v);
  std::uint64_t m = 1ULL << (bits - 1);
  v &= (1ULL << bits) - 1;
  return static_cast<std::int64_t>((v ^ m) - m);
}

void fill_pattern(const std::string& pattern, int rows, int cols, int bits, bool is_b, std::mt19937_64& rng,
                  std::vector<std::int64_t>& out) {
  const std::int64_t lo = -(1LL << (bits - 1)), hi = (1LL << (bits - 1)) - 1;
  out.assign(static_cast<std::size_t>(rows) * cols, 0);
  std::uniform_int_distribution<std::int64_t> dist(lo, hi);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      std::int64_t& v = out[static_cast<std::size_t>(r) * cols + c];
      if (pattern == "random") v = dist(rng);
      else if (pattern == "min") v = lo;
      else if (pattern == "max") v = hi;
      else if (pattern == "zero") v = 0;
      else if (pattern == "identity") v = is_b ? (r == c ? 1 : 0) : dist(rng);
      else if (pattern == "minmax") v = is_b ? hi : lo;
      else throw ParamError("unknown data pattern '" + pattern + "'; known: random, min, max, zero, identity, minmax");
    }
}

std::vector<std::string> gemm_patterns(const json& workload) {
  static const std::vector<std::string> known = {"random", "min", "max", "zero", "identity", "minmax"};
  std::vector<std::string> out;
  if (!workload.contains("patterns")) return {"random"};
  if (!workload["patterns"].is_array()) throw ParamError("gemm workload \"patterns\" must be a list of names");
  for (const auto& p : workload["patterns"]) {
    if (!p.is_string() || std::find(known.begin(), known.end(), p.get<std::string>()) == known.end())
      throw ParamError("unknown data pattern " + p.dump() + "; known: random, min, max, zero, identity, minmax");
    out.push_back(p.get<std::string>());
  }
  if (workload.contains("seed") && (!workload["seed"].is_number_integer() || workload["seed"].get<long long>() < 0))
    throw ParamError("gemm workload \"seed\" must be a non-negative integer");
  return out;
}

// ---------------------------------------------------------------------------------------

class GemmFamily final : public Family {
 public:
  GemmFamily() {
    space_.add(Param::int_range("rows", 1, 32, 4, "processing-element rows of the systolic array"))
        .add(Param::int_range("cols", 1, 32, 4, "processing-element columns of the systolic array"))
        .add(Param::int_choice("in_bits", {4, 8, 16}, 8, "signed operand width of A and B"))
        .add(Param::int_range("acc_bits", 8, 64, 32,
                              "accumulator width; sums wrap modulo 2^acc_bits, exact while "
                              "K <= (2^(acc_bits-1)-1) / 2^(2*in_bits-2)"))
        .add(Param::choice("dataflow", {"os", "ws"}, "os", "os: output-stationary, ws: weight-stationary"))
        .add(Param::pow2("a_depth", 1, 256, 16,
                         "A buffer entries (os: K steps per load, with b_depth; ws: A rows per pass, with c_depth)"))
        .add(Param::pow2("b_depth", 1, 256, 16, "B buffer entries (os only; ws streams weights into the array)"))
        .add(Param::pow2("c_depth", 1, 256, 16, "C accumulation buffer rows (ws only; os accumulates in the PEs)"))
        .add(Param::int_range("pipeline", 0, 1, 0, "1 adds a register after each multiplier"))
        .require("acc_bits >= 2 * in_bits (the accumulator must hold one full product)",
                 [](const Params& p) { return p.integer("acc_bits") >= 2 * p.integer("in_bits"); });
  }

  std::string name() const override { return "gemm"; }
  int version() const override { return 2; }  // 2: file headers name only what the module uses
  std::string description() const override {
    return "systolic-array GEMM accelerator (output- or weight-stationary) with buffers and a tiling controller";
  }
  const ParamSpace& space() const override { return space_; }

  Rtl emit(const Params& p) const override {
    space_.validate(p);
    GemmConfig g = GemmConfig::from(p);
    Rtl rtl;
    rtl.top = "gemm_top";
    // One file per module, named after it (the convention verilator -Wall checks). Each
    // file's header names only the parameters its module depends on, so a module that two
    // designs share (e.g. designs that differ in a buffer the other dataflow does not have)
    // is the same text, and per-module synthesis synthesizes it once.
    struct Module {
      std::string name, uses, text;
    };
    const std::string shape = "rows=" + s(g.rows) + ", cols=" + s(g.cols);
    const std::string widths = "in_bits=" + s(g.in_bits) + ", acc_bits=" + s(g.acc_bits);
    const std::string pe_uses = widths + ", pipeline=" + s(g.pipeline);
    auto buffer = [&](int depth, int width) {
      return Module{buffer_name(depth, width), "depth=" + s(depth) + ", width=" + s(width), input_buffer(depth, width)};
    };
    std::vector<Module> modules;
    if (g.weight_stationary) {
      modules = {{"gemm_pe", "dataflow=ws, " + pe_uses, pe_weight_stationary(g)},
                 {"gemm_array", "dataflow=ws, " + shape + ", " + widths, array_weight_stationary(g)},
                 buffer(g.a_depth, g.rows * g.in_bits),
                 {"gemm_buf_c", "cols=" + s(g.cols) + ", acc_bits=" + s(g.acc_bits) + ", c_depth=" + s(g.c_depth),
                  accumulation_buffer(g)},
                 {"gemm_ctrl", "dataflow=ws, " + shape + ", a_depth=" + s(g.a_depth) + ", c_depth=" + s(g.c_depth) +
                                   ", pipeline=" + s(g.pipeline),
                  controller_weight_stationary(g)},
                 {"gemm_top", "dataflow=ws, " + shape + ", " + widths + ", a_depth=" + s(g.a_depth) + ", c_depth=" +
                                  s(g.c_depth),
                  top_weight_stationary(g)}};
    } else {
      // The controller sees the A and B depths only through the K chunk and the address width.
      modules = {{"gemm_pe", "dataflow=os, " + pe_uses, pe_output_stationary(g)},
                 {"gemm_array", "dataflow=os, " + shape + ", " + widths, array_output_stationary(g)},
                 buffer(g.a_depth, g.rows * g.in_bits),
                 buffer(g.b_depth, g.cols * g.in_bits),
                 {"gemm_mux2", "width=" + s(g.cols * g.acc_bits), mux2(g.cols * g.acc_bits)},
                 {"gemm_ctrl", "dataflow=os, " + shape + ", k_chunk=" + s(g.k_chunk()) + ", buffer_address_bits=" +
                                   s(std::max(clog2(g.a_depth), clog2(g.b_depth))) + ", pipeline=" + s(g.pipeline),
                  controller_output_stationary(g)},
                 {"gemm_top", "dataflow=os, " + shape + ", " + widths + ", a_depth=" + s(g.a_depth) + ", b_depth=" +
                                  s(g.b_depth),
                  top_output_stationary(g)}};
    }
    for (auto& [module, uses, text] : modules) {
      if (rtl.files.count(module + ".v")) continue;  // a shape shared by two buffers
      while (!text.empty() && text.back() == '\n') text.pop_back();
      rtl.files[module + ".v"] = "// Generated by chipgym gemm v" + std::to_string(version()) + ", " + module + " of " +
                                 uses + "\n`default_nettype none\n\n" + text + "\n\n`default_nettype wire\n";
      rtl.modules.push_back(module);
    }
    rtl.interface = {{"protocol", "gemm-mem-v1"},
                     {"rows", g.rows},
                     {"cols", g.cols},
                     {"in_bits", g.in_bits},
                     {"acc_bits", g.acc_bits},
                     {"read_latency", 1},
                     {"layout", "row-major A (MxK), B (KxN), C (MxN)"}};
    return rtl;
  }

  std::string harness_cpp() const override { return gemm_harness_source(); }

  Stimulus stimulus(const Params& p, const json& workload) const override {
    const GemmConfig g = GemmConfig::from(p);
    return gemm_stimulus(g, workload, [&g](const GemmShape& sh) { return gemm_model_cycles(g, sh); });
  }

  SimCheck check(const Params&, const Stimulus& stim, const std::string& output) const override {
    return gemm_check(stim, output);
  }

  long long model_cycles(const Params& p, const json& workload) const override {
    GemmConfig g = GemmConfig::from(p);
    long long total = 0;
    auto patterns = gemm_patterns(workload).size();
    for (const auto& sh : gemm_shapes(workload)) total += gemm_model_cycles(g, sh) * sh.count * static_cast<long long>(patterns);
    return total;
  }

  json derived(const Params& p, const json& workload) const override {
    GemmConfig g = GemmConfig::from(p);
    long long macs = 0, max_k = 0;
    auto patterns = static_cast<long long>(gemm_patterns(workload).size());
    for (const auto& sh : gemm_shapes(workload)) {
      macs += static_cast<long long>(sh.m) * sh.k * sh.n * sh.count * patterns;
      max_k = std::max<long long>(max_k, sh.k);
    }
    // exact: no sum of the workload can wrap (wrapped results are bit-exact, but not the GEMM).
    return {{"macs", macs}, {"peak_macs_per_cycle", g.rows * g.cols}, {"max_exact_k", g.max_exact_k()},
            {"workload_max_k", max_k}, {"exact", max_k <= g.max_exact_k()}};
  }

  // Budget kinds (budget["kind"]):
  //   throughput_per_area (default): MACs per cycle per million transistors, under
  //           budget["max_transistors"];
  //   target: meet the target specification budget["max_cycles"] on the workload, and among
  //           the designs that do, the smaller the better: 10^6 / transistors.
  //   fpga:   on an iCE40: MACs per cycle per thousand iCE40 LUTs, under budget["max_luts"],
  //           budget["max_dsps"] and budget["max_brams"] (each 0 or absent: no limit);
  //           transistors are not limited.
  // Zero when over the transistor budget or when the accumulators can wrap on the workload;
  // a missed target is reported as not within budget.
  json score(const json& m, const json& budget) const override {
    json out = json::object();
    const json& d = m.value("derived", json::object());
    const long long cycles = m.value("cycles", 0LL), transistors = m.value("transistors", 0LL);
    if (!d.contains("macs") || cycles <= 0) return out;
    const double macs_per_cycle = d["macs"].get<double>() / static_cast<double>(cycles);
    out["macs_per_cycle"] = macs_per_cycle;
    out["utilization"] = macs_per_cycle / d.value("peak_macs_per_cycle", 1.0);
    const std::string kind = budget.value("kind", std::string("throughput_per_area"));
    const bool exact = d.value("exact", true);  // accumulators wide enough for the workload's K
    if (kind == "fpga") {
      const long long luts = m.value("luts", 0LL), dsps = m.value("dsps", 0LL), brams = m.value("brams", 0LL);
      if (luts <= 0) return out;  // not synthesized for the iCE40
      auto fits = [&budget](const char* limit, long long used) {
        const long long max = budget.value(limit, 0LL);
        return max == 0 || used <= max;
      };
      const bool within = fits("max_luts", luts) && fits("max_dsps", dsps) && fits("max_brams", brams);
      const double per_klut = macs_per_cycle / (static_cast<double>(luts) / 1e3);
      out["exact"] = exact;
      out["macs_per_cycle_per_klut"] = per_klut;
      out["objective_unit"] = "MACs/cycle per thousand iCE40 LUTs";
      out["within_budget"] = within && exact;
      out["objective"] = within && exact ? per_klut : 0.0;
      return out;
    }
    if (transistors <= 0) return out;
    const double per_area = macs_per_cycle / (static_cast<double>(transistors) / 1e6);
    const long long limit = budget.value("max_transistors", 0LL);
    const bool within = limit == 0 || transistors <= limit;
    out["exact"] = exact;
    out["macs_per_cycle_per_mtransistor"] = per_area;
    out["within_budget"] = within && exact;
    if (kind == "target") {
      const long long max_cycles = budget.value("max_cycles", 0LL);
      const bool meets = max_cycles == 0 || cycles <= max_cycles;
      out["meets_target"] = meets;
      out["within_budget"] = within && exact && meets;
      out["objective"] = within && exact && meets ? 1e6 / static_cast<double>(transistors) : 0.0;
    } else {
      out["objective"] = within && exact ? per_area : 0.0;
    }
    return out;
  }

 private:
  ParamSpace space_;
};

}  // namespace

GemmConfig GemmConfig::from(const Params& p) {
  GemmConfig g;
  g.rows = static_cast<int>(p.integer("rows"));
  g.cols = static_cast<int>(p.integer("cols"));
  g.in_bits = static_cast<int>(p.integer("in_bits"));
  g.acc_bits = static_cast<int>(p.integer("acc_bits"));
  g.weight_stationary = p.symbol("dataflow") == "ws";
  g.a_depth = static_cast<int>(p.integer("a_depth"));
  g.b_depth = static_cast<int>(p.integer("b_depth"));
  g.c_depth = static_cast<int>(p.integer("c_depth"));
  g.pipeline = static_cast<int>(p.integer("pipeline"));
  return g;
}

long long GemmConfig::max_exact_k() const {
  // |sum| <= K * 2^(2*in_bits-2) must fit in a signed acc_bits value.
  return static_cast<long long>(((1ULL << (acc_bits - 1)) - 1) >> (2 * in_bits - 2));
}

std::vector<GemmShape> gemm_shapes(const json& workload) {
  if (!workload.is_object() || !workload.contains("shapes") || !workload["shapes"].is_array())
    throw ParamError("gemm workload needs \"shapes\": [[M, K, N], ...]");
  std::vector<GemmShape> out;
  constexpr long long kMaxDim = 1 << 24, kMaxCount = 1 << 24;
  constexpr unsigned __int128 kMaxWorkloadMacs = static_cast<unsigned __int128>(1) << 52;
  unsigned __int128 total_macs = 0;
  for (const auto& s : workload["shapes"]) {
    if (!s.is_array() || (s.size() != 3 && s.size() != 4) ||
        !std::all_of(s.begin(), s.end(), [](const json& v) { return v.is_number_integer(); }))
      throw ParamError("gemm workload shape " + s.dump() + " is not [M, K, N] or [M, K, N, count]");
    const long long m = s[0].get<long long>(), k = s[1].get<long long>(), n = s[2].get<long long>();
    const long long count = s.size() == 4 ? s[3].get<long long>() : 1;
    if (m < 1 || k < 1 || n < 1 || m > kMaxDim || k > kMaxDim || n > kMaxDim)
      throw ParamError("gemm workload shape " + s.dump() + ": M, K and N must be in 1.." + std::to_string(kMaxDim));
    if (count < 1 || count > kMaxCount)
      throw ParamError("gemm workload shape " + s.dump() + ": the count must be in 1.." + std::to_string(kMaxCount));
    // MACs, cycles and bytes are counted in 64 bits: a shape (and the workload) stays far below.
    const unsigned __int128 macs = static_cast<unsigned __int128>(m) * k * n * count;
    if (macs > kMaxWorkloadMacs)
      throw ParamError("gemm workload shape " + s.dump() + " implies more than 2^52 MACs, beyond what chipgym counts");
    total_macs += macs;
    if (total_macs > kMaxWorkloadMacs)
      throw ParamError("gemm workload implies more than 2^52 MACs in all (at shape " + s.dump() + "), beyond what chipgym counts");
    out.push_back(GemmShape{static_cast<int>(m), static_cast<int>(k), static_cast<int>(n), count});
  }
  if (out.empty()) throw ParamError("gemm workload has no shapes");
  return out;
}

bool gemm_rtl_sampled(const GemmShape& sh) {
  const long long m = sh.m, k = sh.k, n = sh.n;
  return m > 4096 || k > 4096 || n > 4096 || m * k + k * n + m * n > kGemmRtlMaxElements || m * k * n > kGemmRtlSampleMacs;
}

GemmShape gemm_rtl_sample(const GemmConfig& g, const GemmShape& sh) {
  // A full tile and the edge tile (the remainder, or a second full one).
  auto two_tiles = [](int d, int t) { return d <= 2 * t ? d : t + (d % t == 0 ? t : d % t); };
  GemmShape out = sh;
  out.m = two_tiles(sh.m, g.rows);
  out.n = two_tiles(sh.n, g.cols);
  out.k = two_tiles(sh.k, std::max(g.rows, g.k_chunk()));
  return out;
}

std::string gemm_rtl_refusal(const json& workload) {
  const std::size_t problems = gemm_shapes(workload).size() * gemm_patterns(workload).size();
  if (problems > kGemmRtlMaxProblems)
    return "the workload has " + std::to_string(problems) + " GEMM problems (shapes x data patterns) to simulate, more than " +
           std::to_string(kGemmRtlMaxProblems) + " (large shapes are already sampled to two tiles per dimension): use "
           "--fidelity synth or model, whose cycle model equals the RTL exactly, or fewer data patterns";
  return "";
}

std::vector<std::int64_t> gemm_reference(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b,
                                         int m, int k, int n, int acc_bits) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      std::uint64_t sum = 0;  // unsigned: wraps modulo 2^64, then modulo 2^acc_bits below
      for (int x = 0; x < k; ++x)
        sum += static_cast<std::uint64_t>(a[static_cast<std::size_t>(i) * k + x] * b[static_cast<std::size_t>(x) * n + j]);
      c[static_cast<std::size_t>(i) * n + j] = sign_extend(sum, acc_bits);
    }
  return c;
}

long long gemm_model_cycles(const GemmConfig& g, const GemmShape& sh) {
  auto ceil_div = [](long long a, long long b) { return (a + b - 1) / b; };
  const long long R = g.rows, C = g.cols, P = g.pipeline, M = sh.m, K = sh.k, N = sh.n;
  if (M == 0 || K == 0 || N == 0) return 0;
  const long long n_tiles = ceil_div(N, C);
  if (!g.weight_stationary) {
    // Per tile: clear (1) + per chunk load (kl + 1) and stream (kl) + drain (C + P)
    // + write-back of the tile's valid rows.
    const long long m_tiles = ceil_div(M, R), chunks = ceil_div(K, g.k_chunk());
    return m_tiles * n_tiles * (2 * K + chunks + C + P + 1) + n_tiles * M;
  }
  // Per column strip and A-row chunk of ml rows: per group of R K steps, load (max(R, ml) + 1)
  // and stream (ml + R + C + P); then write-back (ml).
  const long long k_groups = ceil_div(K, R), mc = g.m_chunk();
  long long per_strip = 0;
  for (long long m0 = 0; m0 < M; m0 += mc) {
    long long ml = std::min(mc, M - m0);
    per_strip += k_groups * (std::max(R, ml) + 1 + ml + R + C + P) + ml;
  }
  return n_tiles * per_strip;
}

GemmTraffic gemm_model_traffic(const GemmConfig& g, const GemmShape& sh) {
  auto ceil_div = [](long long a, long long b) { return (a + b - 1) / b; };
  const long long R = g.rows, M = sh.m, K = sh.k, N = sh.n;
  GemmTraffic t;
  const long long n_tiles = ceil_div(N, g.cols);
  if (!g.weight_stationary) {
    // Per rows x cols tile: one A column slice and one B row slice per K step; the tile's
    // valid rows written back.
    const long long tiles = ceil_div(M, R) * n_tiles;
    t.a_reads = tiles * K;
    t.b_reads = tiles * K;
    t.c_writes = n_tiles * M;
  } else {
    // Per column strip, A-row chunk and group of R K steps: R weight rows of B and one A
    // slice per row of the chunk; each chunk's rows written back once per strip.
    const long long k_groups = ceil_div(K, R), chunks = ceil_div(M, g.m_chunk());
    t.a_reads = n_tiles * k_groups * M;
    t.b_reads = n_tiles * chunks * k_groups * R;
    t.c_writes = n_tiles * M;
  }
  return t;
}

long long GemmTraffic::bytes(const GemmConfig& g) const {
  // Bytes of each transfer, rounding a port of odd bit width up to whole bytes.
  const long long a = (g.rows * g.in_bits + 7) / 8, b = (g.cols * g.in_bits + 7) / 8, c = (g.cols * g.acc_bits + 7) / 8;
  return a_reads * a + b_reads * b + c_writes * c;
}

std::vector<std::pair<std::string, std::string>> gemm_os_datapath(const GemmConfig& g) {
  // The same generators the gemm family uses for dataflow=os, so the modules are byte-identical.
  return {{"gemm_pe", pe_output_stationary(g)},
          {"gemm_array", array_output_stationary(g)},
          {buffer_name(g.a_depth, g.rows * g.in_bits), input_buffer(g.a_depth, g.rows * g.in_bits)},
          {buffer_name(g.b_depth, g.cols * g.in_bits), input_buffer(g.b_depth, g.cols * g.in_bits)},
          {"gemm_mux2", mux2(g.cols * g.acc_bits)}};
}

std::string gemm_buffer_name(int depth, int width) { return buffer_name(depth, width); }

std::vector<std::string> gemm_data_patterns(const json& workload) { return gemm_patterns(workload); }

void gemm_fill_matrix(const std::string& pattern, int rows, int cols, int bits, bool is_b, std::mt19937_64& rng,
                      std::vector<std::int64_t>& out) {
  fill_pattern(pattern, rows, cols, bits, is_b, rng, out);
}

Stimulus gemm_stimulus(const GemmConfig& g, const json& workload,
                       const std::function<long long(const GemmShape&)>& model_cycles) {
  auto shapes = gemm_shapes(workload);
  auto patterns = gemm_patterns(workload);
  if (auto why = gemm_rtl_refusal(workload); !why.empty()) throw ParamError(why);
  std::uint64_t seed = workload.value("seed", 1ULL);
  std::mt19937_64 rng(seed);
  std::ostringstream in;
  json expected = json::array();
  std::size_t problems = shapes.size() * patterns.size();
  in << "chipgym-gemm 1\n" << g.rows << ' ' << g.cols << ' ' << g.in_bits << ' ' << g.acc_bits << '\n' << problems << '\n';
  for (const auto& full : shapes)
    for (const auto& pattern : patterns) {
      const bool sampled = gemm_rtl_sampled(full);
      const GemmShape sh = sampled ? gemm_rtl_sample(g, full) : full;
      std::vector<std::int64_t> a, b;
      fill_pattern(pattern, sh.m, sh.k, g.in_bits, false, rng, a);
      fill_pattern(pattern, sh.k, sh.n, g.in_bits, true, rng, b);
      const long long sub_cycles = model_cycles(sh);
      long long limit = 4 * sub_cycles + 1000;
      in << sh.m << ' ' << sh.k << ' ' << sh.n << ' ' << limit << '\n';
      for (auto v : a) in << v << ' ';
      in << '\n';
      for (auto v : b) in << v << ' ';
      in << '\n';
      json problem = {{"shape", {sh.m, sh.k, sh.n}}, {"pattern", pattern},
                      {"c", gemm_reference(a, b, sh.m, sh.k, sh.n, g.acc_bits)}};
      if (sh.count > 1) problem["count"] = sh.count;  // simulated once, its cycles counted count times
      if (sampled) {  // the whole shape's cycles are the model's; the sub-GEMM's are checked against it too
        problem["sampled_from"] = {full.m, full.k, full.n};
        problem["full_cycles"] = model_cycles(full);
        problem["sub_model_cycles"] = sub_cycles;
      }
      expected.push_back(std::move(problem));
    }
  return {in.str(), expected};
}

SimCheck gemm_check(const Stimulus& stim, const std::string& output) {
  SimCheck out;
  std::istringstream in(output);
  std::string word;
  for (std::size_t i = 0; i < stim.expected.size(); ++i) {
    const json& e = stim.expected[i];
    std::size_t index = 0;
    long long cycles = 0;
    std::string status, w1, w2;
    if (!(in >> word >> index >> w1 >> cycles >> w2 >> status) || word != "problem" || index != i) {
      out.error = "harness output ended early or is malformed at problem " + std::to_string(i);
      return out;
    }
    if (e.contains("sampled_from")) {
      const long long full = e["full_cycles"].get<long long>();
      if (!out.details.contains("sampled")) out.details["sampled"] = json::array();
      out.details["sampled"].push_back({{"shape", e["sampled_from"]}, {"simulated", e["shape"]},
                                        {"model_cycles", full}, {"simulated_cycles", cycles},
                                        {"simulated_model_cycles", e["sub_model_cycles"]}});
      if (cycles != e["sub_model_cycles"].get<long long>()) out.details["cycle_model_disagrees"] = true;
      cycles = full;
    }
    out.cycles += cycles * e.value("count", 1LL);
    out.cycles_per_problem.push_back(cycles);
    if (status != "ok") {
      out.error = "problem " + std::to_string(i) + " (" + e["shape"].dump() + "): " + status;
      return out;
    }
    const auto& c = e.at("c");
    int n = e["shape"][2].get<int>();
    for (std::size_t j = 0; j < c.size(); ++j) {
      std::string got;
      if (!(in >> got)) {
        out.error = "harness output ended inside problem " + std::to_string(i);
        return out;
      }
      ++out.checked;
      std::string want = std::to_string(c[j].get<std::int64_t>());
      if (got != want) {
        if (out.mismatches == 0) {
          out.first_mismatch = "problem " + std::to_string(i) + " " + e["pattern"].get<std::string>() + " " +
                               e["shape"].dump() + ": C[" + std::to_string(j / n) + "][" + std::to_string(j % n) +
                               "] expected " + want + ", got " + (got == "x" ? "nothing (never written)" : got);
        }
        ++out.mismatches;
      }
    }
  }
  out.correct = out.mismatches == 0 && out.error.empty();
  return out;
}

const Family& gemm_family() {
  static const GemmFamily family;
  return family;
}

namespace {
const Registration<FamilyEntry> registered{{"gemm", &gemm_family}};
}  // namespace

}  // namespace chipgym::hdl

#include "hdl/codesign_gemm.h"

#include <algorithm>
#include <array>
#include <random>
#include <sstream>
#include <stdexcept>

#include "hdl/registry.h"
#include "hdl/verilog_text.h"

namespace chipgym::hdl {

namespace {

const std::vector<std::string> kLoopOrders = {"mnk", "mkn", "nmk", "nkm", "kmn", "knm"};

using text::clog2;
using text::element_keep;
using text::fill;
using text::s;

// mask[i] = left > i: the elements of a slice that lie inside the matrix.
std::string mask_bits(const std::string& mask, const std::string& left, int elements) {
  std::string out;
  for (int i = 0; i < elements; ++i) out += "  assign " + mask + "[" + s(i) + "] = " + left + " > 17'd" + s(i) + ";\n";
  return out;
}

// The loop nest of the mapping: for each tile variable, whether the next step advances it
// (adv_*) or restarts it at 0 (rst_*). The innermost loop advances while it can; a loop
// further out advances when every loop inside it wraps.
std::string loop_nest(const std::string& order) {
  const char outer = order[0], mid = order[1], inner = order[2];
  auto v = [](char c) { return std::string(1, c); };
  std::string out;
  out += "  wire adv_" + v(inner) + " = " + v(inner) + "_more;\n";
  out += "  wire rst_" + v(inner) + " = !" + v(inner) + "_more;\n";
  out += "  wire adv_" + v(mid) + " = !" + v(inner) + "_more && " + v(mid) + "_more;\n";
  out += "  wire rst_" + v(mid) + " = !" + v(inner) + "_more && !" + v(mid) + "_more;\n";
  out += "  wire adv_" + v(outer) + " = !" + v(inner) + "_more && !" + v(mid) + "_more;\n";
  out += "  wire rst_" + v(outer) + " = 1'b0;  // the outermost loop never restarts\n";
  return out;
}

std::string controller(const CodesignConfig& cfg) {
  const GemmConfig& g = cfg.hw;
  const int R = g.rows, C = g.cols;
  const int AB = clog2(g.a_depth), BB = clog2(g.b_depth);
  const int db = cfg.double_buffer ? 1 : 0;
  // Bank offsets (the upper half of a buffer is bank 1) and per-sub-block strides in the
  // buffers' address widths.
  const long long a_half = db ? g.a_depth / 2 : 0, b_half = db ? g.b_depth / 2 : 0;
  const long long a_tk = cfg.tile_k % (1LL << AB), b_tk = cfg.tile_k % (1LL << BB);
  std::string banks;
  if (db) {
    banks = fill(R"(
  // Double buffering: the bank holding the latest A (B) block; a new block goes to the other
  // bank while the compute unit reads this one.
  reg a_bank, b_bank;
  always @(posedge clk) begin
    if (rst) begin
      a_bank <= 1'b0;
      b_bank <= 1'b0;
    end else if (state == S_NEXT && load_go) begin
      if (need_a) a_bank <= ~a_bank;
      if (need_b) b_bank <= ~b_bank;
    end
  end
  wire [${AB}-1:0] a_load_off = (need_a ? ~a_bank : a_bank) ? ${AB}'d${AH} : ${AB}'d0;
  wire [${BB}-1:0] b_load_off = (need_b ? ~b_bank : b_bank) ? ${BB}'d${BH} : ${BB}'d0;
  wire [${AB}-1:0] a_comp_off = a_bank ? ${AB}'d${AH} : ${AB}'d0;
  wire [${BB}-1:0] b_comp_off = b_bank ? ${BB}'d${BH} : ${BB}'d0;
  // A phase computes the step loaded in the previous phase and loads the next one.
  wire comp_go = pending;
  wire load_go = first || (pending && !ld_is_last);
)",
                 {{"AB", s(AB)}, {"BB", s(BB)}, {"AH", s(a_half)}, {"BH", s(b_half)}});
  } else {
    banks = fill(R"(
  // Single buffering: a phase either loads a step or computes the step just loaded.
  wire [${AB}-1:0] a_load_off = ${AB}'d0;
  wire [${BB}-1:0] b_load_off = ${BB}'d0;
  wire [${AB}-1:0] a_comp_off = ${AB}'d0;
  wire [${BB}-1:0] b_comp_off = ${BB}'d0;
  wire comp_go = pending;
  wire load_go = !pending && (first || !ld_is_last);
)",
                 {{"AB", s(AB)}, {"BB", s(BB)}});
  }

  return fill(R"(// Controller: the mapping ${ORDER} with ${TM} x ${TN} tiles of C and K chunks of ${TK}
// (${MT} x ${NT} array tiles of ${R} x ${C}), ${DBTEXT}. The work is a sequence of
// phases. A phase starts the loaders (A and B blocks of a step, unless the buffers still
// hold them) and the compute unit (every array tile of a step: clear, stream ${TK_TEXT},
// drain, write the rows back, accumulating into C after the first K chunk), and ends the
// cycle after all of them are idle.
module codesign_ctrl (
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
  output reg         a_we,
  output reg  [${AB}-1:0] a_waddr,
  output reg  [${R}-1:0] a_mask,         // rows of the arriving A slice inside M
  output reg         b_we,
  output reg  [${BB}-1:0] b_waddr,
  output reg  [${C}-1:0] b_mask,         // columns of the arriving B slice inside N
  output wire [${AB}-1:0] a_raddr,
  output wire [${BB}-1:0] b_raddr,
  output reg         stream_valid,   // buffer outputs are operands this cycle
  output wire        acc_clear,
  output wire        c_wr_en,
  output wire        c_wr_acc,
  output wire [${RB}-1:0] c_wr_row,
  output wire [31:0] c_wr_addr,
  output wire [${C}-1:0] c_wr_mask
);
  localparam [1:0] S_IDLE = 2'd0, S_NEXT = 2'd1, S_PHASE = 2'd2, S_DONE = 2'd3;
  localparam [2:0] C_IDLE = 3'd0, C_CLEAR = 3'd1, C_STREAM = 3'd2, C_DRAIN = 3'd3, C_WRITE = 3'd4;
  reg [1:0]  state;
  reg [15:0] m, k, n;       // problem shape, latched at start
  reg        first;         // no step loaded yet
  reg        pending;       // the ld_* step is loaded and not yet computed
  // The step being loaded (or last loaded): tile origin, K chunk and its length.
  reg [15:0] ld_m0, ld_n0, ld_k0, ld_kl;
  reg [31:0] ld_m0k, ld_m0n, ld_k0n;  // m0 * K, m0 * N, k0 * N

  wire [31:0] k32 = {16'd0, k};
  wire [31:0] n32 = {16'd0, n};
  wire [16:0] m_inc = {1'b0, ld_m0} + 17'd${TM};
  wire [16:0] n_inc = {1'b0, ld_n0} + 17'd${TN};
  wire [16:0] k_inc = {1'b0, ld_k0} + 17'd${TK};
  wire        m_more = m_inc < {1'b0, m};
  wire        n_more = n_inc < {1'b0, n};
  wire        k_more = k_inc < {1'b0, k};
  wire        ld_is_last = !m_more && !n_more && !k_more;
${NEST}
  // The next step (the first one right after start).
  wire [15:0] nx_m0  = first ? 16'd0 : adv_m ? m_inc[15:0] : rst_m ? 16'd0 : ld_m0;
  wire [15:0] nx_n0  = first ? 16'd0 : adv_n ? n_inc[15:0] : rst_n ? 16'd0 : ld_n0;
  wire [15:0] nx_k0  = first ? 16'd0 : adv_k ? k_inc[15:0] : rst_k ? 16'd0 : ld_k0;
  wire [31:0] nx_m0k = first ? 32'd0 : adv_m ? ld_m0k + k32 * 32'd${TM} : rst_m ? 32'd0 : ld_m0k;
  wire [31:0] nx_m0n = first ? 32'd0 : adv_m ? ld_m0n + n32 * 32'd${TM} : rst_m ? 32'd0 : ld_m0n;
  wire [31:0] nx_k0n = first ? 32'd0 : adv_k ? ld_k0n + n32 * 32'd${TK} : rst_k ? 32'd0 : ld_k0n;
  wire [16:0] nx_k_left = {1'b0, k} - {1'b0, nx_k0};
  wire [15:0] nx_kl  = (nx_k_left > 17'd${TK}) ? 16'd${TK} : nx_k_left[15:0];
  // Reuse: a block is loaded only when the step needs another one than the buffer holds.
  wire        need_a = first || nx_m0 != ld_m0 || nx_k0 != ld_k0;
  wire        need_b = first || nx_n0 != ld_n0 || nx_k0 != ld_k0;
${BANKS}
  // ---- A loader: the step's row blocks of ${R} rows, each ld_kl column slices.
  reg        a_act;
  reg [15:0] a_i, a_x, a_row;
  reg [31:0] a_addr, a_sub;
  reg [${AB}-1:0] a_ptr, a_pbase;
  wire [16:0] a_row_inc = {1'b0, a_row} + 17'd${R};
  wire [16:0] a_left    = {1'b0, m} - {1'b0, a_row};
  wire [${R}-1:0] a_keep;
${A_KEEP_BITS}
  // ---- B loader: the step's column blocks of ${C} columns, each ld_kl row slices.
  reg        b_act;
  reg [15:0] b_j, b_x, b_col;
  reg [31:0] b_addr, b_sub;
  reg [${BB}-1:0] b_ptr, b_pbase;
  wire [16:0] b_col_inc = {1'b0, b_col} + 17'd${C};
  wire [16:0] b_left    = {1'b0, n} - {1'b0, b_col};
  wire [${C}-1:0] b_keep;
${B_KEEP_BITS}
  // ---- Compute unit: the array tiles of the step computed, rows outer, columns inner.
  reg [2:0]  cs;
  reg [15:0] cnt, cx_kl, cx_n0, c_i, c_j, c_row, c_col;
  reg        cx_acc;
  reg [31:0] c_rown, c_addr;
  reg [${AB}-1:0] c_abase;
  reg [${BB}-1:0] c_bbase, cx_boff;
  wire [16:0] c_row_inc = {1'b0, c_row} + 17'd${R};
  wire [16:0] c_col_inc = {1'b0, c_col} + 17'd${C};
  wire [16:0] c_rows_left = {1'b0, m} - {1'b0, c_row};
  wire [16:0] c_cols_left = {1'b0, n} - {1'b0, c_col};
  wire [15:0] ml = (c_rows_left > 17'd${R}) ? 16'd${R} : c_rows_left[15:0];
  wire        empty = cfg_m == 16'd0 || cfg_k == 16'd0 || cfg_n == 16'd0;
  wire        idle = !a_act && !a_we && !b_act && !b_we && cs == C_IDLE;

  assign busy        = state != S_IDLE && state != S_DONE;
  assign done        = state == S_DONE;
  assign a_rd_en     = a_act;
  assign a_rd_addr   = a_addr;
  assign a_rd_stride = k32;
  assign b_rd_en     = b_act;
  assign b_rd_addr   = b_addr;
  assign a_raddr     = c_abase + cnt[${AB}-1:0];
  assign b_raddr     = c_bbase + cnt[${BB}-1:0];
  assign acc_clear   = cs == C_CLEAR;
  assign c_wr_en     = cs == C_WRITE;
  assign c_wr_acc    = cx_acc;
  assign c_wr_row    = cnt[${RB}-1:0];
  assign c_wr_addr   = c_addr;
${C_MASK_BITS}
  // Memory data arrives one cycle after the request: buffer writes and masks follow it.
  always @(posedge clk) begin
    if (rst) begin
      a_we         <= 1'b0;
      a_waddr      <= '0;
      a_mask       <= '0;
      b_we         <= 1'b0;
      b_waddr      <= '0;
      b_mask       <= '0;
      stream_valid <= 1'b0;
    end else begin
      a_we         <= a_act;
      a_waddr      <= a_ptr;
      a_mask       <= a_keep;
      b_we         <= b_act;
      b_waddr      <= b_ptr;
      b_mask       <= b_keep;
      stream_valid <= cs == C_STREAM;
    end
  end

  // ---- Sequencer
  always @(posedge clk) begin
    if (rst) begin
      state   <= S_IDLE;
      m       <= '0;
      k       <= '0;
      n       <= '0;
      first   <= 1'b0;
      pending <= 1'b0;
      ld_m0   <= '0;
      ld_n0   <= '0;
      ld_k0   <= '0;
      ld_kl   <= '0;
      ld_m0k  <= '0;
      ld_m0n  <= '0;
      ld_k0n  <= '0;
    end else begin
      case (state)
        S_IDLE, S_DONE: if (start) begin
          m       <= cfg_m;
          k       <= cfg_k;
          n       <= cfg_n;
          first   <= 1'b1;
          pending <= 1'b0;
          state   <= empty ? S_DONE : S_NEXT;
        end
        S_NEXT: begin
          first <= 1'b0;
          if (load_go) begin
            ld_m0   <= nx_m0;
            ld_n0   <= nx_n0;
            ld_k0   <= nx_k0;
            ld_kl   <= nx_kl;
            ld_m0k  <= nx_m0k;
            ld_m0n  <= nx_m0n;
            ld_k0n  <= nx_k0n;
            pending <= 1'b1;
          end else pending <= 1'b0;
          state <= (load_go || comp_go) ? S_PHASE : S_DONE;
        end
        S_PHASE: if (idle) state <= S_NEXT;
        default: state <= S_IDLE;
      endcase
    end
  end

  // ---- A loader
  always @(posedge clk) begin
    if (rst) begin
      a_act   <= 1'b0;
      a_i     <= '0;
      a_x     <= '0;
      a_row   <= '0;
      a_addr  <= '0;
      a_sub   <= '0;
      a_ptr   <= '0;
      a_pbase <= '0;
    end else if (state == S_NEXT) begin
      a_act   <= load_go && need_a;
      a_i     <= '0;
      a_x     <= '0;
      a_row   <= nx_m0;
      a_addr  <= nx_m0k + {16'd0, nx_k0};
      a_sub   <= nx_m0k + {16'd0, nx_k0};
      a_ptr   <= a_load_off;
      a_pbase <= a_load_off;
    end else if (a_act) begin
      if (a_x == ld_kl - 16'd1) begin
        a_x <= '0;
        if (a_i != 16'd${MT_1} && a_row_inc < {1'b0, m}) begin
          a_i     <= a_i + 16'd1;
          a_row   <= a_row_inc[15:0];
          a_sub   <= a_sub + k32 * 32'd${R};
          a_addr  <= a_sub + k32 * 32'd${R};
          a_pbase <= a_pbase + ${AB}'d${A_TK};
          a_ptr   <= a_pbase + ${AB}'d${A_TK};
        end else a_act <= 1'b0;
      end else begin
        a_x    <= a_x + 16'd1;
        a_addr <= a_addr + 32'd1;
        a_ptr  <= a_ptr + ${AB}'d1;
      end
    end
  end

  // ---- B loader
  always @(posedge clk) begin
    if (rst) begin
      b_act   <= 1'b0;
      b_j     <= '0;
      b_x     <= '0;
      b_col   <= '0;
      b_addr  <= '0;
      b_sub   <= '0;
      b_ptr   <= '0;
      b_pbase <= '0;
    end else if (state == S_NEXT) begin
      b_act   <= load_go && need_b;
      b_j     <= '0;
      b_x     <= '0;
      b_col   <= nx_n0;
      b_addr  <= nx_k0n + {16'd0, nx_n0};
      b_sub   <= nx_k0n + {16'd0, nx_n0};
      b_ptr   <= b_load_off;
      b_pbase <= b_load_off;
    end else if (b_act) begin
      if (b_x == ld_kl - 16'd1) begin
        b_x <= '0;
        if (b_j != 16'd${NT_1} && b_col_inc < {1'b0, n}) begin
          b_j     <= b_j + 16'd1;
          b_col   <= b_col_inc[15:0];
          b_sub   <= b_sub + 32'd${C};
          b_addr  <= b_sub + 32'd${C};
          b_pbase <= b_pbase + ${BB}'d${B_TK};
          b_ptr   <= b_pbase + ${BB}'d${B_TK};
        end else b_act <= 1'b0;
      end else begin
        b_x    <= b_x + 16'd1;
        b_addr <= b_addr + n32;
        b_ptr  <= b_ptr + ${BB}'d1;
      end
    end
  end

  // ---- Compute unit
  always @(posedge clk) begin
    if (rst) begin
      cs      <= C_IDLE;
      cnt     <= '0;
      cx_kl   <= '0;
      cx_n0   <= '0;
      cx_acc  <= 1'b0;
      cx_boff <= '0;
      c_i     <= '0;
      c_j     <= '0;
      c_row   <= '0;
      c_col   <= '0;
      c_rown  <= '0;
      c_addr  <= '0;
      c_abase <= '0;
      c_bbase <= '0;
    end else if (state == S_NEXT) begin
      // The step loaded in the previous phase (still in ld_*).
      cs      <= comp_go ? C_CLEAR : C_IDLE;
      cnt     <= '0;
      cx_kl   <= ld_kl;
      cx_n0   <= ld_n0;
      cx_acc  <= ld_k0 != 16'd0;
      cx_boff <= b_comp_off;
      c_i     <= '0;
      c_j     <= '0;
      c_row   <= ld_m0;
      c_col   <= ld_n0;
      c_rown  <= ld_m0n;
      c_abase <= a_comp_off;
      c_bbase <= b_comp_off;
    end else begin
      case (cs)
        C_CLEAR: cs <= C_STREAM;
        C_STREAM: if (cnt == cx_kl - 16'd1) begin
          cnt <= '0;
          cs  <= C_DRAIN;
        end else cnt <= cnt + 16'd1;
        // Row r's last product lands r cycles after row 0's, and the write-back of row r
        // comes r cycles after row 0's.
        C_DRAIN: if (cnt == 16'd${DRAIN_LAST}) begin
          cnt    <= '0;
          c_addr <= c_rown + {16'd0, c_col};
          cs     <= C_WRITE;
        end else cnt <= cnt + 16'd1;
        C_WRITE: if (cnt == ml - 16'd1) begin
          cnt <= '0;
          cs  <= C_CLEAR;
          if (c_j != 16'd${NT_1} && c_col_inc < {1'b0, n}) begin
            c_j     <= c_j + 16'd1;
            c_col   <= c_col_inc[15:0];
            c_bbase <= c_bbase + ${BB}'d${B_TK};
          end else begin
            c_j     <= '0;
            c_col   <= cx_n0;
            c_bbase <= cx_boff;
            if (c_i != 16'd${MT_1} && c_row_inc < {1'b0, m}) begin
              c_i     <= c_i + 16'd1;
              c_row   <= c_row_inc[15:0];
              c_rown  <= c_rown + n32 * 32'd${R};
              c_abase <= c_abase + ${AB}'d${A_TK};
            end else cs <= C_IDLE;
          end
        end else begin
          c_addr <= c_addr + n32;
          cnt    <= cnt + 16'd1;
        end
        default: cs <= C_IDLE;
      endcase
    end
  end
endmodule

)",
              {{"ORDER", cfg.loop_order},
               {"R", s(R)},
               {"C", s(C)},
               {"MT", s(cfg.tile_m)},
               {"NT", s(cfg.tile_n)},
               {"MT_1", s(cfg.tile_m - 1)},
               {"NT_1", s(cfg.tile_n - 1)},
               {"TM", s(static_cast<long long>(cfg.tile_m) * R)},
               {"TN", s(static_cast<long long>(cfg.tile_n) * C)},
               {"TK", s(cfg.tile_k)},
               {"TK_TEXT", cfg.tile_k == 1 ? "1 K step" : "up to " + s(cfg.tile_k) + " K steps"},
               {"DBTEXT", db ? "double-buffered" : "single-buffered"},
               {"AB", s(AB)},
               {"BB", s(BB)},
               {"A_TK", s(a_tk)},
               {"B_TK", s(b_tk)},
               {"RB", s(clog2(R))},
               {"DRAIN_LAST", s(C + g.pipeline - 1)},
               {"NEST", loop_nest(cfg.loop_order)},
               {"BANKS", banks},
               {"A_KEEP_BITS", mask_bits("a_keep", "a_left", R)},
               {"B_KEEP_BITS", mask_bits("b_keep", "b_left", C)},
               {"C_MASK_BITS", mask_bits("c_wr_mask", "c_cols_left", C)}});
}

std::string top(const CodesignConfig& cfg) {
  const GemmConfig& g = cfg.hw;
  const int R = g.rows, C = g.cols, IW = g.in_bits;
  const int AB = clog2(g.a_depth), BB = clog2(g.b_depth);
  return fill(R"(// codesign-gemm accelerator: ${R} x ${C} output-stationary array, ${IW}-bit operands,
// ${AW}-bit accumulators, mapping ${ORDER}. Generated by chipgym; same parameters, same bytes.
module codesign_top (
  input  wire        clk,
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
  output wire        c_wr_en,    // C memory: element i to c_wr_addr + i where c_wr_mask[i],
  output wire        c_wr_acc,   //   added to what it holds when c_wr_acc
  output wire [31:0] c_wr_addr,
  output wire [${C}-1:0] c_wr_mask,
  output wire [${RD}-1:0] c_wr_data
);
  wire             a_we, b_we, stream_valid, acc_clear;
  wire [${AB}-1:0]    a_waddr, a_raddr;
  wire [${BB}-1:0]    b_waddr, b_raddr;
  wire [${R}-1:0]     a_mask;
  wire [${C}-1:0]     b_mask;
  wire [${RB}-1:0]     c_wr_row;
  wire [${AE}-1:0]    a_buf_out;
  wire [${BE}-1:0]    b_buf_out;

  codesign_ctrl u_ctrl (
    .clk(clk), .rst(rst), .start(start), .cfg_m(cfg_m), .cfg_k(cfg_k), .cfg_n(cfg_n),
    .busy(busy), .done(done),
    .a_rd_en(a_rd_en), .a_rd_addr(a_rd_addr), .a_rd_stride(a_rd_stride),
    .b_rd_en(b_rd_en), .b_rd_addr(b_rd_addr),
    .a_we(a_we), .a_waddr(a_waddr), .a_mask(a_mask), .b_we(b_we), .b_waddr(b_waddr), .b_mask(b_mask),
    .a_raddr(a_raddr), .b_raddr(b_raddr), .stream_valid(stream_valid), .acc_clear(acc_clear),
    .c_wr_en(c_wr_en), .c_wr_acc(c_wr_acc), .c_wr_row(c_wr_row), .c_wr_addr(c_wr_addr), .c_wr_mask(c_wr_mask)
  );

  // Elements outside the matrices are zeroed as they enter the buffers.
  ${BUF_A} u_buf_a (
    .clk(clk), .we(a_we), .waddr(a_waddr), .wdata(a_rd_data & ${A_KEEP}),
    .raddr(a_raddr), .rdata(a_buf_out)
  );
  ${BUF_B} u_buf_b (
    .clk(clk), .we(b_we), .waddr(b_waddr), .wdata(b_rd_data & ${B_KEEP}),
    .raddr(b_raddr), .rdata(b_buf_out)
  );

  gemm_array u_array (
    .clk(clk), .rst(rst), .clear(acc_clear),
    .a_edge(stream_valid ? a_buf_out : ${AE}'d0),
    .b_edge(stream_valid ? b_buf_out : ${BE}'d0),
    .rd_row(c_wr_row), .rd_data(c_wr_data)
  );
endmodule
)",
              {{"R", s(R)},
               {"C", s(C)},
               {"IW", s(IW)},
               {"AW", s(g.acc_bits)},
               {"ORDER", cfg.loop_order},
               {"AE", s(R * IW)},
               {"BE", s(C * IW)},
               {"RD", s(C * g.acc_bits)},
               {"AB", s(AB)},
               {"BB", s(BB)},
               {"RB", s(clog2(R))},
               {"BUF_A", gemm_buffer_name(g.a_depth, R * IW)},
               {"BUF_B", gemm_buffer_name(g.b_depth, C * IW)},
               {"A_KEEP", element_keep("a_mask", R, IW)},
               {"B_KEEP", element_keep("b_mask", C, IW)}});
}

// ---------------------------------------------------------------------------------------

class CodesignFamily final : public Family {
 public:
  CodesignFamily() {
    space_.add(Param::int_range("rows", 1, 32, 4, "processing-element rows of the output-stationary array"))
        .add(Param::int_range("cols", 1, 32, 4, "processing-element columns of the array"))
        .add(Param::int_choice("in_bits", {4, 8, 16}, 8, "signed operand width of A and B"))
        .add(Param::int_range("acc_bits", 8, 64, 32, "accumulator width; sums wrap modulo 2^acc_bits"))
        .add(Param::int_range("pipeline", 0, 1, 0, "1 adds a register after each multiplier"))
        .add(Param::pow2("a_depth", 1, 1024, 64, "A buffer entries (column slices of `rows` elements)"))
        .add(Param::pow2("b_depth", 1, 1024, 64, "B buffer entries (row slices of `cols` elements)"))
        .add(Param::pow2("tile_m", 1, 64, 2, "mapping: array tiles per C tile along M (tile_m x rows rows)"))
        .add(Param::pow2("tile_n", 1, 64, 2, "mapping: array tiles per C tile along N (tile_n x cols columns)"))
        .add(Param::pow2("tile_k", 1, 1024, 16, "mapping: K steps per chunk (partial sums accumulate in C)"))
        .add(Param::choice("loop_order", kLoopOrders, "mnk",
                           "mapping: tile loops outer to inner; the innermost decides which block is reused"))
        .add(Param::int_range("double_buffer", 0, 1, 0, "mapping: 1 overlaps the next step's loads with compute"))
        .require("acc_bits >= 2 * in_bits (the accumulator must hold one full product)",
                 [](const Params& p) { return p.integer("acc_bits") >= 2 * p.integer("in_bits"); })
        .require("a_depth >= tile_m * tile_k (the A buffer must hold one A block of the tile)",
                 [](const Params& p) { return p.integer("a_depth") >= p.integer("tile_m") * p.integer("tile_k"); })
        .require("b_depth >= tile_n * tile_k (the B buffer must hold one B block of the tile)",
                 [](const Params& p) { return p.integer("b_depth") >= p.integer("tile_n") * p.integer("tile_k"); })
        .require("a_depth >= 2 * tile_m * tile_k with double_buffer=1 (two A blocks: one loading, one computing)",
                 [](const Params& p) {
                   return !p.integer("double_buffer") || p.integer("a_depth") >= 2 * p.integer("tile_m") * p.integer("tile_k");
                 })
        .require("b_depth >= 2 * tile_n * tile_k with double_buffer=1 (two B blocks: one loading, one computing)",
                 [](const Params& p) {
                   return !p.integer("double_buffer") || p.integer("b_depth") >= 2 * p.integer("tile_n") * p.integer("tile_k");
                 });
  }

  std::string name() const override { return "codesign"; }
  int version() const override { return 1; }
  std::string description() const override {
    return "output-stationary GEMM accelerator and its kernel mapping (tiles, loop order, double buffering) together";
  }
  const ParamSpace& space() const override { return space_; }

  Rtl emit(const Params& p) const override {
    space_.validate(p);
    CodesignConfig cfg = CodesignConfig::from(p);
    Rtl rtl;
    rtl.top = "codesign_top";
    auto modules = gemm_os_datapath(cfg.hw);
    modules.push_back({"codesign_ctrl", controller(cfg)});
    modules.push_back({"codesign_top", top(cfg)});
    // The controller and the top carry every parameter; the datapath modules only the
    // family, so that designs that differ in mapping alone share their text byte for byte.
    const std::string header = "// Generated by chipgym codesign v" + std::to_string(version()) + ": " +
                               p.to_assignments() + "\n`default_nettype none\n\n";
    const std::string shared_header =
        "// Generated by chipgym codesign v" + std::to_string(version()) + " (gemm datapath)\n`default_nettype none\n\n";
    for (auto& [module, text] : modules) {
      if (rtl.files.count(module + ".v")) continue;  // A and B buffers of one shape
      while (!text.empty() && text.back() == '\n') text.pop_back();
      const bool shared = module != "codesign_ctrl" && module != "codesign_top";
      rtl.files[module + ".v"] = (shared ? shared_header : header) + text + "\n\n`default_nettype wire\n";
      rtl.modules.push_back(module);
    }
    rtl.interface = {{"protocol", "gemm-mem-acc-v1"},
                     {"rows", cfg.hw.rows},
                     {"cols", cfg.hw.cols},
                     {"in_bits", cfg.hw.in_bits},
                     {"acc_bits", cfg.hw.acc_bits},
                     {"read_latency", 1},
                     {"c_write", "c_wr_acc adds to the stored value modulo 2^acc_bits"},
                     {"layout", "row-major A (MxK), B (KxN), C (MxN)"}};
    return rtl;
  }

  // The gemm harness (same input and output format) with an accumulating C memory, so a
  // mapping may split K into chunks whose partial sums meet in memory.
  std::string harness_cpp() const override { return gemm_harness_source("codesign_top", true); }

  Stimulus stimulus(const Params& p, const json& workload) const override {
    const CodesignConfig cfg = CodesignConfig::from(p);
    return gemm_stimulus(cfg.hw, workload, [&cfg](const GemmShape& sh) { return codesign_model_cycles(cfg, sh); });
  }

  SimCheck check(const Params&, const Stimulus& stim, const std::string& output) const override {
    return gemm_check(stim, output);
  }

  long long model_cycles(const Params& p, const json& workload) const override {
    CodesignConfig cfg = CodesignConfig::from(p);
    const auto patterns = static_cast<long long>(gemm_data_patterns(workload).size());
    long long total = 0;
    for (const auto& sh : gemm_shapes(workload)) total += codesign_model_cycles(cfg, sh) * sh.count * patterns;
    return total;
  }

  json derived(const Params& p, const json& workload) const override {
    CodesignConfig cfg = CodesignConfig::from(p);
    long long macs = 0, max_k = 0, a_slices = 0, b_slices = 0, steps = 0;
    const auto patterns = static_cast<long long>(gemm_data_patterns(workload).size());
    for (const auto& sh : gemm_shapes(workload)) {
      macs += static_cast<long long>(sh.m) * sh.k * sh.n * sh.count * patterns;
      max_k = std::max<long long>(max_k, sh.k);
      auto c = codesign_model(cfg, sh);
      a_slices += c.a_slices * sh.count * patterns;
      b_slices += c.b_slices * sh.count * patterns;
      steps += c.steps * sh.count * patterns;
    }
    return {{"macs", macs},
            {"peak_macs_per_cycle", cfg.hw.rows * cfg.hw.cols},
            {"max_exact_k", cfg.hw.max_exact_k()},
            {"workload_max_k", max_k},
            {"exact", max_k <= cfg.hw.max_exact_k()},
            {"a_slices_loaded", a_slices},
            {"b_slices_loaded", b_slices},
            {"mapping_steps", steps}};
  }

  // The gemm family's objectives (throughput per area under a transistor budget, or a
  // target specification) over the same metrics.
  json score(const json& m, const json& budget) const override { return gemm_family().score(m, budget); }

 private:
  ParamSpace space_;
};

}  // namespace

CodesignConfig CodesignConfig::from(const Params& p) {
  CodesignConfig c;
  c.hw.rows = static_cast<int>(p.integer("rows"));
  c.hw.cols = static_cast<int>(p.integer("cols"));
  c.hw.in_bits = static_cast<int>(p.integer("in_bits"));
  c.hw.acc_bits = static_cast<int>(p.integer("acc_bits"));
  c.hw.weight_stationary = false;
  c.hw.a_depth = static_cast<int>(p.integer("a_depth"));
  c.hw.b_depth = static_cast<int>(p.integer("b_depth"));
  c.hw.pipeline = static_cast<int>(p.integer("pipeline"));
  c.tile_m = static_cast<int>(p.integer("tile_m"));
  c.tile_n = static_cast<int>(p.integer("tile_n"));
  c.tile_k = static_cast<int>(p.integer("tile_k"));
  c.loop_order = p.symbol("loop_order");
  c.double_buffer = p.integer("double_buffer") != 0;
  return c;
}

CodesignCycles codesign_model(const CodesignConfig& cfg, const GemmShape& sh) {
  CodesignCycles out;
  const long long R = cfg.hw.rows, C = cfg.hw.cols, P = cfg.hw.pipeline, M = sh.m, K = sh.k, N = sh.n;
  if (M <= 0 || K <= 0 || N <= 0) return out;
  const long long TM = cfg.tile_m * R, TN = cfg.tile_n * C, TK = cfg.tile_k;
  auto ceil_div = [](long long a, long long b) { return (a + b - 1) / b; };
  struct Step {
    long long m0, n0, k0;
  };
  // The tile loops in the mapping's order, outer to inner.
  std::map<char, std::pair<long long, long long>> loop = {{'m', {TM, M}}, {'n', {TN, N}}, {'k', {TK, K}}};
  std::vector<Step> steps;
  const std::string& o = cfg.loop_order;
  std::map<char, long long> at;
  for (at[o[0]] = 0; at[o[0]] < loop[o[0]].second; at[o[0]] += loop[o[0]].first)
    for (at[o[1]] = 0; at[o[1]] < loop[o[1]].second; at[o[1]] += loop[o[1]].first)
      for (at[o[2]] = 0; at[o[2]] < loop[o[2]].second; at[o[2]] += loop[o[2]].first)
        steps.push_back({at['m'], at['n'], at['k']});
  // Phase lengths: a loader of s slices is busy s + 1 cycles (the last datum arrives a cycle
  // later); the compute unit spends clear + kl stream + C + P drain + the valid rows written
  // per array tile. A phase lasts its longest unit, plus the cycle that sees all idle and
  // the boundary cycle.
  auto load_len = [&](std::size_t t) {
    const Step& s = steps[t];
    const long long kl = std::min(TK, K - s.k0);
    const bool need_a = t == 0 || s.m0 != steps[t - 1].m0 || s.k0 != steps[t - 1].k0;
    const bool need_b = t == 0 || s.n0 != steps[t - 1].n0 || s.k0 != steps[t - 1].k0;
    const long long a = need_a ? std::min<long long>(cfg.tile_m, ceil_div(M - s.m0, R)) * kl : 0;
    const long long b = need_b ? std::min<long long>(cfg.tile_n, ceil_div(N - s.n0, C)) * kl : 0;
    out.a_slices += a;
    out.b_slices += b;
    return std::max(a ? a + 1 : 0, b ? b + 1 : 0);
  };
  auto compute_len = [&](std::size_t t) {
    const Step& s = steps[t];
    const long long kl = std::min(TK, K - s.k0);
    const long long va = std::min<long long>(cfg.tile_m, ceil_div(M - s.m0, R));
    const long long vb = std::min<long long>(cfg.tile_n, ceil_div(N - s.n0, C));
    return va * vb * (1 + kl + C + P) + vb * std::min(TM, M - s.m0);
  };
  const std::size_t T = steps.size();
  long long cycles = 1;  // the boundary cycle that finds no work and raises done
  if (cfg.double_buffer) {
    for (std::size_t p = 0; p <= T; ++p) {
      const long long l = p < T ? load_len(p) : 0, c = p > 0 ? compute_len(p - 1) : 0;
      cycles += std::max(l, c) + 2;
      ++out.phases;
    }
  } else {
    for (std::size_t t = 0; t < T; ++t) {
      cycles += load_len(t) + 2 + compute_len(t) + 2;
      out.phases += 2;
    }
  }
  out.cycles = cycles;
  out.steps = static_cast<long long>(T);
  return out;
}

const Family& codesign_family() {
  static const CodesignFamily family;
  return family;
}

namespace {
const Registration<FamilyEntry> registered{{"codesign", &codesign_family}};
}  // namespace

}  // namespace chipgym::hdl

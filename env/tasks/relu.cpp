// relu-int8: a kernel task only (no design family): elementwise ReLU on int8, the smallest
// streaming kernel, scored by `chipgym score` and evolved by `chipgym evolve`.
#include <algorithm>

#include "env/task.h"

namespace chipgym::env {

namespace {

// relu-int8: max(x, 0) per element, one register stage with a valid/ready handshake.
const char* const kReluInt8 = R"(// relu_int8: y = max(x, 0) per element; one pipeline register, full throughput.
module relu_int8 (
  input  wire       clk,
  input  wire       rst,
  input  wire       in_valid,
  output wire       in_ready,
  input  wire [7:0] in_data,
  input  wire       in_last,
  output wire       out_valid,
  input  wire       out_ready,
  output wire [7:0] out_data,
  output wire       out_last
);
  reg       valid_q;
  reg [7:0] data_q;
  reg       last_q;

  // The register takes a new element when it is empty or being emptied this cycle.
  assign in_ready = !valid_q || out_ready;

  always @(posedge clk) begin
    if (rst) valid_q <= 1'b0;
    else if (in_ready) valid_q <= in_valid;
  end

  always @(posedge clk) begin
    if (in_valid && in_ready) begin
      data_q <= in_data[7] ? 8'd0 : in_data;
      last_q <= in_last;
    end
  end

  assign out_valid = valid_q;
  assign out_data  = data_q;
  assign out_last  = last_q;
endmodule
)";

std::vector<int> relu(const std::vector<int>& x) {
  std::vector<int> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = std::max(x[i], 0);
  return y;
}

const KernelTask& relu_kernel() {
  static const KernelTask k = [] {
    KernelTask t = stream_task("relu-int8", "elementwise ReLU on int8: y = max(x, 0)", "relu_int8", relu, kReluInt8);
    t.elementwise = true;
    return t;
  }();
  return k;
}

Task relu_int8() {
  Task t;
  t.name = "relu-int8";
  t.description = "elementwise ReLU on int8: y = max(x, 0)";
  t.kernel_part = &relu_kernel;
  t.order = 60;
  return t;
}

const Registration<Task> registered{relu_int8()};

}  // namespace

}  // namespace chipgym::env

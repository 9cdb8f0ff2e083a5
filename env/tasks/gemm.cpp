// The gemm tasks: gemm-int8 (throughput per area on the GEMMs of a small transformer block),
// its target, enumerable and iCE40-bound variants, and codesign-gemm (the accelerator and its kernel
// mapping together, on the same GEMMs).
#include "env/task.h"

namespace chipgym::env {

namespace {

Task gemm_int8() {
  Task gemm;
  gemm.name = "gemm-int8";
  gemm.family = "gemm";
  gemm.description = "int8 systolic-array GEMM accelerator for the GEMMs of a small transformer block";
  // One transformer block with sequence 16, model width 32, MLP width 64, one head:
  // fused Q/K/V projection, attention scores, attention x V, output projection, MLP up, MLP down.
  gemm.workload = {{"shapes", {{16, 32, 96}, {16, 32, 16}, {16, 16, 32}, {16, 32, 32}, {16, 32, 64}, {16, 64, 32}}},
                   {"patterns", {"random"}},
                   {"seed", 1}};
  gemm.objective =
      "throughput per area: MACs per cycle per million transistors (0 if incorrect, over budget, or if "
      "the accumulators can wrap on the workload)";
  gemm.budget = {{"max_transistors", 20000000}};
  // 5 x 5 x 2 x 3 x 3 x 3 x 2 = 2,700 designs: int8 operands, 32-bit accumulators.
  gemm.search = {{"rows", {1, 2, 4, 8, 16}}, {"cols", {1, 2, 4, 8, 16}}, {"dataflow", {"os", "ws"}},
                 {"a_depth", {4, 16, 64}}, {"b_depth", {4, 16, 64}}, {"c_depth", {4, 16, 64}},
                 {"pipeline", {0, 1}}};
  gemm.agents = {{"compute", {"rows", "cols", "pipeline"}},
                 {"memory", {"a_depth", "b_depth", "c_depth"}},
                 {"dataflow", {"dataflow"}}};
  gemm.fidelity = "synth";  // the cycle model equals the RTL exactly (tests); eval --fidelity rtl simulates
  gemm.order = 10;
  return gemm;
}

// Meet a target specification: the workload within 12,000 cycles, in as little area as
// possible.
Task gemm_int8_target() {
  Task target = gemm_int8();
  target.name = "gemm-int8-target";
  target.description = "smallest gemm-int8 design that runs the workload within 12,000 cycles";
  target.objective = "meet the target (workload within budget.max_cycles cycles), then minimize area: 10^6 / transistors";
  target.budget = {{"kind", "target"}, {"max_cycles", 12000}, {"max_transistors", 20000000}};
  target.order = 20;
  return target;
}

// Small enough to enumerate (72 designs), so its optimum is known: `chipgym optimum`.
Task gemm_int8_small() {
  Task small = gemm_int8();
  small.name = "gemm-int8-small";
  small.description = "gemm-int8 over 72 designs, enumerable: ground truth for agent regret";
  small.search = {{"rows", {2, 4, 8}}, {"cols", {2, 4, 8}}, {"dataflow", {"os", "ws"}}, {"a_depth", {4, 16}},
                  {"pipeline", {0, 1}}};
  small.agents = {{"compute", {"rows", "cols", "pipeline"}}, {"memory", {"a_depth"}}, {"dataflow", {"dataflow"}}};
  small.order = 30;
  return small;
}

// Bound for an FPGA: the same space and workload on a Lattice iCE40 UP5K (5,280 LUTs, 8
// SB_MAC16 DSPs, 30 4-kbit EBRs, from Lattice's iCE40 UltraPlus data sheet), area in iCE40
// LUTs (Yosys synth_ice40 -dsp): its front is LUTs against cycles.
Task gemm_int8_ice40() {
  Task fpga = gemm_int8();
  fpga.name = "gemm-int8-ice40";
  fpga.description = "gemm-int8 on an iCE40 UP5K: throughput per iCE40 LUT within the device's LUTs, DSPs and EBRs";
  fpga.objective =
      "throughput per LUT: MACs per cycle per thousand iCE40 LUTs (0 if incorrect, over the device, or if the "
      "accumulators can wrap on the workload)";
  fpga.budget = {{"kind", "fpga"}, {"max_luts", 5280}, {"max_dsps", 8}, {"max_brams", 30}};
  fpga.objectives = {"luts", "cycles"};
  // Arrays up to 8 x 8 (a 16-wide one needs 16 or more DSPs of the 8, and synth_ice40 takes
  // minutes on it): 4 x 4 x 2 x 3 x 3 x 3 x 2 = 864 designs.
  fpga.search["rows"] = {1, 2, 4, 8};
  fpga.search["cols"] = {1, 2, 4, 8};
  fpga.order = 35;
  return fpga;
}

// Hardware and kernel mapping together: the same transformer-block GEMMs.
Task codesign_gemm() {
  const Task gemm = gemm_int8();
  Task codesign;
  codesign.name = "codesign-gemm";
  codesign.family = "codesign";
  codesign.description =
      "int8 GEMM accelerator (array, buffers) and its kernel mapping (tiles, loop order, double buffering) together";
  codesign.workload = gemm.workload;
  codesign.objective = gemm.objective;
  codesign.budget = gemm.budget;
  // 4 x 4 x 3 x 3 x 3 x 3 x 3 x 6 x 2 = 46,656 points (the largest space; invalid tile and
  // buffer combinations are refused with the constraint they break).
  codesign.search = {{"rows", {2, 4, 8, 16}}, {"cols", {2, 4, 8, 16}}, {"a_depth", {16, 64, 256}},
                     {"b_depth", {16, 64, 256}}, {"tile_m", {1, 2, 4}}, {"tile_n", {1, 2, 4}},
                     {"tile_k", {4, 16, 64}}, {"loop_order", {"mnk", "mkn", "nmk", "nkm", "kmn", "knm"}},
                     {"double_buffer", {0, 1}}};
  codesign.agents = {{"compute", {"rows", "cols"}},
                     {"memory", {"a_depth", "b_depth"}},
                     {"mapping", {"tile_m", "tile_n", "tile_k", "loop_order", "double_buffer"}}};
  codesign.fidelity = "synth";  // the cycle model equals the RTL on the validation matrix (tests)
  codesign.order = 40;
  return codesign;
}

const Registration<Task> registered_gemm{gemm_int8()}, registered_target{gemm_int8_target()},
    registered_small{gemm_int8_small()}, registered_ice40{gemm_int8_ice40()}, registered_codesign{codesign_gemm()};

}  // namespace

}  // namespace chipgym::env

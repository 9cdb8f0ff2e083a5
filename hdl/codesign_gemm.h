// The codesign family: a GEMM accelerator and its kernel mapping, searched together.
//
// Hardware: an output-stationary systolic array (the gemm family's PE, array, read-out
// multiplexer and input buffers, byte for byte) with A and B buffers of a_depth and b_depth
// slices. Mapping (the software kernel, realized as the generated controller's loop nest):
// C is cut into tiles of tile_m x rows rows by tile_n x cols columns, K into chunks of
// tile_k steps; the tile loops run in `loop_order` (outer to inner, e.g. "mnk"). Each step
// (one tile, one K chunk) loads the A block (tile_m row slices of the array's height, tile_k
// steps) and the B block it needs unless the previous step left it in the buffer (reuse),
// then runs every array-sized subtile of the tile through the array and writes its partial
// sums to C, accumulating in memory for K chunks after the first. With double_buffer, each
// buffer has two banks and the next step's loads overlap the current step's compute.
//
// Memory interface: the gemm family's (gemm-mem-v1, see hdl/gemm.h) plus c_wr_acc: a C write
// with c_wr_acc set adds to the memory's value, wrapping to acc_bits (protocol
// gemm-mem-acc-v1; the harness is the gemm one with an accumulating C memory, hdl/gemm_harness.cpp).
#pragma once
#include <string>

#include "hdl/family.h"
#include "hdl/gemm.h"

namespace chipgym::hdl {

struct CodesignConfig {
  GemmConfig hw;                  // rows, cols, in_bits, acc_bits, a_depth, b_depth, pipeline (os)
  int tile_m = 2, tile_n = 2;     // array tiles per mapping tile along M and N
  int tile_k = 16;                // K steps per chunk
  std::string loop_order = "mnk"; // tile loops, outer to inner
  bool double_buffer = false;

  static CodesignConfig from(const Params& p);
};

// Cycles from the start pulse until `done`, for one problem (equals the RTL, tested), and
// the slices the mapping loads (A and B buffer writes), for reports.
struct CodesignCycles {
  long long cycles = 0, a_slices = 0, b_slices = 0, steps = 0, phases = 0;
};
CodesignCycles codesign_model(const CodesignConfig& cfg, const GemmShape& shape);
inline long long codesign_model_cycles(const CodesignConfig& cfg, const GemmShape& shape) {
  return codesign_model(cfg, shape).cycles;
}

const Family& codesign_family();


}  // namespace chipgym::hdl

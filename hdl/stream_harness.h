// The one Verilator testbench of the streaming interface (docs/stream.md), used by the
// quantized-operator families (hdl/quant.cpp) and by `chipgym score` (env/score.cpp).
//
// It streams every input vector through the handshake twice: pass 0 with in_valid held high
// whenever data is left and out_ready always high (latency and peak throughput), pass 1 with
// seeded random gaps on in_valid and back-pressure on out_ready (robustness and throughput
// under pressure), with the vectors in reverse order, so that a design carrying state from
// one vector to the next gives different results. in_valid, once raised, is held with its
// element until the transfer. It checks the output side of the protocol (once out_valid is
// high it stays high, with the same data, until out_ready) and prints each output vector, cut
// at out_last. Elements are up to 64 bits wide. `--vcd FILE` writes a waveform when the model
// was built with --trace (hdl/harness_text.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace chipgym::hdl {

// The harness for the model of module `top` (Verilator's default class V<top>).
std::string stream_harness_source(const std::string& top);

// What the harness reads on stdin.
struct StreamStimulus {
  int in_bits = 8, out_bits = 8;
  // Cycles a pass may take (pass 0, pass 1) before it stops with status cycle_limit.
  unsigned long long cycle_limit[2] = {0, 0};
  std::uint64_t pressure_seed = 1;  // the gaps and stalls of pass 1
  std::vector<std::vector<long long>> vectors;
  std::string text() const;
};

// One pass of the harness output. Output vector k of pass 1 answers input vector n-1-k.
struct StreamPass {
  std::vector<std::vector<long long>> out;  // elements sign-extended when the interface is signed
  std::vector<long long> latency;           // per output vector: first input to first output transfer (-1: none)
  long long inputs = 0;                     // input transfers
  long long cycles = 0;                     // to the last output transfer (status ok), else the cycles run
  // ok | cycle_limit | "protocol <what>" | "extra <what>"
  std::string status;
};
std::vector<StreamPass> parse_stream_output(const std::string& text, int out_bits, bool is_signed);

}  // namespace chipgym::hdl

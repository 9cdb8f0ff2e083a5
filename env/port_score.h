// Scoring any RTL at its ports: a candidate module against a reference module, or against
// port-level golden vectors (docs/ports.md). Unlike the streaming form (env/score.h), the ports
// are whatever the reference has (any names, directions, widths: hundreds of bits too), and
// every output is compared on every cycle.
//
// Both are pipeline runs of the fidelity `ports` (screen -> interface -> simulate ->
// synthesize): the simulate stage runs Icarus Verilog (4-state) with a generated testbench
// that applies one line of input values per cycle and prints every output per cycle, X and Z
// included. Against a reference, the reference is run first on the stimulus and its outputs
// become the expected values; an X or Z bit of the reference is a don't-care. The candidate is
// then run on the same stimulus and compared bit by bit.
//
// Timing, per cycle k of a clocked design: the clock is low, the inputs of cycle k are
// applied, the outputs are sampled 4 time units later ("before the edge": the combinational
// response, an asynchronous reset, what the falling edge of a dual-edge design left), the clock
// rises (registers take the inputs of cycle k), and the outputs are sampled again 4 time units
// later, before the clock falls ("after the edge"). A reference run records both samples; port
// vectors give the after-edge values. A design without a clock input is combinational:
// inputs applied, outputs sampled 5 time units later. Resets are inputs like any other; the
// generated stimulus asserts them at the start (and once in the middle).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/score.h"

namespace chipgym::env {

struct Port {
  std::string name;
  int width = 1;
  bool input = true;
};

// The ports of a top module, with its clock and reset.
struct PortSpec {
  std::string module;
  std::vector<Port> ports;  // inputs and outputs, in name order
  std::string clock;        // empty: combinational
  std::string reset;        // empty: none
  bool reset_active_low = false;
  bool reset_async = false;  // recorded; both kinds are driven as inputs

  std::vector<const Port*> inputs() const;   // without the clock
  std::vector<const Port*> outputs() const;
  const Port* find(const std::string& name) const;
  json to_json() const;
};

// Reads the ANSI header of `module` in screened code. Clock: `clock` if given, else the one
// 1-bit input named clk, clock, clk_i or i_clk. Reset: `reset` if given, else the one 1-bit
// input named rst, reset, areset, rst_n, resetn, reset_n, arst_n or aresetn; a name ending in
// "n" after rst/reset is active low, one starting with "a" (areset, arst_n) asynchronous
// (`active_low` / `async` override). Throws hdl::ParamError naming the problem.
PortSpec read_port_spec(const std::string& screened_code, const std::string& module, const std::string& clock = "",
                        const std::string& reset = "", std::optional<bool> active_low = std::nullopt,
                        std::optional<bool> async = std::nullopt);

// Port-level vectors: one entry per cycle, in order (state carries from cycle to cycle). Values
// are binary strings MSB first, exactly the port's width; an expected bit 'x' is not compared.
struct PortCycle {
  std::map<std::string, std::string> in;   // every input but the clock
  std::map<std::string, std::string> out;  // after the edge; empty: not compared (a reference run records)
  std::map<std::string, std::string> out_before;  // before the edge (clocked designs); empty: not compared
  std::string origin;                      // "reset", "zeros", "random 12", "vectors 3:5"
};
struct PortVectors {
  PortSpec spec;
  std::vector<PortCycle> cycles;
};

// The generated stimulus for a reference: for each seed, reset cycles (when there is a
// reset), directed values (all zeros, all ones, each input at its extremes with the others at
// zero, single bits walking through each input), then random inputs up to `cycles`, a reset
// pulse in the middle. Reset held in its inactive level outside the reset cycles.
struct StimulusOptions {
  std::uint64_t seed = 1;
  int seeds = 1;            // independent runs, each starting with its reset
  int cycles = 200;         // per seed, directed ones included
  int reset_cycles = 2;
};
std::vector<PortCycle> generate_stimulus(const PortSpec& spec, const StimulusOptions& o);

// {"ports": {...} (optional), "clock": "clk", "reset": {...}, "sequences": [[{"in": {...},
// "out": {...}, "mask": {...}}, ...], ...]}: values as "0x..." / "0b..." strings (or plain
// binary), any width; in "out", a hex digit or bit '?'/'x' is a don't-care, and "mask"
// (1 = compared) masks further. Sequences are played one after another. Throws
// hdl::ParamError naming the problem (unknown port, a value wider than its port, ...).
PortVectors port_vectors_from_json(const json& j, const PortSpec& spec);
// The ports a vectors file declares: {"module": "top_module", "ports": {"a": 8, "y": -8},
// "clock": "clk"}; `top` overrides the module. Throws hdl::ParamError naming what is missing.
PortSpec port_spec_from_json(const json& j, const std::string& top = "");
// Whether the JSON is of this form (it has "sequences") rather than the streaming one.
bool is_port_vectors_json(const json& j);

struct PortScoreOptions {
  StimulusOptions stimulus;
  evaluators::EvalOptions eval = port_eval_options();
  std::shared_ptr<evaluators::Cache> cache;
  int mismatches_shown = 3;
  std::optional<std::filesystem::path> vcd;  // the candidate's waveform, written on a mismatch
  // --equiv: after the simulation (against a reference only), a formal proof with Yosys
  // (env/equiv.h) to `equiv_depth` cycles after reset, each SAT call at most `equiv_timeout` s.
  // Its verdict is result["formal"]; a counter-example fails a candidate that simulated
  // correctly (stage equivalence, category formal_mismatch); an undecided proof changes nothing.
  // Its waveform goes to `vcd` when the simulation wrote none there, else beside it as
  // NAME.formal.vcd.
  bool equiv = false;
  int equiv_depth = 20;
  double equiv_timeout = 60;
  static evaluators::EvalOptions port_eval_options();
};

// The candidate against port-level vectors (expected outputs given).
ScoreReport score_ports(const std::string& candidate, const PortVectors& vectors, const PortScoreOptions& o);
// The candidate against a reference module: the reference is screened and simulated first
// (a reference that does not compile, or whose ports cannot be read, is bad input, named as
// the reference's), then the candidate on the same stimulus. `top`: the module to compare
// (empty: the reference's only module, else one named top_module).
ScoreReport score_against_reference(const std::string& reference, const std::string& candidate, const std::string& top,
                                    const PortScoreOptions& o, const std::string& clock = "",
                                    const std::string& reset = "");

}  // namespace chipgym::env

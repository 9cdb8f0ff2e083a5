// Formal equivalence of a candidate module and a reference at their ports (`chipgym score
// --ref REF cand.v --equiv`), with Yosys' miter and SAT solver, in the sandbox like every tool
// run on untrusted text (both texts are screened first: env/port_score.h).
//
// Both designs are read (-nodpi), elaborated (proc, flatten, memories as flip-flops) and
// joined by `miter -equiv -ignore_gold_x`: an X bit of the reference (a `1'bx` don't-care, or
// a register not yet reset) matches anything, and an X of the candidate where the reference
// is 0 or 1 is a difference, as in simulation. Inputs are always defined (-set-def-inputs).
//
// - Combinational (no clock): one SAT call, `sat -verify -prove-asserts -enable_undef`.
// - Sequential: registers start undefined (-set-init-undef), the reset (when there is one) is
//   asserted in the first cycle, then every input is free, and `sat -tempinduct -maxsteps N`
//   alternates base cases and induction steps up to N: "proved by induction" when an
//   induction step closes (equal from reset forever), "bounded: equal for N cycles after
//   reset" when it does not within N, or a counter-example at the cycle where the base case
//   fails. A design whose registers all take the rising edge of the clock is one SAT step per
//   cycle (async2sync models an asynchronous reset as seen before the edge); one with
//   falling-edge registers or latches (a dual-edge flip-flop) is modelled with clk2fflogic:
//   the clock is then a free input, each step one half cycle, and N cycles are 2N steps.
// - Limits: each SAT call stops after `timeout` seconds (sat -timeout) and the Yosys run after
//   `timeout` + 10 s of wall clock: such a proof is "undecided within N s".
// - Yosys must be able to read both designs: one it refuses (e.g. `always @(posedge a or
//   posedge b) q <= a ? ...` without an if) gives verdict "unsupported" with Yosys' message.
//
// Decided verdicts are cached by both texts, the ports, the depth and the Yosys version.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "env/port_score.h"
#include "evaluators/cache.h"

namespace chipgym::env {

struct EquivOptions {
  int depth = 20;        // cycles after reset for the bounded proof, the longest induction tried
  double timeout = 60;   // seconds per SAT call; the Yosys run gets 10 s more of wall clock
  std::size_t memory = 4ull << 30;
  std::optional<std::filesystem::path> vcd;  // the counter-example's waveform (sat -dump_vcd)
  std::shared_ptr<evaluators::Cache> cache;  // null: not cached
};

struct EquivResult {
  // equal: proved (combinational, or by induction); bounded: no difference for `depth` cycles
  // after reset; counterexample; undecided (a limit was reached); unsupported (Yosys could not
  // read a design); error (the environment: no sandbox, no Yosys).
  std::string verdict = "error";
  std::string method;       // combinational, induction, bounded
  std::string model;        // "", "rising edge" (one step per cycle) or "clk2fflogic" (two per cycle)
  std::string message;      // "proved by induction", "counter-example at cycle 3", ...
  int depth = 0;
  int cycle = -1;           // counterexample: the first cycle (or step, under clk2fflogic) that differs
  json trace = json::array();  // counterexample: [{"step": k, "inputs": {name: bits}}] per cycle or step
  std::string vcd;          // where the counter-example's waveform was written
  double seconds = 0;
  bool cache_hit = false;

  bool differs() const { return verdict == "counterexample"; }
  json to_json() const;
};

// The lines a report prints for a formal verdict (EquivResult::to_json), indented as
// ScoreReport::to_text: the verdict, then a counter-example's input trace and waveform.
std::string equiv_text(const json& formal);

// `reference` and `candidate` are screened texts (prepare_untrusted) defining spec.module.
EquivResult prove_equivalence(const std::string& reference, const std::string& candidate, const PortSpec& spec,
                              const EquivOptions& options);

}  // namespace chipgym::env

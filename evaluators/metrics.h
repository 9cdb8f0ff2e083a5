// One flat record that every stage writes into and every objective reads from.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace chipgym::evaluators {

using json = nlohmann::json;

// What went wrong: one vocabulary for every evaluation, a family's design or a candidate kernel
// scored against golden vectors (`chipgym score`, the untrusted fidelity). README.md and
// docs/untrusted.md use these words.
//
// Refused before any tool judged the design (score's verdict: bad_input):
//   input             parameters, workload or golden vectors rejected before any tool ran
//   screen            untrusted Verilog refused by the screen or by its preprocessing
//   interface         the top module's ports differ from the declared interface
//   undefined_module  the design instantiates a module it does not define
// The design is wrong (score's verdict: fail):
//   lint              verilator --lint-only -Wall reported errors (warnings are counted, not fatal)
//   sim_build         Verilator reported errors building the simulation model
//   combinational_loop  a logic loop: the simulation did not converge, or Yosys `check` found one
//                     on a gate-level copy (even one that reaches no output)
//   mismatch          outputs differ from the golden ones (a stream check; a family's check
//                     reports correct = false and mismatches instead)
//   protocol          the stream handshake was broken on the output side (docs/stream.md)
//   no_input          the design never accepted an input
//   no_output         the design never raised out_valid
//   constant_output   one constant output value while the golden outputs vary
//   input_independent the same output vector for every input while the golden ones differ
//   extra_output      more output elements than input elements
//   cycle_limit       a pass of the stream harness ended at its cycle limit with outputs missing
//   backpressure      right without stalls, wrong or unfinished under back-pressure
//   latch             synthesis inferred a latch (refused, not costed)
//   synth             Yosys failed on the design
// The design could not be judged here; never cached, tried again (score: fail, or error for
// the last two):
//   sim_crash         the simulation exited abnormally or printed output that cannot be read
//   sim_timeout       the simulation hit its wall-clock or CPU limit (EvalOptions::sim_timeout),
//                     or a family's harness its cycle limit
//   synth_timeout     Yosys hit the wall-clock limit
//   tool_timeout      lint, the loop check or the model build hit the wall-clock limit
//   tool_memory       a tool ran out of memory (EvalOptions::tool_memory)
//   tool_crash        a tool was killed by a signal (a crash, or the CPU limit)
//   tool_missing      Yosys or Verilator is not installed or not on PATH
//   environment       the machine, not the design: no sandbox, no compiler, no disk space, fork failed
// Only the first two groups are cached (design_failure).
struct ErrorInfo {
  std::string category;
  std::string message;  // what happened, with an excerpt of the tool's own words
  std::string stage;    // the stage that stopped the evaluation (empty: before any stage); the
                        // simulate stage's model build says "build"
  ErrorInfo() = default;
  ErrorInfo(std::string category_, std::string message_, std::string stage_ = {})
      : category(std::move(category_)), message(std::move(message_)), stage(std::move(stage_)) {}
};

// True for failures that follow from the design itself (the first two groups above): those
// results may be kept (cache, in-memory results, ground truth); any other failure (timeouts,
// crashes, missing tools, environment) must be tried again.
bool design_failure(const std::string& category);

struct Metrics {
  // Simulated outputs equal the golden model's, bit for bit; empty when the design was not
  // simulated (fidelity model or synth, or a stage before simulation stopped the evaluation):
  // JSON null, "not checked", never false.
  std::optional<bool> correct;
  long long checked = 0;        // output values compared
  long long mismatches = 0;
  std::string first_mismatch;
  long long cycles = 0;         // RTL simulation (fidelity rtl) or cycle model (model, synth)
  long long cycles_model = 0;   // architectural cycle model, always
  long long cells = 0;          // generic Yosys cells, aggregated over the hierarchy
  long long transistors = 0;    // area estimate: Yosys' static-CMOS transistor count
  long long depth = 0;          // logic depth in gates (longest path inside one module)
  long long luts = 0, ffs = 0, dsps = 0, brams = 0, carries = 0;  // iCE40 (synth_ice40 -dsp)
  std::optional<ErrorInfo> error;
  bool cache_hit = false;
  double seconds = 0;           // wall time of this evaluation
  json stages = json::object(); // per stage: seconds, cache hit, details
  json derived = json::object();  // family figures from parameters alone (e.g. MACs)
  std::string fidelity;         // model | synth | rtl | untrusted (evaluators/stage.cpp)

  bool ok() const { return !error.has_value(); }
  // Simulated and wrong (not: not simulated).
  bool incorrect() const { return correct == false; }
  json to_json() const;
  static Metrics from_json(const json& j);
};

}  // namespace chipgym::evaluators

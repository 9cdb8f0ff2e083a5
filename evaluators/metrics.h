// One flat record that every stage writes into and every objective reads from.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace chipgym::evaluators {

using json = nlohmann::json;

// Where a failure happened; documented in README.md.
//   input          parameters or workload rejected before any tool ran
//   lint           verilator --lint-only -Wall reported errors (warnings are counted, not fatal)
//   sim_build      Verilator reported errors building the simulation model
//   sim_crash      the simulation exited abnormally or printed output that cannot be read
//   sim_timeout    no `done` within the cycle limit, or the simulation hit the wall-clock limit
//   synth          Yosys failed on the design
//   synth_timeout  Yosys hit the wall-clock limit
//   tool_timeout   lint or the model build hit the wall-clock limit
//   tool_missing   Yosys or Verilator is not installed or not on PATH
//   tool_crash     a tool was killed by a signal (a crash, or the CPU limit)
//   environment    the machine, not the design: no compiler, no disk space, fork failed
// Only input, lint, sim_build and synth results are cached.
struct ErrorInfo {
  std::string category;
  std::string message;  // what happened, with an excerpt of the tool's own words
};

// True for failures that follow from the design itself (input, lint, sim_build, synth):
// those results may be kept (cache, in-memory results, ground truth); any other failure
// (timeouts, crashes, missing tools, environment) must be tried again.
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
  std::string fidelity;         // model | synth | rtl

  bool ok() const { return !error.has_value(); }
  // Simulated and wrong (not: not simulated).
  bool incorrect() const { return correct == false; }
  json to_json() const;
  static Metrics from_json(const json& j);
};

}  // namespace chipgym::evaluators

// Evaluator stages, as Yosys has passes: each stage is one file under evaluators/stages/ that
// registers itself with a name, a one-line help and its run(). A fidelity is a named list of
// stages (registered below in stage.cpp); Pipeline::evaluate runs the list in order on one
// Evaluation, and a stage that returns false stops it (Metrics::error says why).
//
// Every stage reads and writes the one Metrics record and caches its own result in the
// evaluation cache under its own stage name and content key (the keys are those the
// pipeline used before it was split into stages, so old cache entries still hit).
//
// Adding a stage: a new file evaluators/stages/NAME.cpp with
//   namespace { const StageRegistration stage{{"NAME", "one line", [](Evaluation& e) { ... }}}; }
// one line in CMakeLists.txt (chipgym_evaluators), and its name in the fidelities that run it.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "hdl/registry.h"

namespace chipgym::evaluators {

// One design on its way through the stages of a fidelity.
struct Evaluation {
  const hdl::Family& family;
  const hdl::Params& params;
  const json& workload;
  const EvalOptions& options;
  Pipeline& pipeline;              // the cache, the tools, the compiled-model directory
  hdl::Rtl rtl;                    // what the tools read (injected text already screened in)
  Metrics& metrics;
  std::vector<std::string> stages;  // the stages this evaluation runs, in order
  json shared = json::object();    // results one stage leaves for a later one (synthesize -> fpga)

  bool runs(const std::string& stage) const;
  // The evaluation cache, under this stage's name (no-ops without a cache or with use_cache off).
  std::optional<json> cached(const std::string& stage, const std::string& key) const;
  void store(const std::string& stage, const std::string& key, const json& value) const;
  const Toolchain& tools() const { return pipeline.tools(); }
};

struct StageInfo {
  std::string name;
  std::string help;  // one line: what it runs and what it writes into Metrics
  // Runs the stage; false stops the evaluation (the stage has set metrics.error).
  std::function<bool(Evaluation&)> run;
  bool synthesis = false;  // a Yosys run on the design: left out with EvalOptions::synthesis off
};
using StageRegistration = Registration<StageInfo>;
const Registry<StageInfo>& stages();

struct FidelityInfo {
  std::string name;
  std::string help;
  std::vector<std::string> stages;  // in the order they run
  int rank = 0;                     // cheapest first in listings
  bool for_designs = true;          // a task, eval or train may choose it (untrusted: score's own)
  // false: the whole evaluation is not kept in the eval cache (surrogate: predictions change
  // whenever the model is refitted, and must never pass for measured results).
  bool cached = true;
};
using FidelityRegistration = Registration<FidelityInfo>;
// The surrogate fidelity's predictions come from a learned cost model that lives beside the
// agents (agents/surrogate.h), which evaluators must not include: that side installs the
// predictor here at start-up. It fills the predicted figures into e.metrics and returns
// true, or returns false with e.metrics.error set (no model for the family, say).
using Predictor = std::function<bool(Evaluation& e)>;
void set_predictor(Predictor predictor);
const Predictor& predictor();  // empty until installed

// Throws hdl::ParamError naming the known fidelities (and the nearest) for an unknown name.
const FidelityInfo& fidelity(const std::string& name);
// Cheapest first: model, surrogate, synth, rtl, untrusted, ports.
std::vector<const FidelityInfo*> fidelities();
std::vector<std::string> fidelity_names();
// The fidelities a design task may be evaluated at (for_designs), cheapest first.
std::vector<std::string> design_fidelity_names();

// What the stages share: tool runs, limits and errors.
double seconds_since(std::chrono::steady_clock::time_point t0);
// Writes every file of the design into `dir`; returns their names.
std::vector<std::string> write_rtl(const hdl::Rtl& rtl, const std::filesystem::path& dir);
// A failed tool run as an error value: category from how it failed, message with an excerpt.
// `tool` is what the user knows it by (yosys, verilator, simulation).
ErrorInfo tool_error(const std::string& tool, const RunResult& r, const std::string& failed_category,
                     const std::string& timeout_category, const RunLimits& limits = {});
// Limits of one tool run from the options: the CPU limit follows the wall-clock limit (times
// the parallel jobs a tool may run), so --timeout governs both.
RunLimits limits_for(const EvalOptions& o, int parallel_jobs = 1);
// Injected Verilog is untrusted text (a user's, a language model's): every tool run of such a
// design, and the model built from it, is sandboxed. Generated designs run as they are.
void guard(const EvalOptions& o, RunRequest& req);
// A run that could not start its sandbox: the environment's fault, with the fix in the message.
bool no_sandbox(const RunResult& r, Metrics& m);

// The iCE40 stage's Yosys script for the design (fpga.cpp), and its figures from the
// `stat -json` it writes to ice40.json: {luts, ffs, dsps, brams, carries}. The synthesize stage
// runs this script beside its own runs when fpga follows it, and keeps both in one cache entry.
std::string ice40_script(const hdl::Rtl& rtl, const std::vector<std::string>& files, bool flatten);
json ice40_figures(const std::string& stat_json_text, const std::string& top);
// Copies the iCE40 figures into Metrics.
void set_ice40(Metrics& m, const json& figures);

// Wall-clock seconds of a simulation run: EvalOptions::sim_timeout, else the tool timeout.
double simulation_seconds(const EvalOptions& o);

// The module a tool's output says is instantiated but defined nowhere (Verilator: "Cannot find
// file containing module: 'foo'"; Yosys: "Module `\foo' referenced in module `\bar' ... is
// not part of the design"), as a message that names it and the modules the design defines.
std::optional<std::string> undefined_module(const std::string& tool_output, const hdl::Rtl& rtl);

// The parsed ANSI header of `module` in screened code (comments and strings blanked): port
// name -> signed width (+ input, - output). Widths may be constant expressions of the module's
// parameters. Throws hdl::ParamError when the module is missing or the header cannot be read.
std::map<std::string, int> parse_module_ports(const std::string& code, const std::string& module);

}  // namespace chipgym::evaluators

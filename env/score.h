// `chipgym score`: one candidate kernel against golden outputs, as one pipeline run of the
// `untrusted` fidelity (evaluators/stage.cpp): screen (preprocess once, sandboxed, screen what
// the tools read) -> interface (the module header against the StreamInterface) -> lint ->
// simulate (the stream harness of hdl/stream_harness.h, two passes: free-flowing, then seeded
// back-pressure with the vectors in reverse) -> loops (Yosys `check` on a gate-level copy) ->
// synthesize (flattened). The candidate is the design of a subject built from the GoldenSet,
// whose harness is the stream harness and whose check compares outputs; the result is cached
// like any evaluation, by the candidate's text, the vectors and the hidden seed.
//
// The random vectors come from a hidden seed, derived from the user's seed and a salt
// ($CHIPGYM_SCORE_SALT, else the installation's own, env/salt.h), so neither a published
// seed nor the source gives the vectors; the same seed and salt give the same report.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/kernel_task.h"
#include "evaluators/cache.h"
#include "evaluators/pipeline.h"
#include "evaluators/pool.h"
#include "evaluators/screen.h"
#include "evaluators/stage.h"

namespace chipgym::env {

using json = nlohmann::json;

// What the candidate is checked against: an interface and input/expected-output vectors.
struct GoldenSet {
  StreamInterface iface;
  std::vector<Vector> inputs;
  std::vector<Vector> outputs;
  std::vector<std::string> origin;  // per case: "edge 3", "random 12", "case 0"
};

// The pipeline's options for untrusted text: fidelity untrusted, synthesized flattened without
// the iCE40 run, 120 s per tool, 20 s for the simulation, 4 GiB per tool process.
evaluators::EvalOptions untrusted_eval_options();

struct ScoreOptions {
  std::uint64_t seed = 1;
  int random_vectors = 48;
  unsigned long long cycles_per_element = 64;  // cycle limit per pass: this x elements + 1000
  int mismatches_shown = 3;
  // The limits (tool_timeout, sim_timeout, tool_memory) and synthesis on or off: the pipeline's.
  evaluators::EvalOptions eval = untrusted_eval_options();
  std::shared_ptr<evaluators::Cache> cache;  // where results are cached; null: not cached
  // Where the candidate is evaluated (e.g. the MPI ranks' pool, whose rank 0 holds the cache);
  // null: here, through a pipeline over `cache`. The result is the same either way.
  std::shared_ptr<evaluators::EvalPool> pool;
};

// The CLI's and evolve's view of the pipeline's Metrics. `verdict` is "pass", "fail" (the
// candidate ran and is wrong, cheats, times out or does not build), "bad_input" (refused:
// input, screen, interface, undefined_module) or "error" (it could not be scored here:
// environment, tool_missing). `category` is a Metrics category (evaluators/metrics.h).
struct ScoreReport {
  std::string verdict = "fail";
  std::string stage;       // the stage that stopped the run ("" when it passed every stage); build
                           // is the simulate stage's model build
  std::string category;    // e.g. mismatch, constant_output, no_output, cycle_limit, sim_timeout, lint, screen
  std::string message;     // one line a person or a model can act on
  json result;             // task, seed, interface, lint, simulation, synthesis figures (deterministic)
  json stages;             // wall seconds per stage, and cache_hit (not deterministic; kept apart)

  bool passed() const { return verdict == "pass"; }
  int exit_code() const { return verdict == "pass" ? 0 : verdict == "bad_input" || verdict == "error" ? 2 : 1; }
  json to_json() const;    // result + verdict/stage/category/message + stages
  std::string to_text() const;
};

std::uint64_t hidden_seed(std::uint64_t user_seed);
// Edge cases, the task's coverage vectors (every value of a small elementwise domain, the
// reductions' thresholds: KernelTask::coverage_vectors) then `random` vectors from
// hidden_seed(user_seed), with the task's golden outputs.
GoldenSet task_golden(const KernelTask& task, std::uint64_t user_seed, int random);
// {"interface": {...}, "cases": [{"in": [...], "out": [...]}, ...]}; throws hdl::ParamError
// naming the problem (missing fields, lengths differ, values out of range for the widths).
GoldenSet golden_from_json(const json& j);

ScoreReport score_candidate(const std::string& verilog, const GoldenSet& golden, const ScoreOptions& options,
                            const std::string& task_name = "");

// The parts of a report every form shares: synthesis figures, seconds per stage, whether it was
// cached, the verdict, and the stage, category and message (`prefix` first) of a failure, or
// `not_simulated` when the check did not run.
void fill_report(ScoreReport& r, const evaluators::Metrics& m, const std::string& prefix, const std::string& not_simulated);

// The verdict a Metrics category gives (pass when there is none).
std::string score_verdict(const std::optional<evaluators::ErrorInfo>& error);

// The ANSI header of a module (evaluators/stages/interface.cpp).
using evaluators::parse_module_ports;

}  // namespace chipgym::env

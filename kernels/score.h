// `chipgym score`: one candidate kernel against golden outputs, through a cascade of stages
// that stops at the first failure: screen, preprocess, screen again (evaluators/screen.h) -> interface (the module header
// against the task's StreamInterface) -> lint (verilator --lint-only -Wall) -> build and
// simulate (Verilator, kernels/stream_harness.cpp, two passes: free-flowing, then seeded
// back-pressure) -> synthesize (Yosys generic gates, `check -assert` for logic loops).
//
// The random vectors come from a hidden seed, derived from the user's seed and a salt
// ($CHIPGYM_SCORE_SALT, else the installation's own, kernels/salt.h), so neither a published
// seed nor the source gives the vectors; the same seed and salt give the same report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/kernel_task.h"
#include "evaluators/screen.h"

namespace chipgym::kernels {

using json = nlohmann::json;
// Kernel tasks are entries of the one task registry (env/task.h).
using env::KernelTask;
using env::StreamInterface;
using env::Vector;

// What the candidate is checked against: an interface and input/expected-output vectors.
struct GoldenSet {
  StreamInterface iface;
  std::vector<Vector> inputs;
  std::vector<Vector> outputs;
  std::vector<std::string> origin;  // per case: "edge 3", "random 12", "case 0"
};

struct ScoreOptions {
  std::uint64_t seed = 1;
  int random_vectors = 48;
  double tool_timeout = 120;       // wall seconds per Verilator/Yosys run
  double sim_timeout = 20;         // wall seconds for the simulation
  std::size_t tool_memory = 4ull << 30;  // address space per tool process (RLIMIT_AS)
  unsigned long long cycles_per_element = 64;  // cycle limit per pass: this x elements + 1000
  std::size_t max_bytes = evaluators::kMaxVerilogBytes;
  bool synthesize = true;
  int mismatches_shown = 3;
};

// The verdict and everything measured. `verdict` is "pass", "fail" (the candidate ran and is
// wrong, cheats, times out or does not build), "bad_input" (refused: screen, interface, a
// module it uses but does not define, unreadable vectors) or "error" (it could not be scored
// here: no sandbox, no tools).
struct ScoreReport {
  std::string verdict = "fail";
  std::string stage;       // where the cascade stopped ("" when it passed every stage)
  std::string category;    // e.g. mismatch, constant_output, no_output, cycle_limit, sim_timeout, lint, screen
  std::string message;     // one line a person or a model can act on
  json result;             // task, seed, interface, lint, simulation, synthesis figures (deterministic)
  json stages;             // wall seconds per stage (not deterministic; kept apart)

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

// The parsed ANSI header of `module` in screened code: port name -> signed width (+ input,
// - output). Throws hdl::ParamError when the module is missing or the header cannot be read.
std::map<std::string, int> parse_module_ports(const std::string& code, const std::string& module);

const char* stream_harness_source();

}  // namespace chipgym::kernels

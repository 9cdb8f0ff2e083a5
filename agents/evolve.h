// The evolutionary kernel-writer, an agent of kind evolve (AlphaEvolve-style): what it evolves
// (a Subject), its settings (EvolveConfig, defaults and help in one place) and its offline
// proposer. The loop that runs it and writes its run directory is runs/evolve.h.
//
// Per generation and island (and child) the loop samples a parent and inspirations from the
// program database (agents/program_db.h), assembles a prompt from the templates in prompts/
// (task and interface, parent code and metrics, evaluator feedback, inspirations), asks the
// proposer, applies its reply as SEARCH/REPLACE blocks or a full rewrite (agents/diff.h; an
// edit that does not apply is fed back in the island's next prompt, never skipped silently),
// scores the candidate through its Subject and stores it with its feedback.
//
// Proposers: an OpenAI-compatible model (agents/llm_client.h), or offline a built-in
// mutation proposer whose structure-aware operators (agents/evolve_ops.h: narrow a signal,
// tabulate an elementwise kernel, fold constants, remove a pipeline stage, share a
// multiplication, or one textual mutation: a constant, an operator, a dropped operand, a
// swapped branch, a deleted line) each give a SEARCH/REPLACE block, so the loop runs without
// a network and is deterministic for a seed.
//
// What is evolved is a Subject. A kernel task's subject is its Verilog, scored against golden
// outputs by env::score_candidate (kernel_subject below). A parametric design task (env/task.h)
// has two subjects, built in agents/evolve_design.h: its parameter set as JSON, or one
// generated module of the accelerator (e.g. gemm_pe.v) rewritten while the rest is generated;
// the whole design is then evaluated by the task's pipeline and its reward is the fitness.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/diff.h"
#include "agents/llm_client.h"
#include "agents/program_db.h"
#include "env/score.h"
#include "evaluators/pipeline.h"
#include "evaluators/pool.h"

namespace chipgym::agents {

using env::GoldenSet;
using env::ScoreOptions;

struct EvolveConfig;

// A scored candidate's figures, read from its report.
struct Figures {
  bool passed = false;
  double fitness = 0;
  double area = 0;     // MAP-Elites descriptor 1 (transistors)
  double latency = 0;  // MAP-Elites descriptor 2 (cycles)
  std::string line;    // one line a person or a model reads: "PASS: ..." or "FAIL at ..."
};

// What evolve evolves and how a candidate is judged.
struct Subject {
  std::string kind;          // kernel | module | params
  std::string language;      // the code's fence language in prompts: verilog | json
  std::string extension;     // of candidates/p<id>.<ext> and best/program.<ext>: v | json
  std::string seed_code;     // generation 0
  std::string system_template = "system.txt", user_template = "user.txt";  // in the prompts folder
  std::map<std::string, std::string> slots;  // the user template's task slots (task_name, objective, ...)
  json settings = json::object();            // recorded in config.json (what defines the subject)
  // Scores one candidate: {report (deterministic: verdict, stage, category, message, figures),
  // per-stage seconds}. `fresh`: no cache (replay). Called from several threads at once.
  std::function<std::pair<json, json>(const std::string& code, bool fresh)> score;
  std::function<Figures(const json& report)> figures;
  // The re-verification of a run's best before it is written as the best: the code scored
  // against many more vectors, from another hidden seed (kernel subjects). Same result shape
  // as `score`. Empty: the best is written as scored (design subjects, whose pipeline verifies).
  std::function<std::pair<json, json>(const std::string& code)> verify;
  // A model's reply to the parent's code -> the candidate's code, or an error for the model.
  std::function<EditResult(const std::string& parent, const std::string& reply)> apply;
  // The offline proposer: one small change of `code` as a reply `apply` accepts ("" when none
  // was found); `avoid` names codes already in the database. `what` gets one line on the
  // change, `op` the operator that made it (agents/evolve_ops.h: narrow, table, fold,
  // unpipeline, share, textual; "params" for a parameter set).
  std::function<std::string(const std::string& code, std::uint64_t seed,
                            const std::function<bool(const std::string&)>& avoid, std::string* what, std::string* op)>
      mutate;
  // An elementwise kernel of a small input (kernel subjects of elementwise tasks whose input has
  // at most 8 bits): the program's output for every input value (index = value - minimum),
  // from a simulation of it on all of them through the scorer (sandboxed, cached); nullopt when
  // it does not build, loses elements, or gives one input different outputs at different
  // positions. The table operator's source. Empty for other subjects.
  std::function<std::optional<std::vector<long long>>(const std::string& code)> tabulate;
};

// "FAIL at <stage> (<category>), fitness F: <message>" of a failed report.
std::string failure_line(const json& report, double fitness);

// The subject of a kernel task: its canonical Verilog, scored by env::score_candidate against the
// edge cases, the coverage vectors (for an elementwise task of a small input, every input value
// at every position: exhaustive, recorded in settings as "exhaustive") and `random_vectors`
// vectors of seed `seed`; its best is
// re-verified against the same fixed vectors and `verify_random_vectors` random ones of
// another hidden seed (kVerifySeedOffset). Throws ParamError for an unknown task.
constexpr int kVerifyRandomVectors = 512;
constexpr std::uint64_t kVerifySeedOffset = 0x7665726966790000ULL;  // "verify": not a seed anyone scores with
// Scores go through `cache` when given (a replay's fresh score never reads it).
// Scores go through `cache` when given (a replay's fresh score never reads it), and through
// `pool` when given (the MPI ranks', whose rank 0 holds the cache; the fresh score runs here).
Subject kernel_subject(const std::string& task, std::uint64_t seed, int random_vectors, double sim_timeout,
                       int verify_random_vectors = kVerifyRandomVectors,
                       std::shared_ptr<evaluators::Cache> cache = nullptr,
                       std::shared_ptr<evaluators::EvalPool> pool = nullptr);

struct EvolveConfig {
  std::string task = "relu-int8";
  int generations = 4;         // in total, across resumed sessions
  int children = 1;            // candidates per island per generation
  ProgramDbConfig db;          // islands, bins, migration, exploration, inspirations, seed
  std::filesystem::path out;   // the run directory
  bool resume = false;
  bool use_llm = false;        // false: the offline mutation proposer
  LlmConfig llm;
  long long max_calls = 0;     // model calls (0: unlimited); budgets are summed across sessions
  long long max_tokens = 0;    // prompt + completion tokens (usage, else characters / 4)
  double max_seconds = 0;      // wall time
  int workers = 1;             // candidates scored at once
  int random_vectors = 16;     // random vectors per candidate besides the edge cases
  int verify_random_vectors = kVerifyRandomVectors;  // ... in the re-verification of the best (kernel tasks)
  double sim_timeout = 20;
  std::filesystem::path prompts_dir;  // empty: $CHIPGYM_PROMPTS, else the source tree's prompts/
  int max_llm_failures = 3;    // consecutive failed model calls before the run stops with an error
  // Parametric design tasks (not kernel tasks):
  std::string module;          // the generated module to rewrite (e.g. gemm_pe); empty: evolve parameter sets
  json fixed = json::object(); // with `module`: parameters of the accelerator around it (others: defaults)
  json task_spec;              // a design task given as JSON (chipgym tasks --json form) instead of by name
  // Design tasks evaluate through this pipeline and its cache (null: a pipeline without cache).
  std::shared_ptr<evaluators::Pipeline> pipeline;
  // Where candidates are evaluated (the MPI ranks' pool, evaluators/pool.h: parameter sets,
  // and Verilog candidates with their text, screened and sandboxed where they run); null: on
  // the loop's threads through `pipeline`.
  std::shared_ptr<evaluators::EvalPool> pool;
  // A test seam: builds the subject instead of the task's own (kernel_subject, design_subject).
  std::function<Subject(const EvolveConfig&)> custom_subject;
  bool force = false;          // a new run over an existing run directory: empty it first
  bool seed_given = false;     // --resume: a db.seed that differs from the run's is refused (else the run's is taken)

  json to_json() const;        // everything but the API key
};

// The text templates with {{slot}} names. Throws hdl::ParamError naming the template and slot
// when a template uses a slot that has no value.
std::string render_template(const std::string& name, const std::string& text, const std::map<std::string, std::string>& slots);
std::filesystem::path default_prompts_dir();

// One small mutation of `code` as a SEARCH/REPLACE reply, chosen by `seed`; `avoid` says which
// resulting codes not to produce (already in the database). Empty when none was found.
std::string mutation_reply(const std::string& code, std::uint64_t seed,
                           const std::function<bool(const std::string&)>& avoid, std::string* what = nullptr);

}  // namespace chipgym::agents

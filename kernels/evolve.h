// `chipgym evolve`: the AlphaEvolve-style loop over a kernel task.
//
// Per generation and island (and child): sample a parent and inspirations from the program
// database (kernels/program_db.h), assemble a prompt from the templates in prompts/ (task and
// interface, parent code and metrics, evaluator feedback, inspirations), ask the proposer,
// apply its reply as SEARCH/REPLACE blocks or a full rewrite (kernels/diff.h; an edit that
// does not apply is fed back in the island's next prompt, never skipped silently), score the
// candidate with score_candidate (kernels/score.h) and store it with its feedback.
//
// Proposers: an OpenAI-compatible model (kernels/llm_client.h), or offline a built-in
// mutation proposer that makes one small textual mutation of the parent (a constant, an
// operator, a dropped operand, a swapped branch, a deleted line) as a SEARCH/REPLACE block, so
// the loop runs without a network and is deterministic for a seed.
//
// The run directory holds config.json, templates/ (the templates used), prompts/,
// responses/, candidates/ (p<id>.v), events.jsonl (one line per attempt: parent, edit, score,
// tokens, seconds), db.json (saved atomically after every generation) and best.v (best_params.json
// for parameter sets) with best.json, its record. A kernel run's best is re-verified with many
// more vectors (Subject::verify) before it is written there: one that fails is demoted (its
// report becomes the failing one, an event "reverify" records it) and the next best is tried.
// --resume continues from db.json up to --generations in total.
//
// What is evolved is a Subject. A kernel task's subject is its Verilog, scored against golden
// outputs (kernel_subject below). A parametric design task (env/task.h) has two subjects, built
// in runs/evolve_design.h: its parameter set as JSON, or one generated module of the
// accelerator (e.g. gemm_pe.v) rewritten while the rest is generated; the whole design is then
// evaluated by the task's pipeline and its reward is the fitness.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/diff.h"
#include "kernels/llm_client.h"
#include "kernels/program_db.h"
#include "kernels/score.h"

namespace chipgym::kernels {

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
  std::string extension;     // of candidates/p<id>.<ext>: v | json (the best: best.v or best_params.json)
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
  // was found); `avoid` names codes already in the database.
  std::function<std::string(const std::string& code, std::uint64_t seed,
                            const std::function<bool(const std::string&)>& avoid, std::string* what)>
      mutate;
};

// "FAIL at <stage> (<category>), fitness F: <message>" of a failed report.
std::string failure_line(const json& report, double fitness);

// The subject of a kernel task: its canonical Verilog, scored by score_candidate against the
// edge cases, the coverage vectors and `random_vectors` vectors of seed `seed`; its best is
// re-verified against the same fixed vectors and `verify_random_vectors` random ones of
// another hidden seed (kVerifySeedOffset). Throws ParamError for an unknown task.
constexpr int kVerifyRandomVectors = 512;
constexpr std::uint64_t kVerifySeedOffset = 0x7665726966790000ULL;  // "verify": not a seed anyone scores with
Subject kernel_subject(const std::string& task, std::uint64_t seed, int random_vectors, double sim_timeout,
                       int verify_random_vectors = kVerifyRandomVectors);

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
  // Builds the subject of a task that is not a kernel task (runs/evolve_design.h); on resume it
  // receives the recorded settings. Empty: kernel tasks only.
  std::function<Subject(const EvolveConfig&)> design_subject;

  json to_json() const;        // everything but the API key
};

struct EvolveSummary {
  int generations_done = 0;    // in total
  int candidates = 0;          // scored in this session
  int edit_errors = 0;         // replies that gave no candidate, this session
  int best_id = -1;
  double best_fitness = 0;
  double seed_fitness = 0;
  std::string stop_reason;     // generations, max_calls, max_tokens, max_seconds
  std::string subject;         // kernel, module, params
  std::string best_file;       // RUN/best.v (kernel, module) or RUN/best_params.json
  int reverify_failures = 0;   // bests demoted by their re-verification, in total
  json best_verification;      // the best's re-verification record (null: not re-verified)
  double seconds = 0;          // this session
  json to_json() const;
};

// The text templates with {{slot}} names. Throws hdl::ParamError naming the template and slot
// when a template uses a slot that has no value.
std::string render_template(const std::string& name, const std::string& text, const std::map<std::string, std::string>& slots);
std::filesystem::path default_prompts_dir();

// One small mutation of `code` as a SEARCH/REPLACE reply, chosen by `seed`; `avoid` says which
// resulting codes not to produce (already in the database). Empty when none was found.
std::string mutation_reply(const std::string& code, std::uint64_t seed,
                           const std::function<bool(const std::string&)>& avoid, std::string* what = nullptr);

// Runs (or resumes) the loop. Throws hdl::ParamError for bad settings (unknown task, existing
// run directory without --resume, ...) and std::runtime_error when the model cannot be reached
// (the database is saved first, so --resume continues).
EvolveSummary run_evolve(const EvolveConfig& config, std::ostream* log = nullptr);

// `chipgym replay RUN` on an evolve run: scores the best program again, without cache, with the
// run's settings (`design_subject` builds the subject of a parametric task's run). Returns
// {task, subject, program, recorded, fresh, fitness, recorded_fitness, differences: [keys of
// the report that differ]}. Throws hdl::ParamError when RUN is not an evolve run directory.
json replay_evolve(const std::filesystem::path& run,
                   const std::function<Subject(const EvolveConfig&)>& design_subject = {});

}  // namespace chipgym::kernels

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
// tokens, seconds), db.json (saved atomically after every generation) and best.v / best.json.
// --resume continues from db.json up to --generations in total.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/llm_client.h"
#include "kernels/program_db.h"
#include "kernels/score.h"

namespace chipgym::kernels {

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
  double sim_timeout = 20;
  std::filesystem::path prompts_dir;  // empty: $CHIPGYM_PROMPTS, else the source tree's prompts/
  int max_llm_failures = 3;    // consecutive failed model calls before the run stops with an error

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

// `chipgym replay RUN` on an evolve run: scores best.v again with the run's seed and vectors.
// Returns {task, program, recorded, fresh, fitness, recorded_fitness, differences: [keys of
// the report that differ]}. Throws hdl::ParamError when RUN is not an evolve run directory.
json replay_evolve(const std::filesystem::path& run);

}  // namespace chipgym::kernels

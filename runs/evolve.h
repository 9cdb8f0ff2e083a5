// `chipgym evolve`: the loop of the evolve agent (agents/evolve.h) over a task, and its run
// directory, an ordinary one written through the one Recorder of training runs
// (runs/recorder.h):
//
//   config.json      kind "evolve", the settings (EvolveConfig::to_json), subject, settings
//   events.jsonl     one line per attempt, appended and flushed as it happens: the seed and
//                    candidate programs are the run's evaluations (eval, reward = fitness,
//                    correct, transistors = area, cycles = latency, cache_hit, error, beside
//                    evolve's own fields); edit_error, llm_error, migration, reverify, session
//                    and stop are notes without eval
//   best/            program.v (kernel, module) or program.json (params), design.json (the
//                    program's record), metrics.json (its report), report.md
//   checkpoints/     db.json, the program database, saved atomically after every generation
//                    (with the sampler's random state, so a resumed run draws the same numbers)
//   summary.json     the last session's summary
//   templates/ prompts/ responses/ candidates/   the templates used, each prompt and reply,
//                    each candidate's code (p<id>.<ext>)
//
// A kernel run's best is re-verified with many more vectors (Subject::verify) before it is
// written to best/: one that fails is demoted (its report becomes the failing one, an event
// "reverify" records it) and the next best is tried. --resume continues from
// checkpoints/db.json up to --generations in total; the database records how many events it
// accounts for, and the events written after it (a generation cut by a crash) are dropped
// and run again.
//
// Run directories of an older layout (db.json, best.v or best_params.json and best.json at the
// top, no kind) are refused by resume and replay with a message naming
// `chipgym replay --convert RUN`, which moves them into this layout (convert_evolve_run).
#pragma once
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/evolve.h"

namespace chipgym::runs {

using json = nlohmann::json;
using agents::EvolveConfig;

struct EvolveSummary {
  int generations_done = 0;    // in total
  int candidates = 0;          // scored in this session
  int edit_errors = 0;         // replies that gave no candidate, this session
  int best_id = -1;
  double best_fitness = 0;
  double seed_fitness = 0;
  std::string stop_reason;     // generations, max_calls, max_tokens, max_seconds
  std::string subject;         // kernel, module, params
  std::string best_file;       // RUN/best/program.v (kernel, module) or RUN/best/program.json
  int reverify_failures = 0;   // bests demoted by their re-verification, in total
  json best_verification;      // the best's re-verification record (null: not re-verified)
  // Accepted improvements (new children that passed and beat their parent's fitness) by the
  // operator that made them (agents/evolve_ops.h; "llm" for a model's), in total.
  json improvements_by_operator = json::object();
  double seconds = 0;          // this session
  std::vector<std::string> notices;  // the recorder's, on resume (torn lines, events dropped)
  json to_json() const;
};

// Runs (or resumes) the loop. Throws hdl::ParamError for bad settings (unknown task, existing
// run directory without --resume or --force, a resume of another task or of an old layout) and
// std::runtime_error when the model cannot be reached (the database is saved first, so
// --resume continues).
EvolveSummary run_evolve(const EvolveConfig& config, std::ostream* log = nullptr);

// `chipgym replay RUN` on an evolve run: scores the best program again, without cache, with the
// run's settings (design tasks through `pipeline`; null: one without cache). Returns {task,
// subject, program, code, recorded, fresh, fitness, recorded_fitness, differences: [keys of the
// report that differ]}. Throws hdl::ParamError when RUN is not an evolve run directory.
json replay_evolve(const std::filesystem::path& run, std::shared_ptr<evaluators::Pipeline> pipeline = nullptr);

// Whether `run` is an evolve run directory of the older layout (db.json at its top).
bool is_old_evolve_run(const std::filesystem::path& run);
// Moves an old-layout evolve run into the current one: db.json into checkpoints/, best.v or
// best_params.json into best/program.<ext>, best.json into best/design.json and its report into
// best/metrics.json; config.json gains kind "evolve". Returns what was moved. Throws
// hdl::ParamError when `run` is not an old-layout evolve run.
std::vector<std::string> convert_evolve_run(const std::filesystem::path& run);

}  // namespace chipgym::runs

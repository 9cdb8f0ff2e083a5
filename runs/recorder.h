// The one record of a training run, over its RunDir: config.json, events.jsonl (one line per
// evaluation, appended and flushed as it happens), the best design in best/, progress
// reports, summary.json (with the wall time of every session), and the resume of a killed
// run from its events. Black-box runs (runs/train.cpp) and RL runs (runs/train_rl.cpp) record
// through it, and so do evolve runs (runs/evolve.cpp); what each loop adds is its own: the
// black-box replay of whole batches, the RL checkpoints, evolve's program database.
//
// One event shape, one line of events.jsonl:
//   eval          the evaluation's index in the run (0, 1, ...), given by the recorder
//   batch         the batch it belongs to (black-box: one ask; RL: one step of the vector env)
//   batch_size    the evaluations of that batch
//   update        RL only: the learner's updates before the evaluation
//   design        value indices of the absolute encoding; params, the decoded parameters
//   reward        a number, or null for a reward that is not finite (never the best)
//   cycles, transistors, correct (null: not simulated), seconds   from the metrics
//   cycles_model  the exact cycle model's count (every fidelity of a design task)
//   cache_hit     whether the result came from a cache
//   error         {category, message}, only for an evaluation that failed
// A loop may add fields of its own through Evaluation::where (evolve: generation, island,
// program, verdict, fitness, ...). Evolve's candidates have no value indices: design is null,
// params null unless the program is a parameter set.
//
// Events that are not evaluations (evolve: an edit that gave no candidate, a migration, a
// re-verification, a session, the stop) are written with note(); they carry no eval.
//
// The verified best: a run's best design is checked at fidelity rtl (simulated bit-exact
// against the golden model, iCE40 included) when the run ends (finish() with a VerifyBest),
// whatever fidelity the run searched at. Until then best/ is the best so far at the run's
// fidelity, and its metrics.json says "verified": false. Each check is a line of verify.jsonl
// ({eval, design, params, fidelity "rtl", passed, correct, mismatches, error}); a best that
// fails is never the best again (also after a resume), and the next best is tried, up to
// kVerifyTries designs. A check that fails for want of a tool (an "environment" error) says
// nothing of the design: the best stays unverified (best_verified null) and a notice says why.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <set>

#include "env/task.h"
#include "runs/run_dir.h"

namespace chipgym::runs {

struct Progress {
  long long evaluations = 0, budget = 0, cache_hits = 0;
  double best_reward = 0, seconds = 0;
  bool has_best = false;
};

// One evaluation as a loop hands it to the recorder.
struct Evaluation {
  json design = json::array();   // value indices (absolute encoding)
  json params = json::object();  // the decoded parameters
  double reward = 0;             // not finite: recorded as null
  json metrics = json::object(); // evaluators::Metrics::to_json(), with or without stages: best/metrics.json
  bool cache_hit = false;
  json where = json::object();   // batch, batch_size (and update, for RL)
};

class Recorder {
 public:
  // Writes best/ for `event`, the new best, whose metrics are `metrics`.
  using ExportBest = std::function<void(RunDir& dir, const json& event, const json& metrics)>;

  // A new run in `dir`. Nothing is written before start().
  static Recorder create(std::filesystem::path dir, bool force);
  // A recorded run: it must hold config.json; events.jsonl is read, and lines that do not
  // parse (cut by a crash) are skipped with a notice. Nothing is written before start().
  static Recorder resume(std::filesystem::path dir);

  bool resuming() const { return resuming_; }
  json recorded_config() const;                                        // resume: config.json
  // Resume: the recorded evaluations kept (events with an eval; notes left out).
  const std::vector<json>& recorded_events() const { return evaluations_; }
  // Resume: keeps the first `n` recorded evaluations (and the notes before the next one); the
  // rest run again, with the notice "dropped N evaluation(s) <why>; they run again" (and "and
  // M other event(s)" when notes are among them). start() rewrites events.jsonl.
  void keep_recorded(std::size_t n, const std::string& why);
  // The same by lines of events.jsonl, notes included (evolve's checkpoint counts lines).
  void keep_recorded_lines(std::size_t n, const std::string& why);
  // The loop chooses its best itself, through set_best() (evolve: a re-verification can demote
  // the highest reward); record() then never exports. Before start().
  void own_best() { own_best_ = true; }
  // Only the evaluations `eligible` accepts can be the best, be verified and be on the front
  // in summary.json (an RL run across workloads: those of its first workload, the task's).
  // Before start().
  void best_among(std::function<bool(const json& event)> eligible) { eligible_ = std::move(eligible); }

  // Creates the directory (a new run) or rewrites events.jsonl without what resume skipped
  // or dropped, writes config.json, counts the kept events (cache hits, the best; best/ is
  // not exported again here) and starts the session's clock.
  void start(const json& config, long long budget, ExportBest export_best,
             std::function<void(const Progress&)> on_progress = {});
  RunDir& dir() { return *dir_; }

  // Appends the event of `e` (its eval is the number of evaluations so far) and flushes it;
  // exports best/ when its reward is the best so far. Returns the event.
  json record(const Evaluation& e);
  // Appends an event that is not an evaluation (no eval) and flushes it.
  void note(const json& event);
  // The events of the run so far (kept from earlier sessions and appended in this one): what a
  // checkpoint records, for keep_recorded() on resume.
  std::size_t events_written() const { return events_written_; }
  // own_best(): `event` (one that record() returned, or was recorded) is the best, exported with
  // `metrics` unless best/ holds it already.
  void set_best(const json& event, const json& metrics);
  const Progress& progress() const { return progress_; }
  // Sets progress().seconds to this session's wall time and reports it to on_progress.
  void report_progress();
  const json& best_event() const { return best_; }

  // The metrics of an event's design at fidelity rtl (Metrics::to_json()).
  using VerifyBest = std::function<json(const json& event)>;
  static constexpr int kVerifyTries = 5;
  // Ends the session: with `verify`, checks the best at rtl as described above and exports the
  // first design that passes with its rtl metrics ("verified": true; if none of the tries
  // passes, the best is exported with its failing rtl metrics, "verified": false, and a
  // notice); a best/ that holds the verified best already is left as it is. Without it,
  // exports the best again, with metrics_of(best event), unless best/ holds it (a crash can
  // fall between an event and its export). Stops the session's clock.
  void finish(const std::function<json(const json& best_event)>& metrics_of, const VerifyBest& verify = {});
  // After finish(): true when the best passed at rtl, false when it failed, null unchecked.
  json best_verified() const { return best_verified_; }
  // summary.json: `fields`, then evaluations, cache_hits, best_reward, best, best_verified,
  // pareto (the non-dominated designs on transistors and cycles, runs/pareto.h), complete,
  // seconds_this_session and seconds_total (this session and the earlier ones). Returns it.
  json write_summary(json fields, bool complete);

  void notice(std::string text) { notices_.push_back(std::move(text)); }
  const std::vector<std::string>& notices() const { return notices_; }

 private:
  std::string area_objective_ = "transistors";  // of the front in summary.json (runs/pareto.h)
  Recorder(std::filesystem::path path, bool force, bool resuming)
      : path_(std::move(path)), force_(force), resuming_(resuming) {}
  void consider_best(const json& event, const json* metrics);
  void verify_best(const VerifyBest& verify);
  void cut_events(std::size_t lines, const std::string& why);
  double session_seconds() const;
  static std::string design_key(const json& event);

  std::filesystem::path path_;
  bool force_ = false, resuming_ = false, rewrite_ = false, own_best_ = false;
  std::size_t events_written_ = 0;
  std::optional<RunDir> dir_;
  std::vector<json> events_;       // resume: the recorded lines kept (evaluations and notes)
  std::vector<json> evaluations_;  // the evaluations among them, then this session's
  std::set<std::string> refuted_;  // designs (design_key) that failed at rtl
  json best_verified_;
  std::vector<std::string> notices_;
  ExportBest export_best_;
  std::function<bool(const json&)> eligible_;
  std::function<void(const Progress&)> on_progress_;
  Progress progress_;
  json best_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// The ExportBest of a design task: best/ holds the design of the event (params, design, eval,
// reward), its Verilog (none for a design that breaks a constraint of its family),
// metrics.json and report.md.
Recorder::ExportBest design_export(const env::Task& task, const std::string& agent);

// Whether best/ already holds `event` (the same eval).
bool best_holds(const RunDir& dir, const json& event);
// summary.json's seconds_total, the wall time of the run's earlier sessions (0 if none).
double seconds_of_earlier_sessions(const RunDir& dir);

}  // namespace chipgym::runs

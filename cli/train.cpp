// chipgym train: an agent searches a task's design space; the run is a resumable directory
// (runs/train.cpp). This file: the options, the progress bar, the resume checks, the summary.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "agents/agent.h"
#include "cli/command.h"
#include "cli/common.h"
#include "evaluators/mpi_pool.h"
#include "runs/train.h"

namespace chipgym::cli {

namespace {

struct TrainCommand {
  runs::TrainOptions train;
  std::string task = "gemm-int8", task_file, hyper_text, out;
  bool as_json = false;
  CacheOptions cache;
};

// A progress bar on a terminal; otherwise a plain line every 10% of the budget or every 10 s.
std::function<void(const runs::Progress&)> progress_printer(bool tty) {
  auto last_line = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now() -
                                                                           std::chrono::hours(1));
  auto last_reported = std::make_shared<long long>(-1);
  return [tty, last_line, last_reported](const runs::Progress& p) {
    const double rate = p.seconds > 0 ? p.evaluations / p.seconds : 0;
    std::ostringstream line;
    line << p.evaluations << "/" << p.budget << " evaluations, best "
         << (p.has_best ? std::to_string(p.best_reward) : std::string("-")) << ", " << std::fixed << std::setprecision(2)
         << rate << " eval/s, " << p.cache_hits << " cache hits";
    if (tty) {
      const int width = 30, filled = static_cast<int>(width * p.evaluations / std::max(1LL, p.budget));
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << line.str() << "   "
                << std::flush;
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (p.evaluations * 10 / std::max(1LL, p.budget) != *last_reported * 10 / std::max(1LL, p.budget) ||
        now - *last_line > std::chrono::seconds(10) || p.evaluations == p.budget) {
      std::cerr << "train: " << line.str() << "\n";
      *last_line = now;
      *last_reported = p.evaluations;
    }
  };
}

// --resume continues a run as it was recorded. A --seed or a task that differs from the
// recording would silently be replaced by the recorded one, and a --budget below the
// evaluations already recorded cannot be met: all three are refused, before anything is written.
// (A config.json that is unreadable or lacks fields is left to runs::train, which says so.)
void check_resume(const TrainCommand& c, const CLI::App& cmd) {
  const auto& o = c.train;
  const runs::RunDir dir = runs::RunDir::open(o.out);
  const json config = dir.read_config();
  const std::string run = "the run in " + o.out.string();
  const std::string fresh = "give another --out to start a new run";
  if (config.value("kind", std::string()) == "evolve")
    throw hdl::ParamError(run + " is an evolve run: continue it with chipgym evolve --resume --out " + o.out.string());
  // A config.json that names an unknown fidelity would spend the budget on failed evaluations.
  if (config.contains("task") && config["task"].is_object()) {
    try {
      env::Task::from_json(config["task"]);
    } catch (const hdl::ParamError& e) {
      throw hdl::ParamError("config.json of " + o.out.string() + ": " + e.what());
    }
  }
  if (config.contains("env") && config["env"].is_object() && config["env"].value("fidelity", json()).is_string()) {
    const std::string fidelity = config["env"]["fidelity"];
    const auto known = fidelities();
    if (std::find(known.begin(), known.end(), fidelity) == known.end())
      throw hdl::ParamError("config.json of " + o.out.string() + " names an unknown fidelity '" + fidelity +
                            "' (env.fidelity); the fidelities are model, synth and rtl: correct it, or " + fresh);
  }
  if (cmd.count("--seed") && config.contains("seed") && config["seed"].is_number_integer() &&
      config["seed"].get<long long>() != o.seed)
    throw hdl::ParamError(run + " was recorded with --seed " + config["seed"].dump() + "; this command says --seed " +
                          std::to_string(o.seed) + ": drop --seed to continue it with seed " + config["seed"].dump() +
                          ", or " + fresh + " with seed " + std::to_string(o.seed));
  const bool task_given = cmd.count("--task") || cmd.count("--task-file") || workload_given();
  if (task_given && config.contains("task") && config["task"].is_object()) {
    const json& recorded = config["task"];
    const std::string recorded_name = recorded.value("name", std::string("?"));
    const std::string said = c.task_file.empty() ? "--task " + o.task.name : "--task-file " + c.task_file;
    const std::string options = std::string(c.task_file.empty() ? "--task" : "--task-file") +
                                (workload_given() ? " and --workload" : "");
    if (recorded_name != o.task.name)
      throw hdl::ParamError(run + " was recorded with --task " + recorded_name + "; this command says " + said +
                            (c.task_file.empty() ? "" : " (task " + o.task.name + ")") + ": drop " + options +
                            " to continue it with its task, or " + fresh + " of " + o.task.name);
    const json now = o.task.to_json();
    if (recorded != now) {
      std::string fields;
      for (auto it = now.begin(); it != now.end(); ++it)
        if (!recorded.contains(it.key()) || recorded[it.key()] != it.value()) fields += (fields.empty() ? "" : ", ") + it.key();
      for (auto it = recorded.begin(); it != recorded.end(); ++it)
        if (!now.contains(it.key())) fields += (fields.empty() ? "" : ", ") + it.key();
      throw hdl::ParamError(run + " was recorded with another definition of task " + recorded_name + " than " + said +
                            (workload_given() ? " with --workload" : "") + " gives (they differ in " + fields +
                            "): drop " + options + " to continue it with the recorded task, or " + fresh);
    }
  }
  if (o.budget_given) {
    const auto recorded = static_cast<long long>(dir.read_events().events.size());
    if (o.budget < recorded)
      throw hdl::ParamError(run + " has already recorded " + std::to_string(recorded) + " evaluations; --budget " +
                            std::to_string(o.budget) + " is fewer, and recorded evaluations are never dropped. Nothing "
                            "was changed: give --budget " + std::to_string(recorded) + " or more (or no --budget, "
                            "for the recorded one) to continue it, or " + fresh);
  }
}

int run_train(TrainCommand& c, bool workers_given) {
  auto& o = c.train;
  auto pipeline = std::make_shared<evaluators::Pipeline>(open_cache(c.cache));
  // Black-box batches and RL's vector environments alike evaluate through the pool.
  if (!o.resume) {  // a resumed run keeps its recorded --workers
    o.pool = make_pool(pipeline, o.workers, workers_given, "evaluations");
  } else {
    const json workers = runs::RunDir::open(o.out).read_config().value("workers", json(1));
    int recorded = workers.is_number_integer() ? workers.get<int>() : 1;  // a bad config.json: runs::train says so
    o.pool = make_pool(pipeline, recorded, true, "evaluations (as recorded)");
  }
  const bool tty = isatty(STDERR_FILENO);
  auto result = runs::train(o, pipeline, progress_printer(tty));
  if (tty) std::cerr << "\n";
  for (const auto& n : result.notices) std::cerr << "note: " << n << "\n";
  if (c.as_json) {
    std::cout << result.summary.dump(2) << "\n";
  } else {
    const auto& s = result.summary;
    std::cout << "run " << o.out.string() << ": " << s["evaluations"] << " evaluations, " << s["cache_hits"]
              << " cache hits\n";
    if (s.contains("init"))
      std::cout << "started from the policy of " << s["init"]["run"].get<std::string>()
                << (s["init"].value("policies", 1) > 1 ? " (the best zero-shot design of " +
                                                            std::to_string(s["init"].value("policies", 1)) + " policies)"
                                                      : std::string())
                << "; its zero-shot design "
                << s["init"]["zero_shot_params"].dump() << " has reward " << s["init"]["zero_shot_reward"] << "\n";
    if (!s["best"].is_null() && s["best"].contains("params"))
      std::cout << "best reward " << s["best_reward"] << " at evaluation " << s["best"]["eval"] << ": "
                << s["best"]["params"].dump() << "\n"
                << "best design exported to " << (o.out / "best").string()
                << (s.value("best_verified", json()) == true    ? " (verified at rtl: bit-exact against the golden model, iCE40 included)"
                    : s.value("best_verified", json()) == false ? " (it FAILS at rtl: see verify.jsonl)"
                                                                : "")
                << "\n";
  }
  if (result.summary.contains("stopped")) {
    std::cerr << "error: " << result.summary["stopped"].get<std::string>() << "\n";
    return kTrainingStopped;
  }
  return 0;
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<TrainCommand>();
  auto& train = c->train;
  cmd.add_option("--task", c->task, "benchmark task (see `chipgym tasks`)")->capture_default_str();
  cmd.add_option("--task-file", c->task_file, "a task as JSON instead of --task");
  std::string agent_help = "search agent:";
  for (const auto* a : agents::all_agents())
    if (a->make_searcher) agent_help += " " + a->name + " (" + to_string(a->kind) + ": " + a->description + ");";
  agent_help += " RL on libtorch:";
  for (const auto* a : agents::all_agents())
    if (a->make_learner && !a->make_searcher) agent_help += " " + a->name + " (" + a->description + ");";
  cmd.add_option("--agent", train.agent, agent_help)->required();
  cmd.add_option("--budget", train.budget, "evaluations to spend")->capture_default_str();
  cmd.add_option("--seed", train.seed, "random seed (>= 0)")->capture_default_str();
  cmd.add_option("--workers", train.workers, "evaluations in flight at once")->capture_default_str();
  cmd.add_option("--hyper", c->hyper_text, "agent hyper-parameters as JSON, e.g. '{\"population\": 32}'");
  cmd.add_option("--out", c->out, "run directory (default: runs/<task>-<agent>-<seed>-<time>)");
  cmd.add_flag("--resume", train.resume, "continue the run in --out (e.g. after it was killed)");
  cmd.add_flag("--force", train.force, "start over in an existing --out directory");
  cmd.add_option("--fidelity", train.fidelity, "model, synth or rtl (default: the task's)")
      ->check(CLI::IsMember(fidelities()));
  cmd.add_option("--init", train.init,
                 "RL agents: start from the policy of this run directory's last checkpoint (same agent, task family "
                 "and observation layout; e.g. trained on other workloads); its greedy design here, the zero-shot "
                 "answer, is evaluated once and recorded in config.json; repeat it to start from several "
                 "policies: each one's zero-shot design is evaluated and fine-tuning starts from the best");
  cmd.add_flag("--json", c->as_json, "print the summary as JSON");
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval)");
  cmd.add_flag("--no-cache", c->cache.off, "neither read nor write the evaluation cache");
  add_workload_option(&cmd);
  add_workloads_option(&cmd);
  return [c, &cmd]() -> int {
    auto& train = c->train;
    if (train.resume && c->out.empty()) throw hdl::ParamError("--resume needs --out DIR, the run to continue");
    train.budget_given = cmd.count("--budget") > 0;
    train.task = load_task(c->task, c->task_file);
    apply_workload(train.task);
    check_fidelity(train.task, train.fidelity.empty() ? train.task.fidelity : train.fidelity);
    if (!c->hyper_text.empty()) {
      try {
        train.hyper = json::parse(c->hyper_text);
      } catch (const json::parse_error& e) {
        throw hdl::ParamError(std::string("--hyper is not valid JSON: ") + e.what());
      }
    }
    train.out = c->out.empty() ? runs::default_run_dir(train.task.name, train.agent, train.seed)
                               : std::filesystem::path(c->out);
    if (train.resume) check_resume(*c, cmd);
    return run_train(*c, cmd.count("--workers") > 0);
  };
}

const CommandRegistration registered{
    {"train", "search a task's design space with an agent; the run is a resumable directory", setup}};

}  // namespace

}  // namespace chipgym::cli

// chipgym compare: every agent on every seed of a task (runs/compare.cpp); prints the leaderboard.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "agents/agent.h"
#include "cli/common.h"
#include "runs/compare.h"

namespace chipgym::cli {

namespace {

struct CompareCommand {
  runs::CompareOptions compare;
  std::string task = "gemm-int8", task_file, agents, out;
  std::vector<std::string> hyper, init;
  double optimum = 0;
  CacheOptions cache;
};

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<CompareCommand>();
  cmd.add_option("--task", c->task, "benchmark task")->capture_default_str();
  cmd.add_option("--task-file", c->task_file, "a task as JSON instead of --task");
  std::string agent_names;
  for (const auto* a : agents::all_agents())
    if (a->make_searcher || a->make_learner) agent_names += (agent_names.empty() ? "" : ", ") + a->name;
  cmd.add_option("--agents", c->agents, "agents, comma-separated (e.g. random,sa,ga); the agents: " + agent_names)
      ->required();
  cmd.add_option("--seeds", c->compare.seeds, "seeds per agent (0 .. seeds-1)")->capture_default_str();
  cmd.add_option("--budget", c->compare.budget, "evaluations per run")->capture_default_str();
  cmd.add_option("--workers", c->compare.workers, "runs in flight at once")->capture_default_str();
  cmd.add_option("--out", c->out, "comparison directory (default: runs/compare-<task>-<time>); rerun to resume");
  cmd.add_option("--optimum", c->optimum, "the true optimum objective, when known (regret is measured against it)");
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval)");
  cmd.add_option("--hyper", c->hyper, "AGENT=JSON: hyper-parameters for that agent's runs, as train --hyper (repeatable)")
      ->allow_extra_args(false);
  cmd.add_option("--init", c->init,
                 "AGENT=RUN: that RL agent's runs start from the policy pretrained in RUN, as train --init; its zero-shot "
                 "design counts as the first evaluation (repeatable; several runs for one agent: their zero-shot "
                 "designs are its first evaluations and it fine-tunes the best)")
      ->allow_extra_args(false);
  add_workload_option(&cmd);
  return [c, &cmd]() -> int {
    auto& cmp = c->compare;
    cmp.task = load_task(c->task, c->task_file);
    apply_workload(cmp.task);
    std::stringstream ss(c->agents);
    for (std::string a; std::getline(ss, a, ',');)
      if (!a.empty()) cmp.agents.push_back(a);
    for (const auto& h : c->hyper) runs::parse_agent_hyper(h, cmp.hyper);
    for (const auto& i : c->init) runs::parse_agent_init(i, cmp.init);
    auto cache = open_cache(c->cache);
    auto pipeline = std::make_shared<evaluators::Pipeline>(cache);
    if (cmd.count("--optimum")) {
      cmp.optimum = c->optimum;
    } else if (auto truth = runs::cached_optimum(cmp.task, *pipeline, cache)) {
      cmp.optimum = (*truth)["optimum"].get<double>();
      std::cerr << "compare: regret against the recorded optimum " << *cmp.optimum << " (chipgym optimum)\n";
      cmp.true_front = runs::true_front(*truth);
    }
    cmp.out = c->out.empty() ? std::filesystem::path("runs") /
                                   ("compare-" + cmp.task.name + "-" +
                                    runs::default_run_dir("", "", 0).filename().string().substr(4))
                             : std::filesystem::path(c->out);
    cmp.pool = make_pool(pipeline, cmp.workers, cmd.count("--workers") > 0, "runs");
    auto r = runs::compare(cmp, pipeline, [](const std::string& line) { std::cerr << "compare: " << line << "\n"; });
    for (const auto& n : r.notices) std::cerr << "note: " << n << "\n";
    std::ifstream md(cmp.out / "leaderboard.md");
    std::cout << md.rdbuf() << "\nwritten: ";
    for (const auto& f : r.files) std::cout << f << " ";
    std::cout << "\n";
    return r.stopped.empty() ? 0 : kTrainingStopped;
  };
}

const CommandRegistration registered{
    {"compare", "every agent on every seed; leaderboard.md/.csv and a sample-efficiency plot", setup}};

}  // namespace

}  // namespace chipgym::cli

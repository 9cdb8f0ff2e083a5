// chipgym optimum: the ground truth of a task, every design of its search space evaluated once
// (an exhaustive run, resumable; the result is kept in the cache for compare's regret).
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "evaluators/sha256.h"
#include "runs/compare.h"

namespace chipgym::cli {

namespace {

struct OptimumCommand {
  std::string task = "gemm-int8-small", task_file, out;
  int workers = 1;
  bool as_json = false;
  CacheOptions cache;
};

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<OptimumCommand>();
  cmd.add_option("--task", c->task, "benchmark task")->capture_default_str();
  cmd.add_option("--task-file", c->task_file, "a task as JSON instead of --task");
  cmd.add_option("--workers", c->workers, "evaluations in flight at once")->capture_default_str();
  cmd.add_option("--out", c->out, "run directory of the exhaustive run (default: runs/optimum-<task>)");
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval)");
  cmd.add_flag("--json", c->as_json, "print JSON");
  add_workload_option(&cmd);
  return [c, &cmd]() -> int {
    auto task = load_task(c->task, c->task_file);
    apply_workload(task);
    auto cache = open_cache(c->cache);
    auto pipeline = std::make_shared<evaluators::Pipeline>(cache);
    // Under mpirun the designs go to the worker ranks (evaluators/mpi_pool.h); else threads.
    auto pool = make_pool(pipeline, c->workers, cmd.count("--workers") > 0, "evaluations");
    // Another workload is another truth: its default directory carries the task's content hash.
    const std::string tag =
        cmd.count("--workload") ? "-" + evaluators::sha256_hex(task.to_json().dump()).substr(0, 8) : std::string();
    auto out = c->out.empty() ? std::filesystem::path("runs") / ("optimum-" + task.name + tag) : std::filesystem::path(c->out);
    auto truth = runs::find_optimum(task, pipeline, cache, out, c->workers, [](const runs::Progress& p) {
      std::cerr << "optimum: " << p.evaluations << "/" << p.budget << " designs, best " << p.best_reward << "\n";
    }, pool);
    if (c->as_json) std::cout << truth.dump(2) << "\n";
    else std::cout << task.name << ": optimum " << truth["optimum"] << " over " << truth["designs"] << " designs at "
                   << truth["params"].dump() << "\n";
    return 0;
  };
}

const CommandRegistration registered{
    {"optimum", "ground truth: evaluate every design of a task's search space once (cached)", setup}};

}  // namespace

}  // namespace chipgym::cli

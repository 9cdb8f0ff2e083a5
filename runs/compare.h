// `chipgym compare`: every agent on every seed, each a run directory under the comparison's
// directory (so a killed comparison resumes), then leaderboard.md, leaderboard.csv and a
// sample-efficiency plot (best reward so far vs evaluations, one line per agent with a band
// over seeds, as SVG and PNG drawn by gnuplot), the hypervolume of each agent's Pareto fronts
// and a plot of them (pareto.svg / .png: each agent's seeds' fronts, united).
#pragma once
#include <map>

#include "runs/pareto.h"
#include "runs/train.h"

namespace chipgym::runs {

struct CompareOptions {
  env::Task task;
  std::vector<std::string> agents;
  int seeds = 5;
  long long budget = 100;
  int workers = 2;                  // runs in flight at once (each evaluates one design at a time)
  std::filesystem::path out;
  std::optional<double> optimum;    // the true optimum when known (regret is reported against it)
  // The Pareto front of the whole space when known (an exhaustive run: true_front below); the
  // hypervolume regret is reported against it.
  std::optional<std::vector<FrontPoint>> true_front;
  // Per-agent hyper-parameters (--hyper AGENT=JSON), written into the config of that agent's
  // runs as `train --hyper` does. Recorded in compare.json: a rerun that resumes the
  // comparison with other hyper-parameters for an agent is refused.
  std::map<std::string, json> hyper;
  // Per-RL-agent pretrained start (--init AGENT=RUN): that agent's runs start from RUN's last
  // checkpoint, as `train --init`. The zero-shot design (the pretrained policy's greedy choice)
  // is a real evaluation, so it counts as the run's first: the run trains on budget - 1 more,
  // and every agent is compared at the same number of real evaluations. Several runs for one
  // agent: their zero-shot designs are its first evaluations and it trains on budget - K.
  // Recorded in compare.json like the hyper-parameters.
  std::map<std::string, std::vector<std::filesystem::path>> init;
  // Where the runs' evaluations go (shared by the runs in flight); null: each run's own thread.
  std::shared_ptr<evaluators::EvalPool> pool;
};

// Parses one `--hyper AGENT=JSON` into `hyper` (a repeated agent is refused).
void parse_agent_hyper(const std::string& text, std::map<std::string, json>& hyper);
// Parses one `--init AGENT=RUN` into `init`, after the agent's earlier ones (the same run twice
// or an empty run is refused).
void parse_agent_init(const std::string& text, std::map<std::string, std::vector<std::filesystem::path>>& init);

struct AgentRow {
  std::string agent;
  int runs = 0;
  double mean = 0, stddev = 0, ci95 = 0;  // of the best reward, over seeds
  std::optional<double> evals_to_95, evals_to_99;  // mean over the seeds that got there
  int reached_95 = 0, reached_99 = 0;
  double regret = 0;                // reference - mean
  double wall_seconds = 0;          // mean per run
  // The hypervolume of each run's Pareto front (runs/pareto.h; normalised over every run of
  // the comparison), mean and 95% interval over seeds.
  double hypervolume = 0, hypervolume_ci95 = 0;
  std::optional<double> hypervolume_regret;  // the true front's hypervolume - the mean (same interval)
};

struct CompareResult {
  std::vector<AgentRow> rows;
  double reference = 0;             // the optimum, or the best reward any run found
  bool reference_is_optimum = false;
  std::vector<std::string> files;   // written
  std::vector<std::string> notices;
  std::vector<std::string> stopped; // runs that stopped on a non-finite loss (counted as far as they got)
};

CompareResult compare(const CompareOptions& options, std::shared_ptr<evaluators::Pipeline> pipeline,
                      const std::function<void(const std::string&)>& on_progress = {});

// Ground truth: an exhaustive (grid) run over the task's whole search space, in the run
// directory `out` (resumable), whose best reward and design are then kept in the cache under
// the task's content hash, so it is found once. Returns {"optimum", "params", "designs", "run",
// "front"} (front: the exhaustive set's Pareto front, runs/pareto.h). `pool`: where the
// evaluations run (null: `workers` threads over the pipeline).
json find_optimum(const env::Task& task, std::shared_ptr<evaluators::Pipeline> pipeline,
                  std::shared_ptr<evaluators::Cache> cache, const std::filesystem::path& out, int workers,
                  const std::function<void(const Progress&)>& on_progress = {},
                  std::shared_ptr<evaluators::EvalPool> pool = nullptr);
// The Pareto front of an exhaustive run's truth (find_optimum): its "front", or, for a truth
// recorded before fronts were, the front of its run directory's events; none if neither is there.
std::optional<std::vector<FrontPoint>> true_front(const json& truth);
// The recorded ground truth of a task, if an exhaustive run was made (with these tools).
std::optional<json> cached_optimum(const env::Task& task, const evaluators::Pipeline& pipeline,
                                   std::shared_ptr<evaluators::Cache> cache);

// Two-sided 95% Student t quantile for n - 1 degrees of freedom (n >= 2).
double t95(int n);

}  // namespace chipgym::runs

// `chipgym train`: an agent searches a task's design space; every evaluation is an event in
// the run directory, and a run killed at any point resumes to the same result.
#pragma once
#include <functional>
#include <memory>

#include "env/env.h"
#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/pool.h"
#include "runs/recorder.h"

namespace chipgym::runs {

struct TrainOptions {
  env::Task task;
  std::string agent;
  json hyper = json::object();   // agent hyper-parameters (unknown names are refused)
  long long budget = 100;        // evaluations
  bool budget_given = true;      // false on --resume without --budget: the recorded budget
  long long seed = 1;            // >= 0
  int workers = 1;               // evaluations in flight at once
  std::filesystem::path out;     // the run directory
  bool resume = false;
  bool force = false;
  std::string fidelity;          // empty: the task's
  // Where the evaluations of a batch run (evaluators/pool.h); null: --workers threads over the
  // pipeline. An MPI pool spreads them over worker ranks; the batches are the same either way.
  std::shared_ptr<evaluators::EvalPool> pool;
  // RL agents: start from the networks of another run's last checkpoint (a policy pretrained on
  // other workloads) instead of random ones. The run must be of the same agent, task family
  // and observation layout; its greedy design for this task (the zero-shot answer) is
  // evaluated once and recorded in config.json's "init", outside the budget. Several runs:
  // each one's zero-shot design is evaluated (all recorded in "init"'s "candidates", in this
  // order) and fine-tuning starts from the policy whose design was best.
  std::vector<std::filesystem::path> init;
};

struct TrainResult {
  json summary;
  std::vector<std::string> notices;  // e.g. "skipped 1 torn line of events.jsonl"
};

// Throws hdl::ParamError for bad options (unknown agent, budget < 1, negative seed, an
// existing directory without --resume/--force, a resume whose config does not match).
TrainResult train(const TrainOptions& options, std::shared_ptr<evaluators::Pipeline> pipeline,
                  const std::function<void(const Progress&)>& on_progress = {});

// RL agents (ppo, dqn, ippo, mappo; runs/train_rl.cpp): train() hands them to train_rl.
// Their runs keep checkpoints/ (the last three) and updates.jsonl (one line per update);
// a resume starts from the last checkpoint, and its budget cannot change.
TrainResult train_rl(const TrainOptions& options, std::shared_ptr<evaluators::Pipeline> pipeline,
                     const std::function<void(const Progress&)>& on_progress = {});
// An RL agent's hyper-parameters: design-search defaults, then the user's; checked.
json rl_hyper(const std::string& agent, const json& user);
// The design the saved policy of an RL run picks, acting greedily:
// {"params", "design", "source"}. Throws hdl::ParamError for a black-box run or a run
// without a (readable) checkpoint.
json policy_choice(const std::filesystem::path& run, std::shared_ptr<evaluators::Pipeline> pipeline);
// Shared by train() and train_rl():
// the recorded run's task, agent, hyper-parameters, seed, workers and fidelity (its
// config.json) into `o` (an --agent that differs is refused); returns the recorded budget.
long long adopt_recorded_run(TrainOptions& o, const json& config);
// config.json of a run, the fields black-box and RL runs share: task, agent, hyper-parameters,
// seed, budget, workers, the environment (with the fidelity in force), the design space and
// parameter names of `design_env`, tool versions, and how the run was launched (launch:
// {mpi, ranks, hosts}, of o.pool).
json run_config(const TrainOptions& o, const json& hyper, const env::EnvConfig& env_config, const env::Env& design_env,
                const evaluators::Pipeline& pipeline);

// The default run directory: runs/<task>-<agent>-<seed>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const std::string& task, const std::string& agent, long long seed);

}  // namespace chipgym::runs

// The gym-like environment over a task: reset(seed), step(action) -> observation, reward,
// terminated, truncated, info. Two formulations:
//   absolute     one-step episodes; the action (MultiDiscrete) picks a value index for every
//                searched parameter at once.
//   incremental  multi-step episodes of edits from the baseline design (the family defaults,
//                snapped to the searched values); the action (Discrete) is one of
//                0 keep, 1 + 2i / 2 + 2i: parameter i one value down / up, then transactional
//                moves "one value from parameter i to parameter j" for every ordered pair of
//                numeric parameters (i down, j up: the summed index, the budget, is kept).
//                An edit that would leave a parameter's range keeps the design and is
//                reported in info["invalid_move"].
// Observation (Box): the normalized value index of every searched parameter in [0, 1]; then,
// for a task whose workload is a list of GEMM shapes, the workload's features
// (workload_features(), each in [0, 1]: constant within an episode, they tell a policy trained
// across workloads which one it designs for); then the last metrics: correct,
// log10(1 + cycles), log10(1 + transistors), max(reward, -3)/100 + 1 (so a penalty is below
// 1), each in [0, 10]. Env::observation_names() names every entry, `chipgym tasks` prints them.
//
// Across workloads: a task with `workloads` (Task::workloads, `train --workloads`) holds several;
// reset(seed) draws one for the episode from the seed and the environment's episode count
// (splitmix64, so every episode of every environment can see another), the observation carries
// its features, every evaluation is of it (info["workload"] is its index), and the in-memory
// results are kept per (workload, design). evaluate(), job() and verify() evaluate on the
// current one: the task's `workload` until the first reset.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "env/spaces.h"
#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/pool.h"

namespace chipgym::env {

// Features of a task workload of GEMM shapes ({"shapes": [[M, K, N, count], ...]}), every one
// in [0, 1], named by workload_feature_names(): log10(1 + total MACs) / 12, log10(1 + GEMMs
// counted with their multiplicity) / 6, the MAC-weighted mean of log2(1 + intensity) / 8
// (intensity: MACs per byte of minimum traffic, LayerGemm::intensity()), and for each of M,
// K and N a MAC-weighted histogram of log2 of the dimension over 7 bins ([0, 2), [2, 4), ...,
// [10, 12), [12, inf)). Empty for any other workload (the quantized operators', SHA-256's).
// Throws hdl::ParamError for malformed shapes, as the gemm families do.
std::vector<double> workload_features(const json& task_workload);
const std::vector<std::string>& workload_feature_names();
// Entries of the metrics block at the end of every observation.
constexpr std::size_t kMetricObservations = 4;

struct EnvConfig {
  std::string formulation = "absolute";  // absolute | incremental
  int max_steps = 16;                    // incremental: episode length before truncation
  std::string fidelity;                  // empty: the task's
  json to_json() const { return {{"formulation", formulation}, {"max_steps", max_steps}, {"fidelity", fidelity}}; }
};

struct StepResult {
  std::vector<double> observation;
  double reward = 0;
  bool terminated = false;
  bool truncated = false;
  json info;  // metrics (without per-stage details), score, params, design, cache_hit, error
};

// One design evaluated and rewarded: the reward is the task's objective of the metrics
// (Task::reward), computed here and nowhere else (Env::evaluate).
struct Evaluation {
  evaluators::Metrics metrics;
  double reward = 0;
};

// Reads a snapshot of Env or MultiAgentEnv ({"state", "steps", "episode_over"}) into the three
// fields, all or none; throws hdl::ParamError for a malformed snapshot or a design outside
// `design_space`.
void read_snapshot(const json& s, const Space& design_space, std::vector<long long>& state, int& steps, bool& over);

class Env {
 public:
  Env(Task task, EnvConfig config, std::shared_ptr<evaluators::Pipeline> pipeline);

  const Space& action_space() const { return action_space_; }
  const Space& observation_space() const { return observation_space_; }
  const Task& task() const { return task_; }
  const EnvConfig& config() const { return config_; }
  // The absolute encoding: one value index per searched parameter.
  const Space& design_space() const { return design_space_; }
  const std::vector<std::string>& param_names() const { return names_; }
  // One name per observation entry: "param:NAME", "workload:FEATURE", "metric:NAME".
  std::vector<std::string> observation_names() const;

  std::vector<double> reset(std::uint64_t seed);
  // A new episode on the current workload (reset() draws the workload, then does this): how a
  // MultiAgentEnv restarts its joint environment at every step.
  std::vector<double> restart();
  // The workloads the environment draws from (1 without Task::workloads) and the current one.
  std::size_t workloads() const { return variant_obs_.size(); }
  std::size_t workload() const { return variant_; }
  // Throws hdl::ParamError when the action is not in action_space().
  StepResult step(const std::vector<long long>& action);

  hdl::Params decode(const std::vector<long long>& indices) const;  // not validated
  std::vector<long long> encode(const hdl::Params& params) const;   // nearest searched values
  // The actions that would change the design legally now (incremental: edits that stay in
  // range; absolute: every choice), one flag per choice of every action dimension, in order.
  std::vector<char> action_mask() const;
  // Where the episode stands (design, step count, whether it is over), to checkpoint a
  // learner with its environments; restore() takes what snapshot() gave.
  json snapshot() const {
    return {{"state", state_}, {"steps", steps_}, {"episode_over", episode_over_}, {"workload", variant_}, {"episodes", episodes_}};
  }
  void restore(const json& s);
  // Evaluates one design of the absolute encoding and rewards it: the one place a reward is
  // computed (step() returns this reward, and so does every evaluation a run records).
  // Thread-safe: the pipeline is shared.
  Evaluation evaluate(const std::vector<long long>& indices) const;
  // The same in two halves, for a pool that evaluates elsewhere: the job of a design, and the
  // Evaluation of its metrics (the reward of evaluate()).
  evaluators::EvalJob job(const std::vector<long long>& indices) const;
  Evaluation rewarded(evaluators::Metrics metrics) const;
  // The design at fidelity rtl, iCE40 included, whatever the env's fidelity: the check of a
  // run's best design before it is exported (cached like every evaluation); through `pool`
  // when given (an MPI worker rank simulates it), else on this process's pipeline.
  Evaluation verify(const std::vector<long long>& indices, evaluators::EvalPool* pool = nullptr) const;
  // For a VectorEnv whose designs are evaluated elsewhere (an evaluation pool): the design the
  // next step(action) evaluates (incremental: the current one when the move is invalid);
  // whether this environment's results already hold a design; and a result handed in, which
  // the next step that reaches the design takes instead of evaluating (then kept as step()
  // keeps its own). Shared by copies, like the results.
  std::vector<long long> destination(const std::vector<long long>& action) const;
  bool remembers(const std::vector<long long>& indices) const;
  void supply(const std::vector<long long>& indices, evaluators::Metrics metrics) const;

 private:
  std::vector<double> observe(const std::vector<long long>& indices, const evaluators::Metrics* m, double reward) const;
  StepResult result_for(const std::vector<long long>& indices, bool terminated, bool truncated);

  // Results of this environment's designs, kept in memory (shared by copies, e.g. the
  // environments of a VectorEnv): a step that repeats a design costs a map look-up instead
  // of hashing, SQLite and JSON parsing. Failures that are not the design's are not kept.
  struct Outcome {
    double reward = 0;
    std::vector<double> metrics_observation;
    json info;
  };
  struct Memo {
    std::mutex mu;
    std::map<std::vector<long long>, std::shared_ptr<const Outcome>> outcomes;
    std::map<std::vector<long long>, std::shared_ptr<const Outcome>> supplied;  // taken once, by supply()
  };
  // The memo's key of a design: its indices and the current workload.
  std::vector<long long> key(const std::vector<long long>& indices) const;
  const json& current_workload() const { return task_.workloads.empty() ? task_.workload : task_.workloads[variant_]; }
  std::shared_ptr<const Outcome> outcome(const std::vector<long long>& indices);
  std::shared_ptr<const Outcome> make_outcome(const std::vector<long long>& indices, const Evaluation& e) const;
  void keep(const std::vector<long long>& indices, const Outcome& o) const;
  // An incremental edit applied to the current design: {the design, whether the move is legal}.
  std::pair<std::vector<long long>, bool> edited(long long action) const;
  std::shared_ptr<Memo> memo_ = std::make_shared<Memo>();

  Task task_;
  EnvConfig config_;
  std::shared_ptr<evaluators::Pipeline> pipeline_;
  evaluators::EvalOptions options_;
  std::vector<std::string> names_;
  std::vector<std::vector<hdl::Value>> values_;
  std::vector<std::size_t> numeric_;  // indices of numeric parameters (transactional moves)
  std::vector<std::pair<std::size_t, std::size_t>> transfers_;
  Space design_space_ = Space::discrete(1);
  Space action_space_ = Space::discrete(1);
  Space observation_space_ = Space::discrete(1);
  // workload_features() of each workload drawn from (Task::workloads, or the workload).
  std::vector<std::vector<double>> variant_obs_;
  std::size_t variant_ = 0;                     // the current one
  long long episodes_ = 0;                      // resets so far (the draw of the next workload)
  std::vector<long long> state_;
  int steps_ = 0;
  bool episode_over_ = true;
};

}  // namespace chipgym::env

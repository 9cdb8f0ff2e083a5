// N copies of an environment stepped together; their evaluations run concurrently on
// `workers` threads. VectorEnv steps Envs (one agent), MultiAgentVectorEnv steps
// MultiAgentEnvs (a map from agent name to action); the RL runs learn through either
// (runs/train_rl.cpp adapts them to agents/rl.h's VecEnv).
//
// Autoreset, the one rule (Gymnasium's "same step" autoreset, as in its vector environments
// before 1.0): when step() ends the episode of environment i (terminated or truncated), that
// environment is reset at once, with seed + i, and its result carries the first observation
// of the new episode; the last observation of the ended episode is kept in the result's
// info["final_observation"] (by agent for a MultiAgentVectorEnv). So every step() takes one
// action per environment and evaluates each of them; no step is spent on a reset.
#pragma once
#include "env/env.h"
#include "env/multi_agent_env.h"

namespace chipgym::env {

// What one environment of kind E takes and gives.
template <class E>
struct VectorTraits;
template <>
struct VectorTraits<Env> {
  using Action = std::vector<long long>;
  using Observation = std::vector<double>;
  using Result = StepResult;
};
template <>
struct VectorTraits<MultiAgentEnv> {
  using Action = std::map<std::string, std::vector<long long>>;  // agent -> its action
  using Observation = std::map<std::string, std::vector<double>>;
  using Result = MultiStepResult;
};

template <class E>
class BasicVectorEnv {
 public:
  using Action = typename VectorTraits<E>::Action;
  using Observation = typename VectorTraits<E>::Observation;
  using Result = typename VectorTraits<E>::Result;

  // The copies share the prototype's in-memory results (see Env). With a `pool`, each step
  // first sends the designs the environments will reach and whose results are not in memory
  // (each once, in environment order) to the pool as one batch (MPI worker ranks, or threads),
  // hands the results in, then steps the environments on this thread; the results are the same
  // as those of `workers` threads.
  BasicVectorEnv(const Task& task, const EnvConfig& config, int num_envs, int workers,
                 std::shared_ptr<evaluators::Pipeline> pipeline, std::shared_ptr<evaluators::EvalPool> pool = nullptr);
  std::size_t size() const { return envs_.size(); }
  const E& at(std::size_t i) const { return envs_.at(i); }
  // Environment i is reset with seed + i.
  std::vector<Observation> reset(std::uint64_t seed);
  // One action per environment, in environment order; results in the same order. Throws
  // hdl::ParamError when the count is wrong or an action is outside its space (before
  // anything is evaluated).
  std::vector<Result> step(const std::vector<Action>& actions);
  // Where every environment stands, and the seed, to checkpoint a learner with its
  // environments: {"envs": [snapshot of each], "seed"}; restore() takes what snapshot() gave.
  json snapshot() const;
  void restore(const json& s);

 private:
  void evaluate_ahead(const std::vector<Action>& actions);
  std::vector<E> envs_;
  std::uint64_t seed_ = 0;
  int workers_;
  std::shared_ptr<evaluators::EvalPool> pool_;
};

using VectorEnv = BasicVectorEnv<Env>;
using MultiAgentVectorEnv = BasicVectorEnv<MultiAgentEnv>;
extern template class BasicVectorEnv<Env>;
extern template class BasicVectorEnv<MultiAgentEnv>;

}  // namespace chipgym::env

// Multi-agent environment, parallel style: the searched parameters are partitioned among
// named agents (for gemm-int8: compute, memory, dataflow); all agents act at once through a
// map from agent name to action; one team reward; each agent observes its own parameters
// (normalized), then either what all agents share (the workload's features and the metrics)
// or, when the task declares it ("observes" in Task::agents), its subsystem's view: the
// entries of the joint observation it selects by name, in the joint observation's order.
//   absolute     one-step episodes; agent a's action (MultiDiscrete) picks its parameters.
//   incremental  multi-step episodes from the baseline; agent a's action (Discrete) is
//                0 keep, 1 + 2i / 2 + 2i: its parameter i one value down / up.
#pragma once
#include <map>

#include "env/env.h"

namespace chipgym::env {

struct MultiStepResult {
  std::map<std::string, std::vector<double>> observations;
  std::map<std::string, double> rewards;  // the team reward, for every agent
  bool terminated = false;
  bool truncated = false;
  json info;
};

class MultiAgentEnv {
 public:
  // groups: agent -> its parameters; empty: the task's "agents" (see Task::agent_groups).
  // Every searched parameter must belong to exactly one agent.
  MultiAgentEnv(const Task& task, const EnvConfig& config, std::shared_ptr<evaluators::Pipeline> pipeline,
                std::map<std::string, std::vector<std::string>> groups = {});

  const std::vector<std::string>& agents() const { return agents_; }
  const Space& action_space(const std::string& agent) const;
  const Space& observation_space(const std::string& agent) const;
  // One name per entry of the agent's observation (Env::observation_names()'s names).
  std::vector<std::string> observation_names(const std::string& agent) const;
  std::map<std::string, std::vector<double>> reset(std::uint64_t seed);
  // Throws hdl::ParamError when an agent's action is missing, unknown or out of its space.
  MultiStepResult step(const std::map<std::string, std::vector<long long>>& actions);
  // What step() checks of the actions, without stepping (throws the same errors).
  void check_actions(const std::map<std::string, std::vector<long long>>& actions) const;
  // Agent's legal choices now (see Env::action_mask), one flag per choice of every dimension.
  std::vector<char> action_mask(const std::string& agent) const;
  // Where the episode stands, to checkpoint a learner with its environments.
  // ("joint": the joint environment's, which holds the episode's workload.)
  json snapshot() const {
    return {{"state", state_}, {"steps", steps_}, {"episode_over", episode_over_}, {"joint", inner_.snapshot()}};
  }
  void restore(const json& s);
  // The joint (absolute) environment underneath, e.g. to decode a joint design.
  const Env& joint() const { return inner_; }
  // The joint design the next step(actions) evaluates (see Env::destination).
  std::vector<long long> destination(const std::map<std::string, std::vector<long long>>& actions) const {
    return moved(actions).first;
  }

 private:
  // The agents' actions applied to the current joint design: {the design, whether every move was legal}.
  std::pair<std::vector<long long>, bool> moved(const std::map<std::string, std::vector<long long>>& actions) const;
  std::map<std::string, std::vector<double>> observe(const std::vector<double>& joint_observation) const;
  Env inner_;  // absolute: evaluates joint designs (and keeps their results in memory)
  EnvConfig config_;
  std::vector<std::string> agents_;
  std::map<std::string, std::vector<std::size_t>> dims_;  // agent -> joint dimensions
  std::map<std::string, std::vector<std::size_t>> view_;  // agent -> the joint observation's entries it sees
  std::map<std::string, Space> action_spaces_, observation_spaces_;
  std::vector<long long> state_;
  int steps_ = 0;
  bool episode_over_ = true;
};

}  // namespace chipgym::env

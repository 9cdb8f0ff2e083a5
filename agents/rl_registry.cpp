// The RL algorithms' hyper-parameter tables, and the learner factory over the agent registry
// (the algorithms register themselves in agents/ppo.cpp and agents/dqn.cpp). No libtorch here
// (see agents/rl.h).
#include "agents/agent.h"
#include "agents/rl_config.h"

namespace chipgym::agents::rl {

namespace {
constexpr double kInf = 1e308;
}

const std::vector<Field<PpoConfig>>& ppo_fields() {
  using C = PpoConfig;
  static const std::vector<Field<C>> fields = {
      {"learning_rate", &C::learning_rate, 0, 10},
      {"num_envs", &C::num_envs, 1, 4096},
      {"num_steps", &C::num_steps, 1, 1e6},
      {"anneal_lr", &C::anneal_lr},
      {"gamma", &C::gamma, 0, 1},
      {"gae_lambda", &C::gae_lambda, 0, 1},
      {"num_minibatches", &C::num_minibatches, 1, 1e6},
      {"update_epochs", &C::update_epochs, 1, 1000},
      {"norm_adv", &C::norm_adv},
      {"clip_coef", &C::clip_coef, 0, 10},
      {"clip_vloss", &C::clip_vloss},
      {"ent_coef", &C::ent_coef, 0, 10},
      {"vf_coef", &C::vf_coef, 0, 100},
      {"max_grad_norm", &C::max_grad_norm, 0, kInf},
      {"target_kl", &C::target_kl, 0, kInf},
      {"hidden", &C::hidden, 1, 4096},
      {"formulation", &C::formulation, std::vector<std::string>{"absolute", "incremental"}},
      {"episode_steps", &C::episode_steps, 1, 10000},
  };
  return fields;
}

const std::vector<Field<DqnConfig>>& dqn_fields() {
  using C = DqnConfig;
  static const std::vector<Field<C>> fields = {
      {"learning_rate", &C::learning_rate, 0, 10},
      {"num_envs", &C::num_envs, 1, 4096},
      {"buffer_size", &C::buffer_size, 1, 1e8},
      {"gamma", &C::gamma, 0, 1},
      {"tau", &C::tau, 0, 1},
      {"target_network_frequency", &C::target_network_frequency, 1, 1e9},
      {"batch_size", &C::batch_size, 1, 1e6},
      {"start_e", &C::start_e, 0, 1},
      {"end_e", &C::end_e, 0, 1},
      {"exploration_fraction", &C::exploration_fraction, 0, 1},
      {"learning_starts", &C::learning_starts, 0, 1e12},
      {"train_frequency", &C::train_frequency, 1, 1e9},
      {"double_dqn", &C::double_dqn},
      {"max_grad_norm", &C::max_grad_norm, 0, kInf},
      {"hidden", &C::hidden, 1, 4096},
      {"formulation", &C::formulation, std::vector<std::string>{"absolute", "incremental"}},
      {"episode_steps", &C::episode_steps, 1, 10000},
  };
  return fields;
}

std::vector<const Agent*> algorithms() {
  std::vector<const Agent*> out;
  for (const Agent* a : all_agents())
    if (a->kind == AgentKind::rl) out.push_back(a);
  return out;
}

const Agent* find_algorithm(const std::string& name) {
  const Agent* a = find_agent(name);
  return a && a->kind == AgentKind::rl ? a : nullptr;
}

namespace {
const Agent& rl_agent(const std::string& name) {
  return Registry<Agent>::instance().get(name, "RL algorithm", [](const Agent& a) { return a.kind == AgentKind::rl; });
}
}  // namespace

json resolve_hyper(const std::string& algorithm, const json& hyper) { return rl_agent(algorithm).resolve_hyper(hyper); }

std::unique_ptr<Learner> make_learner(const std::string& algorithm, VecEnv& env, std::uint64_t seed, const json& hyper) {
  const Agent& a = rl_agent(algorithm);
  const json resolved = a.resolve_hyper(hyper);
  if (!a.multi_agent && env.num_agents() != 1)
    throw std::invalid_argument(algorithm + " is a single-agent algorithm, and the environment has " +
                                std::to_string(env.num_agents()) + " agents: use ippo or mappo");
  return a.make_learner(env, seed, resolved);
}

}  // namespace chipgym::agents::rl

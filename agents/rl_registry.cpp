// The RL algorithms by name, their hyper-parameter tables, and the learner factory.
// No libtorch here (see agents/rl.h).
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

const std::vector<AlgorithmInfo>& algorithms() {
  static const std::vector<AlgorithmInfo> all = {
      {"ppo", "proximal policy optimization (clipped surrogate, GAE), one policy over every parameter",
       fields_to_json(PpoConfig{}, ppo_fields()), false},
      {"dqn", "deep Q-learning with replay and a target network (double DQN as an option), one Q head per parameter",
       fields_to_json(DqnConfig{}, dqn_fields()), false},
      {"ippo", "independent PPO: one actor and one critic per agent group, one team reward",
       fields_to_json(PpoConfig{}, ppo_fields()), true},
      {"mappo", "multi-agent PPO: one actor per agent group, one centralized critic over the joint observation",
       fields_to_json(PpoConfig{}, ppo_fields()), true},
  };
  return all;
}

const AlgorithmInfo* find_algorithm(const std::string& name) {
  for (const auto& a : algorithms())
    if (a.name == name) return &a;
  return nullptr;
}

json resolve_hyper(const std::string& algorithm, const json& hyper) {
  if (!find_algorithm(algorithm)) {
    std::string known;
    for (const auto& a : algorithms()) known += (known.empty() ? "" : ", ") + a.name;
    throw std::invalid_argument("unknown RL algorithm '" + algorithm + "'; known: " + known);
  }
  if (algorithm == "dqn") {
    DqnConfig c = fields_from_json(hyper, dqn_fields(), "dqn");
    if (c.end_e > c.start_e) throw std::invalid_argument("dqn end_e must not exceed start_e");
    return fields_to_json(c, dqn_fields());
  }
  return fields_to_json(fields_from_json(hyper, ppo_fields(), algorithm), ppo_fields());
}

std::unique_ptr<Learner> make_learner(const std::string& algorithm, VecEnv& env, std::uint64_t seed, const json& hyper) {
  const json resolved = resolve_hyper(algorithm, hyper);
  if (find_algorithm(algorithm)->multi_agent == false && env.num_agents() != 1)
    throw std::invalid_argument(algorithm + " is a single-agent algorithm, and the environment has " +
                                std::to_string(env.num_agents()) + " agents: use ippo or mappo");
  if (algorithm == "dqn") return make_dqn(env, seed, fields_from_json(resolved, dqn_fields(), "dqn"));
  return make_ppo(algorithm, env, seed, fields_from_json(resolved, ppo_fields(), algorithm));
}

}  // namespace chipgym::agents::rl

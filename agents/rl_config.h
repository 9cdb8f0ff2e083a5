// Hyper-parameters of the RL algorithms: one struct each, with CleanRL's defaults, and a
// field table that turns them into JSON (config.json) and back, refusing unknown names.
// No libtorch here.
#pragma once
#include <limits>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "agents/rl.h"

namespace chipgym::agents::rl {

template <class C>
struct Field {
  using Member = std::variant<double C::*, long long C::*, bool C::*, std::string C::*>;
  Field(const char* n, Member m) : name(n), member(m) {}
  Field(const char* n, Member m, double low, double high) : name(n), member(m), lo(low), hi(high) {}
  Field(const char* n, Member m, std::vector<std::string> options) : name(n), member(m), choices(std::move(options)) {}
  const char* name;
  Member member;
  double lo = -1e308, hi = 1e308;
  std::vector<std::string> choices;  // for strings
};

// PPO (clipped surrogate, GAE, value clipping, entropy bonus), after CleanRL's ppo.py.
// mode: ppo (one agent), ippo (one actor and one critic per agent, team reward), mappo
// (one actor per agent, one centralized critic over the joint observation).
struct PpoConfig {
  double learning_rate = 2.5e-4;
  long long num_envs = 4;         // environments stepped together
  long long num_steps = 128;      // steps per environment per rollout
  bool anneal_lr = true;          // linear decay to 0 over the run's updates
  double gamma = 0.99;
  double gae_lambda = 0.95;
  long long num_minibatches = 4;
  long long update_epochs = 4;
  bool norm_adv = true;           // advantages normalized per minibatch
  double clip_coef = 0.2;
  bool clip_vloss = true;
  double ent_coef = 0.01;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;     // per network (each actor, each critic)
  double target_kl = 0;           // 0: no early stop on KL
  long long hidden = 64;          // units per hidden layer (tanh), two layers
  // Environment of a hardware task (ignored by other environments).
  std::string formulation = "absolute";  // absolute | incremental
  long long episode_steps = 16;          // incremental: steps per episode
};

// DQN with a replay buffer, a target network and a linear epsilon schedule, after CleanRL's
// dqn.py; double DQN as an option. A MultiDiscrete action gets one Q head per dimension
// (action branching): the target of every branch is r + gamma * mean over branches of the
// next state's max Q.
struct DqnConfig {
  double learning_rate = 2.5e-4;
  long long num_envs = 1;
  long long buffer_size = 10000;
  double gamma = 0.99;
  double tau = 1.0;                       // target update rate (1: hard copy)
  long long target_network_frequency = 500;  // steps between target updates
  long long batch_size = 128;
  double start_e = 1.0;
  double end_e = 0.05;
  double exploration_fraction = 0.5;      // of the total steps, to go from start_e to end_e
  long long learning_starts = 10000;      // steps before the first update
  long long train_frequency = 10;         // steps between updates
  bool double_dqn = false;
  double max_grad_norm = 10;              // 0: no clipping
  long long hidden = 64;
  std::string formulation = "absolute";
  long long episode_steps = 16;
};

const std::vector<Field<PpoConfig>>& ppo_fields();
const std::vector<Field<DqnConfig>>& dqn_fields();

template <class C>
json fields_to_json(const C& c, const std::vector<Field<C>>& fields) {
  json j = json::object();
  for (const auto& f : fields)
    std::visit([&](auto member) { j[f.name] = c.*member; }, f.member);
  return j;
}

inline std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// Unknown names, wrong types and values out of range throw std::invalid_argument.
template <class C>
C fields_from_json(const json& j, const std::vector<Field<C>>& fields, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + " hyper-parameters must be a JSON object");
  C c;
  std::string valid;
  for (const auto& f : fields) valid += (valid.empty() ? "" : ", ") + std::string(f.name);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Field<C>* field = nullptr;
    for (const auto& f : fields)
      if (it.key() == f.name) field = &f;
    if (!field) throw std::invalid_argument("unknown " + what + " hyper-parameter '" + it.key() + "'; valid: " + valid);
    const json& v = it.value();
    const std::string name = field->name;
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(c.*member)>;
          if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) throw std::invalid_argument(what + " " + name + " must be true or false, not " + v.dump());
            c.*member = v.get<bool>();
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!v.is_string()) throw std::invalid_argument(what + " " + name + " must be a string, not " + v.dump());
            std::string s = v.get<std::string>(), options;
            bool ok = field->choices.empty();
            for (const auto& choice : field->choices) {
              ok = ok || choice == s;
              options += (options.empty() ? "" : ", ") + choice;
            }
            if (!ok) throw std::invalid_argument(what + " " + name + " = '" + s + "'; choose " + options);
            c.*member = s;
          } else {
            if (!v.is_number() || (std::is_same_v<T, long long> && !v.is_number_integer()))
              throw std::invalid_argument(what + " " + name + " must be " +
                                          (std::is_same_v<T, long long> ? "an integer" : "a number") + ", not " + v.dump());
            const double x = v.get<double>();
            if (!(x >= field->lo && x <= field->hi))
              throw std::invalid_argument(what + " " + name + " = " + v.dump() + " is outside [" + number(field->lo) + ", " +
                                          number(field->hi) + "]");
            c.*member = v.get<T>();
          }
        },
        field->member);
  }
  return c;
}

// Built in agents/ppo.cpp and agents/dqn.cpp (the libtorch translation units).
std::unique_ptr<Learner> make_ppo(const std::string& mode, VecEnv& env, std::uint64_t seed, const PpoConfig& config);
std::unique_ptr<Learner> make_dqn(VecEnv& env, std::uint64_t seed, const DqnConfig& config);

}  // namespace chipgym::agents::rl

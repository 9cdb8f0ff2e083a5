// Reinforcement-learning agents on libtorch: PPO, DQN, independent PPO (IPPO) and MAPPO.
//
// This header has no libtorch in it: only agents/ppo.cpp and agents/dqn.cpp include torch
// (its headers cost about 20 s per translation unit), and everything else talks to the
// learners through this interface.
//
// One environment interface serves every algorithm: a batch of environments stepped
// together, each with one or more agents acting in parallel and one team reward. Single-agent
// PPO and DQN see one agent; IPPO and MAPPO see several. Environments reset themselves when an
// episode ends, and the observation they return is then the first of the new episode (the
// autoreset of env/vector_env.h, Gymnasium's "same step").
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace chipgym::agents {
struct Agent;  // agents/agent.h
}

namespace chipgym::agents::rl {

using json = nlohmann::json;
using Obs = std::vector<float>;
using Action = std::vector<long long>;  // one choice per action dimension

class VecEnv {
 public:
  virtual ~VecEnv() = default;
  virtual int num_envs() const = 0;
  virtual int num_agents() const = 0;
  virtual std::string agent_name(int agent) const = 0;
  virtual int obs_dim(int agent) const = 0;
  // Choices per action dimension of the agent (a Discrete action is one dimension).
  virtual std::vector<long long> nvec(int agent) const = 0;
  // obs[agent][env]
  virtual std::vector<std::vector<Obs>> reset(std::uint64_t seed) = 0;
  struct Step {
    std::vector<std::vector<Obs>> obs;  // [agent][env], after autoreset
    std::vector<double> reward;         // team reward, [env]
    std::vector<char> done;             // terminated or truncated, [env]
  };
  // actions[agent][env]
  virtual Step step(const std::vector<std::vector<Action>>& actions) = 0;
  // Legal choices now, [agent][env][choice over all dimensions]; empty: all are legal.
  virtual std::vector<std::vector<std::vector<char>>> masks() const { return {}; }
  // Everything needed to continue exactly where the environments stand.
  virtual json snapshot() const = 0;
  virtual void restore(const json& snapshot) = 0;
};

// Training stopped because a loss was not finite; the learner's parameters are left as they
// were before the failed update.
struct NanLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A checkpoint that cannot be read, or that belongs to another learner.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Hooks {
  // After every update, with its statistics (losses, entropy, learning rate, steps).
  std::function<void(const json& stats)> on_update;
};

class Learner {
 public:
  virtual ~Learner() = default;
  // Steps the environments until `total_steps` environment steps (summed over the batch)
  // have been taken since the start of training, updating as the algorithm says. The step
  // budget also sets the schedules (learning-rate annealing, epsilon), so a resumed run must
  // be given the same total. Throws NanLoss.
  virtual void learn(long long total_steps, const Hooks& hooks) = 0;
  virtual long long steps() const = 0;
  virtual long long updates() const = 0;
  // Network, optimizer, random-number and loop state (and replay buffer), in one file.
  virtual void save(const std::filesystem::path& file) const = 0;
  virtual void load(const std::filesystem::path& file) = 0;  // throws CheckpointError
  // Only the networks of another run's checkpoint (a policy pretrained elsewhere, `train
  // --init`): the optimizer, the step and update counts and the random state stay this
  // learner's. The checkpoint must be of the same algorithm and network shapes (observation
  // and action sizes, hidden layers); throws CheckpointError naming both otherwise.
  virtual void load_weights(const std::filesystem::path& file) {
    throw CheckpointError("this algorithm cannot start from another run's weights (" + file.string() + ")");
  }
  // The greedy (most probable, or highest-value) legal action of every agent, for one
  // environment: obs[agent], masks[agent] (empty: all legal).
  virtual std::vector<Action> act_greedy(const std::vector<Obs>& obs,
                                         const std::vector<std::vector<char>>& masks = {}) = 0;
  virtual json hyper_parameters() const = 0;
};

// The RL algorithms are entries of the one agent registry (agents/agent.h), of kind rl.
std::vector<const Agent*> algorithms();
const Agent* find_algorithm(const std::string& name);  // nullptr unless an RL algorithm

// Throws hdl::ParamError for an unknown algorithm (naming the known ones and the nearest), and
// std::invalid_argument for an unknown hyper-parameter (listing the valid names) or a value of
// the wrong type or range.
std::unique_ptr<Learner> make_learner(const std::string& algorithm, VecEnv& env, std::uint64_t seed,
                                      const json& hyper = json::object());

// Fills in defaults and checks names, types and ranges, without building a learner.
json resolve_hyper(const std::string& algorithm, const json& hyper);

}  // namespace chipgym::agents::rl

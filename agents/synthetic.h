// Small synthetic environments with known optima, to test the RL algorithms in seconds
// (no hardware): a contextual bandit and a short chain MDP, each for one agent or several.
#pragma once
#include <random>

#include "agents/rl.h"

namespace chipgym::agents::rl {

struct SyntheticConfig {
  std::string kind = "bandit";  // bandit | chain
  int num_envs = 4;
  int dims = 2;         // bandit: action dimensions; chain: chains (one per dimension)
  bool split = false;   // true: one agent per dimension (IPPO/MAPPO); false: one agent owns all
  // bandit: `contexts` contexts, observed one-hot; dimension d has `choices` choices, and the
  // right one in context c is (3c + d + 1) mod choices. Reward: the fraction of right choices
  // (optimum 1 every step). With `mask_one`, choice (3c + d + 2) mod choices is illegal.
  int contexts = 4, choices = 4;
  bool mask_one = false;
  // chain: positions 0..length-1, start at 1, actions 0 left / 1 right. The right end pays 1,
  // the left end 0.1 (a nearby distractor); either ends that chain. The team reward of a step
  // is the mean over chains; the episode ends when every chain has ended, or after `horizon`
  // steps. Optimum: every chain walks right (return 1, discounted gamma^(length-2)).
  int length = 5, horizon = 12;
  // Test hook: the reward of this step (counted over all environments) is NaN; -1: never.
  long long nan_at_step = -1;
};

class SyntheticEnv final : public VecEnv {
 public:
  explicit SyntheticEnv(SyntheticConfig c);
  int num_envs() const override { return c_.num_envs; }
  int num_agents() const override { return c_.split ? c_.dims : 1; }
  std::string agent_name(int agent) const override { return c_.split ? "d" + std::to_string(agent) : "all"; }
  int obs_dim(int agent) const override;
  std::vector<long long> nvec(int agent) const override;
  std::vector<std::vector<Obs>> reset(std::uint64_t seed) override;
  Step step(const std::vector<std::vector<Action>>& actions) override;
  std::vector<std::vector<std::vector<char>>> masks() const override;
  json snapshot() const override;
  void restore(const json& snapshot) override;

  // The best choice of dimension d in context c (bandit).
  int right_choice(int context, int d) const { return (3 * context + d + 1) % c_.choices; }
  long long illegal_actions() const { return illegal_; }
  long long steps_taken() const { return taken_; }
  // Greedy evaluation: the mean return per episode of `policy` over every context (bandit)
  // or one episode from the start (chain), undiscounted.
  double evaluate(const std::function<std::vector<Action>(const std::vector<Obs>&, const std::vector<std::vector<char>>&)>& policy) const;

 private:
  struct State {
    int context = 0;
    std::vector<int> pos;
    std::vector<char> ended;
    int t = 0;
  };
  std::vector<Obs> observe(const State& s) const;  // per agent
  std::vector<std::vector<char>> mask_of(const State& s) const;
  void start(State& s, std::mt19937_64& rng) const;
  SyntheticConfig c_;
  std::vector<State> states_;
  std::vector<std::mt19937_64> rngs_;
  long long illegal_ = 0, taken_ = 0;
};

}  // namespace chipgym::agents::rl

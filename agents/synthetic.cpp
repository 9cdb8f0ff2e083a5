#include "agents/synthetic.h"

#include <limits>
#include <sstream>
#include <stdexcept>

namespace chipgym::agents::rl {

SyntheticEnv::SyntheticEnv(SyntheticConfig c) : c_(std::move(c)) {
  if (c_.kind != "bandit" && c_.kind != "chain") throw std::invalid_argument("unknown synthetic environment '" + c_.kind + "'");
  if (c_.num_envs < 1 || c_.dims < 1 || c_.contexts < 1 || c_.choices < 2 || c_.length < 3 || c_.horizon < 1)
    throw std::invalid_argument("synthetic environment: sizes out of range");
  states_.resize(static_cast<std::size_t>(c_.num_envs));
  rngs_.resize(states_.size());
}

int SyntheticEnv::obs_dim(int /*agent*/) const {
  if (c_.kind == "bandit") return c_.contexts;
  return c_.split ? c_.length : c_.length * c_.dims;
}

std::vector<long long> SyntheticEnv::nvec(int /*agent*/) const {
  const long long n = c_.kind == "bandit" ? c_.choices : 2;
  return std::vector<long long>(c_.split ? 1 : static_cast<std::size_t>(c_.dims), n);
}

void SyntheticEnv::start(State& s, std::mt19937_64& rng) const {
  s.t = 0;
  s.context = static_cast<int>(rng() % static_cast<std::uint64_t>(c_.contexts));
  s.pos.assign(static_cast<std::size_t>(c_.dims), 1);
  s.ended.assign(static_cast<std::size_t>(c_.dims), 0);
}

std::vector<Obs> SyntheticEnv::observe(const State& s) const {
  std::vector<Obs> out;
  if (c_.kind == "bandit") {
    Obs o(static_cast<std::size_t>(c_.contexts), 0.0f);
    o[static_cast<std::size_t>(s.context)] = 1.0f;
    for (int a = 0; a < num_agents(); ++a) out.push_back(o);
    return out;
  }
  Obs joint(static_cast<std::size_t>(c_.length * c_.dims), 0.0f);
  for (int d = 0; d < c_.dims; ++d) joint[static_cast<std::size_t>(d * c_.length + s.pos[static_cast<std::size_t>(d)])] = 1.0f;
  if (!c_.split) return {joint};
  for (int d = 0; d < c_.dims; ++d)
    out.emplace_back(joint.begin() + d * c_.length, joint.begin() + (d + 1) * c_.length);
  return out;
}

std::vector<std::vector<char>> SyntheticEnv::mask_of(const State& s) const {
  std::vector<std::vector<char>> per_agent(static_cast<std::size_t>(num_agents()));
  const int n = static_cast<int>(nvec(0)[0]);
  for (int d = 0; d < c_.dims; ++d) {
    auto& m = per_agent[static_cast<std::size_t>(c_.split ? d : 0)];
    for (int i = 0; i < n; ++i)
      m.push_back(!(c_.kind == "bandit" && c_.mask_one && i == (3 * s.context + d + 2) % c_.choices));
  }
  return per_agent;
}

std::vector<std::vector<std::vector<char>>> SyntheticEnv::masks() const {
  if (!c_.mask_one) return {};
  std::vector<std::vector<std::vector<char>>> out(static_cast<std::size_t>(num_agents()));
  for (const auto& s : states_) {
    auto m = mask_of(s);
    for (std::size_t a = 0; a < out.size(); ++a) out[a].push_back(m[a]);
  }
  return out;
}

std::vector<std::vector<Obs>> SyntheticEnv::reset(std::uint64_t seed) {
  std::vector<std::vector<Obs>> out(static_cast<std::size_t>(num_agents()));
  for (std::size_t e = 0; e < states_.size(); ++e) {
    rngs_[e].seed(seed * 7919 + e);
    start(states_[e], rngs_[e]);
    auto o = observe(states_[e]);
    for (std::size_t a = 0; a < out.size(); ++a) out[a].push_back(o[a]);
  }
  return out;
}

VecEnv::Step SyntheticEnv::step(const std::vector<std::vector<Action>>& actions) {
  if (actions.size() != static_cast<std::size_t>(num_agents())) throw std::invalid_argument("one action list per agent");
  Step out;
  out.obs.resize(static_cast<std::size_t>(num_agents()));
  for (std::size_t e = 0; e < states_.size(); ++e) {
    State& s = states_[e];
    const auto legal = mask_of(s);
    // The choice of dimension d.
    auto choice = [&](int d) {
      const auto& a = actions[static_cast<std::size_t>(c_.split ? d : 0)].at(e);
      const long long x = a.at(static_cast<std::size_t>(c_.split ? 0 : d));
      if (x < 0 || x >= nvec(0)[0]) throw std::invalid_argument("synthetic environment: action out of range");
      if (!legal[static_cast<std::size_t>(c_.split ? d : 0)][static_cast<std::size_t>(c_.split ? x : d * nvec(0)[0] + x)]) ++illegal_;
      return static_cast<int>(x);
    };
    double reward = 0;
    bool done = false;
    if (c_.kind == "bandit") {
      for (int d = 0; d < c_.dims; ++d) reward += choice(d) == right_choice(s.context, d) ? 1.0 : 0.0;
      reward /= c_.dims;
      done = true;
    } else {
      for (int d = 0; d < c_.dims; ++d) {
        const auto u = static_cast<std::size_t>(d);
        const int x = choice(d);
        if (s.ended[u]) continue;
        s.pos[u] += x == 1 ? 1 : -1;
        if (s.pos[u] == c_.length - 1) reward += 1.0, s.ended[u] = 1;
        else if (s.pos[u] == 0) reward += 0.1, s.ended[u] = 1;
      }
      reward /= c_.dims;
      ++s.t;
      done = s.t >= c_.horizon;
      bool all = true;
      for (char x : s.ended) all = all && x;
      done = done || all;
    }
    if (c_.nan_at_step >= 0 && taken_ == c_.nan_at_step) reward = std::numeric_limits<double>::quiet_NaN();
    ++taken_;
    if (done) start(s, rngs_[e]);
    out.reward.push_back(reward);
    out.done.push_back(done);
    auto o = observe(s);
    for (std::size_t a = 0; a < o.size(); ++a) out.obs[a].push_back(o[a]);
  }
  return out;
}

json SyntheticEnv::snapshot() const {
  json j = json::array();
  for (std::size_t e = 0; e < states_.size(); ++e) {
    std::ostringstream rng;
    rng << rngs_[e];
    const auto& s = states_[e];
    j.push_back({{"context", s.context}, {"pos", s.pos}, {"ended", s.ended}, {"t", s.t}, {"rng", rng.str()}});
  }
  return {{"envs", j}, {"illegal", illegal_}, {"taken", taken_}};
}

void SyntheticEnv::restore(const json& j) {
  const auto& envs = j.at("envs");
  if (envs.size() != states_.size()) throw std::invalid_argument("snapshot of another number of environments");
  for (std::size_t e = 0; e < states_.size(); ++e) {
    auto& s = states_[e];
    s.context = envs[e].at("context");
    s.pos = envs[e].at("pos").get<std::vector<int>>();
    s.ended = envs[e].at("ended").get<std::vector<char>>();
    s.t = envs[e].at("t");
    std::istringstream rng(envs[e].at("rng").get<std::string>());
    rng >> rngs_[e];
  }
  illegal_ = j.at("illegal");
  taken_ = j.at("taken");
}

double SyntheticEnv::evaluate(
    const std::function<std::vector<Action>(const std::vector<Obs>&, const std::vector<std::vector<char>>&)>& policy) const {
  SyntheticConfig one = c_;
  one.num_envs = 1;
  one.nan_at_step = -1;
  double total = 0;
  const int episodes = c_.kind == "bandit" ? c_.contexts : 1;
  for (int ep = 0; ep < episodes; ++ep) {
    SyntheticEnv env(one);
    env.reset(0);
    env.states_[0].context = ep;
    for (int t = 0; t < c_.horizon; ++t) {
      auto obs = env.observe(env.states_[0]);
      auto m = c_.mask_one ? env.mask_of(env.states_[0]) : std::vector<std::vector<char>>{};
      auto act = policy(obs, m);
      std::vector<std::vector<Action>> batch;
      for (auto& a : act) batch.push_back({a});
      auto s = env.step(batch);
      total += s.reward[0];
      if (s.done[0]) break;
    }
  }
  return total / episodes;
}

}  // namespace chipgym::agents::rl

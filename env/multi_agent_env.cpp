#include "env/multi_agent_env.h"

namespace chipgym::env {

namespace {
EnvConfig absolute_of(EnvConfig c) {
  c.formulation = "absolute";
  return c;
}
}  // namespace

MultiAgentEnv::MultiAgentEnv(const Task& task, const EnvConfig& config, std::shared_ptr<evaluators::Pipeline> pipeline,
                             std::map<std::string, std::vector<std::string>> groups)
    : inner_(task, absolute_of(config), std::move(pipeline)), config_(config) {
  if (config_.formulation != "absolute" && config_.formulation != "incremental")
    throw hdl::ParamError("unknown formulation '" + config_.formulation + "'; choose absolute or incremental");
  if (groups.empty()) groups = task.agent_groups();
  const auto& names = inner_.param_names();
  std::vector<int> owner(names.size(), 0);
  for (const auto& [agent, params] : groups) {
    agents_.push_back(agent);
    for (const auto& p : params) {
      auto it = std::find(names.begin(), names.end(), p);
      if (it == names.end())
        throw hdl::ParamError("agent '" + agent + "' is given '" + p + "', which the task does not search");
      const auto d = static_cast<std::size_t>(it - names.begin());
      ++owner[d];
      dims_[agent].push_back(d);
    }
  }
  for (std::size_t d = 0; d < names.size(); ++d)
    if (owner[d] != 1)
      throw hdl::ParamError("parameter '" + names[d] + "' belongs to " + std::to_string(owner[d]) +
                            " agents; every searched parameter needs exactly one");
  const auto& nvec = inner_.design_space().nvec();
  const auto& joint = inner_.observation_space();
  const auto joint_names = inner_.observation_names();
  const auto views = task.agent_views();
  for (const auto& agent : agents_) {
    std::vector<long long> sub;
    for (auto d : dims_[agent]) sub.push_back(nvec[d]);
    action_spaces_.emplace(agent, config_.formulation == "absolute"
                                      ? Space::multi_discrete(sub)
                                      : Space::discrete(1 + 2 * static_cast<long long>(sub.size())));
    // The agent's own parameters, then what every agent shares (the joint observation's tail:
    // the workload's features and the metrics) or the entries its view selects.
    std::vector<std::size_t>& view = view_[agent];
    view = dims_[agent];
    auto v = views.find(agent);
    if (v == views.end()) {
      for (std::size_t i = names.size(); i < joint_names.size(); ++i) view.push_back(i);
    } else {
      std::vector<char> seen(joint_names.size(), 0);
      for (auto d : dims_[agent]) seen[d] = 1;
      for (const auto& selector : v->second) {
        const bool prefix = !selector.empty() && selector.back() == '*';
        const std::string stem = prefix ? selector.substr(0, selector.size() - 1) : selector;
        bool matched = false;
        for (std::size_t i = 0; i < joint_names.size(); ++i)
          if (prefix ? joint_names[i].rfind(stem, 0) == 0 : joint_names[i] == stem) {
            matched = true;
            if (!seen[i]) seen[i] = 2;
          }
        if (!matched) {
          std::string known;
          for (const auto& n : joint_names) known += (known.empty() ? "" : ", ") + n;
          throw hdl::ParamError("agent '" + agent + "' observes '" + selector + "', which names no entry of " +
                                task.name + "'s observation; the entries are " + known);
        }
      }
      for (std::size_t i = 0; i < joint_names.size(); ++i)
        if (seen[i] == 2) view.push_back(i);
    }
    std::vector<double> low, high;
    for (auto i : view) {
      low.push_back(joint.low()[i]);
      high.push_back(joint.high()[i]);
    }
    observation_spaces_.emplace(agent, Space::box(low, high));
  }
}

const Space& MultiAgentEnv::action_space(const std::string& agent) const {
  auto it = action_spaces_.find(agent);
  if (it == action_spaces_.end()) throw hdl::ParamError("unknown agent '" + agent + "'");
  return it->second;
}

const Space& MultiAgentEnv::observation_space(const std::string& agent) const {
  auto it = observation_spaces_.find(agent);
  if (it == observation_spaces_.end()) throw hdl::ParamError("unknown agent '" + agent + "'");
  return it->second;
}

std::vector<std::string> MultiAgentEnv::observation_names(const std::string& agent) const {
  observation_space(agent);  // the unknown-agent error
  const auto joint = inner_.observation_names();
  std::vector<std::string> out;
  for (auto i : view_.at(agent)) out.push_back(joint[i]);
  return out;
}

std::map<std::string, std::vector<double>> MultiAgentEnv::observe(const std::vector<double>& joint) const {
  std::map<std::string, std::vector<double>> out;
  for (const auto& agent : agents_) {
    std::vector<double> o;
    for (auto i : view_.at(agent)) o.push_back(joint[i]);
    out[agent] = o;
  }
  return out;
}

std::vector<char> MultiAgentEnv::action_mask(const std::string& agent) const {
  const auto& space = action_space(agent);
  const auto& dims = dims_.at(agent);
  if (config_.formulation == "absolute") {
    long long total = 0;
    for (auto n : space.nvec()) total += n;
    return std::vector<char>(static_cast<std::size_t>(total), 1);
  }
  std::vector<char> mask(static_cast<std::size_t>(space.nvec()[0]), 1);
  const auto& nvec = inner_.design_space().nvec();
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const long long v = state_.empty() ? 0 : state_[dims[i]];
    mask[1 + 2 * i] = v - 1 >= 0;
    mask[2 + 2 * i] = v + 1 < nvec[dims[i]];
  }
  return mask;
}

void MultiAgentEnv::restore(const json& s) {
  if (s.contains("joint")) inner_.restore(s["joint"]);
  read_snapshot(s, inner_.design_space(), state_, steps_, episode_over_);
}

std::map<std::string, std::vector<double>> MultiAgentEnv::reset(std::uint64_t seed) {
  steps_ = 0;
  episode_over_ = false;
  state_ = inner_.encode(inner_.task().design_family().space().defaults());
  auto joint = inner_.reset(seed);
  return observe(joint);
}

void MultiAgentEnv::check_actions(const std::map<std::string, std::vector<long long>>& actions) const {
  for (const auto& [agent, action] : actions)
    if (!action_spaces_.count(agent)) {
      std::string known;
      for (const auto& a : agents_) known += (known.empty() ? "" : ", ") + a;
      throw hdl::ParamError("unknown agent '" + agent + "'; the agents are " + known);
    }
  for (const auto& agent : agents_) {
    auto it = actions.find(agent);
    if (it == actions.end()) throw hdl::ParamError("no action for agent '" + agent + "': every agent acts each step");
    if (!action_spaces_.at(agent).contains(it->second))
      throw hdl::ParamError("action " + json(it->second).dump() + " of agent '" + agent + "' is outside its space " +
                            action_spaces_.at(agent).to_json().dump());
  }
}

std::pair<std::vector<long long>, bool> MultiAgentEnv::moved(
    const std::map<std::string, std::vector<long long>>& actions) const {
  std::vector<long long> next = state_;
  bool valid = true;
  for (const auto& agent : agents_) {
    const auto& a = actions.at(agent);
    const auto& dims = dims_.at(agent);
    if (config_.formulation == "absolute") {
      for (std::size_t i = 0; i < dims.size(); ++i) next[dims[i]] = a[i];
    } else if (a[0] > 0) {
      const std::size_t i = static_cast<std::size_t>((a[0] - 1) / 2);
      const long long v = next[dims[i]] + ((a[0] - 1) % 2 == 0 ? -1 : 1);
      if (v < 0 || v >= inner_.design_space().nvec()[dims[i]]) valid = false;
      else next[dims[i]] = v;
    }
  }
  return {std::move(next), valid};
}

MultiStepResult MultiAgentEnv::step(const std::map<std::string, std::vector<long long>>& actions) {
  if (episode_over_) throw hdl::ParamError("the episode is over: call reset() before step()");
  check_actions(actions);
  const auto [next, valid] = moved(actions);
  state_ = next;
  ++steps_;
  inner_.restart();  // the same workload: reset() drew it
  StepResult joint = inner_.step(state_);
  MultiStepResult out;
  out.observations = observe(joint.observation);
  for (const auto& agent : agents_) out.rewards[agent] = joint.reward;
  out.terminated = config_.formulation == "absolute";
  out.truncated = config_.formulation == "incremental" && steps_ >= config_.max_steps;
  episode_over_ = out.terminated || out.truncated;
  out.info = joint.info;
  out.info["invalid_move"] = !valid;
  return out;
}

}  // namespace chipgym::env

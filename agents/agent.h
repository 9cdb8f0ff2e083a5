// One registry of agents (hdl/registry.h): black-box searchers, RL algorithms, the llm
// searcher and the evolutionary kernel-writer. Each entry says its kind, a one-line
// description and its hyper-parameters with their defaults, and registers itself in the file
// that defines the agent:
//   namespace { const Registration<Agent> registered{searcher_agent<RandomSearch>("random", "...", 10)}; }
// A failed lookup names the known agents and the nearest one ("unknown agent 'pp0'; did you
// mean 'ppo'? known agents: random, grid, ..."), as hdl::ParamError (the CLI exits 2).
//
// No libtorch here: the RL entries register from agents/ppo.cpp and agents/dqn.cpp, and
// everything else reaches the learners through agents/rl.h.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agents/rl.h"
#include "agents/searcher.h"
#include "hdl/registry.h"

namespace chipgym::agents {

enum class AgentKind { blackbox, rl, llm, evolve };

inline std::string to_string(AgentKind kind) {
  switch (kind) {
    case AgentKind::blackbox: return "blackbox";
    case AgentKind::rl: return "rl";
    case AgentKind::llm: return "llm";
    case AgentKind::evolve: return "evolve";
  }
  return "blackbox";
}

struct Agent {
  std::string name;
  AgentKind kind = AgentKind::blackbox;
  std::string description;  // one line
  json defaults;            // every hyper-parameter with its default
  int order = 1000;         // position in listings (then by name)

  // blackbox and llm: builds the searcher; `hyper` holds only known names (make_searcher
  // checks them against `defaults`).
  std::function<std::unique_ptr<Searcher>(const env::Space&, std::uint64_t seed, const json& hyper)> make_searcher;

  // rl: defaults filled in, names, types and ranges checked (throws std::invalid_argument).
  std::function<json(const json& hyper)> resolve_hyper;
  // rl: the learner over `env`, from resolved hyper-parameters.
  std::function<std::unique_ptr<rl::Learner>(rl::VecEnv& env, std::uint64_t seed, const json& resolved)> make_learner;
  bool multi_agent = false;  // rl: needs the task's agent groups (ippo, mappo)
  // rl: the values a design search (train, compare) uses instead of the defaults. Those are
  // the paper's, for long runs on fast simulators; a design search has a budget of a few
  // hundred evaluations. config.json records every value used.
  json search_defaults = json::object();

  // evolve: the command that runs it (it is not a train/compare agent).
  std::string command;
};

// The entry of a black-box searcher class T, constructed as T(space, seed, hyper); its defaults
// are the hyper_parameters() of a T built with none.
template <class T>
Agent searcher_agent(std::string name, std::string description, int order) {
  Agent a;
  a.name = std::move(name);
  a.kind = AgentKind::blackbox;
  a.description = std::move(description);
  a.order = order;
  a.make_searcher = [](const env::Space& s, std::uint64_t seed, const json& h) -> std::unique_ptr<Searcher> {
    return std::make_unique<T>(s, seed, h);
  };
  a.defaults = T(env::Space::multi_discrete({2}), 0, json::object()).hyper_parameters();
  return a;
}

// Every registered agent, in listing order.
inline std::vector<const Agent*> all_agents() { return Registry<Agent>::instance().entries(); }
// Throws hdl::ParamError naming the known agents and the nearest one.
inline const Agent& agent(const std::string& name) { return Registry<Agent>::instance().get(name, "agent"); }
// nullptr when no agent has that name.
inline const Agent* find_agent(const std::string& name) { return Registry<Agent>::instance().find(name); }
// An agent that `chipgym train` and `compare` run (a searcher or an RL algorithm). Throws
// hdl::ParamError for an unknown name, or one that runs with its own command (evolve).
inline const Agent& trainable_agent(const std::string& name) {
  const Agent& a = agent(name);
  if (!a.make_searcher && !a.make_learner)
    throw hdl::ParamError("agent '" + name + "' (" + to_string(a.kind) + ") is not run by train or compare: use `" +
                          a.command + "`");
  return a;
}

}  // namespace chipgym::agents

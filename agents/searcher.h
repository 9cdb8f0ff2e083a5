// Black-box searchers over a MultiDiscrete design space, in ask/tell form: ask() proposes
// designs (one value index per dimension), tell() reports their rewards (higher is better).
// Searchers are deterministic for a given seed and sequence of tells, which is what lets a
// killed run resume by replaying its recorded evaluations.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "env/spaces.h"

namespace chipgym::env {
class Env;
}
namespace chipgym::evaluators {
class Pipeline;
}

namespace chipgym::agents {

using json = nlohmann::json;
using Design = std::vector<long long>;

// What a searcher may know besides the space: the environment it searches (its task, how a
// design decodes to parameters) and the pipeline (whose cache holds what was measured, and
// beside which cost models are kept). Given by the run loop before the first ask; a searcher
// built without it (listing defaults) never asks.
struct SearchContext {
  const env::Env* env = nullptr;
  std::shared_ptr<evaluators::Pipeline> pipeline;
};

class Searcher {
 public:
  virtual ~Searcher() = default;
  virtual std::vector<Design> ask(int n) = 0;
  virtual void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) = 0;
  // Before tell(): the figures of the same designs, {transistors, cycles, area} (cycles
  // simulated, or the exact cycle model's; area: the task's area objective, env::Task::
  // objectives), for searchers with several objectives (nsga2). The run loop gives
  // them live and again from events.jsonl on resume, so they must be all a searcher reads.
  virtual void observe(const std::vector<Design>& /*designs*/, const std::vector<json>& /*figures*/) {}
  // True when the searcher has nothing left to propose (e.g. the grid is exhausted).
  virtual bool done() const { return false; }
  virtual json hyper_parameters() const = 0;
  // Model-based searchers read the task through this; the others ignore it.
  virtual void bind(const SearchContext&) {}
  // Figures for the run's summary (e.g. how many designs each fidelity saw); empty: none.
  virtual json report() const { return json::object(); }
};

struct Agent;  // agents/agent.h: the one agent registry

// The agents that are searchers (kinds blackbox and llm), in listing order.
std::vector<const Agent*> searchers();
// Throws hdl::ParamError for an unknown agent (naming the known ones and the nearest), an agent
// that is not a searcher, or an unknown hyper-parameter (listing the valid ones).
std::unique_ptr<Searcher> make_searcher(const std::string& name, const env::Space& space, std::uint64_t seed,
                                        const json& hyper = json::object());

}  // namespace chipgym::agents

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

namespace chipgym::agents {

using json = nlohmann::json;
using Design = std::vector<long long>;

class Searcher {
 public:
  virtual ~Searcher() = default;
  virtual std::vector<Design> ask(int n) = 0;
  virtual void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) = 0;
  // True when the searcher has nothing left to propose (e.g. the grid is exhausted).
  virtual bool done() const { return false; }
  virtual json hyper_parameters() const = 0;
};

struct AgentInfo {
  std::string name;
  std::string description;  // one line
  json defaults;            // hyper-parameters with their defaults
  // Builds the searcher; `hyper` holds only known names (checked by make_searcher).
  std::function<std::unique_ptr<Searcher>(const env::Space&, std::uint64_t seed, const json& hyper)> make;
};

const std::vector<AgentInfo>& searchers();
// Throws hdl::ParamError for an unknown agent (listing the known ones) or an unknown
// hyper-parameter (listing the valid ones).
std::unique_ptr<Searcher> make_searcher(const std::string& name, const env::Space& space, std::uint64_t seed,
                                        const json& hyper = json::object());
const AgentInfo& searcher_info(const std::string& name);

}  // namespace chipgym::agents

// A benchmark task is a value: a design family, a workload, an objective, a budget and a
// fidelity. It serializes to JSON so a run can be rebuilt from its directory alone.
// (Issue 3 adds spaces, Env and the rest of the registry around it.)
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evaluators/metrics.h"
#include "hdl/family.h"

namespace chipgym::env {

using json = nlohmann::json;

struct Task {
  std::string name;
  std::string family;       // hdl family name
  std::string description;  // one line
  json workload;            // family-specific (gemm: shapes, data patterns, seed)
  std::string objective;    // what the reward measures, in words; higher is better
  json budget;              // constraints an admissible design must meet
  std::string fidelity = "rtl";
  // The searched space: parameter -> list of values (a subset of the family's domain);
  // parameters not listed keep their defaults. Empty: the family's whole domain.
  json search = json::object();
  // Multi-agent split: agent -> the searched parameters it owns.
  json agents = json::object();

  json to_json() const;
  static Task from_json(const json& j);  // throws hdl::ParamError on missing fields
  const hdl::Family& design_family() const { return hdl::family(family); }
  // The objective value of evaluated metrics (higher is better), with the figures behind it.
  json score(const evaluators::Metrics& m) const;
  // The reward of evaluated metrics; higher is better. An admissible design earns its
  // objective (>= 0). Penalties: -1 infeasible (over the budget, a missed target, or
  // accumulators that can wrap), -2 incorrect results, -3 a failed evaluation (input, tool
  // or environment error).
  double reward(const evaluators::Metrics& m) const;
  // The searched parameters, in family order, with their candidate values.
  std::vector<std::pair<std::string, std::vector<hdl::Value>>> search_domains() const;
  // `agents` as a map; without it, one agent per searched parameter.
  std::map<std::string, std::vector<std::string>> agent_groups() const;
};

const std::vector<Task>& tasks();
// Throws hdl::ParamError naming the known tasks when `name` is unknown.
const Task& task(const std::string& name);

}  // namespace chipgym::env

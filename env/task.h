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

  json to_json() const;
  static Task from_json(const json& j);  // throws hdl::ParamError on missing fields
  const hdl::Family& design_family() const { return hdl::family(family); }
  // The objective value of evaluated metrics (higher is better), with the figures behind it.
  json score(const evaluators::Metrics& m) const;
};

const std::vector<Task>& tasks();
// Throws hdl::ParamError naming the known tasks when `name` is unknown.
const Task& task(const std::string& name);

}  // namespace chipgym::env

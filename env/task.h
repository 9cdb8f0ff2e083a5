// A benchmark task is a value: a design family, a workload, an objective, a budget and a
// fidelity. It serializes to JSON so a run can be rebuilt from its directory alone.
//
// Every task, design or kernel, is an entry of one registry (hdl/registry.h), unique by name.
// A task may have a design part (a family and its parametric space: eval, train, compare), a
// kernel part (a streaming interface, a canonical Verilog kernel and its golden model: score,
// evolve), or both (the quantized operators). A task registers itself in its own file under
// env/tasks/:
//   namespace { const Registration<Task> registered{[] { Task t; t.name = ...; return t; }()}; }
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "env/kernel_task.h"
#include "evaluators/metrics.h"
#include "hdl/family.h"
#include "hdl/registry.h"

namespace chipgym::env {

using json = nlohmann::json;

enum class TaskKind { design, kernel, both };
std::string to_string(TaskKind kind);  // "design", "kernel", "both"

// The area objectives a two-objective task may declare as its "objectives"' first entry
// (transistors, cells, iCE40 LUTs), beside "cycles"; runs/pareto draws fronts on the same.
const std::vector<std::string>& area_objectives();

struct Task {
  std::string name;
  std::string family;       // hdl family name; empty: a kernel task only
  std::string description;  // one line
  json workload;            // family-specific (gemm: shapes, data patterns, seed)
  // Training across workloads (the RL agents, `train --workloads`): the task workloads an
  // environment draws one of at every episode, `workload` first. Empty: `workload` alone.
  // JSON "workloads", written only when not empty.
  json workloads = json::array();
  std::string objective;    // what the reward measures, in words; higher is better
  json budget;              // constraints an admissible design must meet
  std::string fidelity = "rtl";
  // The searched space: parameter -> list of values (a subset of the family's domain);
  // parameters not listed keep their defaults. Empty: the family's whole domain.
  json search = json::object();
  // Multi-agent split: agent -> the searched parameters it owns, as a list, or as an object
  // {"params": [...], "observes": [...]} that also gives the agent its subsystem's view: the
  // entries of the joint observation it sees besides its own parameters, by name
  // (Env::observation_names(); a trailing '*' matches a prefix, e.g. "workload:share_log2_k*",
  // "metric:*", another agent's "param:tile_k"). An agent without "observes" sees what every
  // agent shares: the workload's features and the metrics.
  json agents = json::object();
  // The objectives of its Pareto front (runs/pareto.h), both minimised: an area objective
  // (transistors, cells, or luts: iCE40 LUTs, for a task bound for an FPGA) and workload
  // cycles. JSON "objectives", written only when not the default. The scalar reward is
  // `objective`'s, whatever these are.
  std::vector<std::string> objectives = {"transistors", "cycles"};
  // The kernel part, built on first use (null: a design task only). Not part of the JSON: a
  // task file is a design task.
  const KernelTask& (*kernel_part)() = nullptr;
  // Position in `chipgym tasks` and in the lists of known names (then by name).
  int order = 1000;

  TaskKind kind() const;
  const std::string& area_objective() const { return objectives.front(); }
  // Whether its evaluations need the iCE40 synthesis (a LUT budget, or LUTs as an objective).
  bool needs_fpga() const { return budget.contains("max_luts") || area_objective() == "luts"; }
  bool has_design() const { return !family.empty(); }
  bool has_kernel() const { return kernel_part != nullptr; }
  // Throws hdl::ParamError when the task has no kernel part.
  const KernelTask& kernel() const;

  json to_json() const;
  static Task from_json(const json& j);  // throws hdl::ParamError on missing fields
  // Throws hdl::ParamError when the family is unknown, or the task is a kernel task only.
  const hdl::Family& design_family() const;
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
  // The agents that declare a view ("observes"): agent -> its selectors.
  std::map<std::string, std::vector<std::string>> agent_views() const;
};

// Every registered task, design and kernel, in listing order.
std::vector<const Task*> tasks();
// Throws hdl::ParamError naming the known tasks (and the nearest) when `name` is unknown.
const Task& task(const std::string& name);

}  // namespace chipgym::env

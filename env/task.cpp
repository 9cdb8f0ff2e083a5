#include "env/task.h"

#include <algorithm>

#include "evaluators/stage.h"

namespace chipgym::env {

const std::vector<std::string>& area_objectives() {
  static const std::vector<std::string> names = {"transistors", "cells", "luts"};
  return names;
}

std::string to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::design: return "design";
    case TaskKind::kernel: return "kernel";
    case TaskKind::both: return "both";
  }
  return "design";
}

TaskKind Task::kind() const {
  if (has_kernel()) return has_design() ? TaskKind::both : TaskKind::kernel;
  return TaskKind::design;
}

const KernelTask& Task::kernel() const {
  if (!kernel_part)
    throw hdl::ParamError("task '" + name + "' is a design task, with no kernel to score a candidate against");
  return kernel_part();
}

const hdl::Family& Task::design_family() const {
  if (!has_design())
    throw hdl::ParamError("task '" + name + "' is a kernel task, with no design space: score a candidate with "
                          "`chipgym score --task " + name + " FILE.v`, or evolve one with `chipgym evolve --task " + name + "`");
  return hdl::family(family);
}

json Task::to_json() const {
  json j = {{"name", name},         {"family", family},       {"description", description}, {"workload", workload},
            {"objective", objective}, {"budget", budget},     {"fidelity", fidelity}, {"search", search}, {"agents", agents}};
  if (objectives != Task().objectives) j["objectives"] = objectives;  // tasks without it keep their JSON
  if (!workloads.empty()) j["workloads"] = workloads;
  return j;
}

Task Task::from_json(const json& j) {
  for (const char* field : {"name", "family", "workload"})
    if (!j.contains(field)) throw hdl::ParamError(std::string("task JSON lacks the field '") + field + "'");
  Task t;
  try {
  t.name = j.at("name").get<std::string>();
  t.family = j.at("family").get<std::string>();
  t.description = j.value("description", std::string());
  t.workload = j.at("workload");
  t.objective = j.value("objective", std::string());
  t.budget = j.value("budget", json::object());
  t.fidelity = j.value("fidelity", std::string("rtl"));
  t.search = j.value("search", json::object());
  t.agents = j.value("agents", json::object());
  if (j.contains("objectives")) {
    const json& o = j.at("objectives");
    const std::vector<std::string>& areas = area_objectives();
    if (!o.is_array() || o.size() != 2 || !o[0].is_string() || !o[1].is_string() ||
        std::find(areas.begin(), areas.end(), o[0].get<std::string>()) == areas.end() || o[1] != "cycles")
      throw hdl::ParamError("task " + t.name + ": \"objectives\" must be [AREA, \"cycles\"] with AREA one of transistors, "
                            "cells, luts (iCE40 LUTs), not " + o.dump());
    t.objectives = o.get<std::vector<std::string>>();
  }
  if (!t.budget.is_object() || !t.search.is_object() || !t.agents.is_object() || !t.workload.is_object())
    throw hdl::ParamError("task JSON: workload, budget, search and agents must be objects");
  if (j.contains("workloads")) {
    t.workloads = j.at("workloads");
    if (!t.workloads.is_array()) throw hdl::ParamError("task JSON: workloads must be an array of workloads");
    for (const auto& w : t.workloads)
      if (!w.is_object()) throw hdl::ParamError("task JSON: every entry of workloads must be an object (a workload)");
    if (!t.workloads.empty() && t.workloads.front() != t.workload)
      throw hdl::ParamError("task JSON: the first entry of workloads must be the task's workload");
  }
  } catch (const json::exception& e) {
    throw hdl::ParamError(std::string("task JSON has a field of the wrong type: ") + e.what());
  }
  // Refused here, before a run spends its budget on evaluations that all fail for it. The
  // fidelities are those evaluators::Pipeline::evaluate runs.
  const evaluators::FidelityInfo* f = Registry<evaluators::FidelityInfo>::instance().find(t.fidelity);
  if (!f || !f->for_designs)
    throw hdl::ParamError("task " + t.name + ": " + (f ? "the fidelity '" + t.fidelity + "' is chipgym score's, not a task's"
                                                       : "unknown fidelity '" + t.fidelity + "'") +
                          "; the fidelities are model (the cycle model), synth (+ Yosys synthesis) and rtl (+ lint "
                          "and Verilator simulation against the golden model)");
  if (t.area_objective() != "transistors" && t.fidelity == "model")
    throw hdl::ParamError("task " + t.name + ": its objectives need " + t.area_objective() +
                          ", which the fidelity model (the cycle model alone) does not give; use synth or rtl");
  return t;
}

json Task::score(const evaluators::Metrics& m) const {
  // The family scores the figures; a failed evaluation or an incorrect simulation earns 0.
  json out = design_family().score(m.to_json(), budget);
  if (out.contains("objective") && (!m.ok() || m.incorrect())) out["objective"] = 0.0;
  return out;
}

double Task::reward(const evaluators::Metrics& m) const {
  if (m.error) return -3;
  if (m.incorrect()) return -2;
  json s = score(m);
  if (!s.contains("objective")) return -3;  // nothing to score (e.g. no synthesis at this fidelity)
  if (!s.value("within_budget", true)) return -1;
  return s["objective"].get<double>();
}

std::vector<std::pair<std::string, std::vector<hdl::Value>>> Task::search_domains() const {
  const auto& space = design_family().space();
  std::vector<std::pair<std::string, std::vector<hdl::Value>>> out;
  for (auto it = search.begin(); it != search.end(); ++it)
    if (!space.find(it.key()))
      throw hdl::ParamError("task '" + name + "' searches unknown parameter '" + it.key() + "'");
  for (const auto& p : space.params()) {
    if (search.empty()) {
      out.emplace_back(p.name, p.domain());
      continue;
    }
    if (!search.contains(p.name)) continue;
    std::vector<hdl::Value> values;
    if (!search[p.name].is_array())
      throw hdl::ParamError("task '" + name + "': search." + p.name + " must be a list of values");
    for (const auto& v : search[p.name]) {
      if (!v.is_string() && !v.is_number_integer())
        throw hdl::ParamError("task '" + name + "': search." + p.name + " has " + v.dump() + ", not an integer or a name");
      hdl::Value value = v.is_string() ? hdl::Value(v.get<std::string>()) : hdl::Value(v.get<long long>());
      if (!p.contains(value))
        throw hdl::ParamError("task '" + name + "': " + p.name + " = " + v.dump() + " is outside " + p.describe_domain());
      values.push_back(value);
    }
    out.emplace_back(p.name, values);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> Task::agent_groups() const {
  std::map<std::string, std::vector<std::string>> out;
  if (agents.empty()) {
    for (const auto& [name, values] : search_domains()) out[name] = {name};
    return out;
  }
  try {
    for (auto it = agents.begin(); it != agents.end(); ++it)
      out[it.key()] = (it->is_object() ? it->at("params") : *it).get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw hdl::ParamError("task '" + name + "': \"agents\" must map names to lists of parameters (or to {\"params\": [...], "
                          "\"observes\": [...]}): " + e.what());
  }
  return out;
}

std::map<std::string, std::vector<std::string>> Task::agent_views() const {
  std::map<std::string, std::vector<std::string>> out;
  for (auto it = agents.begin(); it != agents.end(); ++it) {
    if (!it->is_object()) continue;
    for (auto k = it->begin(); k != it->end(); ++k)
      if (k.key() != "params" && k.key() != "observes")
        throw hdl::ParamError("task '" + name + "': agent '" + it.key() + "' has an unknown key \"" + k.key() +
                              "\" (an agent has \"params\" and \"observes\")");
    if (!it->contains("observes")) continue;
    try {
      out[it.key()] = it->at("observes").get<std::vector<std::string>>();
    } catch (const json::exception& e) {
      throw hdl::ParamError("task '" + name + "': agent '" + it.key() + "': \"observes\" must be a list of observation names: " +
                            e.what());
    }
  }
  return out;
}

std::vector<const Task*> tasks() { return Registry<Task>::instance().entries(); }

const Task& task(const std::string& name) { return Registry<Task>::instance().get(name, "task"); }

std::vector<KernelTask> kernel_tasks() {
  std::vector<KernelTask> out;
  for (const Task* t : tasks())
    if (t->has_kernel()) out.push_back(t->kernel());
  return out;
}

const KernelTask& find_kernel_task(const std::string& name) {
  return Registry<Task>::instance().get(name, "kernel task", [](const Task& t) { return t.has_kernel(); }).kernel();
}

}  // namespace chipgym::env

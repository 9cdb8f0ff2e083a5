// chipgym tasks: every benchmark task, its parameter space, searched values, env spaces and reward.
#include <iomanip>
#include <iostream>
#include <map>

#include "cli/command.h"
#include "cli/common.h"
#include "env/env.h"
#include "env/multi_agent_env.h"

namespace chipgym::cli {

namespace {

// The spaces an agent sees, built by the environment itself (no evaluation happens).
json env_spaces(const env::Task& t) {
  json out;
  for (const char* formulation : {"absolute", "incremental"}) {
    env::EnvConfig c;
    c.formulation = formulation;
    env::Env e(t, c, nullptr);
    out[formulation] = {{"action_space", e.action_space().to_json()},
                        {"observation_space", e.observation_space().to_json()},
                        {"observation_names", e.observation_names()}};
  }
  // The multi-agent split (ippo, mappo): each agent's parameters and what it observes.
  if (!t.agents.empty()) {
    env::MultiAgentEnv ma(t, {}, nullptr);
    const auto groups = t.agent_groups();
    for (const auto& agent : ma.agents())
      out["agents"][agent] = {{"params", groups.at(agent)}, {"observation_names", ma.observation_names(agent)}};
  }
  return out;
}

// "7 parameters (rows, ...); 24 workload features (in words); 4 metrics (correct, ...)".
std::string observation_layout(const json& names) {
  std::map<std::string, std::vector<std::string>> parts;
  for (const auto& n : names) {
    const std::string s = n.get<std::string>();
    const auto colon = s.find(':');
    parts[s.substr(0, colon)].push_back(s.substr(colon + 1));
  }
  std::string out;
  for (const auto& [kind, label] : std::vector<std::pair<std::string, std::string>>{
           {"param", "parameters"}, {"workload", "workload features"}, {"metric", "metrics"}}) {
    auto it = parts.find(kind);
    if (it == parts.end()) continue;
    std::string list;
    if (kind == "workload" && it->second.size() == env::workload_feature_names().size())  // said in words; --json names each
      list = "total MACs, GEMMs, mean intensity, MAC-weighted histograms of log2 M, K and N; --json names each";
    else
      for (const auto& n : it->second) list += (list.empty() ? "" : ", ") + n;
    out += (out.empty() ? "" : "; ") + std::to_string(it->second.size()) + " " + label + " (" + list + ")";
  }
  return out;
}

// "  agents (ippo, mappo): compute (rows, cols), ...; each observes ..." (empty without a split).
std::string agents_line(const env::Task& t, const json& spaces) {
  if (!spaces.contains("agents")) return "";
  const auto views = t.agent_views();
  std::string out = "  agents (ippo, mappo):";
  for (const auto& [agent, a] : spaces["agents"].items()) {
    std::string params;
    for (const auto& p : a["params"]) params += (params.empty() ? "" : ", ") + p.get<std::string>();
    out += " " + agent + " (" + params + ")";
    if (views.count(agent)) out += " observing " + observation_layout(a["observation_names"]) + ";";
  }
  if (views.size() < spaces["agents"].size())
    out += views.empty() ? "; each observes its own parameters, the workload features and the metrics"
                         : " the others observe their own parameters, the workload features and the metrics";
  return out + " (MAPPO's critic: all of it)\n";
}

std::string kernel_line(const env::KernelTask& k) {
  return "module " + k.iface.module + ", a stream of " + std::to_string(k.iface.vector_length) + " " +
         (k.iface.is_signed ? "signed " : "unsigned ") + std::to_string(k.iface.in_bits()) + "-bit elements to " +
         std::to_string(k.iface.out_bits()) + "-bit ones (docs/stream.md); " + k.description;
}

void print_tasks(bool as_json) {
  const char* reward =
      "objective if admissible; -1 infeasible (budget, missed target, wrapping accumulators), -2 incorrect, -3 failed";
  if (as_json) {
    json all = json::array();
    for (const env::Task* t : env::tasks()) {
      json j = t->has_design() ? t->to_json() : json{{"name", t->name}, {"description", t->description}};
      j["kind"] = env::to_string(t->kind());
      if (t->has_design()) {
        j["space"] = t->design_family().space().to_json();
        j["env"] = env_spaces(*t);
        j["reward"] = reward;
      }
      if (t->has_kernel()) j["kernel"] = t->kernel().to_json();
      all.push_back(j);
    }
    std::cout << all.dump(2) << "\n";
    return;
  }
  for (const env::Task* task : env::tasks()) {
    const auto& t = *task;
    const std::string kind = t.kind() == env::TaskKind::both ? "design and kernel task" : to_string(t.kind()) + " task";
    if (!t.has_design()) {
      std::cout << t.name << "  [" << kind << "]\n"
                << "  kernel:    " << kernel_line(t.kernel()) << "\n"
                << "  score a candidate: chipgym score --task " << t.name << " FILE.v (--show: the canonical kernel)\n";
      continue;
    }
    const auto& f = t.design_family();
    std::cout << t.name << "  (family " << f.name() << " v" << f.version() << ")  [" << kind << "]\n"
              << "  " << t.description << "\n"
              << "  objective: " << t.objective << "\n"
              << "  budget:    " << t.budget.dump() << "\n"
              << "  front:     " << t.objectives[0] << " and " << t.objectives[1]
              << ", both minimised (the Pareto front every run records; a task's JSON may declare \"objectives\": [\"luts\", \"cycles\"])\n"
              << "  workload:  " << t.workload.dump() << "\n"
              << "  parameters (" << std::setprecision(3) << f.space().size() << " combinations before constraints):\n";
    // Columns as wide as their longest entry (codesign's names and choice lists are long).
    std::size_t name_w = 10, domain_w = 29;
    for (const auto& p : f.space().params()) {
      name_w = std::max(name_w, p.name.size());
      domain_w = std::max(domain_w, p.describe_domain().size());
    }
    for (const auto& p : f.space().params())
      std::cout << "    " << std::left << std::setw(static_cast<int>(name_w)) << p.name << " "
                << std::setw(static_cast<int>(domain_w) + 1) << p.describe_domain() << "default " << std::setw(5)
                << hdl::to_string(p.default_value) << " " << p.help << "\n";
    for (const auto& c : f.space().constraints()) std::cout << "    constraint: " << c.description << "\n";
    double points = 1;
    std::cout << "  searched by agents (others keep their defaults):\n";
    for (const auto& [name, values] : t.search_domains()) {
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + hdl::to_string(v);
      std::cout << "    " << std::left << std::setw(13) << name << " " << list << "\n";
      points *= static_cast<double>(values.size());
    }
    const json spaces = env_spaces(t);
    std::cout << "    " << points << " designs; fidelity " << t.fidelity << "\n"
              << "  env: absolute action " << spaces["absolute"]["action_space"].dump() << ", incremental action "
              << spaces["incremental"]["action_space"].dump() << ",\n       observation Box of "
              << spaces["absolute"]["observation_space"]["low"].size() << " values: " << observation_layout(spaces["absolute"]["observation_names"]) << "\n"
              << agents_line(t, spaces)
              << "  reward: the objective if admissible (higher is better); -1 infeasible (over budget, a\n"
              << "          missed target, or accumulators that can wrap), -2 incorrect results, -3 failed evaluation\n";
    if (t.has_kernel())
      std::cout << "  kernel:    " << kernel_line(t.kernel()) << "\n"
                << "  score a candidate: chipgym score --task " << t.name << " FILE.v (--show: the canonical kernel)\n";
  }
}

std::function<int()> setup(CLI::App& cmd) {
  auto as_json = std::make_shared<bool>(false);
  cmd.add_flag("--json", *as_json, "print JSON instead of text");
  return [as_json] {
    print_tasks(*as_json);
    return 0;
  };
}

const CommandRegistration registered{{"tasks", "list benchmark tasks, their parameter spaces and objectives", setup}};

}  // namespace

}  // namespace chipgym::cli

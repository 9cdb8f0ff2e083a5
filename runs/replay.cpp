#include "runs/replay.h"

#include "env/task.h"
#include "runs/train.h"

namespace chipgym::runs {

ReplayResult replay(const std::filesystem::path& run, std::optional<long long> step,
                    std::shared_ptr<evaluators::Pipeline> pipeline, std::optional<std::filesystem::path> vcd,
                    bool policy) {
  RunDir dir = RunDir::open(run);
  json config = dir.read_config();
  env::Task task;
  std::string fidelity;
  try {
    task = env::Task::from_json(config.at("task"));
    fidelity = config.at("env").at("fidelity").get<std::string>();
  } catch (const json::exception& e) {
    throw hdl::ParamError("config.json of " + run.string() + " is incomplete or malformed: " + e.what());
  }
  ReplayResult out;
  json recorded;
  bool at_rtl = false;  // a verified best is evaluated as it was verified: at rtl, iCE40 included
  if (policy) {
    out.design = policy_choice(run, pipeline);
    for (const auto& e : dir.read_events().events)
      if (e.contains("eval") && e.value("design", json()) == out.design["design"]) {
        for (const char* k : {"cycles", "transistors", "reward", "correct"})
          if (e.contains(k)) recorded[k] = e[k];
        break;
      }
  } else if (step) {
    std::vector<json> events;  // the evaluations (notes left out)
    for (auto& e : dir.read_events().events)
      if (e.contains("eval")) events.push_back(std::move(e));
    if (events.empty()) throw hdl::ParamError(run.string() + " has no evaluations to replay");
    if (*step < 0 || *step >= static_cast<long long>(events.size()))
      throw hdl::ParamError("--step " + std::to_string(*step) + " is out of range: the run has " +
                            std::to_string(events.size()) + " evaluations (0.." + std::to_string(events.size() - 1) + ")");
    const json& e = events[static_cast<std::size_t>(*step)];
    out.design = {{"params", e.at("params")}, {"source", "events.jsonl, evaluation " + std::to_string(*step)}};
    for (const char* k : {"cycles", "transistors", "reward", "correct"})
      if (e.contains(k)) recorded[k] = e[k];
  } else {
    std::ifstream in(run / "best" / "design.json");
    if (!in) throw hdl::ParamError(run.string() + " has no best/design.json (the run evaluated nothing yet?)");
    json d, m = json::object();
    try {
      d = json::parse(in);
      std::ifstream min(run / "best" / "metrics.json");
      if (min) m = json::parse(min);
      if (!d.contains("params")) throw hdl::ParamError("best/design.json has no params");
    } catch (const json::exception& e) {
      throw hdl::ParamError("best/ of " + run.string() + " is not valid JSON: " + e.what());
    }
    out.design = {{"params", d.at("params")}, {"source", "best/design.json"}};
    for (const char* k : {"correct", "mismatches", "cycles", "cycles_model", "cells", "transistors", "depth", "luts",
                          "ffs", "dsps", "brams", "carries"})
      if (m.contains(k)) recorded[k] = m[k];
    if (d.contains("reward")) recorded["reward"] = d["reward"];
    at_rtl = m.contains("verified");
    if (at_rtl) recorded["verified"] = m["verified"];
  }
  const auto& family = task.design_family();
  auto params = family.space().from_json(out.design["params"]);
  evaluators::EvalOptions o;
  o.fidelity = at_rtl ? "rtl" : fidelity;
  o.use_cache = false;
  o.fpga = at_rtl || task.needs_fpga();
  out.metrics = pipeline->evaluate(family, params, task.workload, o);
  json now = out.metrics.to_json();
  now["reward"] = task.reward(out.metrics);
  if (at_rtl) now["verified"] = out.metrics.correct.value_or(false) && out.metrics.ok();
  for (auto it = recorded.begin(); it != recorded.end(); ++it) {
    if (!now.contains(it.key())) continue;
    // Runs recorded before `correct` could be null wrote false for a design not simulated.
    if (it.key() == "correct" && now[it.key()].is_null() && it.value() == false) continue;
    if (now[it.key()] != it.value())
      out.differences.push_back(it.key() + ": recorded " + it.value().dump() + ", now " + now[it.key()].dump());
  }
  out.recorded = recorded;
  out.fresh = now;
  if (vcd) {
    evaluators::EvalOptions w;
    w.fidelity = "rtl";
    w.use_cache = false;
    w.synthesis = false;
    w.vcd = *vcd;
    json tile = task.workload;
    if (tile.contains("shapes") && !tile["shapes"].empty()) {
      json first = tile["shapes"][0];
      const long long rows = params.has("rows") ? params.integer("rows") : first[0].get<long long>();
      const long long cols = params.has("cols") ? params.integer("cols") : first[2].get<long long>();
      tile["shapes"] = json::array({json::array({std::min(rows, first[0].get<long long>()), first[1].get<long long>(),
                                                 std::min(cols, first[2].get<long long>())})});
      tile["patterns"] = json::array({"random"});
    }
    out.waveform = pipeline->evaluate(family, params, tile, w);
  }
  return out;
}

}  // namespace chipgym::runs

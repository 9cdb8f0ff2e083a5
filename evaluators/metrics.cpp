#include "evaluators/metrics.h"

#include <set>

namespace chipgym::evaluators {

bool design_failure(const std::string& category) {
  static const std::set<std::string> design = {
      "input",    "screen",          "interface",         "undefined_module", "lint",         "sim_build",
      "combinational_loop", "mismatch", "protocol",       "no_input",         "no_output",    "constant_output",
      "input_independent",  "extra_output", "cycle_limit", "backpressure",    "latch",        "synth"};
  return design.count(category) > 0;
}

json Metrics::to_json() const {
  json j = {{"correct", correct ? json(*correct) : json(nullptr)}, {"checked", checked},       {"mismatches", mismatches},
            {"cycles", cycles},       {"cycles_model", cycles_model}, {"cells", cells},
            {"transistors", transistors}, {"depth", depth},       {"luts", luts},
            {"ffs", ffs},             {"dsps", dsps},             {"brams", brams},
            {"carries", carries},     {"cache_hit", cache_hit},   {"seconds", seconds},
            {"stages", stages},       {"derived", derived},       {"fidelity", fidelity}};
  if (!first_mismatch.empty()) j["first_mismatch"] = first_mismatch;
  j["error"] = error ? json{{"category", error->category}, {"message", error->message}} : json(nullptr);
  if (error && !error->stage.empty()) j["error"]["stage"] = error->stage;
  return j;
}

Metrics Metrics::from_json(const json& j) {
  Metrics m;
  // Records written before `correct` could be null said false for "not simulated": a verdict
  // counts only where the record shows a simulation.
  const bool simulated = j.contains("stages") && j["stages"].is_object() && j["stages"].contains("simulate");
  if (j.contains("correct") && j["correct"].is_boolean() && (simulated || j["correct"].get<bool>()))
    m.correct = j["correct"].get<bool>();
  m.checked = j.value("checked", 0LL);
  m.mismatches = j.value("mismatches", 0LL);
  m.first_mismatch = j.value("first_mismatch", std::string());
  m.cycles = j.value("cycles", 0LL);
  m.cycles_model = j.value("cycles_model", 0LL);
  m.cells = j.value("cells", 0LL);
  m.transistors = j.value("transistors", 0LL);
  m.depth = j.value("depth", 0LL);
  m.luts = j.value("luts", 0LL);
  m.ffs = j.value("ffs", 0LL);
  m.dsps = j.value("dsps", 0LL);
  m.brams = j.value("brams", 0LL);
  m.carries = j.value("carries", 0LL);
  m.cache_hit = j.value("cache_hit", false);
  m.seconds = j.value("seconds", 0.0);
  if (j.contains("stages")) m.stages = j["stages"];
  if (j.contains("derived")) m.derived = j["derived"];
  m.fidelity = j.value("fidelity", std::string());
  if (j.contains("error") && j["error"].is_object())
    m.error = ErrorInfo{j["error"].value("category", std::string()), j["error"].value("message", std::string()),
                        j["error"].value("stage", std::string())};
  return m;
}

}  // namespace chipgym::evaluators

// The params and module subjects of `chipgym evolve` (see evolve_design.h).
#include "agents/evolve_design.h"

#include <algorithm>
#include <iomanip>
#include <regex>
#include <sstream>

#include "env/task.h"
#include "hdl/param_space.h"
#include "agents/diff.h"
#include "agents/evolve_ops.h"
#include "env/score.h"
#include "evaluators/screen.h"

namespace chipgym::agents {

namespace {

using hdl::ParamError;
using json = nlohmann::json;
using agents::EditResult;
using agents::Figures;
using agents::Subject;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

EditResult edit_failure(const std::string& kind, const std::string& error) {
  EditResult r;
  r.kind = kind;
  r.error = error;
  return r;
}

std::string join(const std::vector<std::string>& parts, const std::string& by) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? by : "") + parts[i];
  return out;
}

// A design's evaluation as a report: verdict, stage, category, message, then the figures.
// Deterministic (no seconds, no cache flags), so a replay can compare it key by key.
json design_report(const env::Task& task, const evaluators::Metrics& m) {
  const double reward = task.reward(m);
  json score = task.score(m);
  json r = {{"verdict", reward >= 0 ? "pass" : "fail"},
            {"stage", ""},
            {"category", ""},
            {"message", ""},
            {"reward", reward},
            {"objective", score.value("objective", 0.0)},
            {"score", score},
            {"cycles", m.cycles},
            {"transistors", m.transistors},
            {"cells", m.cells},
            {"depth", m.depth},
            {"fidelity", m.fidelity}};
  if (task.budget.contains("max_luts")) {
    r["luts"] = m.luts;
    r["ffs"] = m.ffs;
  }
  if (m.correct) {
    r["correct"] = *m.correct;
    r["checked"] = m.checked;
    r["mismatches"] = m.mismatches;
  }
  if (m.error) {
    const std::string& c = m.error->category;
    r["stage"] = c.rfind("sim", 0) == 0 ? "simulate" : c.rfind("synth", 0) == 0 ? "synthesize" : c;
    r["category"] = m.error->category;
    r["message"] = m.error->message;
  } else if (m.incorrect()) {
    r["stage"] = "simulate";
    r["category"] = "mismatch";
    r["message"] = std::to_string(m.mismatches) + " of " + std::to_string(m.checked) +
                   " output values differ from the golden model; first: " + m.first_mismatch;
  } else if (reward < 0) {
    r["stage"] = "objective";
    r["category"] = "infeasible";
    r["message"] = "the design is not admissible (over the budget " + task.budget.dump() +
                   ", a missed target, or accumulators that can wrap): " + score.dump();
  }
  return r;
}

json refused(const std::string& stage, const std::string& category, const std::string& message) {
  return {{"verdict", "bad_input"}, {"stage", stage}, {"category", category}, {"message", message}, {"reward", -4.0}};
}

Figures design_figures(const json& report) {
  Figures f;
  f.passed = report.value("verdict", "") == "pass";
  f.fitness = report.value("reward", -4.0);
  if (!f.passed) {
    f.line = failure_line(report, f.fitness);
    return f;
  }
  f.area = report.value("transistors", 0.0);
  f.latency = report.value("cycles", 0.0);
  f.line = "PASS: objective " + fixed(f.fitness, 4) + ", " + std::to_string(report.value("transistors", 0LL)) +
           " transistors, " + std::to_string(report.value("cycles", 0LL)) + " cycles on the workload";
  return f;
}

evaluators::EvalOptions task_options(const env::Task& task, const std::string& fidelity, bool fresh) {
  evaluators::EvalOptions o;
  o.fidelity = fidelity;
  o.fpga = task.needs_fpga();  // as the environments do
  o.use_cache = !fresh;
  return o;
}

std::string objective_slot(const env::Task& task) {
  return task.objective + ". Fitness is that objective for an admissible design; -1 when it is over the budget " +
         task.budget.dump() + " (or misses a target), -2 when its results are wrong, -3 when a tool fails on it, -4 " +
         "when the candidate is refused before any tool runs, -5 when the reply gives no candidate.";
}

// --- params ------------------------------------------------------------------------------------

struct ParamSet {
  std::vector<std::string> names;    // searched, in family order
  json values_json = json::array();  // their searched values, as JSON lists
};

// The canonical text of a parameter set: one name per line, in family order.
std::string canonical(const ParamSet& ps, const json& object) {
  nlohmann::ordered_json o;
  for (const auto& n : ps.names)
    if (object.contains(n)) o[n] = object[n];
  for (auto it = object.begin(); it != object.end(); ++it)  // unknown names stay, to be refused by name
    if (std::find(ps.names.begin(), ps.names.end(), it.key()) == ps.names.end()) o[it.key()] = it.value();
  return o.dump(2) + "\n";
}

// The JSON object of a reply: the last ```json (or bare ```) block, else the outermost {...}.
std::optional<std::string> json_text(const std::string& reply) {
  static const std::regex fence(R"(```[ \t]*([A-Za-z]*)[^\n]*\n([\s\S]*?)```)");
  std::optional<std::string> best;
  for (std::sregex_iterator it(reply.begin(), reply.end(), fence), end; it != end; ++it) {
    const std::string lang = (*it)[1];
    if (lang.empty() || lang == "json") best = (*it)[2].str();
  }
  if (best) return best;
  const auto a = reply.find('{'), b = reply.rfind('}');
  if (a != std::string::npos && b != std::string::npos && b > a) return reply.substr(a, b - a + 1);
  return std::nullopt;
}

Subject params_subject(const env::Task& task, std::shared_ptr<evaluators::Pipeline> pipeline,
                       std::shared_ptr<evaluators::EvalPool> pool) {
  auto ps = std::make_shared<ParamSet>();
  const auto& space = task.design_family().space();
  const hdl::Params defaults = space.defaults();
  json seed = json::object();
  std::string parameters;
  for (auto& [name, values] : task.search_domains()) {
    ps->names.push_back(name);
    json vs = json::array();
    std::vector<std::string> shown;
    for (const auto& v : values) {
      hdl::Params one = defaults;
      one.set(name, v);
      vs.push_back(one.to_json()[name]);
      shown.push_back(hdl::to_string(v));
    }
    ps->values_json.push_back(vs);
    // The seed: the family's default where the task searches it, else the middle searched value.
    hdl::Params pick = defaults;
    if (!std::count(values.begin(), values.end(), defaults.at(name))) pick.set(name, values[values.size() / 2]);
    seed[name] = pick.to_json()[name];
    parameters += "- " + name + ": one of " + join(shown, ", ") + " (" + space.find(name)->help + ")\n";
  }
  Subject s;
  s.kind = "params";
  s.language = "json";
  s.extension = "json";
  s.seed_code = canonical(*ps, seed);
  s.system_template = "params_system.txt";
  s.user_template = "params_user.txt";
  s.slots = {{"task_name", task.name},
             {"task_description", task.description},
             {"family", task.family},
             {"parameters", parameters},
             {"workload", task.workload.dump()},
             {"objective", objective_slot(task)}};
  s.settings = {{"task", task.to_json()}};

  s.apply = [ps](const std::string& parent, const std::string& reply) -> EditResult {
    std::string text;
    std::string kind = "rewrite";
    if (reply.find("<<<<<<< SEARCH") != std::string::npos) {
      EditResult e = apply_search_replace(parent, reply);
      if (!e.ok) return e;
      text = e.code;
      kind = "diff";
    } else {
      auto t = json_text(reply);
      if (!t) return edit_failure(kind, "the reply contains no JSON object: answer with the parameters as {\"name\": value, ...} in a ```json block");
      text = *t;
    }
    json proposed;
    try {
      proposed = json::parse(text);
    } catch (const json::exception& e) {
      return edit_failure(kind, std::string("the reply's JSON does not parse: ") + e.what());
    }
    if (!proposed.is_object())
      return edit_failure(kind, "the reply's JSON is not an object of parameters: " + proposed.dump().substr(0, 200));
    json merged = json::parse(parent);  // names the reply leaves out keep the parent's values
    for (auto it = proposed.begin(); it != proposed.end(); ++it) merged[it.key()] = it.value();
    EditResult r;
    r.ok = true;
    r.kind = kind;
    r.code = canonical(*ps, merged);
    return r;
  };

  s.score = [ps, task, pipeline, pool](const std::string& code, bool fresh) -> std::pair<json, json> {
    json proposed;
    try {
      proposed = json::parse(code);
    } catch (const json::exception& e) {
      return {refused("input", "json", std::string("the parameter set is not valid JSON: ") + e.what()), json::object()};
    }
    if (!proposed.is_object()) return {refused("input", "json", "the parameter set is not a JSON object"), json::object()};
    const auto& space = task.design_family().space();
    json full = space.defaults().to_json();
    for (auto it = proposed.begin(); it != proposed.end(); ++it) {
      const auto at = std::find(ps->names.begin(), ps->names.end(), it.key());
      if (at == ps->names.end())
        return {refused("input", "parameter",
                        "unknown parameter '" + it.key() + "'; the searched parameters are " + join(ps->names, ", ")),
                json::object()};
      const json& allowed = ps->values_json[static_cast<std::size_t>(at - ps->names.begin())];
      const auto value = std::find(allowed.begin(), allowed.end(), it.value());  // 2.0 matches 2
      if (value == allowed.end())
        return {refused("input", "parameter",
                        it.key() + "=" + it.value().dump() + " is not one of the searched values " + allowed.dump()),
                json::object()};
      full[it.key()] = *value;
    }
    hdl::Params params;
    try {
      params = space.from_json(full);
    } catch (const ParamError& e) {
      return {refused("input", "constraint", e.what()), json::object()};
    }
    const evaluators::EvalOptions options = task_options(task, task.fidelity, fresh);
    const evaluators::Metrics m =
        pool && !fresh ? pool->evaluate({{task.design_family().name(), params.to_json(), task.workload, options}}).at(0)
                       : pipeline->evaluate(task.design_family(), params, task.workload, options);
    json report = design_report(task, m);
    report["params"] = params.to_json();
    return {report, {{"seconds", m.seconds}, {"cache_hit", m.cache_hit}}};
  };
  s.figures = design_figures;

  // Offline: one searched parameter moved to another of its values (a neighbour two times in
  // three, else any), as a full JSON reply.
  s.mutate = [ps](const std::string& code, std::uint64_t seed, const std::function<bool(const std::string&)>& avoid,
                  std::string* what, std::string* op) -> std::string {
    if (op) *op = "params";
    json current;
    try {
      current = json::parse(code);
    } catch (const json::exception&) {
      return "";
    }
    std::uint64_t state = seed;
    auto next = [&state] { return hdl::splitmix64(state); };
    for (int attempt = 0; attempt < 64; ++attempt) {
      const std::size_t i = next() % ps->names.size();
      const json& values = ps->values_json[i];
      if (values.size() < 2) continue;
      const std::string& name = ps->names[i];
      std::size_t at = 0;
      while (at < values.size() && values[at] != current.value(name, json())) ++at;
      std::size_t to;
      if (at < values.size() && next() % 3 != 0) {
        if (at == 0) to = 1;
        else if (at + 1 == values.size()) to = at - 1;
        else to = next() % 2 ? at + 1 : at - 1;
      } else {
        to = next() % values.size();
      }
      if (to == at) continue;
      json child = current;
      child[name] = values[to];
      const std::string text = canonical(*ps, child);
      if (avoid && avoid(text)) continue;
      if (what) *what = name + " " + current.value(name, json()).dump() + " -> " + values[to].dump();
      return "```json\n" + text + "```\n";
    }
    return "";
  };
  return s;
}

// --- module ------------------------------------------------------------------------------------

std::string describe_ports(const std::map<std::string, int>& ports) {
  std::string out;
  for (const auto& [name, width] : ports)
    out += "- " + name + ": " + (width > 0 ? "input" : "output") + ", " + std::to_string(std::abs(width)) + " bits\n";
  return out;
}

Subject module_subject(const env::Task& task, const std::string& module_arg, const json& fixed_params,
                       std::shared_ptr<evaluators::Pipeline> pipeline, std::shared_ptr<evaluators::EvalPool> pool) {
  const auto& family = task.design_family();
  const auto& space = family.space();
  if (!fixed_params.is_object()) throw ParamError("--set must give parameters as name=value,...");
  const hdl::Params params = space.from_json(fixed_params);  // defaults for the rest; throws ParamError
  const hdl::Rtl rtl = family.emit(params);
  const std::string module = module_arg.size() > 2 && module_arg.substr(module_arg.size() - 2) == ".v"
                                 ? module_arg.substr(0, module_arg.size() - 2)
                                 : module_arg;
  const std::string file = module + ".v";
  if (!rtl.files.count(file) || module == rtl.top) {
    std::vector<std::string> names;
    for (const auto& [f, text] : rtl.files)
      if (f != rtl.top + ".v") names.push_back(f.substr(0, f.size() - 2));
    throw ParamError("--module " + module_arg + ": the design of " + task.name + " at " + params.to_assignments() +
                     " has no such module (the top is generated); its modules are " + join(names, ", "));
  }
  const std::string seed = rtl.files.at(file);
  const auto screened = evaluators::screen_verilog(seed);
  if (!screened.ok) throw ParamError("the generated " + file + " does not pass the screen: " + screened.message);
  const auto ports = evaluators::parse_module_ports(screened.code, module);  // throws ParamError

  Subject s;
  s.kind = "module";
  s.language = "verilog";
  s.extension = "v";
  s.seed_code = seed;
  s.user_template = "module_user.txt";
  s.slots = {{"task_name", task.name},
             {"task_description", task.description},
             {"module", module},
             {"interface", describe_ports(ports)},
             {"design", params.to_assignments()},
             {"modules", join(rtl.modules, ", ")},
             {"workload", task.workload.dump()},
             {"objective", objective_slot(task)}};
  s.settings = {{"task", task.to_json()}, {"module", module}, {"params", params.to_json()}};
  s.apply = [](const std::string& parent, const std::string& reply) { return apply_reply(parent, reply); };
  // The kernel operators but the table (a module is no elementwise stream kernel).
  s.mutate = [](const std::string& code, std::uint64_t seed_, const std::function<bool(const std::string&)>& avoid,
                std::string* what, std::string* op) {
    const auto child = propose_child(code, seed_, avoid, OpsContext{});
    if (!child) return std::string();
    if (what) *what = child->what;
    if (op) *op = child->op;
    return child->reply;
  };
  s.score = [task, params, module, file, ports, pipeline, pool](const std::string& code, bool fresh) -> std::pair<json, json> {
    // Screened, preprocessed once in the sandbox and screened again; the pipeline reads the
    // same text and runs every tool on the design sandboxed.
    evaluators::PrepareOptions prepare;
    prepare.verilator = pipeline->tools().verilator;
    const auto prepared = evaluators::prepare_untrusted(code, prepare);
    if (!prepared.ok) {
      if (prepared.category == "sandbox" || prepared.category == "environment")
        throw std::runtime_error(prepared.message);  // no candidate can be scored here: stop the run
      return {refused("screen", prepared.category, prepared.message), json::object()};
    }
    std::map<std::string, int> got;
    try {
      got = evaluators::parse_module_ports(evaluators::strip_comments_and_strings(prepared.text), module);
    } catch (const ParamError& e) {
      return {refused("interface", "interface", e.what()), json::object()};
    }
    if (got != ports) {
      std::vector<std::string> diffs;
      for (const auto& [name, width] : ports)
        if (!got.count(name)) diffs.push_back("port " + name + " is missing");
        else if (got[name] != width) diffs.push_back("port " + name + " has width " + std::to_string(got[name]) +
                                                     ", expected " + std::to_string(width) + " (positive: input)");
      for (const auto& [name, width] : got)
        if (!ports.count(name)) diffs.push_back("port " + name + " is not in the interface");
      return {refused("interface", "interface", "module " + module + ": " + join(diffs, "; ")), json::object()};
    }
    evaluators::EvalOptions o = task_options(task, "rtl", fresh);
    o.inject = std::make_pair(file, code);
    // Through the pool the text travels with its job and is screened and sandboxed where it runs.
    const evaluators::Metrics m =
        pool && !fresh ? pool->evaluate({{task.design_family().name(), params.to_json(), task.workload, o}}).at(0)
                       : pipeline->evaluate(task.design_family(), params, task.workload, o);
    return {design_report(task, m), {{"seconds", m.seconds}, {"cache_hit", m.cache_hit}}};
  };
  s.figures = design_figures;
  return s;
}

}  // namespace

Subject design_subject(const EvolveConfig& cfg, std::shared_ptr<evaluators::Pipeline> pipeline) {
  const env::Task task = cfg.task_spec.is_null() ? env::task(cfg.task) : env::Task::from_json(cfg.task_spec);
  if (task.name != cfg.task) throw ParamError("the task JSON is named " + task.name + ", not " + cfg.task);
  if (cfg.module.empty()) {
    if (!cfg.fixed.empty())
      throw ParamError("--set fixes the accelerator around --module; without --module evolve searches the parameters");
    return params_subject(task, std::move(pipeline), cfg.pool);
  }
  return module_subject(task, cfg.module, cfg.fixed, std::move(pipeline), cfg.pool);
}

}  // namespace chipgym::agents

#include "evaluators/stage.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "evaluators/sandbox.h"
#include "evaluators/screen.h"

namespace chipgym::evaluators {

namespace {

// The fidelities, cheapest first. `screen` runs first in each: it only acts on injected text.
const FidelityRegistration model_fidelity{
    {"model", "the exact architectural cycle model only: cycles and derived figures, no tools", {"screen"}, 0}};
const FidelityRegistration synth_fidelity{
    {"synth", "the cycle model, then Yosys: cells, transistors, depth and iCE40 resources (not simulated)",
     {"screen", "synthesize", "fpga"}, 2}};
const FidelityRegistration rtl_fidelity{
    {"rtl", "lint, Verilator simulation against the golden model (cycles, bit-exact outputs), then Yosys",
     {"screen", "lint", "simulate", "synthesize", "fpga"}, 3}};
// A candidate scored against golden vectors (`chipgym score`): untrusted text through every
// check, each stage a refusal or a verdict of its own; synthesized flattened, without iCE40.
const FidelityRegistration untrusted_fidelity{
    {"untrusted",
     "untrusted Verilog against golden vectors: screen, interface, lint, simulation (both stream passes), "
     "Yosys loop check, synthesis",
     {"screen", "interface", "lint", "simulate", "loops", "synthesize"}, 4, false}};
// Any module at its ports against a reference or port-level vectors (`chipgym score --ref`):
// simulated with Icarus Verilog (4-state), synthesized flattened, without iCE40.
const FidelityRegistration ports_fidelity{
    {"ports",
     "untrusted Verilog at its ports against a reference module or port vectors: screen, interface, Icarus "
     "simulation, synthesis",
     {"screen", "interface", "simulate", "synthesize"}, 5, false}};
// A user's own multi-module design (`chipgym eval --rtl`): untrusted text, synthesized per
// module with every module counted, and once over the whole hierarchy for its depth.
const FidelityRegistration user_rtl_fidelity{
    {"user-rtl",
     "a user's own RTL: screen, lint, Yosys loop check, synthesis per module, iCE40, depth over the whole hierarchy",
     {"screen", "lint", "loops", "synthesize", "fpga", "hierarchy"}, 6, false}};

}  // namespace

const Registry<StageInfo>& stages() { return Registry<StageInfo>::instance(); }

const FidelityInfo& fidelity(const std::string& name) {
  if (const FidelityInfo* f = Registry<FidelityInfo>::instance().find(name)) return *f;
  throw hdl::ParamError(unknown_name_message("fidelity", name, fidelity_names()));  // cheapest first
}

std::vector<const FidelityInfo*> fidelities() {
  auto all = Registry<FidelityInfo>::instance().entries();
  std::stable_sort(all.begin(), all.end(), [](const FidelityInfo* a, const FidelityInfo* b) { return a->rank < b->rank; });
  return all;
}

std::vector<std::string> design_fidelity_names() {
  std::vector<std::string> names;
  for (const FidelityInfo* f : fidelities())
    if (f->for_designs) names.push_back(f->name);
  return names;
}

std::vector<std::string> fidelity_names() {
  std::vector<std::string> names;
  for (const FidelityInfo* f : fidelities()) names.push_back(f->name);
  return names;
}

bool Evaluation::runs(const std::string& stage) const {
  return std::find(stages.begin(), stages.end(), stage) != stages.end();
}

std::optional<json> Evaluation::cached(const std::string& stage, const std::string& key) const {
  return pipeline.cached(options, stage, key);
}

void Evaluation::store(const std::string& stage, const std::string& key, const json& value) const {
  pipeline.store(options, stage, key, value);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> write_rtl(const hdl::Rtl& rtl, const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& [name, text] : rtl.files) {
    write_file(dir / name, text);
    names.push_back(name);
  }
  return names;
}

ErrorInfo tool_error(const std::string& tool, const RunResult& r, const std::string& failed_category,
                     const std::string& timeout_category, const RunLimits& limits) {
  // However it ended (an abort after bad_alloc, or an exit code), running out of memory says so.
  if (r.out_of_memory()) return {"tool_memory", r.explain(tool, limits) + ": " + excerpt(r.err + r.out, 400)};
  switch (r.status) {
    case RunStatus::NotFound: {
      // By the executable's name ("Verilator (--lint-only)" is Verilator too).
      std::string word = tool.substr(0, tool.find(' '));
      std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
      if (word == "yosys" || word == "verilator")
        return {"tool_missing", r.describe(tool) + "; install it (see README.md) or point CHIPGYM_" +
                                    std::string(word == "yosys" ? "YOSYS" : "VERILATOR") + " at it"};
      return {"environment", r.describe(tool)};
    }
    case RunStatus::TimedOut:
      return {timeout_category, r.describe(tool) + "; raise --timeout if the design is large"};
    case RunStatus::Signaled:
      return {"tool_crash", r.explain(tool, limits) + ": " + excerpt(r.err + r.out)};
    case RunStatus::NoSandbox:
      return {"environment", r.exec_error};
    case RunStatus::Exited:
      break;
  }
  return {failed_category, r.describe(tool) + ": " + excerpt(r.err + "\n" + r.out)};
}

RunLimits limits_for(const EvalOptions& o, int parallel_jobs) {
  RunLimits l;
  l.wall_seconds = o.tool_timeout;
  l.cpu_seconds = o.tool_timeout * parallel_jobs + 10;
  l.memory_bytes = o.tool_memory;
  return l;
}

void guard(const EvalOptions& o, RunRequest& req) {
  if (o.inject && !req.sandbox) req.sandbox = untrusted_sandbox();
}

double simulation_seconds(const EvalOptions& o) { return o.sim_timeout > 0 ? o.sim_timeout : o.tool_timeout; }

std::optional<std::string> undefined_module(const std::string& text, const hdl::Rtl& rtl) {
  static const std::regex verilator_re(R"(Cannot find file containing module: '([A-Za-z0-9_$]+)')");
  static const std::regex yosys_re(R"(Module `\\?([A-Za-z0-9_$]+)' referenced in module `\\?([A-Za-z0-9_$]+)')");
  std::string defined;
  for (const auto& [name, file_text] : rtl.files) {
    try {
      for (const auto& module : defined_modules(strip_comments_and_strings(file_text)))
        defined += (defined.empty() ? "" : ", ") + module;
    } catch (const std::exception&) {
      // a module defined twice: the screen says so; the list is only a hint
    }
  }
  std::smatch m;
  if (std::regex_search(text, m, verilator_re))
    return "the design instantiates module '" + m[1].str() +
           "', which it does not define; a candidate must define every module it uses (it defines: " + defined + ")";
  if (std::regex_search(text, m, yosys_re))
    return "module " + m[2].str() + " instantiates module '" + m[1].str() +
           "', which the design does not define; a candidate must define every module it uses";
  return std::nullopt;
}

bool no_sandbox(const RunResult& r, Metrics& m) {
  if (r.status != RunStatus::NoSandbox) return false;
  m.error = ErrorInfo{"environment", r.exec_error};
  return true;
}

}  // namespace chipgym::evaluators

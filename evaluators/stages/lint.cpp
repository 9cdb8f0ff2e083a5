// lint: verilator --lint-only -Wall. Errors stop the evaluation (category lint, or
// undefined_module when a module is used but defined nowhere); warnings are counted and kept in
// Metrics::stages.lint (the first five word for word). Cached under "lint" by the source, top
// and Verilator version.
#include <sstream>

#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {
namespace {

constexpr const char* kLintVersion = "lint-v1";  // bump when the command or its parsing changes

bool lint(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  Metrics& m = e.metrics;
  Sha256 h;
  h.update(kLintVersion).update(rtl.source()).update(rtl.top).update(e.tools().version(e.tools().verilator));
  const std::string key = h.hex();
  json result;
  bool hit = false;
  if (auto c = e.cached("lint", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-lint-");
    auto files = write_rtl(rtl, dir.path());
    RunRequest req;
    req.argv = {e.tools().verilator, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", rtl.top};
    req.argv.insert(req.argv.end(), files.begin(), files.end());
    req.cwd = dir.path();
    req.limits = limits_for(e.options);
    guard(e.options, req);
    RunResult r = run_process(req);
    if (no_sandbox(r, m)) return false;
    if (r.status != RunStatus::Exited || r.out_of_memory()) {
      m.error = tool_error("Verilator (--lint-only)", r, "lint", "tool_timeout", req.limits);
      m.stages["lint"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
      return false;
    }
    long long warnings = 0;
    json first = json::array();
    bool loop = false;  // Verilator saw a combinational loop it cannot order (a warning, not an error)
    std::istringstream in(r.err);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("%Warning", 0) == 0 && ++warnings <= 5) first.push_back(line);
      if (line.find("UNOPTFLAT") != std::string::npos || line.find("ALWCOMBORDER") != std::string::npos) loop = true;
    }
    // Verilator names the files as given (relative to the temporary directory): stable text.
    result = {{"ok", r.exit_code == 0}, {"warnings", warnings}, {"message", r.ok() && warnings == 0 ? "" : excerpt(r.err)},
              {"first_warnings", first}, {"combinational_loop_warning", loop}};
    e.store("lint", key, result);
  }
  m.stages["lint"] = {{"seconds", seconds_since(t0)}, {"cache_hit", hit}, {"warnings", result["warnings"]}};
  if (result.value("warnings", 0LL) > 0 && result.contains("first_warnings"))
    m.stages["lint"]["first_warnings"] = result["first_warnings"];
  if (result.value("combinational_loop_warning", false)) m.stages["lint"]["combinational_loop_warning"] = true;
  if (!result["ok"].get<bool>()) {
    const std::string message = result["message"];
    if (auto undefined = undefined_module(message, rtl)) m.error = ErrorInfo{"undefined_module", *undefined};
    else m.error = ErrorInfo{"lint", "verilator --lint-only rejected the design: " + message};
    return false;
  }
  if (result["warnings"].get<long long>() > 0) m.stages["lint"]["message"] = result["message"];
  return true;
}

const StageRegistration stage{{"lint", "verilator --lint-only -Wall: errors stop, warnings are counted", lint}};

}  // namespace
}  // namespace chipgym::evaluators

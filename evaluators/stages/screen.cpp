// screen: injected Verilog (eval --inject-verilog, evolve --module) is untrusted text. It is
// preprocessed once (sandboxed) and screened as the tools will read it (evaluators/screen.h),
// and that text is what every later stage reads. It defines its file's module and may add
// helpers, but no module the design already defines. Without injected text it does nothing.
#include <algorithm>

#include "evaluators/screen.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {
namespace {

bool screen_injected(Evaluation& e) {
  if (!e.options.inject) return true;
  const auto t0 = std::chrono::steady_clock::now();
  const auto& [file, text] = *e.options.inject;
  Metrics& m = e.metrics;
  hdl::Rtl& rtl = e.rtl;
  if (!rtl.files.count(file)) {
    std::string names;
    for (const auto& [name, unused] : rtl.files) names += (names.empty() ? "" : ", ") + name;
    m.error = ErrorInfo{"input", "cannot inject '" + file + "': the design's files are " + names};
    return false;
  }
  PrepareOptions prepare;
  prepare.verilator = e.tools().verilator;
  const UntrustedVerilog u = prepare_untrusted(text, prepare);
  m.stages["screen"] = {{"seconds", seconds_since(t0)}};
  if (!u.ok) {
    // The file is named when it is one of several (a module injected into a generated design).
    m.error = ErrorInfo{u.category == "sandbox" || u.category == "environment" ? "environment" : "screen",
                        (rtl.files.size() > 1 ? "injected " + file + ": " : std::string()) + u.message};
    return false;
  }
  m.stages["screen"]["modules"] = u.modules;  // every one is synthesized and counted
  const std::string own = std::filesystem::path(file).stem().string();
  const bool is_module_file = std::find(rtl.modules.begin(), rtl.modules.end(), own) != rtl.modules.end();
  if (is_module_file && std::find(u.modules.begin(), u.modules.end(), own) == u.modules.end()) {
    m.error = ErrorInfo{"screen", "injected " + file + " does not define module " + own};
    return false;
  }
  for (const auto& [name, theirs_text] : rtl.files) {
    if (name == file) continue;
    for (const auto& theirs : defined_modules(strip_comments_and_strings(theirs_text)))
      if (std::find(u.modules.begin(), u.modules.end(), theirs) != u.modules.end()) {
        m.error = ErrorInfo{"screen", "injected " + file + " defines module " + theirs +
                                          ", which the design already defines in " + name};
        return false;
      }
  }
  rtl.files[file] = u.text;
  return true;
}

const StageRegistration stage{{"screen",
                               "injected Verilog: preprocess once (sandboxed), screen the text the tools will read",
                               screen_injected}};

}  // namespace
}  // namespace chipgym::evaluators

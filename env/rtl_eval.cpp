#include "env/rtl_eval.h"

#include <algorithm>
#include <regex>

#include "evaluators/pipeline.h"
#include "evaluators/screen.h"
#include "evaluators/sha256.h"
#include "hdl/family.h"
#include "hdl/param_space.h"

namespace chipgym::env {

using hdl::ParamError;

namespace {

// The design as a family with no parameters: emit() gives its files, one per module.
class UserRtl : public hdl::Family {
 public:
  explicit UserRtl(hdl::Rtl rtl) : rtl_(std::move(rtl)) {}
  std::string name() const override { return "user-rtl"; }
  int version() const override { return 1; }
  std::string description() const override { return "a user's own RTL"; }
  const hdl::ParamSpace& space() const override {
    static const hdl::ParamSpace none;
    return none;
  }
  hdl::Rtl emit(const hdl::Params&) const override { return rtl_; }
  std::string harness_cpp() const override { return {}; }
  hdl::Stimulus stimulus(const hdl::Params&, const json&) const override { return {}; }
  hdl::SimCheck check(const hdl::Params&, const hdl::Stimulus&, const std::string&) const override { return {}; }
  long long model_cycles(const hdl::Params&, const json&) const override { return 0; }
  json derived(const hdl::Params&, const json&) const override { return json::object(); }
  json score(const json&, const json&) const override { return json::object(); }

 private:
  hdl::Rtl rtl_;
};

struct ModuleText {
  std::string name, text;
};

// Screened text split at its modules: each module with the text outside every module (what
// preprocessing left of `timescale and `default_nettype) before it.
std::vector<ModuleText> split_modules(const std::string& text) {
  const std::string code = evaluators::strip_comments_and_strings(text);
  static const std::regex start_re(R"(\b(?:macro)?module\s+([A-Za-z_][A-Za-z0-9_$]*))");
  static const std::regex end_re(R"(\bendmodule\b)");
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::vector<std::string> names;
  std::size_t at = 0;
  std::smatch m;
  while (at < code.size()) {
    auto from = code.cbegin() + static_cast<std::ptrdiff_t>(at);
    if (!std::regex_search(from, code.cend(), m, start_re)) break;
    const std::size_t begin = at + static_cast<std::size_t>(m.position(0));
    std::smatch e;
    auto body = code.cbegin() + static_cast<std::ptrdiff_t>(begin);
    if (!std::regex_search(body, code.cend(), e, end_re)) throw ParamError("module " + m[1].str() + " has no endmodule");
    const std::size_t end = begin + static_cast<std::size_t>(e.position(0) + e.length(0));
    spans.emplace_back(begin, end);
    names.push_back(m[1].str());
    at = end;
  }
  std::string outside;
  std::size_t last = 0;
  for (const auto& [b, e] : spans) {
    outside += text.substr(last, b - last);
    last = e;
  }
  outside += text.substr(last);
  if (outside.find_first_not_of(" \t\r\n") == std::string::npos) outside.clear();
  std::vector<ModuleText> out;
  for (std::size_t i = 0; i < spans.size(); ++i)
    out.push_back({names[i], outside + text.substr(spans[i].first, spans[i].second - spans[i].first) + "\n"});
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

evaluators::EvalOptions RtlEvalOptions::default_eval() {
  evaluators::EvalOptions o;
  o.fidelity = "user-rtl";
  o.flatten = false;  // per module; the hierarchy stage flattens for depth only
  o.fpga = true;
  o.tool_timeout = 300;
  o.tool_memory = 4ull << 30;
  return o;
}

json RtlEvalResult::to_json() const {
  json j = metrics.to_json();
  j["top"] = top;
  j["modules"] = modules;
  if (metrics.stages.contains("hierarchy")) {
    j["hierarchy"] = metrics.stages["hierarchy"]["modules"];
    j["module_depth"] = metrics.stages["hierarchy"]["module_depth"];
  }
  if (correctness) j["correctness"] = correctness->to_json();
  return j;
}

int RtlEvalResult::exit_code() const {
  if (metrics.error && (metrics.error->category == "input" || metrics.error->category == "screen")) return 2;
  if (metrics.error) return 1;
  if (correctness) return correctness->exit_code();
  return 0;
}

RtlEvalResult evaluate_rtl(const std::vector<RtlFile>& files, const std::string& top, const RtlEvalOptions& o) {
  if (files.empty()) throw ParamError("--rtl needs at least one Verilog file");
  if (top.empty()) throw ParamError("--rtl needs --top NAME, the top module of the design");
  evaluators::PrepareOptions prepare;
  prepare.verilator = evaluators::Toolchain::from_env().verilator;
  hdl::Rtl rtl;
  rtl.top = top;
  std::map<std::string, std::string> defined_in;  // module -> file
  std::string joined;                             // the files as one candidate, for the check
  RtlEvalResult result;
  result.top = top;
  for (const auto& f : files) {
    const evaluators::UntrustedVerilog u = evaluators::prepare_untrusted(f.text, prepare);
    if (!u.ok) {
      if (u.category == "sandbox" || u.category == "environment") throw std::runtime_error(f.name + ": " + u.message);
      throw ParamError(f.name + ": " + u.message);
    }
    for (const auto& mod : split_modules(u.text)) {
      if (auto it = defined_in.find(mod.name); it != defined_in.end())
        throw ParamError("module " + mod.name + " is defined twice: in " + it->second + " and in " + f.name);
      defined_in[mod.name] = f.name;
      rtl.files[mod.name + ".v"] = mod.text;
      rtl.modules.push_back(mod.name);
    }
    joined += f.text + "\n";
  }
  result.modules = rtl.modules;
  if (!defined_in.count(top))
    throw ParamError("--top " + top + ": no such module in the design (it defines: " + join(rtl.modules) + ")");
  const UserRtl family(rtl);
  evaluators::EvalOptions eval = o.eval;
  // Untrusted: the top's file goes through the screen stage once more, and every tool run of
  // the design is sandboxed (evaluators::guard).
  eval.inject = std::make_pair(top + ".v", rtl.files.at(top + ".v"));
  evaluators::Sha256 digest;
  digest.update(rtl.source());
  evaluators::Pipeline pipeline(o.cache);
  result.metrics = pipeline.evaluate(family, hdl::Params{}, json{{"top", top}, {"files_digest", digest.hex()}}, eval);
  if (o.reference && !result.metrics.error) {
    PortScoreOptions ports = o.ports;
    ports.cache = o.cache;
    ports.eval.synthesis = false;  // measured above, per module
    result.correctness = score_against_reference(*o.reference, joined, top, ports);
  }
  return result;
}

}  // namespace chipgym::env

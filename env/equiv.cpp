#include "env/equiv.h"

#include <regex>
#include <sstream>

#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "evaluators/sandbox.h"
#include "evaluators/sha256.h"
#include "evaluators/tools.h"

namespace chipgym::env {

namespace fs = std::filesystem;
using evaluators::RunRequest;
using evaluators::RunResult;
using evaluators::RunStatus;

namespace {

constexpr const char* kEquivVersion = "equiv-v1";  // bump when the script or its reading changes

// One design read, elaborated and renamed, alone in the Yosys session.
std::string elaborate(const std::string& file, const std::string& module, const std::string& as) {
  return "read_verilog -sv -nodpi " + file + "\nhierarchy -check -top " + module +
         "\nproc\nflatten\nmemory -nomap\nmemory_map\nopt_clean\nrename " + module + " " + as + "\n";
}

enum class Model { Combinational, RisingEdge, Clk2ff };

// Each attempt writes files of its own: a sandboxed run cannot overwrite what the one before
// it (another sandbox uid) wrote.
std::string attempt_name(Model model) { return model == Model::Clk2ff ? "equiv-clk2ff" : "equiv"; }
std::string vcd_name(Model model) { return attempt_name(model) + ".vcd"; }

std::string script(const PortSpec& spec, Model model, const EquivOptions& o) {
  std::string s = elaborate("reference.v", spec.module, "chipgym_gold") + "design -stash gold\n" +
                  elaborate("candidate.v", spec.module, "chipgym_gate") +
                  "design -copy-from gold -as chipgym_gold chipgym_gold\n";
  if (model == Model::RisingEdge)  // one SAT step per cycle holds only if every register takes the rising edge
    s += "select -assert-none r:CLK_POLARITY=1'b0 t:$dlatch t:$adlatch t:$dlatchsr t:$sr t:$aldff t:$aldffe\n"
         "async2sync\n";
  if (model == Model::Clk2ff) s += "clk2fflogic\n";
  s += "miter -equiv -flatten -make_assert -ignore_gold_x chipgym_gold chipgym_gate chipgym_miter\n"
       "hierarchy -top chipgym_miter\n";
  const int timeout = std::max(1, static_cast<int>(o.timeout + 0.5));
  s += "sat -verify -prove-asserts -set-def-inputs -enable_undef -show-inputs -timeout " + std::to_string(timeout) +
       " -dump_vcd " + vcd_name(model);
  if (model != Model::Combinational) {
    const int steps = model == Model::Clk2ff ? 2 * o.depth : o.depth;
    s += " -set-init-undef -tempinduct -maxsteps " + std::to_string(steps);
    if (!spec.reset.empty()) {
      const std::string on = spec.reset_active_low ? "0" : "1";
      for (int step = 1; step <= (model == Model::Clk2ff ? 2 : 1); ++step)
        s += " -set-at " + std::to_string(step) + " in_" + spec.reset + " " + on;
    }
  }
  return s + " chipgym_miter\n";
}

// The input trace of the model sat printed after `marker` (-show-inputs): per step, every input.
json read_trace(const std::string& log, const std::string& marker, bool sequential, int& last_step) {
  json trace = json::array();
  last_step = 0;
  const auto at = log.rfind(marker);
  if (at == std::string::npos) return trace;
  std::istringstream in(log.substr(at));
  static const std::regex seq_row(R"(^\s*(\d+)\s+\\in_(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$)");
  static const std::regex comb_row(R"(^\s*\\in_(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$)");
  std::map<int, json> steps;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (sequential && std::regex_match(line, m, seq_row)) {
      const int step = std::stoi(m[1].str());
      steps[step][m[2].str()] = m[3].str();
      last_step = std::max(last_step, step);
    } else if (!sequential && std::regex_match(line, m, comb_row)) {
      steps[1][m[1].str()] = m[2].str();
      last_step = 1;
    }
  }
  for (const auto& [step, inputs] : steps) trace.push_back({{"step", step - 1}, {"inputs", inputs}});
  return trace;
}

std::string first_error(const std::string& log) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find("ERROR") != std::string::npos) return line;
  return evaluators::excerpt(log, 400);
}

}  // namespace

json EquivResult::to_json() const {
  json j = {{"verdict", verdict}, {"method", method}, {"message", message}, {"depth", depth}};
  if (!model.empty()) j["model"] = model;
  if (verdict == "counterexample") {
    j["cycle"] = cycle;
    j["trace"] = trace;
  }
  if (!vcd.empty()) j["vcd"] = vcd;
  j["seconds"] = seconds;
  j["cache_hit"] = cache_hit;
  return j;
}

std::string equiv_text(const json& formal) {
  std::ostringstream out;
  out << "  formal        " << formal.value("message", std::string()) << "\n";
  if (formal.value("verdict", std::string()) == "counterexample") {
    const bool half = formal.value("model", std::string()) == "clk2fflogic";
    const bool combinational = formal.value("method", std::string()) == "combinational";
    for (const auto& t : formal["trace"]) {
      out << "                "
          << (combinational ? std::string("inputs") : (half ? "step " : "cycle ") + std::to_string(t["step"].get<int>())) << ":";
      for (auto it = t["inputs"].begin(); it != t["inputs"].end(); ++it)
        out << " " << it.key() << "=" << it.value().get<std::string>();
      out << "\n";
    }
    if (formal.contains("vcd")) out << "  formal wave   " << formal["vcd"].get<std::string>() << "\n";
  }
  return out.str();
}

EquivResult prove_equivalence(const std::string& reference, const std::string& candidate, const PortSpec& spec,
                              const EquivOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const evaluators::Toolchain tools = evaluators::Toolchain::from_env();
  const std::string yosys_version = tools.version(tools.yosys);
  evaluators::Sha256 h;
  h.update(kEquivVersion).update("\n").update(yosys_version).update("\n").update(spec.to_json().dump()).update("\n");
  h.update(std::to_string(o.depth)).update("\n").update(std::to_string(reference.size())).update("\n").update(reference);
  h.update(std::to_string(candidate.size())).update("\n").update(candidate);
  const std::string key = h.hex();
  auto finish = [&](EquivResult r) {
    if (o.vcd && r.differs() && !r.vcd.empty()) {
      evaluators::write_file(*o.vcd, r.vcd);
      r.vcd = o.vcd->string();
    } else {
      r.vcd.clear();
    }
    return r;
  };
  if (o.cache) {
    try {
      if (auto hit = o.cache->get("equivalence", key)) {
        const json j = json::parse(*hit);
        EquivResult r;
        r.verdict = j.at("verdict");
        r.method = j.at("method");
        r.model = j.value("model", std::string());
        r.message = j.at("message");
        r.depth = j.at("depth");
        r.cycle = j.value("cycle", -1);
        r.trace = j.value("trace", json::array());
        r.vcd = j.value("vcd_text", std::string());
        r.cache_hit = true;
        r.seconds = evaluators::seconds_since(t0);
        return finish(r);
      }
    } catch (const std::exception&) {
      // an unreadable entry is a miss
    }
  }
  EquivResult r;
  r.depth = o.depth;
  evaluators::TempDir dir("chipgym-equiv-");
  evaluators::write_file(dir.path() / "reference.v", reference);
  evaluators::write_file(dir.path() / "candidate.v", candidate);
  Model model = spec.clock.empty() ? Model::Combinational : Model::RisingEdge;
  RunResult run;
  std::string log;
  for (;;) {
    const std::string name = attempt_name(model);
    evaluators::write_file(dir.path() / (name + ".ys"), script(spec, model, o));
    RunRequest req;
    req.argv = {tools.yosys, "-q", "-l", name + ".log", "-s", name + ".ys"};
    req.cwd = dir.path();
    req.limits.wall_seconds = o.timeout + 10;
    req.limits.cpu_seconds = o.timeout * 2 + 20;
    req.limits.memory_bytes = o.memory;
    req.sandbox = evaluators::untrusted_sandbox();  // both texts are untrusted
    run = evaluators::run_process(req);
    log = evaluators::read_file(dir.path() / (name + ".log")) + run.err + run.out;
    if (model == Model::RisingEdge && log.find("Assertion failed") != std::string::npos) {
      model = Model::Clk2ff;  // falling-edge registers or latches: model both clock phases
      continue;
    }
    break;
  }
  r.method = model == Model::Combinational ? "combinational" : "induction";
  r.model = model == Model::Combinational ? "" : model == Model::RisingEdge ? "rising edge" : "clk2fflogic";
  const std::string limit = std::to_string(static_cast<int>(o.timeout + 0.5));
  const std::string unit = model == Model::Clk2ff ? "step " : "cycle ";
  if (run.status == RunStatus::NoSandbox || run.status == RunStatus::NotFound) {
    r.verdict = "error";
    r.message = "not run: " + (run.status == RunStatus::NoSandbox ? run.exec_error : run.describe("yosys"));
  } else if (run.status == RunStatus::TimedOut || log.find("TIMEOUT") != std::string::npos ||
             log.find("did time out") != std::string::npos) {
    r.verdict = "undecided";
    r.message = "undecided within " + limit + " s (raise --equiv-timeout); the simulation verdict stands";
  } else if (log.find("model found for base case: FAIL") != std::string::npos ||
             log.find("SAT proof finished - model found: FAIL") != std::string::npos) {
    r.verdict = "counterexample";
    const bool sequential = model != Model::Combinational;
    int last = 0;
    r.trace = read_trace(log, sequential ? "model found for base case: FAIL" : "model found: FAIL", sequential, last);
    r.cycle = std::max(0, last - 1);
    if (model == Model::RisingEdge)  // one step per cycle: the clock is no input of the model
      for (auto& t : r.trace) t["inputs"].erase(spec.clock);
    r.method = sequential ? "bounded" : "combinational";
    r.message = sequential ? "counter-example at " + unit + std::to_string(r.cycle) + " after reset"
                           : "counter-example: the outputs differ for one input";
    if (model == Model::Clk2ff) r.message += " (the clock is free, each step half a cycle)";
    std::error_code ec;
    if (fs::exists(dir.path() / vcd_name(model), ec)) r.vcd = evaluators::read_file(dir.path() / vcd_name(model));
  } else if (run.ok() && log.find("Induction step proven: SUCCESS") != std::string::npos) {
    r.verdict = "equal";
    r.message = "proved by induction: equal in every cycle after reset";
  } else if (run.ok() && log.find("no model found: SUCCESS") != std::string::npos) {
    r.verdict = "equal";
    r.message = "proved: equal for every input";
  } else if (log.find("Reached maximum number of time steps") != std::string::npos) {
    r.verdict = "bounded";
    r.method = "bounded";
    r.message = "bounded: equal for " + std::to_string(o.depth) + " cycles after reset (induction did not close)";
  } else if (run.status == RunStatus::Exited) {
    r.verdict = "unsupported";
    r.message = "not decided: Yosys could not read or model the designs (" + first_error(log) +
                "); the simulation verdict stands";
  } else {
    r.verdict = "undecided";
    r.message = "undecided: " + run.describe("yosys") + "; the simulation verdict stands";
  }
  r.seconds = evaluators::seconds_since(t0);
  const bool decided = r.verdict == "equal" || r.verdict == "bounded" || r.verdict == "counterexample" ||
                       r.verdict == "unsupported";
  if (o.cache && decided && yosys_version.find("unknown") == std::string::npos) {
    json j = r.to_json();
    j.erase("vcd");  // the text, not a path, until finish()
    if (r.vcd.size() < (1u << 20)) j["vcd_text"] = r.vcd;
    try {
      o.cache->put("equivalence", key, j.dump());
    } catch (const std::exception&) {
      // not cached: the proof stands
    }
  }
  return finish(r);
}

}  // namespace chipgym::env

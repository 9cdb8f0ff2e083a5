// chipgym eval: one design through the pipeline (generate, lint, simulate against the golden
// model, synthesize), every metric as text or JSON. Or a user's own multi-module RTL (--rtl
// FILES --top T, env/rtl_eval.h): screened, linted, synthesized per module with every module
// counted, iCE40 resources, depth over the whole hierarchy; --ref adds the check of score --ref.
#include <unistd.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/common.h"
#include "env/rtl_eval.h"
#include "evaluators/pipeline.h"
#include "evaluators/screen.h"

namespace chipgym::cli {

namespace {

using evaluators::EvalOptions;
using evaluators::Metrics;
using evaluators::Pipeline;
using env::with_commas;

void print_metrics(const env::Task& task, const hdl::Params& params, const Metrics& m,
                   const json& score) {
  std::cout << task.name << "  " << params.to_assignments() << "\n";
  auto row = [](const std::string& name, const std::string& value) {
    std::cout << "  " << std::left << std::setw(14) << name << value << "\n";
  };
  if (m.error) row("error", "[" + m.error->category + "] " + m.error->message);
  if (!m.correct) {
    row("correct", "not checked (not simulated at fidelity " + m.fidelity + ")");
  } else {
    row("correct", *m.correct ? "yes, " + with_commas(m.checked) + " outputs bit-exact against the golden model"
                             : "NO, " + with_commas(m.mismatches) + " of " + with_commas(m.checked) + " outputs differ");
    if (!m.first_mismatch.empty()) row("first diff", m.first_mismatch);
  }
  if (m.cycles > 0) {
    row("cycles", with_commas(m.cycles) + (m.fidelity == "rtl" ? " (RTL simulation; cycle model " : " (cycle model") +
                      (m.fidelity == "rtl" ? with_commas(m.cycles_model) + ")" : ")"));
  } else {
    row("cycles model", with_commas(m.cycles_model));
  }
  if (score.contains("macs_per_cycle")) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << score["macs_per_cycle"].get<double>() << " MACs/cycle, "
       << std::setprecision(1) << 100 * score["utilization"].get<double>() << "% of peak";
    row("throughput", os.str());
  }
  if (score.contains("mhashes_per_second")) {  // families that estimate a clock from logic depth
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << score["mhashes_per_second"].get<double>() << " MH/s at "
       << std::setprecision(1) << score["clock_mhz"].get<double>() << " MHz (clock estimated from logic depth), "
       << std::setprecision(4) << score["blocks_per_cycle"].get<double>() << " blocks/cycle";
    row("throughput", os.str());
  }
  if (score.contains("max_abs_error_lsb")) {  // quantized operators (docs/quant.md)
    std::ostringstream os;
    os << std::setprecision(3) << score["elements_per_cycle"].get<double>() << " elements/cycle, latency "
       << score.value("latency_cycles", 0LL) << " cycles";
    if (score.contains("elements_per_cycle_backpressured"))
      os << "; " << score["elements_per_cycle_backpressured"].get<double>() << " under random stalls";
    row("throughput", os.str());
    os.str("");
    os << "max " << score["max_abs_error_lsb"].get<double>() << ", mean " << score["mean_abs_error_lsb"].get<double>()
       << " output LSBs against floating point" << (score.value("accurate", true) ? "" : " (over the error budget)");
    row("accuracy", os.str());
  }
  if (m.stages.contains("synthesize")) {
    row("cells", with_commas(m.cells) + " generic gates and flip-flops (" +
                     (m.stages["synthesize"].value("flatten", false) ? "flattened" : "per module, over the hierarchy") + ")");
    row("area", with_commas(m.transistors) + " transistors (Yosys CMOS estimate)");
    row("logic depth", std::to_string(m.depth) + " gates");
    if (m.luts || m.ffs || m.dsps || m.brams)  // the iCE40 run is skipped with --no-fpga
      row("iCE40", with_commas(m.luts) + " LUT4, " + with_commas(m.ffs) + " FF, " + with_commas(m.dsps) + " DSP, " +
                     with_commas(m.brams) + " BRAM, " + with_commas(m.carries) + " carry");
  }
  if (score.contains("objective")) {
    std::ostringstream os;
    if (score.contains("meets_target"))
      os << std::setprecision(4) << score["objective"].get<double>() << " (10^6 / transistors; "
         << (score["meets_target"].get<bool>() ? "meets the cycle target" : "MISSES the cycle target") << ")";
    else
      os << std::setprecision(4) << score["objective"].get<double>() << " "
         << score.value("objective_unit", std::string("MACs/cycle per million transistors"))
         << (score.value("within_budget", true) ? "" : score.value("accurate", true) ? " (over the budget)" : " (over the error budget)");
    row("objective", os.str());
  }
  std::ostringstream t;
  t << std::fixed << std::setprecision(3) << m.seconds << " s" << (m.cache_hit ? " (cache hit)" : "");
  row("time", t.str());
}

struct EvalCommand {
  std::string task_name = "gemm-int8", task_file, assignments, params_file, inject;
  std::vector<std::string> rtl;
  std::string top, ref;
  bool design_options = false;  // --task, --task-file, --set, --params or --fidelity given
  EvalOptions options;
  bool no_fpga = false;
  bool as_json = false;
  CacheOptions cache;
};


void print_rtl(const env::RtlEvalResult& r) {
  const Metrics& m = r.metrics;
  std::cout << "rtl  " << r.top << "  (" << r.modules.size() << " module" << (r.modules.size() == 1 ? "" : "s") << ")\n";
  auto row = [](const std::string& name, const std::string& value) {
    std::cout << "  " << std::left << std::setw(14) << name << value << "\n";
  };
  if (m.error) row("error", "[" + m.error->category + "] " + m.error->message);
  if (m.stages.contains("lint")) row("lint", std::to_string(m.stages["lint"].value("warnings", 0LL)) + " warnings (verilator -Wall)");
  if (m.stages.contains("synthesize")) {
    row("cells", with_commas(m.cells) + " generic gates and flip-flops (per module, over the hierarchy)");
    if (m.stages.contains("hierarchy"))
      for (auto& [name, h] : m.stages["hierarchy"]["modules"].items())
        row("", name + ": " + with_commas(h["cells"].get<long long>()) + " cells x " +
                    std::to_string(h["instances"].get<long long>()) + " instance" + (h["instances"] == 1 ? "" : "s"));
    row("area", with_commas(m.transistors) + " transistors (Yosys CMOS estimate)");
    if (m.stages.contains("hierarchy"))
      row("logic depth", std::to_string(m.depth) + " gates over the whole hierarchy (deepest inside one module: " +
                             m.stages["hierarchy"]["module_depth"].dump() + ")");
    if (m.luts || m.ffs || m.dsps || m.brams)
      row("iCE40", with_commas(m.luts) + " LUT4, " + with_commas(m.ffs) + " FF, " + with_commas(m.dsps) + " DSP, " +
                     with_commas(m.brams) + " BRAM, " + with_commas(m.carries) + " carry");
  }
  if (r.correctness) {
    const auto& c = *r.correctness;
    row("correct", c.passed() ? "yes, against the reference: " + c.message
                              : "NO (" + c.stage + "/" + c.category + "): " + c.message);
  }
  std::ostringstream t;
  t << std::fixed << std::setprecision(3) << m.seconds << " s" << (m.cache_hit ? " (cache hit)" : "");
  row("time", t.str());
}

int run_rtl(const EvalCommand& c) {
  if (c.design_options || !c.inject.empty())
    throw hdl::ParamError("--rtl evaluates the files it is given; no --task, --task-file, --set, --params, --fidelity or --inject-verilog with it");
  require_sandbox();
  std::vector<env::RtlFile> files;
  for (const auto& path : c.rtl) files.push_back({path, read_verilog(path, "the design file")});
  env::RtlEvalOptions o;
  o.eval.fpga = !c.no_fpga;
  o.eval.tool_timeout = c.options.tool_timeout;
  o.cache = open_cache(c.cache);
  if (!c.ref.empty()) o.reference = read_verilog(c.ref, "the reference");
  const env::RtlEvalResult r = env::evaluate_rtl(files, c.top, o);
  if (r.metrics.stages.contains("cache_warnings"))
    for (const auto& w : r.metrics.stages["cache_warnings"]) std::cerr << "warning: result not cached: " << w.get<std::string>() << "\n";
  if (c.as_json) std::cout << r.to_json().dump(2) << "\n";
  else print_rtl(r);
  if (r.metrics.error) std::cerr << "error: " << r.metrics.error->message << "\n";
  else if (r.correctness && !r.correctness->passed()) std::cerr << "error: " << r.correctness->message << "\n";
  return r.exit_code();
}

int run_eval(const EvalCommand& c) {
  if (!c.rtl.empty()) return run_rtl(c);
  if (!c.top.empty() || !c.ref.empty()) throw hdl::ParamError("--top and --ref apply to --rtl FILES");
  const bool as_json = c.as_json;
  auto task = load_task(c.task_name, c.task_file);
  apply_workload(task);
  const auto& family = task.design_family();
  hdl::Params params;
  if (!c.params_file.empty()) {
    const json j = read_json_file(c.params_file, "parameter file");
    params = family.space().apply_assignments(family.space().from_json(j, false), c.assignments);
  } else {
    params = family.space().parse_assignments(c.assignments);
  }
  EvalOptions o = c.options;
  if (o.fidelity.empty()) o.fidelity = "rtl";  // eval shows every metric; training uses the task's fidelity
  check_fidelity(task, o.fidelity);
  auto cache = open_cache(c.cache);
  Pipeline pipeline(cache);
  if (!as_json && isatty(STDERR_FILENO))
    std::cerr << "evaluating " << params.to_assignments() << " (" << o.fidelity << ") ...\r" << std::flush;
  Metrics m = pipeline.evaluate(family, params, task.workload, o);
  if (!as_json && isatty(STDERR_FILENO)) std::cerr << std::string(100, ' ') << "\r" << std::flush;
  if (m.stages.contains("cache_warnings"))
    for (const auto& w : m.stages["cache_warnings"]) std::cerr << "warning: result not cached: " << w.get<std::string>() << "\n";
  json score = task.score(m);
  if (as_json) {
    json j = m.to_json();
    j["task"] = task.name;
    j["params"] = params.to_json();
    if (task.workload.contains("source")) j["workload"] = task.workload["source"];  // --workload
    j["score"] = score;
    std::cout << j.dump(2) << "\n";
  } else {
    print_metrics(task, params, m, score);
  }
  if (m.error && m.error->category == "input") return kBadInput;
  return m.ok() && !m.incorrect() ? 0 : kDesignFailed;
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<EvalCommand>();
  c->options.fidelity.clear();
  cmd.add_option("--task", c->task_name, "benchmark task (see `chipgym tasks`)")->capture_default_str();
  cmd.add_option("--task-file", c->task_file, "a task as JSON (the form `chipgym tasks --json` prints) instead of --task");
  cmd.add_option("--set", c->assignments, "parameters as name=value,... (e.g. rows=8,cols=8,dataflow=ws); others take defaults");
  cmd.add_option("--params", c->params_file, "parameters from a JSON file {\"rows\": 8, ...}; --set overrides");
  cmd.add_flag("--json", c->as_json, "print all metrics as JSON");
  cmd.add_option("--fidelity", c->options.fidelity, "model (cycle model), synth (+ Yosys) or rtl (+ lint, Verilator simulation, the default)")
      ->check(CLI::IsMember(fidelities()));
  cmd.add_flag("--flatten", c->options.flatten, "synthesize the flattened design (slow on large arrays) instead of each module once");
  cmd.add_flag("--no-fpga", c->no_fpga, "skip the iCE40 synthesis (LUT/FF/DSP/BRAM counts)");
  cmd.add_option("--timeout", c->options.tool_timeout, "wall-clock seconds allowed to each tool run")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory, holding cache.sqlite and compiled models (default: the directory of the file $CHIPGYM_CACHE, else ~/.cache/chipgym)");
  cmd.add_flag("--no-cache", c->cache.off, "neither read nor write the evaluation cache");
  cmd.add_option("--rtl", c->rtl, "your own design instead of a task: Verilog files (untrusted text: screened and sandboxed), with --top")->expected(1, -1);
  cmd.add_option("--top", c->top, "--rtl: the top module");
  cmd.add_option("--ref", c->ref, "--rtl: a reference module; adds the correctness check of `score --ref` (simulated side by side at the ports)");
  cmd.add_option("--inject-verilog", c->inject, "test hook: FILE.v=PATH replaces one generated file with PATH's text")
      ->group("");
  auto run = [c, &cmd]() -> int {
    c->options.fpga = !c->no_fpga;
    for (const char* name : {"--task", "--task-file", "--set", "--params", "--fidelity"})
      if (cmd.count(name)) c->design_options = true;
    if (!c->inject.empty()) {
      auto eq = c->inject.find('=');
      if (eq == std::string::npos) throw hdl::ParamError("--inject-verilog expects FILE.v=PATH");
      std::ifstream in(c->inject.substr(eq + 1));
      if (!in) throw hdl::ParamError("cannot read " + c->inject.substr(eq + 1));
      std::stringstream text;
      text << in.rdbuf();
      c->options.inject = std::make_pair(c->inject.substr(0, eq), text.str());
      require_sandbox();
    }
    return run_eval(*c);
  };
  auto action = with_unsafe_no_sandbox_flag(cmd, run);
  add_workload_option(&cmd);
  return action;
}

const CommandRegistration registered{
    {"eval", "evaluate one design: generate, lint, simulate against golden, synthesize", setup}};

}  // namespace

}  // namespace chipgym::cli

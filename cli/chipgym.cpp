// chipgym: the command line, a thin front over hdl/, evaluators/ and env/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "agents/rl.h"
#include "agents/searcher.h"
#include "cli/workload.h"
#include "env/env.h"
#include "env/task.h"
#include "env/workload.h"
#include "evaluators/pipeline.h"
#include "evaluators/sandbox.h"
#include "kernels/evolve.h"
#include "kernels/score.h"
#include "runs/compare.h"
#include "runs/evolve_design.h"
#include "runs/replay.h"
#include "runs/train.h"

namespace {

using chipgym::evaluators::Cache;
using chipgym::evaluators::CacheError;
using chipgym::evaluators::EvalOptions;
using chipgym::evaluators::Metrics;
using chipgym::evaluators::Pipeline;
using json = nlohmann::json;

// Exit codes: 0 success, 1 the design failed (tool error or wrong results), 2 bad input,
// 3 (train, RL agents) training stopped on a non-finite loss: not a success, but nothing is
// lost; the run directory is consistent and its last good checkpoint is named on stderr
// (compare: some run stopped so; the leaderboard is written, counting it as far as it got).
constexpr int kDesignFailed = 1;
constexpr int kBadInput = 2;
constexpr int kTrainingStopped = 3;

using chipgym::env::with_commas;

// The spaces an agent sees, built by the environment itself (no evaluation happens).
json env_spaces(const chipgym::env::Task& t) {
  json out;
  for (const char* formulation : {"absolute", "incremental"}) {
    chipgym::env::EnvConfig c;
    c.formulation = formulation;
    chipgym::env::Env e(t, c, nullptr);
    out[formulation] = {{"action_space", e.action_space().to_json()},
                        {"observation_space", e.observation_space().to_json()}};
  }
  return out;
}

void print_tasks(bool as_json) {
  if (as_json) {
    json all = json::array();
    for (const auto& t : chipgym::env::tasks()) {
      json j = t.to_json();
      j["space"] = t.design_family().space().to_json();
      j["env"] = env_spaces(t);
      j["reward"] = "objective if admissible; -1 infeasible (budget, missed target, wrapping accumulators), -2 incorrect, -3 failed";
      all.push_back(j);
    }
    std::cout << all.dump(2) << "\n";
    return;
  }
  for (const auto& t : chipgym::env::tasks()) {
    const auto& f = t.design_family();
    std::cout << t.name << "  (family " << f.name() << " v" << f.version() << ")\n"
              << "  " << t.description << "\n"
              << "  objective: " << t.objective << "\n"
              << "  budget:    " << t.budget.dump() << "\n"
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
                << chipgym::hdl::to_string(p.default_value) << " " << p.help << "\n";
    for (const auto& c : f.space().constraints()) std::cout << "    constraint: " << c.description << "\n";
    double points = 1;
    std::cout << "  searched by agents (others keep their defaults):\n";
    for (const auto& [name, values] : t.search_domains()) {
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + chipgym::hdl::to_string(v);
      std::cout << "    " << std::left << std::setw(13) << name << " " << list << "\n";
      points *= static_cast<double>(values.size());
    }
    const json spaces = env_spaces(t);
    std::cout << "    " << points << " designs; fidelity " << t.fidelity << "\n"
              << "  env: absolute action " << spaces["absolute"]["action_space"].dump() << ", incremental action "
              << spaces["incremental"]["action_space"].dump() << ",\n       observation Box of "
              << spaces["absolute"]["observation_space"]["low"].size() << " values\n"
              << "  reward: the objective if admissible (higher is better); -1 infeasible (over budget, a\n"
              << "          missed target, or accumulators that can wrap), -2 incorrect results, -3 failed evaluation\n";
  }
}

void print_metrics(const chipgym::env::Task& task, const chipgym::hdl::Params& params, const Metrics& m,
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

struct CommonOptions {
  std::string cache_dir;
  bool no_cache = false;
};

std::shared_ptr<Cache> open_cache(const CommonOptions& c) {
  if (c.no_cache) return nullptr;
  auto file = c.cache_dir.empty() ? Cache::default_file() : std::filesystem::path(c.cache_dir) / "cache.sqlite";
  auto cache = std::make_shared<Cache>(file);
  if (!cache->warning().empty()) std::cerr << "warning: " << cache->warning() << "\n";
  return cache;
}

// A user's JSON file; `what` names it in errors ("task file", "parameter file").
json read_json_file(const std::string& file, const std::string& what) {
  std::ifstream in(file);
  if (!in) throw chipgym::hdl::ParamError("cannot read " + what + " " + file);
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw chipgym::hdl::ParamError(what + " " + file + " is not valid JSON: " + e.what());
  }
}

// A task by name, or from a JSON file (a task is a value: see `chipgym tasks --json`).
chipgym::env::Task load_task(const std::string& name, const std::string& file) {
  if (file.empty()) return chipgym::env::task(name);
  auto t = chipgym::env::Task::from_json(read_json_file(file, "task file"));
  t.design_family();   // unknown family: names the known ones
  t.search_domains();  // searched values outside the family's domain
  return t;
}

int run_train(chipgym::runs::TrainOptions o, const CommonOptions& common, bool as_json) {
  auto cache = open_cache(common);
  auto pipeline = std::make_shared<Pipeline>(cache);
  const bool tty = isatty(STDERR_FILENO);
  auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
  long long last_reported = -1;
  auto on_progress = [&](const chipgym::runs::Progress& p) {
    const double rate = p.seconds > 0 ? p.evaluations / p.seconds : 0;
    std::ostringstream line;
    line << p.evaluations << "/" << p.budget << " evaluations, best "
         << (p.has_best ? std::to_string(p.best_reward) : std::string("-")) << ", " << std::fixed << std::setprecision(2)
         << rate << " eval/s, " << p.cache_hits << " cache hits";
    if (tty) {
      const int width = 30, filled = static_cast<int>(width * p.evaluations / std::max(1LL, p.budget));
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << line.str() << "   "
                << std::flush;
      return;
    }
    // Not a terminal: a plain line every 10% of the budget or every 10 seconds.
    const auto now = std::chrono::steady_clock::now();
    if (p.evaluations * 10 / std::max(1LL, p.budget) != last_reported * 10 / std::max(1LL, p.budget) ||
        now - last_line > std::chrono::seconds(10) || p.evaluations == p.budget) {
      std::cerr << "train: " << line.str() << "\n";
      last_line = now;
      last_reported = p.evaluations;
    }
  };
  auto result = chipgym::runs::train(o, pipeline, on_progress);
  if (tty) std::cerr << "\n";
  for (const auto& n : result.notices) std::cerr << "note: " << n << "\n";
  if (as_json) {
    std::cout << result.summary.dump(2) << "\n";
  } else {
    const auto& s = result.summary;
    std::cout << "run " << o.out.string() << ": " << s["evaluations"] << " evaluations, " << s["cache_hits"]
              << " cache hits\n";
    if (!s["best"].is_null() && s["best"].contains("params"))
      std::cout << "best reward " << s["best_reward"] << " at evaluation " << s["best"]["eval"] << ": "
                << s["best"]["params"].dump() << "\n"
                << "best design exported to " << (o.out / "best").string() << "\n";
  }
  if (result.summary.contains("stopped")) {
    std::cerr << "error: " << result.summary["stopped"].get<std::string>() << "\n";
    return kTrainingStopped;
  }
  return 0;
}

int run_eval(const std::string& task_name, const std::string& task_file, const std::string& assignments,
             const std::string& params_file, const EvalOptions& options, const CommonOptions& common, bool as_json) {
  auto task = load_task(task_name, task_file);
  chipgym::cli::apply_workload(task);
  const auto& family = task.design_family();
  chipgym::hdl::Params params;
  if (!params_file.empty()) {
    const json j = read_json_file(params_file, "parameter file");
    params = family.space().apply_assignments(family.space().from_json(j, false), assignments);
  } else {
    params = family.space().parse_assignments(assignments);
  }
  EvalOptions o = options;
  if (o.fidelity.empty()) o.fidelity = "rtl";  // eval shows every metric; training uses the task's fidelity
  chipgym::cli::check_fidelity(task, o.fidelity);
  auto cache = open_cache(common);
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

// chipgym score: exit 0 pass, 1 the candidate failed, 2 bad input (refused before any tool ran).
int run_score(const std::string& task_name, const std::string& vectors_file, const std::string& candidate,
              const chipgym::kernels::ScoreOptions& options, bool as_json) {
  if (task_name.empty() == vectors_file.empty())
    throw chipgym::hdl::ParamError("score needs exactly one of --task T or --vectors FILE.json");
  chipgym::kernels::GoldenSet golden;
  if (!task_name.empty()) {
    const auto& task = chipgym::kernels::find_kernel_task(task_name);
    golden = chipgym::kernels::task_golden(task, options.seed, options.random_vectors);
  } else {
    golden = chipgym::kernels::golden_from_json(read_json_file(vectors_file, "golden vectors file"));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(candidate, ec)) throw chipgym::hdl::ParamError("cannot read the candidate " + candidate + ": no such file");
  const auto size = std::filesystem::file_size(candidate, ec);
  if (!ec && size > chipgym::evaluators::kMaxVerilogBytes)  // refused without reading it into memory
    throw chipgym::hdl::ParamError("the candidate " + candidate + " is " + std::to_string(size) + " bytes; at most " +
                                   std::to_string(chipgym::evaluators::kMaxVerilogBytes) + " bytes of Verilog are accepted");
  std::ifstream in(candidate, std::ios::binary);
  if (!in) throw chipgym::hdl::ParamError("cannot read the candidate " + candidate);
  std::stringstream text;
  text << in.rdbuf();
  auto report = chipgym::kernels::score_candidate(text.str(), golden, options, task_name);
  if (as_json) std::cout << report.to_json().dump(2) << "\n";
  else std::cout << report.to_text();
  if (!report.passed()) std::cerr << "error: " << report.message << "\n";
  return report.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chipgym: agents design hardware, scored by real EDA tools (Yosys, Verilator)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "chipgym 0.1.0");
  bool as_json = false;
  CommonOptions common;

  auto* tasks_cmd = app.add_subcommand("tasks", "list benchmark tasks, their parameter spaces and objectives");
  tasks_cmd->add_flag("--json", as_json, "print JSON instead of text");

  auto* eval_cmd = app.add_subcommand("eval", "evaluate one design: generate, lint, simulate against golden, synthesize");
  std::string task_name = "gemm-int8", assignments, params_file, inject;
  EvalOptions options;
  options.fidelity.clear();
  eval_cmd->add_option("--task", task_name, "benchmark task (see `chipgym tasks`)")->capture_default_str();
  std::string task_file;
  eval_cmd->add_option("--task-file", task_file, "a task as JSON (the form `chipgym tasks --json` prints) instead of --task");
  eval_cmd->add_option("--set", assignments, "parameters as name=value,... (e.g. rows=8,cols=8,dataflow=ws); others take defaults");
  eval_cmd->add_option("--params", params_file, "parameters from a JSON file {\"rows\": 8, ...}; --set overrides");
  eval_cmd->add_flag("--json", as_json, "print all metrics as JSON");
  eval_cmd->add_option("--fidelity", options.fidelity, "model (cycle model), synth (+ Yosys) or rtl (+ lint, Verilator simulation, the default)")
      ->check(CLI::IsMember({"model", "synth", "rtl"}));
  eval_cmd->add_flag("--flatten", options.flatten, "synthesize the flattened design (slow on large arrays) instead of each module once");
  bool no_fpga = false;
  eval_cmd->add_flag("--no-fpga", no_fpga, "skip the iCE40 synthesis (LUT/FF/DSP/BRAM counts)");
  eval_cmd->add_option("--timeout", options.tool_timeout, "wall-clock seconds allowed to each tool run")
      ->capture_default_str()->check(CLI::PositiveNumber);
  eval_cmd->add_option("--cache-dir", common.cache_dir, "cache directory, holding cache.sqlite and compiled models (default: the directory of the file $CHIPGYM_CACHE, else ~/.cache/chipgym)");
  eval_cmd->add_flag("--no-cache", common.no_cache, "neither read nor write the evaluation cache");
  eval_cmd->add_option("--inject-verilog", inject, "test hook: FILE.v=PATH replaces one generated file with PATH's text")
      ->group("");

  auto* train_cmd = app.add_subcommand("train", "search a task's design space with an agent; the run is a resumable directory");
  chipgym::runs::TrainOptions train;
  std::string train_task = "gemm-int8", train_task_file, hyper_text, out_dir;
  train_cmd->add_option("--task", train_task, "benchmark task (see `chipgym tasks`)")->capture_default_str();
  train_cmd->add_option("--task-file", train_task_file, "a task as JSON instead of --task");
  std::string agent_help = "search agent:";
  for (const auto& a : chipgym::agents::searchers()) agent_help += " " + a.name + " (" + a.description + ");";
  agent_help += " RL on libtorch:";
  for (const auto& a : chipgym::agents::rl::algorithms()) agent_help += " " + a.name + " (" + a.description + ");";
  train_cmd->add_option("--agent", train.agent, agent_help)->required();
  train_cmd->add_option("--budget", train.budget, "evaluations to spend")->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "random seed (>= 0)")->capture_default_str();
  train_cmd->add_option("--workers", train.workers, "evaluations in flight at once")->capture_default_str();
  train_cmd->add_option("--hyper", hyper_text, "agent hyper-parameters as JSON, e.g. '{\"population\": 32}'");
  train_cmd->add_option("--out", out_dir, "run directory (default: runs/<task>-<agent>-<seed>-<time>)");
  train_cmd->add_flag("--resume", train.resume, "continue the run in --out (e.g. after it was killed)");
  train_cmd->add_flag("--force", train.force, "start over in an existing --out directory");
  train_cmd->add_option("--fidelity", train.fidelity, "model, synth or rtl (default: the task's)")
      ->check(CLI::IsMember({"model", "synth", "rtl"}));
  train_cmd->add_flag("--json", as_json, "print the summary as JSON");
  train_cmd->add_option("--cache-dir", common.cache_dir, "cache directory (default: as for eval)");
  train_cmd->add_flag("--no-cache", common.no_cache, "neither read nor write the evaluation cache");

  auto* replay_cmd = app.add_subcommand("replay", "rebuild a design from a run directory and evaluate it again, cache off");
  std::string replay_dir;
  long long replay_step = -1;
  bool replay_best = false, verify = false;
  replay_cmd->add_option("run", replay_dir, "the run directory")->required();
  replay_cmd->add_flag("--best", replay_best, "the best design (the default)");
  replay_cmd->add_option("--step", replay_step, "the design of evaluation N of events.jsonl");
  bool replay_policy = false;
  replay_cmd->add_flag("--policy", replay_policy, "RL runs: the design the saved policy picks, acting greedily");
  replay_cmd->add_flag("--verify", verify, "exit 1 if any recorded metric differs from the new evaluation");
  replay_cmd->add_flag("--json", as_json, "print JSON");
  std::string vcd_file;
  replay_cmd->add_option("--vcd", vcd_file, "also write a waveform (VCD) of the design running one workload tile");

  auto* compare_cmd = app.add_subcommand("compare", "every agent on every seed; leaderboard.md/.csv and a sample-efficiency plot");
  chipgym::runs::CompareOptions cmp;
  std::string cmp_task = "gemm-int8", cmp_task_file, cmp_agents, cmp_out;
  double optimum = 0;
  compare_cmd->add_option("--task", cmp_task, "benchmark task")->capture_default_str();
  compare_cmd->add_option("--task-file", cmp_task_file, "a task as JSON instead of --task");
  compare_cmd->add_option("--agents", cmp_agents, "agents, comma-separated (e.g. random,sa,ga)")->required();
  compare_cmd->add_option("--seeds", cmp.seeds, "seeds per agent (0 .. seeds-1)")->capture_default_str();
  compare_cmd->add_option("--budget", cmp.budget, "evaluations per run")->capture_default_str();
  compare_cmd->add_option("--workers", cmp.workers, "runs in flight at once")->capture_default_str();
  compare_cmd->add_option("--out", cmp_out, "comparison directory (default: runs/compare-<task>-<time>); rerun to resume");
  compare_cmd->add_option("--optimum", optimum, "the true optimum objective, when known (regret is measured against it)");
  compare_cmd->add_option("--cache-dir", common.cache_dir, "cache directory (default: as for eval)");
  std::vector<std::string> cmp_hyper;
  compare_cmd->add_option("--hyper", cmp_hyper, "AGENT=JSON: hyper-parameters for that agent's runs, as train --hyper (repeatable)")
      ->allow_extra_args(false);

  auto* optimum_cmd = app.add_subcommand("optimum", "ground truth: evaluate every design of a task's search space once (cached)");
  std::string opt_task = "gemm-int8-small", opt_task_file, opt_out;
  int opt_workers = 1;
  optimum_cmd->add_option("--task", opt_task, "benchmark task")->capture_default_str();
  optimum_cmd->add_option("--task-file", opt_task_file, "a task as JSON instead of --task");
  optimum_cmd->add_option("--workers", opt_workers, "evaluations in flight at once")->capture_default_str();
  optimum_cmd->add_option("--out", opt_out, "run directory of the exhaustive run (default: runs/optimum-<task>)");
  optimum_cmd->add_option("--cache-dir", common.cache_dir, "cache directory (default: as for eval)");
  optimum_cmd->add_flag("--json", as_json, "print JSON");

  auto* score_cmd = app.add_subcommand("score", "score a candidate kernel (Verilog) against golden outputs: screen, interface, lint, simulate, synthesize");
  std::string score_task, score_vectors, score_file;
  chipgym::kernels::ScoreOptions score;
  std::string kernel_help = "kernel task:";
  for (const auto& t : chipgym::kernels::kernel_tasks()) kernel_help += " " + t.name + " (" + t.description + ");";
  bool show_task = false;
  score_cmd->add_option("candidate", score_file, "the candidate kernel, one Verilog file");
  score_cmd->add_flag("--show", show_task, "print the task's interface JSON and canonical implementation instead of scoring");
  score_cmd->add_option("--task", score_task, kernel_help);
  score_cmd->add_option("--vectors", score_vectors, "a golden vectors JSON file {\"interface\": ..., \"cases\": [{\"in\": [...], \"out\": [...]}]} instead of --task");
  score_cmd->add_option("--seed", score.seed, "seed of the random vectors (the vectors come from it and a hidden salt)")->capture_default_str();
  score_cmd->add_option("--random", score.random_vectors, "random vectors besides the edge cases and the fixed coverage vectors (--task)")->capture_default_str()->check(CLI::Range(0, 10000));
  score_cmd->add_option("--timeout", score.eval.sim_timeout, "wall-clock seconds allowed to the simulation")->capture_default_str()->check(CLI::PositiveNumber);
  score_cmd->add_flag("--no-synth", [&](std::int64_t) { score.eval.synthesis = false; }, "skip the Yosys area measurement");
  score_cmd->add_flag("--json", as_json, "print the report as JSON");
  score_cmd->add_option("--cache-dir", common.cache_dir, "cache directory (default: as for eval); a candidate scored again with the same vectors and seed is not run again");
  score_cmd->add_flag("--no-cache", common.no_cache, "neither read nor write the evaluation cache");

  auto* evolve_cmd = app.add_subcommand(
      "evolve",
      "evolve programs: an LLM (or, offline, a mutation proposer) edits programs from a MAP-Elites database: a kernel "
      "task's Verilog (scored like chipgym score), a design task's parameter set, or one module of its accelerator "
      "(--module)");
  chipgym::kernels::EvolveConfig evolve;
  evolve.task.clear();  // --task or --task-file is required
  std::string evolve_out, evolve_llm, evolve_prompts, evolve_set, evolve_task_file;
  std::string evolve_task_help = kernel_help + " or a design task (see chipgym tasks): its parameter set as JSON, or with --module one module of its accelerator";
  evolve_cmd->add_option("--task", evolve.task, evolve_task_help);
  evolve_cmd->add_option("--task-file", evolve_task_file, "a design task as JSON (the form `chipgym tasks --json` prints) instead of --task");
  evolve_cmd->add_option("--module", evolve.module, "design tasks: rewrite this generated module (e.g. gemm_pe) while the rest of the accelerator is generated; the whole design is simulated against golden and synthesized");
  evolve_cmd->add_option("--set", evolve_set, "with --module: parameters of the accelerator around it, as name=value,... (others: defaults)");
  evolve_cmd->add_option("--generations", evolve.generations, "generations in total (a resumed run continues up to this)")->capture_default_str()->check(CLI::Range(1, 1000000));
  evolve_cmd->add_option("--out", evolve_out, "run directory (default: runs/evolve-<task>[-<module>]-s<seed>)");
  evolve_cmd->add_option("--seed", evolve.db.seed, "seed of sampling, mutations and the scoring vectors")->capture_default_str();
  evolve_cmd->add_flag("--resume", evolve.resume, "continue the run in --out from its db.json");
  evolve_cmd->add_option("--llm", evolve_llm, "base URL of an OpenAI-compatible server (e.g. https://api.openai.com/v1); without it, the offline mutation proposer");
  evolve_cmd->add_option("--model", evolve.llm.model, "model name for --llm");
  evolve_cmd->add_option("--temperature", evolve.llm.temperature, "sampling temperature for --llm")->capture_default_str();
  evolve_cmd->add_option("--llm-timeout", evolve.llm.timeout_seconds, "seconds per model request")->capture_default_str()->check(CLI::PositiveNumber);
  evolve_cmd->add_option("--in-flight", evolve.llm.max_in_flight, "model requests at once")->capture_default_str()->check(CLI::Range(1, 64));
  evolve_cmd->add_option("--islands", evolve.db.islands, "islands of the program database")->capture_default_str()->check(CLI::Range(1, 64));
  evolve_cmd->add_option("--inspirations", evolve.db.inspirations, "programs shown beside the parent in each prompt")->capture_default_str()->check(CLI::Range(0, 32));
  evolve_cmd->add_option("--children", evolve.children, "candidates per island per generation")->capture_default_str()->check(CLI::Range(1, 64));
  evolve_cmd->add_option("--migrate-every", evolve.db.migration_interval, "generations between migrations (0: never)")->capture_default_str()->check(CLI::NonNegativeNumber);
  evolve_cmd->add_option("--workers", evolve.workers, "candidates scored at once")->capture_default_str()->check(CLI::Range(1, 64));
  evolve_cmd->add_option("--max-calls", evolve.max_calls, "budget: model calls (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  evolve_cmd->add_option("--max-tokens", evolve.max_tokens, "budget: prompt + completion tokens (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  evolve_cmd->add_option("--max-seconds", evolve.max_seconds, "budget: wall seconds (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  evolve_cmd->add_option("--random", evolve.random_vectors, "random vectors per candidate besides the edge cases and the fixed coverage vectors")->capture_default_str()->check(CLI::Range(0, 10000));
  evolve_cmd->add_option("--verify-random", evolve.verify_random_vectors, "kernel tasks: random vectors (another hidden seed) of the re-verification a best must pass before it is written")->capture_default_str()->check(CLI::Range(0, 100000));
  evolve_cmd->add_option("--prompts", evolve_prompts, "folder of prompt templates (default: $CHIPGYM_PROMPTS, else the source tree's prompts/)");
  evolve_cmd->add_flag("--json", as_json, "print the summary as JSON");
  evolve_cmd->add_option("--cache-dir", common.cache_dir, "design tasks: cache directory (default: as for eval)");
  evolve_cmd->add_flag("--no-cache", common.no_cache, "design tasks: neither read nor write the evaluation cache");

  // Untrusted Verilog (score, evolve's kernels and modules, eval --inject-verilog, their
  // replays) only runs in bubblewrap; this is the one, loud, way around it.
  bool unsafe_no_sandbox = false;
  for (auto* cmd : {score_cmd, evolve_cmd, eval_cmd, replay_cmd})
    cmd->add_flag("--unsafe-no-sandbox", unsafe_no_sandbox,
                  "run untrusted Verilog and the models built from it WITHOUT the bubblewrap sandbox (host files, "
                  "network and environment in reach); only for text you trust, never the default");

  // --workload on the commands that evaluate gemm tasks, and chipgym workload (cli/workload.cpp).
  for (auto* cmd : {eval_cmd, train_cmd, compare_cmd}) chipgym::cli::add_workload_option(cmd);
  auto workload_cmd = chipgym::cli::add_workload_command(app);
  auto roofline_cmd = chipgym::cli::add_roofline_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; a value that does not parse, an unknown option or command is
    // bad input like any other: exit 2 (CLI11's own codes run from 101 to 115).
    const int code = app.exit(e);
    return code == 0 ? 0 : kBadInput;
  }
  if (unsafe_no_sandbox) chipgym::evaluators::allow_unsandboxed(true);
  // Before any untrusted text is touched: stop, saying why and how to fix it.
  auto require_sandbox = [&]() -> bool {
    if (chipgym::evaluators::unsandboxed_allowed()) return true;
    if (auto problem = chipgym::evaluators::sandbox_problem()) {
      std::cerr << "error: cannot score untrusted Verilog: " << *problem << "\n";
      return false;
    }
    return true;
  };

  try {
    if (tasks_cmd->parsed()) {
      print_tasks(as_json);
      return 0;
    }
    if (workload_cmd.app->parsed()) return workload_cmd.run();
    if (roofline_cmd.app->parsed()) return roofline_cmd.run();
    if (eval_cmd->parsed()) {
      options.fpga = !no_fpga;
      if (!inject.empty()) {
        auto eq = inject.find('=');
        if (eq == std::string::npos) throw chipgym::hdl::ParamError("--inject-verilog expects FILE.v=PATH");
        std::ifstream in(inject.substr(eq + 1));
        if (!in) throw chipgym::hdl::ParamError("cannot read " + inject.substr(eq + 1));
        std::stringstream text;
        text << in.rdbuf();
        options.inject = std::make_pair(inject.substr(0, eq), text.str());
        if (!require_sandbox()) return kBadInput;
      }
      return run_eval(task_name, task_file, assignments, params_file, options, common, as_json);
    }
    if (evolve_cmd->parsed()) {
      if (evolve.resume && evolve_out.empty()) throw chipgym::hdl::ParamError("--resume needs --out DIR, the run to continue");
      if (!evolve_llm.empty()) {
        if (evolve.llm.model.empty()) throw chipgym::hdl::ParamError("--llm needs --model NAME");
        evolve.use_llm = true;
        evolve.llm.base_url = evolve_llm;
        // The key: $CHIPGYM_LLM_KEY when set, else $OPENAI_API_KEY (none sent when neither is).
        const char* own = std::getenv("CHIPGYM_LLM_KEY");
        evolve.llm.api_key_env = own && *own ? "CHIPGYM_LLM_KEY" : "OPENAI_API_KEY";
      } else if (!evolve.llm.model.empty()) {
        throw chipgym::hdl::ParamError("--model needs --llm URL");
      }
      evolve.prompts_dir = evolve_prompts;
      if (!evolve_task_file.empty()) {
        if (!evolve.task.empty()) throw chipgym::hdl::ParamError("give --task or --task-file, not both");
        const auto t = load_task("", evolve_task_file);
        evolve.task = t.name;
        evolve.task_spec = t.to_json();
      }
      if (evolve.task.empty()) throw chipgym::hdl::ParamError("evolve needs --task NAME (or --task-file FILE)");
      if (evolve.task_spec.is_null()) {
        std::string kernel_names, design_names;
        bool known = false;
        for (const auto& k : chipgym::kernels::kernel_tasks()) {
          kernel_names += (kernel_names.empty() ? "" : ", ") + k.name;
          known = known || k.name == evolve.task;
        }
        for (const auto& t : chipgym::env::tasks()) {
          design_names += (design_names.empty() ? "" : ", ") + t.name;
          known = known || t.name == evolve.task;
        }
        if (!known)
          throw chipgym::hdl::ParamError("unknown task '" + evolve.task + "'; kernel tasks: " + kernel_names +
                                         "; design tasks: " + design_names);
      }
      if (!evolve_set.empty()) {
        if (evolve.module.empty()) throw chipgym::hdl::ParamError("--set fixes the accelerator around --module; give --module too");
        bool design_task = !evolve.task_spec.is_null();
        for (const auto& t : chipgym::env::tasks()) design_task = design_task || t.name == evolve.task;
        if (!design_task) throw chipgym::hdl::ParamError("--set and --module apply to design tasks (chipgym tasks), not " + evolve.task);
        const auto& space = (evolve.task_spec.is_null() ? chipgym::env::task(evolve.task)
                                                        : chipgym::env::Task::from_json(evolve.task_spec))
                                .design_family()
                                .space();
        evolve.fixed = space.parse_assignments(evolve_set).to_json();  // throws ParamError naming the parameter
      }
      // Kernels and rewritten modules are untrusted text; parameter sets are not.
      bool kernel_task = false;
      for (const auto& k : chipgym::kernels::kernel_tasks()) kernel_task = kernel_task || k.name == evolve.task;
      if ((kernel_task || !evolve.module.empty()) && !require_sandbox()) return kBadInput;
      // Design tasks evaluate through the pipeline and its cache.
      auto evolve_pipeline = std::make_shared<Pipeline>(open_cache(common));
      evolve.design_subject = [evolve_pipeline](const chipgym::kernels::EvolveConfig& c) {
        return chipgym::runs::design_subject(c, evolve_pipeline);
      };
      evolve.out = evolve_out.empty() ? std::filesystem::path("runs") / ("evolve-" + evolve.task +
                                                                         (evolve.module.empty() ? "" : "-" + evolve.module) +
                                                                         "-s" + std::to_string(evolve.db.seed))
                                      : std::filesystem::path(evolve_out);
      auto summary = chipgym::kernels::run_evolve(evolve, &std::cerr);
      if (as_json) std::cout << summary.to_json().dump(2) << "\n";
      else
        std::cout << "evolve " << evolve.task << ": " << summary.generations_done << " generations, " << summary.candidates
                  << " candidates this session (" << summary.edit_errors << " replies without a candidate), best program "
                  << summary.best_id << " fitness " << summary.best_fitness << " (seed " << summary.seed_fitness << "), stopped by "
                  << summary.stop_reason << "\nwritten: " << summary.best_file << " "
                  << (evolve.out / "db.json").string() << " " << (evolve.out / "events.jsonl").string()
                  << "\nevaluate the best again: chipgym replay " << evolve.out.string() << "\n";
      return 0;
    }
    if (score_cmd->parsed() && show_task) {
      if (score_task.empty()) throw chipgym::hdl::ParamError("--show needs --task T");
      const auto& t = chipgym::kernels::find_kernel_task(score_task);
      json j = t.to_json();
      j["canonical_verilog"] = t.canonical_verilog;
      if (as_json) std::cout << j.dump(2) << "\n";
      else std::cout << t.name << ": " << t.description << "\ninterface " << t.iface.to_json().dump() << "\n\n" << t.canonical_verilog;
      return 0;
    }
    if (score_cmd->parsed()) {
      if (score_file.empty()) throw chipgym::hdl::ParamError("score needs a candidate Verilog file (or --show with --task)");
      if (!require_sandbox()) return kBadInput;
      score.cache = open_cache(common);
      return run_score(score_task, score_vectors, score_file, score, as_json);
    }
    if (replay_cmd->parsed() && std::filesystem::exists(std::filesystem::path(replay_dir) / "db.json")) {
      // An evolve run: score its best kernel again with the run's seed and vectors.
      if (replay_cmd->count("--step") || !vcd_file.empty()) throw chipgym::hdl::ParamError("an evolve run replays its best kernel only (no --step, --vcd)");
      if (!require_sandbox()) return kBadInput;
      auto replay_pipeline = std::make_shared<Pipeline>(nullptr);
      auto r = chipgym::kernels::replay_evolve(replay_dir, [replay_pipeline](const chipgym::kernels::EvolveConfig& c) {
        return chipgym::runs::design_subject(c, replay_pipeline);
      });
      if (as_json) std::cout << r.dump(2) << "\n";
      else
        std::cout << "replayed evolve program " << r["program"] << " (" << r["subject"].get<std::string>() << ") of " << r["task"].get<std::string>() << ": "
                  << r["fresh"]["verdict"].get<std::string>() << ", fitness " << r["fitness"] << " (recorded "
                  << r["recorded_fitness"] << ")\n"
                  << (r["differences"].empty() ? "every recorded figure reproduced\n" : "DIFFERENT: " + r["differences"].dump() + "\n");
      return !r["differences"].empty() && verify ? kDesignFailed : (r["fresh"]["verdict"] == "pass" ? 0 : kDesignFailed);
    }
    if (replay_cmd->parsed()) {
      if (replay_best && replay_cmd->count("--step")) throw chipgym::hdl::ParamError("choose --best or --step N, not both");
      if (replay_policy && (replay_best || replay_cmd->count("--step")))
        throw chipgym::hdl::ParamError("choose one of --best, --step N and --policy");
      // The fresh evaluation never reads the cache; with --policy, the policy's own steps may.
      auto pipeline = std::make_shared<Pipeline>(replay_policy ? open_cache(CommonOptions{}) : nullptr);
      auto r = chipgym::runs::replay(replay_dir, replay_cmd->count("--step") ? std::optional<long long>(replay_step)
                                                                            : std::nullopt,
                                     pipeline,
                                     vcd_file.empty() ? std::nullopt : std::optional<std::filesystem::path>(vcd_file),
                                     replay_policy);
      if (as_json) {
        std::cout << json{{"design", r.design}, {"metrics", r.fresh}, {"recorded", r.recorded},
                          {"differences", r.differences}}
                         .dump(2)
                  << "\n";
      } else {
        std::cout << "replayed " << r.design["source"].get<std::string>() << ": " << r.design["params"].dump() << "\n";
        const auto& now = r.fresh;
        for (auto it = r.recorded.begin(); it != r.recorded.end(); ++it)
          if (now.contains(it.key()))
            std::cout << "  " << std::left << std::setw(13) << it.key() << now[it.key()].dump() << "  (recorded "
                      << it.value().dump() << ")\n";
        if (r.metrics.error) std::cout << "  error        [" << r.metrics.error->category << "] " << r.metrics.error->message << "\n";
        if (verify) std::cout << (r.differences.empty() ? "verify: every recorded metric reproduced\n" : "verify: DIFFERENT\n");
      }
      for (const auto& d : r.differences) std::cerr << "differs: " << d << "\n";
      if (r.waveform) {
        if (r.waveform->ok())
          std::cerr << "waveform of one tile (" << r.waveform->cycles << " cycles, "
                    << (r.waveform->correct ? "bit-exact" : "NOT bit-exact") << ") written to " << vcd_file << "\n";
        else
          std::cerr << "no waveform: [" << r.waveform->error->category << "] " << r.waveform->error->message << "\n";
      }
      if (r.waveform && !r.waveform->ok()) return kDesignFailed;
      return verify && !r.differences.empty() ? kDesignFailed : (r.metrics.ok() ? 0 : kDesignFailed);
    }
    if (optimum_cmd->parsed()) {
      auto task = load_task(opt_task, opt_task_file);
      auto cache = open_cache(common);
      auto pipeline = std::make_shared<Pipeline>(cache);
      auto out = opt_out.empty() ? std::filesystem::path("runs") / ("optimum-" + task.name) : std::filesystem::path(opt_out);
      auto truth = chipgym::runs::find_optimum(task, pipeline, cache, out, opt_workers, [](const chipgym::runs::Progress& p) {
        std::cerr << "optimum: " << p.evaluations << "/" << p.budget << " designs, best " << p.best_reward << "\n";
      });
      if (as_json) std::cout << truth.dump(2) << "\n";
      else std::cout << task.name << ": optimum " << truth["optimum"] << " over " << truth["designs"] << " designs at "
                     << truth["params"].dump() << "\n";
      return 0;
    }
    if (compare_cmd->parsed()) {
      cmp.task = load_task(cmp_task, cmp_task_file);
      chipgym::cli::apply_workload(cmp.task);
      std::stringstream ss(cmp_agents);
      for (std::string a; std::getline(ss, a, ',');)
        if (!a.empty()) cmp.agents.push_back(a);
      for (const auto& h : cmp_hyper) chipgym::runs::parse_agent_hyper(h, cmp.hyper);
      auto cache = open_cache(common);
      auto pipeline = std::make_shared<Pipeline>(cache);
      if (compare_cmd->count("--optimum")) {
        cmp.optimum = optimum;
      } else if (auto truth = chipgym::runs::cached_optimum(cmp.task, *pipeline, cache)) {
        cmp.optimum = (*truth)["optimum"].get<double>();
        std::cerr << "compare: regret against the recorded optimum " << *cmp.optimum << " (chipgym optimum)\n";
      }
      cmp.out = cmp_out.empty() ? std::filesystem::path("runs") / ("compare-" + cmp.task.name + "-" +
                                                                   chipgym::runs::default_run_dir("", "", 0).filename().string().substr(4))
                                : std::filesystem::path(cmp_out);
      auto r = chipgym::runs::compare(cmp, pipeline, [](const std::string& line) { std::cerr << "compare: " << line << "\n"; });
      for (const auto& n : r.notices) std::cerr << "note: " << n << "\n";
      std::ifstream md(cmp.out / "leaderboard.md");
      std::cout << md.rdbuf() << "\nwritten: ";
      for (const auto& f : r.files) std::cout << f << " ";
      std::cout << "\n";
      return r.stopped.empty() ? 0 : kTrainingStopped;
    }
    if (train_cmd->parsed()) {
      if (train.resume && out_dir.empty()) throw chipgym::hdl::ParamError("--resume needs --out DIR, the run to continue");
      train.budget_given = train_cmd->count("--budget") > 0;
      train.task = load_task(train_task, train_task_file);
      chipgym::cli::apply_workload(train.task);
      chipgym::cli::check_fidelity(train.task, train.fidelity.empty() ? train.task.fidelity : train.fidelity);
      if (!hyper_text.empty()) {
        try {
          train.hyper = json::parse(hyper_text);
        } catch (const json::parse_error& e) {
          throw chipgym::hdl::ParamError(std::string("--hyper is not valid JSON: ") + e.what());
        }
      }
      train.out = out_dir.empty() ? chipgym::runs::default_run_dir(train.task.name, train.agent, train.seed)
                                  : std::filesystem::path(out_dir);
      return run_train(train, common, as_json);
    }
  } catch (const chipgym::hdl::ParamError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  } catch (const CacheError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kDesignFailed;
  }
  return 0;
}

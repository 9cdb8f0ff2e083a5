// chipgym score: one untrusted Verilog kernel against golden outputs (a kernel task's or a
// vectors file's): screen, interface, lint, simulate, synthesize, in the sandbox.
// Exit 0 pass, 1 the candidate failed, 2 bad input (refused before any tool ran).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/common.h"
#include "env/kernel_task.h"
#include "env/score.h"

namespace chipgym::cli {

namespace {

struct ScoreCommand {
  std::string task, vectors, candidate;
  env::ScoreOptions options;
  bool show = false, as_json = false;
  CacheOptions cache;
};

// --show: the task's interface and canonical implementation.
int show_task(const ScoreCommand& c) {
  if (c.task.empty()) throw hdl::ParamError("--show needs --task T");
  const auto& t = env::find_kernel_task(c.task);
  json j = t.to_json();
  j["canonical_verilog"] = t.canonical_verilog;
  if (c.as_json) std::cout << j.dump(2) << "\n";
  else std::cout << t.name << ": " << t.description << "\ninterface " << t.iface.to_json().dump() << "\n\n" << t.canonical_verilog;
  return 0;
}

int score(const ScoreCommand& c) {
  if (c.candidate.empty()) throw hdl::ParamError("score needs a candidate Verilog file (or --show with --task)");
  require_sandbox();
  if (c.task.empty() == c.vectors.empty())
    throw hdl::ParamError("score needs exactly one of --task T or --vectors FILE.json");
  env::ScoreOptions options = c.options;
  options.cache = open_cache(c.cache);
  env::GoldenSet golden;
  if (!c.task.empty()) {
    const auto& task = env::find_kernel_task(c.task);
    golden = env::task_golden(task, options.seed, options.random_vectors);
  } else {
    golden = env::golden_from_json(read_json_file(c.vectors, "golden vectors file"));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(c.candidate, ec))
    throw hdl::ParamError("cannot read the candidate " + c.candidate + ": no such file");
  const auto size = std::filesystem::file_size(c.candidate, ec);
  if (!ec && size > evaluators::kMaxVerilogBytes)  // refused without reading it into memory
    throw hdl::ParamError("the candidate " + c.candidate + " is " + std::to_string(size) + " bytes; at most " +
                          std::to_string(evaluators::kMaxVerilogBytes) + " bytes of Verilog are accepted");
  std::ifstream in(c.candidate, std::ios::binary);
  if (!in) throw hdl::ParamError("cannot read the candidate " + c.candidate);
  std::stringstream text;
  text << in.rdbuf();
  auto report = env::score_candidate(text.str(), golden, options, c.task);
  if (c.as_json) std::cout << report.to_json().dump(2) << "\n";
  else std::cout << report.to_text();
  if (!report.passed()) std::cerr << "error: " << report.message << "\n";
  return report.exit_code();
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<ScoreCommand>();
  auto& o = c->options;
  cmd.add_option("candidate", c->candidate, "the candidate kernel, one Verilog file");
  cmd.add_flag("--show", c->show, "print the task's interface JSON and canonical implementation instead of scoring");
  cmd.add_option("--task", c->task, kernel_tasks_help());
  cmd.add_option("--vectors", c->vectors, "a golden vectors JSON file {\"interface\": ..., \"cases\": [{\"in\": [...], \"out\": [...]}]} instead of --task");
  cmd.add_option("--seed", o.seed, "seed of the random vectors (the vectors come from it and a hidden salt)")->capture_default_str();
  cmd.add_option("--random", o.random_vectors, "random vectors besides the edge cases and the fixed coverage vectors (--task)")->capture_default_str()->check(CLI::Range(0, 10000));
  cmd.add_option("--timeout", o.eval.sim_timeout, "wall-clock seconds allowed to the simulation")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_flag("--no-synth", [c](std::int64_t) { c->options.eval.synthesis = false; }, "skip the Yosys area measurement");
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval); a candidate scored again with the same vectors and seed is not run again");
  cmd.add_flag("--no-cache", c->cache.off, "neither read nor write the evaluation cache");
  cmd.add_flag("--json", c->as_json, "print the report as JSON");
  return with_unsafe_no_sandbox_flag(cmd, [c]() -> int { return c->show ? show_task(*c) : score(*c); });
}

const CommandRegistration registered{
    {"score", "score a candidate kernel (Verilog) against golden outputs: screen, interface, lint, simulate, synthesize",
     setup}};

}  // namespace

}  // namespace chipgym::cli

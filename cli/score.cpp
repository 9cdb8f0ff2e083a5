// chipgym score: one untrusted Verilog kernel against golden outputs (a kernel task's or a
// vectors file's): screen, interface, lint, simulate, synthesize, in the sandbox. Or any
// module at its ports: against a reference module (--ref) or port-level vectors (--vectors in
// the form of docs/ports.md), simulated with Icarus Verilog.
// Exit 0 pass, 1 the candidate failed, 2 bad input (refused before any tool ran).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/common.h"
#include "env/equiv.h"
#include "env/kernel_task.h"
#include "env/port_score.h"
#include "env/problem_set.h"
#include "env/score.h"

namespace chipgym::cli {

namespace {

struct ScoreCommand {
  std::string task, vectors, candidate, ref, top, clock, reset, vcd, problems, samples, k = "1,5,10", out;
  int workers = 1;
  env::ScoreOptions options;
  env::PortScoreOptions ports;
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


// --problems DIR --samples DIR: pass@k over a problem set (env/problem_set.h).
int score_problems(const ScoreCommand& c) {
  if (c.samples.empty()) throw hdl::ParamError("--problems needs --samples DIR (one folder of candidates per problem)");
  if (!c.candidate.empty() || !c.task.empty() || !c.ref.empty() || !c.vectors.empty())
    throw hdl::ParamError("--problems scores the folders it is given; no candidate, --task, --ref or --vectors with it");
  require_sandbox();
  env::ProblemSetOptions o;
  o.score = c.ports;
  o.score.cache = open_cache(c.cache);
  o.score.eval.sim_timeout = c.options.eval.sim_timeout;
  o.score.eval.synthesis = c.options.eval.synthesis;
  o.score.stimulus.seed = c.options.seed;
  o.workers = c.workers;
  o.k.clear();
  std::stringstream ks(c.k);
  for (std::string item; std::getline(ks, item, ',');) {
    try {
      std::size_t used = 0;
      const int k = std::stoi(item, &used);
      if (used != item.size() || k < 1) throw std::invalid_argument(item);
      o.k.push_back(k);
    } catch (const std::exception&) {
      throw hdl::ParamError("--k " + c.k + ": '" + item + "' is not a positive integer");
    }
  }
  std::size_t done = 0;
  const auto r = env::score_problem_set(c.problems, c.samples, o, [&](const env::SampleResult& s) {
    std::cerr << "[" << ++done << "] " << s.problem << "/" << s.sample << ": " << s.verdict
              << (s.verdict == "pass" ? "" : " (" + s.stage + "/" + s.category + ")") << "\n";
  });
  if (!c.out.empty()) {
    std::filesystem::create_directories(c.out);
    std::ofstream(std::filesystem::path(c.out) / "results.json") << r.to_json().dump(2) << "\n";
    std::ofstream(std::filesystem::path(c.out) / "results.csv") << r.to_csv();
  }
  if (c.as_json) {
    std::cout << r.to_json().dump(2) << "\n";
  } else {
    for (auto& [name, p] : r.problems.items())
      std::cout << name << ": " << p["c"] << " of " << p["n"] << " samples pass"
                << (p["missing"].get<bool>() ? " (no candidate in the samples folder)" : "") << "\n";
    for (auto& [k, v] : r.pass_at_k.items())
      std::cout << "pass@" << k << " = " << (v["value"].is_null() ? std::string("n/a") : v["value"].dump()) << " over "
                << v["problems"] << " problems with at least " << k << " samples\n";
    for (auto& [what, n] : r.failures.items()) std::cout << "failures " << what << ": " << n << "\n";
  }
  for (auto& [name, p] : r.problems.items())
    if (p["missing"].get<bool>()) std::cerr << "warning: no candidate for problem " << name << " in " << c.samples << "\n";
  return 0;
}

int score(const ScoreCommand& c) {
  if (!c.problems.empty()) return score_problems(c);
  if (c.candidate.empty()) throw hdl::ParamError("score needs a candidate Verilog file (or --show with --task)");
  require_sandbox();
  const int given = !c.task.empty() + !c.vectors.empty() + !c.ref.empty();
  if (given != 1) throw hdl::ParamError("score needs exactly one of --task T or --vectors FILE.json (or --ref REF.v)");
  std::optional<env::ScoreReport> report;
  json vectors;
  if (!c.vectors.empty()) vectors = read_json_file(c.vectors, "golden vectors file");
  if (c.ports.equiv && c.ref.empty()) throw hdl::ParamError("--equiv proves the candidate equal to a reference: it needs --ref REF.v");
  if (!c.ref.empty() || env::is_port_vectors_json(vectors)) {
    env::PortScoreOptions options = c.ports;
    options.cache = open_cache(c.cache);
    options.eval.sim_timeout = c.options.eval.sim_timeout;
    options.eval.synthesis = c.options.eval.synthesis;
    options.stimulus.seed = c.options.seed;
    if (!c.vcd.empty()) options.vcd = std::filesystem::path(c.vcd);
    if (!c.ref.empty()) {
      const std::string reference = read_verilog(c.ref, "the reference");
      report = env::score_against_reference(reference, read_verilog(c.candidate, "the candidate"), c.top, options,
                                            c.clock, c.reset);
    } else {
      const env::PortVectors v = env::port_vectors_from_json(vectors, env::port_spec_from_json(vectors, c.top));
      report = env::score_ports(read_verilog(c.candidate, "the candidate"), v, options);
    }
  } else {
    if (!c.top.empty() || !c.clock.empty() || !c.reset.empty() || !c.vcd.empty())
      throw hdl::ParamError("--top, --clock, --reset and --vcd apply to --ref and port vectors, not to stream kernels");
    env::ScoreOptions options = c.options;
    options.cache = open_cache(c.cache);
    env::GoldenSet golden;
    if (!c.task.empty()) golden = env::task_golden(env::find_kernel_task(c.task), options.seed, options.random_vectors);
    else golden = env::golden_from_json(vectors);
    report = env::score_candidate(read_verilog(c.candidate, "the candidate"), golden, options, c.task);
  }
  if (c.as_json) std::cout << report->to_json().dump(2) << "\n";
  else std::cout << report->to_text() << (report->result.contains("formal") ? env::equiv_text(report->result["formal"]) : "");
  if (!report->passed()) std::cerr << "error: " << report->message << "\n";
  return report->exit_code();
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<ScoreCommand>();
  auto& o = c->options;
  cmd.add_option("candidate", c->candidate, "the candidate kernel, one Verilog file");
  cmd.add_flag("--show", c->show, "print the task's interface JSON and canonical implementation instead of scoring");
  cmd.add_option("--task", c->task, kernel_tasks_help());
  cmd.add_option("--vectors", c->vectors, "a golden vectors JSON file instead of --task: the streaming form {\"interface\": ..., \"cases\": [{\"in\": [...], \"out\": [...]}]} (docs/stream.md), or cycle-by-cycle port values {\"module\", \"ports\", \"clock\", \"sequences\": [[{\"in\", \"out\", \"mask\"}, ...]]} (docs/ports.md)");
  cmd.add_option("--ref", c->ref, "a reference module (Verilog): the candidate must have its ports and is simulated beside it on the same stimulus, every output compared on every cycle (X in the reference: don't care)");
  cmd.add_option("--top", c->top, "--ref, port vectors: the module to compare (default: the reference's only module, else top_module)");
  cmd.add_option("--clock", c->clock, "--ref: the clock input (default: found by name: clk, clock, ...; none: combinational)");
  cmd.add_option("--reset", c->reset, "--ref: the reset input (default: found by name: rst, reset, areset, rst_n, ...; a trailing n is active low)");
  cmd.add_option("--cycles", c->ports.stimulus.cycles, "--ref: cycles of stimulus per seed (reset, directed values, then random)")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd.add_option("--seeds", c->ports.stimulus.seeds, "--ref: independent stimulus runs, each from reset")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd.add_flag("--equiv", c->ports.equiv, "--ref: also prove the candidate equal to the reference with Yosys (miter and SAT; sequential: by induction, else bounded to --depth cycles after reset); a counter-example fails a candidate that simulated correctly");
  cmd.add_option("--depth", c->ports.equiv_depth, "--equiv: cycles after reset of the bounded proof, and the longest induction tried")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd.add_option("--equiv-timeout", c->ports.equiv_timeout, "--equiv: seconds per SAT call (the Yosys run gets 10 s more); a proof that runs out is undecided and the simulation verdict stands")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--problems", c->problems, "a problem set: one folder per problem with ref.v (or vectors.json) and spec.txt; with --samples, pass@k");
  cmd.add_option("--samples", c->samples, "--problems: one folder per problem of candidate .v files");
  cmd.add_option("--k", c->k, "--problems: the k of pass@k, comma-separated")->capture_default_str();
  cmd.add_option("--workers", c->workers, "--problems: samples scored at once")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--out", c->out, "--problems: also write results.json and results.csv into this folder");
  cmd.add_option("--vcd", c->vcd, "--ref, port vectors: on a mismatch, write the candidate's waveform here");
  cmd.add_option("--seed", o.seed, "seed of the random vectors (--task: they come from it and a hidden salt)")->capture_default_str();
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

// bench_score: the time `chipgym score` takes for one candidate, split by stage, in three
// situations of the Verilator build (the dominant stage):
//   novel     a candidate never seen before, ccache on: the harness and Verilator's runtime
//             objects come from ccache, the model's own C++ is compiled (what evolve sees)
//   cold      ccache disabled: everything compiled (a fresh machine)
//   repeat    the same candidate again, ccache on: every object from ccache
//   cached    the same candidate again with an evaluation cache: the result is the cached one
//             (the first run fills the cache and is not counted)
// The candidate is the canonical relu-int8 (novel: with a register renamed per run, so the
// generated C++ differs). Every tool runs in the bubblewrap sandbox, as untrusted text must;
// "novel" and "repeat" are measured again without it (--unsafe-no-sandbox, the scrubbed
// environment and limits kept), interleaved run by run, so the sandbox's cost per candidate
// is read side by side. "screen" includes the sandboxed preprocessing (verilator -E).
//
// Then the candidates scored per minute by `chipgym evolve` with the offline mutation proposer,
// on 1 and 2 scoring workers side by side (relu-int8, 2 islands x 2 children per generation,
// 16 random vectors), and the same on a design task's module (gemm_pe of gemm-int8 at 2x2,
// the whole accelerator simulated and synthesized per candidate, a scratch cache per row). Each run
// starts from a fresh run directory; the proposer never repeats a program within a run, and
// the rows use different seeds so that a row does not find another row's Verilator models in
// ccache. A lint failure is scored in a fraction of the time a passing candidate takes: the
// mix is what evolve sees.
// Usage: bench_score [--runs N] [--random R] [--generations G] [--seed S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <unistd.h>
#include <string>
#include <vector>

#include "env/kernel_task.h"
#include "evaluators/pipeline.h"
#include "evaluators/sandbox.h"
#include "agents/program_db.h"
#include "env/score.h"
#include "runs/evolve.h"

using namespace chipgym::agents;
using namespace chipgym::env;
using chipgym::runs::EvolveSummary;
using chipgym::runs::run_evolve;
using chipgym::env::find_kernel_task;

static std::string renamed(const std::string& text, const std::string& from, const std::string& to) {
  std::string out = text;
  for (std::size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size()))
    out.replace(at, from.size(), to);
  return out;
}

// One offline evolve run; prints its row and returns candidates per minute.
static double evolve_row(EvolveConfig c, const std::string& label) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("chipgym_bench_score_" + std::to_string(::getpid()) + "_" + label + std::to_string(c.workers));
  std::filesystem::remove_all(dir);
  c.out = dir;
  const auto t0 = std::chrono::steady_clock::now();
  EvolveSummary s = run_evolve(c);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ProgramDb db = ProgramDb::load(dir / "checkpoints" / "db.json");
  int passing = 0, early = 0;
  for (const auto& p : db.programs())
    if (p.origin == "mutation") {
      passing += p.passed;
      early += !p.passed && p.fitness <= -3;  // refused, lint or build failure: cheap to score
    }
  const double per_minute = 60.0 * s.candidates / seconds;
  std::printf("%-8s %5llu %8d %11d %9d %10.2f %9.1f %10d %13.4f\n", label.c_str(),
              static_cast<unsigned long long>(c.db.seed), c.workers, s.candidates, passing, seconds, per_minute, early,
              s.best_fitness);
  std::filesystem::remove_all(dir);
  return per_minute;
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as soon as it is measured
  int runs = 3, generations = 5;
  std::uint64_t seed = 1;
  ScoreOptions options;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--random") && i + 1 < argc) options.random_vectors = std::max(0, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--generations") && i + 1 < argc) generations = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: bench_score [--runs N] [--random R] [--generations G] [--seed S]\n");
      return 2;
    }
  }
  const KernelTask& task = find_kernel_task("relu-int8");
  const GoldenSet golden = task_golden(task, options.seed, options.random_vectors);
  const char* stage_names[] = {"screen", "interface", "lint", "build", "simulate", "loops", "synthesize"};
  std::printf("bench_score: relu-int8, %zu vectors (%d random), %d runs per situation, median seconds\n",
              golden.inputs.size(), options.random_vectors, runs);
  std::printf("%-13s", "");
  for (const char* s : stage_names) std::printf(" %10s", s);
  std::printf(" %10s\n", "total");
  int serial = 0;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  std::map<std::string, double> totals;
  const std::filesystem::path score_cache_dir =
      std::filesystem::temp_directory_path() / ("chipgym_bench_score_results_" + std::to_string(::getpid()));
  for (const std::string situation : {"novel", "cold", "repeat", "cached"}) {
    if (situation == "cold") ::setenv("CCACHE_DISABLE", "1", 1);
    else ::unsetenv("CCACHE_DISABLE");
    // Only "cached" keeps results; the others measure the tools.
    options.cache = situation == "cached"
                        ? std::make_shared<chipgym::evaluators::Cache>(score_cache_dir / "cache.sqlite")
                        : nullptr;
    // sandboxed, then (not for cold) without the sandbox, alternating run by run
    const int modes = situation == "cold" ? 1 : 2;
    std::map<std::string, std::vector<double>> seconds[2];
    const bool warm_up = situation == "repeat" || situation == "cached";
    for (int r = 0; r < runs + (warm_up ? 1 : 0); ++r) {
      for (int mode = 0; mode < modes; ++mode) {
        chipgym::evaluators::allow_unsandboxed(mode == 1);
        const std::string candidate =
            warm_up ? task.canonical_verilog
                                  : renamed(task.canonical_verilog, "data_q",
                                            "data_q_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
        const auto t0 = std::chrono::steady_clock::now();
        ScoreReport report = score_candidate(candidate, golden, options, task.name);
        if (!report.passed()) {
          std::fprintf(stderr, "bench_score: the canonical candidate failed: %s\n", report.message.c_str());
          return 1;
        }
        if (warm_up && r == 0) continue;  // fills ccache (and the cache)
        if (situation == "cached") {  // what it cost to answer: nothing ran again
          seconds[mode]["total"].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          continue;
        }
        double total = 0;
        for (auto it = report.stages.begin(); it != report.stages.end(); ++it) {
          if (!it.value().is_number()) continue;  // cache_hit
          seconds[mode][it.key()].push_back(it.value().get<double>());
          total += it.value().get<double>();
        }
        seconds[mode]["total"].push_back(total);
      }
    }
    chipgym::evaluators::allow_unsandboxed(false);
    for (int mode = 0; mode < modes; ++mode) {
      const std::string label = situation + (mode ? "/nobox" : "");
      std::printf("%-13s", label.c_str());
      for (const char* st : stage_names) std::printf(" %10.3f", median(seconds[mode][st]));
      std::printf(" %10.3f\n", median(seconds[mode]["total"]));
      totals[label] = median(seconds[mode]["total"]);
    }
  }
  options.cache = nullptr;
  std::filesystem::remove_all(score_cache_dir);
  for (const std::string situation : {"novel", "repeat"})
    std::printf("sandbox cost, %s candidate: %+.3f s per candidate (%.2fx the unsandboxed time)\n", situation.c_str(),
                totals[situation] - totals[situation + "/nobox"], totals[situation] / totals[situation + "/nobox"]);

  std::printf("\nevolve, offline mutation proposer, 2 islands x 2 children, %d generations\n", generations);
  std::printf("%-8s %5s %8s %11s %9s %10s %9s %10s %13s\n", "subject", "seed", "workers", "candidates", "passing",
              "seconds", "per min", "lint-fail", "best fitness");
  std::uint64_t next_seed = seed;
  double rate[2][3] = {};
  for (int workers : {1, 2}) {
    EvolveConfig c;
    c.task = "relu-int8";
    c.generations = generations;
    c.children = 2;
    c.db.islands = 2;
    c.db.seed = next_seed++;
    c.workers = workers;
    rate[0][workers] = evolve_row(c, "relu");
  }
  for (int workers : {1, 2}) {
    // A scratch cache per row: the rows share no evaluations or compiled models.
    const std::filesystem::path cache_dir = std::filesystem::temp_directory_path() /
                                            ("chipgym_bench_score_cache_" + std::to_string(::getpid()) + "_" +
                                             std::to_string(workers));
    auto pipeline = std::make_shared<chipgym::evaluators::Pipeline>(
        std::make_shared<chipgym::evaluators::Cache>(cache_dir / "cache.sqlite"));
    EvolveConfig c;
    c.task = "gemm-int8";
    c.module = "gemm_pe";
    c.fixed = {{"rows", 2}, {"cols", 2}};
    c.generations = generations;
    c.children = 2;
    c.db.islands = 2;
    c.db.seed = next_seed++;
    c.workers = workers;
    c.pipeline = pipeline;
    rate[1][workers] = evolve_row(c, "gemm_pe");
    std::filesystem::remove_all(cache_dir);
  }
  std::printf("2 workers / 1 worker: relu %.2fx, gemm_pe %.2fx\n", rate[0][2] / rate[0][1], rate[1][2] / rate[1][1]);
  return 0;
}

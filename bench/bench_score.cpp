// bench_score: the time `chipgym score` takes for one candidate, split by stage, in three
// situations of the Verilator build (the dominant stage):
//   novel     a candidate never seen before, ccache on: the harness and Verilator's runtime
//             objects come from ccache, the model's own C++ is compiled (what evolve sees)
//   cold      ccache disabled: everything compiled (a fresh machine)
//   repeat    the same candidate again, ccache on: every object from ccache
// The candidate is the canonical relu-int8 (novel: with a register renamed per run, so the
// generated C++ differs). Usage: bench_score [--runs N] [--random R]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unistd.h>
#include <string>
#include <vector>

#include "kernels/kernel_task.h"
#include "kernels/score.h"

using namespace chipgym::kernels;

static std::string renamed(const std::string& text, const std::string& from, const std::string& to) {
  std::string out = text;
  for (std::size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size()))
    out.replace(at, from.size(), to);
  return out;
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as soon as it is measured
  int runs = 3;
  ScoreOptions options;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--random") && i + 1 < argc) options.random_vectors = std::max(0, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_score [--runs N] [--random R]\n");
      return 2;
    }
  }
  const KernelTask& task = find_kernel_task("relu-int8");
  const GoldenSet golden = task_golden(task, options.seed, options.random_vectors);
  const char* stage_names[] = {"screen", "interface", "lint", "build", "simulate", "synthesize"};
  std::printf("bench_score: relu-int8, %zu vectors (%d random), %d runs per situation, median seconds\n",
              golden.inputs.size(), options.random_vectors, runs);
  std::printf("%-8s", "");
  for (const char* s : stage_names) std::printf(" %10s", s);
  std::printf(" %10s\n", "total");
  int serial = 0;
  for (const std::string situation : {"novel", "cold", "repeat"}) {
    if (situation == "cold") ::setenv("CCACHE_DISABLE", "1", 1);
    else ::unsetenv("CCACHE_DISABLE");
    std::map<std::string, std::vector<double>> seconds;
    for (int r = 0; r < runs + (situation == "repeat" ? 1 : 0); ++r) {
      const std::string candidate = situation == "repeat" ? task.canonical_verilog
                                                           : renamed(task.canonical_verilog, "data_q",
                                                                     "data_q_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
      ScoreReport report = score_candidate(candidate, golden, options, task.name);
      if (!report.passed()) {
        std::fprintf(stderr, "bench_score: the canonical candidate failed: %s\n", report.message.c_str());
        return 1;
      }
      if (situation == "repeat" && r == 0) continue;  // fills ccache
      double total = 0;
      for (auto it = report.stages.begin(); it != report.stages.end(); ++it) {
        seconds[it.key()].push_back(it.value().get<double>());
        total += it.value().get<double>();
      }
      seconds["total"].push_back(total);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    std::printf("%-8s", situation.c_str());
    for (const char* s : stage_names) std::printf(" %10.3f", median(seconds[s]));
    std::printf(" %10.3f\n", median(seconds["total"]));
  }
  return 0;
}

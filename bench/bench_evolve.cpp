// bench_evolve: candidates scored per minute by `chipgym evolve` with the offline mutation
// proposer (relu-int8, 2 islands x 2 children per generation, 16 random vectors), on 1 and
// 2 scoring workers, ccache on. Each run starts from a fresh run directory; the proposer never
// repeats a program within a run, and the two rows use different seeds (S and S+1) so that the
// second row does not find the first row's Verilator models in ccache; rerunning with the same
// seed shows ccache hits (faster). A lint failure is scored in a fraction of the time a
// passing candidate takes: the mix is what evolve sees.
// Usage: bench_evolve [--generations G] [--seed S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "kernels/evolve.h"

using namespace chipgym::kernels;

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int generations = 5;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--generations") && i + 1 < argc) generations = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: bench_evolve [--generations G] [--seed S]\n");
      return 2;
    }
  }
  std::printf("bench_evolve: relu-int8, offline mutation proposer, 2 islands x 2 children, %d generations\n", generations);
  std::printf("%5s %8s %11s %9s %12s %9s %10s %13s\n", "seed", "workers", "candidates", "passing", "seconds", "per min", "lint-fail", "best fitness");
  for (int workers : {1, 2}) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("chipgym_bench_evolve_" + std::to_string(::getpid()) + "_" + std::to_string(workers));
    std::filesystem::remove_all(dir);
    EvolveConfig c;
    c.task = "relu-int8";
    c.generations = generations;
    c.children = 2;
    c.db.islands = 2;
    c.db.seed = seed + static_cast<std::uint64_t>(workers - 1);
    c.workers = workers;
    c.out = dir;
    const auto t0 = std::chrono::steady_clock::now();
    EvolveSummary s = run_evolve(c);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const ProgramDb db = ProgramDb::load(dir / "db.json");
    int passing = 0, early = 0;
    for (const auto& p : db.programs())
      if (p.origin == "mutation") {
        passing += p.passed;
        early += !p.passed && p.fitness <= -3;  // refused, lint or build failure: cheap to score
      }
    std::printf("%5llu %8d %11d %9d %12.2f %9.1f %10d %13.4f\n", static_cast<unsigned long long>(c.db.seed), workers, s.candidates, passing, seconds,
                60.0 * s.candidates / seconds, early, s.best_fitness);
    std::filesystem::remove_all(dir);
  }
  return 0;
}

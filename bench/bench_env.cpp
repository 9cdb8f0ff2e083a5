// bench_env: environment step overhead on cache hits, and VectorEnv throughput on uncached
// evaluations with 1 and 2 workers, side by side in one run.
// Usage: bench_env [--steps N]
#include <chrono>
#include <cstdio>
#include <cstring>

#include "env/vector_env.h"
#include "evaluators/runner.h"

using namespace chipgym;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  long long steps = 200000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) steps = std::max(1LL, std::atoll(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_env [--steps N]\n");
      return 2;
    }
  }
  evaluators::TempDir scratch("chipgym-bench-env-");
  auto cache = std::make_shared<evaluators::Cache>(scratch.path() / "cache.sqlite");
  auto pipeline = std::make_shared<evaluators::Pipeline>(cache);
  const auto& task = env::task("gemm-int8");

  // 1. Step overhead on cache hits: one design, evaluated once, then stepped again and again.
  env::Env e(task, {}, pipeline);
  std::vector<long long> action = {1, 1, 0, 1, 1, 1, 0};  // rows=2, cols=2, os, depths 16
  e.reset(0);
  auto first = e.step(action);
  if (first.info.contains("error")) {
    std::printf("evaluation failed: %s\n", first.info["error"].dump().c_str());
    return 1;
  }
  auto t0 = Clock::now();
  long long hits = 0;
  for (long long i = 0; i < steps; ++i) {
    e.reset(0);
    hits += e.step(action).info["cache_hit"].get<bool>();
  }
  double per_step = std::chrono::duration<double>(Clock::now() - t0).count() / static_cast<double>(steps);
  std::printf("1. Env step on cache hits (absolute, gemm-int8, one thread)\n");
  std::printf("   %.2f us per reset+step, %.0f steps/s (%lld of %lld were cache hits)\n", per_step * 1e6, 1.0 / per_step,
              hits, steps);

  // 1b. The same through the SQLite cache: a fresh Env per step has no results in memory.
  const long long sqlite_steps = std::max(1LL, steps / 20);
  t0 = Clock::now();
  for (long long i = 0; i < sqlite_steps; ++i) {
    env::Env fresh(task, {}, pipeline);
    fresh.reset(0);
    hits += fresh.step(action).info["cache_hit"].get<bool>();
  }
  double per_sqlite = std::chrono::duration<double>(Clock::now() - t0).count() / static_cast<double>(sqlite_steps);
  std::printf("   through the SQLite cache (a new Env each step): %.2f us per step, %.0f steps/s\n", per_sqlite * 1e6,
              1.0 / per_sqlite);
  std::printf("   CompilerGym's no-op step, for scale: about 130 us\n");

  // 2. VectorEnv on uncached evaluations: 8 distinct designs per step, cache off.
  std::printf("\n2. VectorEnv, 8 environments, uncached evaluations (fidelity %s)\n", task.fidelity.c_str());
  auto nocache = std::make_shared<evaluators::Pipeline>(nullptr);
  std::vector<std::vector<long long>> actions;
  for (long long rows : {0, 1})
    for (long long cols : {0, 1})
      for (long long dataflow : {0, 1}) actions.push_back({rows, cols, dataflow, 1, 1, 1, 0});
  double seconds[2] = {0, 0};
  for (int workers = 1; workers <= 2; ++workers) {
    env::VectorEnv v(task, {}, 8, workers, nocache);
    v.reset(0);
    auto t1 = Clock::now();
    auto results = v.step(actions);
    seconds[workers - 1] = std::chrono::duration<double>(Clock::now() - t1).count();
    int failed = 0;
    for (auto& r : results) failed += r.info.contains("error");
    std::printf("   %d worker(s): %.2f s for 8 evaluations, %.2f evaluations/s%s\n", workers, seconds[workers - 1],
                8 / seconds[workers - 1], failed ? " (some failed)" : "");
  }
  std::printf("   speed-up with 2 workers: %.2fx\n", seconds[0] / seconds[1]);
  return 0;
}

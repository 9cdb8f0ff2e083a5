// bench_surrogate: the learned cost model on a task's cached designs. Prints the fit time on
// every cached design, the prediction time per design against the evaluation time with
// synthesis, and the held-out errors (Gaussian process, k-NN, ridge) per target.
//
//   bench_surrogate [TASK] [--fill N] [--seeds K]
//
// --fill N first evaluates (synthesizes, cached) up to N random designs of the task that the
// cache lacks; --seeds K repeats the held-out split over K seeds. The cache is the default one
// ($CHIPGYM_CACHE, ...).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "agents/surrogate.h"
#include "env/env.h"

using namespace chipgym;
namespace sg = agents::surrogate;
using json = nlohmann::json;

int main(int argc, char** argv) {
  std::string task_name = "gemm-int8-small";
  int fill = 0, seeds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fill" && i + 1 < argc) fill = std::atoi(argv[++i]);
    else if (a == "--seeds" && i + 1 < argc) seeds = std::atoi(argv[++i]);
    else task_name = a;
  }
  try {
    const env::Task& task = env::task(task_name);
    auto cache = std::make_shared<evaluators::Cache>(evaluators::Cache::default_file());
    auto pipeline = std::make_shared<evaluators::Pipeline>(cache);
    if (fill > 0) {
      env::Env e(task, {}, pipeline);
      std::mt19937_64 rng(7);
      for (int i = 0; i < fill; ++i) e.evaluate(e.design_space().sample(rng));
    }
    const auto samples = sg::cached_designs(task, *pipeline);
    std::printf("task %s: %zu cached designs of family %s (%s)\n", task.name.c_str(), samples.size(), task.family.c_str(),
                cache->file().c_str());
    if (samples.size() < 10) {
      std::printf("too few to measure: run with --fill 40, or `chipgym optimum --task %s`\n", task.name.c_str());
      return 2;
    }
    sg::Gp::FitOptions o;
    const auto t0 = std::chrono::steady_clock::now();
    const auto model = sg::CostModel::fit(task, samples, o);
    const double fit_all = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fit on all %zu designs: %.2f s (%zu targets)\n", samples.size(), fit_all, model.learned_targets().size());
    for (int s = 1; s <= seeds; ++s) {
      const json r = sg::holdout_report(task, samples, 0.2, static_cast<std::uint64_t>(s), o);
      std::printf("seed %d: fit %.2f s on %lld, predict %.1f us/design vs %.2f s/evaluation with synthesis (%.0fx)\n", s,
                  r["fit_seconds"].get<double>(), r["train"].get<long long>(),
                  1e6 * r["predict_seconds_per_design"].get<double>(), r["synthesis_seconds_per_design"].get<double>(),
                  r["speedup"].get<double>());
      for (auto it = r["targets"].begin(); it != r["targets"].end(); ++it) {
        std::printf("  %-12s", it.key().c_str());
        for (const char* m : {"gp", "knn", "ridge"})
          std::printf("  %s MAPE %6.2f%% rmse_ln %.4f rho %.3f", m, it.value()[m]["mape"].get<double>(),
                      it.value()[m]["rmse_log"].get<double>(), it.value()[m]["spearman"].get<double>());
        std::printf("\n");
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_surrogate: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

// bench_surrogate: the learned cost model on a task's cached designs. Prints the fit time on
// every cached design, the prediction time per design against the evaluation time with
// synthesis, and the held-out errors (Gaussian process, k-NN, ridge) per target.
//
//   bench_surrogate [TASK] [--fill N] [--seeds K] [--curve N1,N2,...]
//
// --fill N first evaluates (synthesizes, cached) up to N random designs of the task that the
// cache lacks; --seeds K repeats the held-out split over K seeds. --curve instead trains on N
// designs drawn uniformly from the cache (K seeds per N) and scores every other cached design:
// a learning curve, then, for the largest N, the transistor error per value of each parameter
// (which corners of the space the model gets wrong). With an exhaustive cache (`chipgym
// optimum`) the test set is the rest of the space. The cache is the default one
// ($CHIPGYM_CACHE, ...).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "agents/surrogate.h"
#include "env/env.h"
#include "runs/compare.h"

using namespace chipgym;
namespace sg = agents::surrogate;
using json = nlohmann::json;

namespace {

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Mean and 95% t-interval half-width (runs::t95) of xs.
std::pair<double, double> mean_ci(const std::vector<double>& xs) {
  const double n = static_cast<double>(xs.size());
  const double m = std::accumulate(xs.begin(), xs.end(), 0.0) / n;
  if (xs.size() < 2) return {m, 0.0};
  double v = 0;
  for (double x : xs) v += (x - m) * (x - m);
  return {m, runs::t95(static_cast<int>(xs.size())) * std::sqrt(v / (n - 1) / n)};
}

// Trains on n uniformly drawn samples, scores every other one. Returns per target the GP's
// accuracy, and per (parameter, value) the transistor MAPE over the test designs with that value.
struct CurvePoint {
  std::map<std::string, json> gp, ridge;  // target -> Accuracy JSON (n, mape, rmse_log, spearman)
  std::map<std::string, std::size_t> trained_on;  // target -> training designs that measured it
  std::map<std::string, std::map<json, std::pair<double, int>>> corner;  // param -> value -> (sum |err|%, n)
  double fit_seconds = 0;
};

CurvePoint curve_point(const env::Task& task, const std::vector<sg::Sample>& samples, std::size_t n, std::uint64_t seed) {
  const auto [train, test] = sg::seeded_split(samples, n, seed);
  const sg::SplitReport r = sg::split_report(task, train, test, sg::Gp::FitOptions{});
  CurvePoint out;
  out.fit_seconds = r.fit_seconds;
  for (auto it = r.targets.begin(); it != r.targets.end(); ++it) {
    out.gp[it.key()] = it.value()["gp"];
    out.ridge[it.key()] = it.value()["ridge"];
    for (const auto& s : train) out.trained_on[it.key()] += s.figures.count(it.key());
  }
  for (std::size_t i = 0; i < test.size(); ++i) {
    const auto measured = test[i].figures.find("transistors");
    if (measured == test[i].figures.end() || measured->second <= 0) continue;
    const double err = 100.0 * std::abs(r.predictions[i].mean.at("transistors") - measured->second) / measured->second;
    const json params = test[i].params.to_json();
    for (auto p = params.begin(); p != params.end(); ++p) {
      auto& c = out.corner[p.key()][p.value()];
      c.first += err;
      c.second += 1;
    }
  }
  return out;
}

int run_curve(const env::Task& task, const std::vector<sg::Sample>& samples, const std::vector<std::size_t>& sizes, int seeds) {
  std::map<std::string, std::map<json, std::pair<double, int>>> corner;  // of the largest n, all seeds
  std::printf("learning curve: train on N uniformly drawn cached designs, test on the other cached designs (GP; ridge beside it)\n");
  std::printf("| N | target | measured in (train / test, mean) | GP MAPE %% (95%% CI over %d seeds) | GP Spearman | ridge MAPE %% | fit s |\n"
              "|---|---|---|---|---|---|---|\n",
              seeds);
  for (std::size_t n : sizes) {
    if (n + 2 > samples.size()) {
      std::printf("N = %zu: skipped, the cache holds only %zu designs\n", n, samples.size());
      continue;
    }
    std::map<std::string, std::vector<double>> gp_mape, gp_rho, ridge_mape, n_train, n_test;
    double fit = 0;
    for (int s = 1; s <= seeds; ++s) {
      const CurvePoint c = curve_point(task, samples, n, static_cast<std::uint64_t>(s));
      fit += c.fit_seconds / seeds;
      for (const auto& [t, a] : c.gp) {
        gp_mape[t].push_back(a["mape"].get<double>()), gp_rho[t].push_back(a["spearman"].get<double>());
        n_train[t].push_back(static_cast<double>(c.trained_on.at(t))), n_test[t].push_back(a["n"].get<double>());
      }
      for (const auto& [t, a] : c.ridge) ridge_mape[t].push_back(a["mape"].get<double>());
      if (n == sizes.back()) corner = c.corner;  // the last seed's
    }
    for (const auto& [t, xs] : gp_mape) {
      const auto [m, h] = mean_ci(xs);
      std::printf("| %zu | %s | %.0f / %.0f (%zu of %d seeds) | %.2f ± %.2f | %.3f | %.2f | %.2f |\n", n, t.c_str(),
                  mean_ci(n_train[t]).first, mean_ci(n_test[t]).first, xs.size(), seeds, m, h, mean_ci(gp_rho[t]).first,
                  mean_ci(ridge_mape[t]).first, fit);
    }
    std::fflush(stdout);
  }
  std::printf("\ntransistor MAPE %% of the GP by parameter value (N = %zu, seed %d, test designs with that value):\n",
              sizes.back(), seeds);
  for (const auto& [param, values] : corner) {
    std::ostringstream line;
    for (const auto& [v, c] : values) line << "  " << value_text(v) << ": " << std::llround(10.0 * c.first / c.second) / 10.0 << " (" << c.second << ")";
    std::printf("%-10s%s\n", param.c_str(), line.str().c_str());
  }
  return 0;
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    const long long v = std::atoll(item.c_str());
    if (v < 3) throw std::runtime_error("--curve: every N must be at least 3, got '" + item + "'");
    out.push_back(static_cast<std::size_t>(v));
  }
  if (out.empty()) throw std::runtime_error("--curve: give sizes, e.g. --curve 25,50,100");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string task_name = "gemm-int8-small";
  int fill = 0, seeds = 3;
  std::string curve;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fill" && i + 1 < argc) fill = std::atoi(argv[++i]);
    else if (a == "--curve" && i + 1 < argc) curve = argv[++i];
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
    if (!curve.empty()) return run_curve(task, samples, parse_sizes(curve), seeds);
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

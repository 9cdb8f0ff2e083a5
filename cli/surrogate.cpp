// chipgym surrogate fit|eval: a cost model of a task's family learned from the evaluation
// cache (agents/surrogate.h). fit trains on every design the cache holds and saves the model
// beside the cache (surrogates/<task>.<family>.json; the surrogate fidelity and nothing else
// reads it); eval reports held-out error (MAPE, RMSE of the log, Spearman) per target, beside
// two baselines, and the prediction time against synthesis.
#include <cstdio>
#include <iostream>

#include "agents/surrogate.h"
#include "cli/command.h"
#include "cli/common.h"

namespace chipgym::cli {

namespace {

namespace sg = agents::surrogate;

struct SurrogateCommand {
  std::string action, task = "gemm-int8", task_file, model;
  int min_designs = 20;
  double test_fraction = 0.2;
  double max_mape = 25;
  long long seed = 1;
  bool as_json = false;
  CacheOptions cache;
};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The designs to learn from, or a refusal that says how to get more.
std::vector<sg::Sample> designs_or_refuse(const env::Task& task, evaluators::Pipeline& pipeline, int min_designs,
                                          const std::string& cache_file) {
  auto samples = sg::cached_designs(task, pipeline);
  if (static_cast<int>(samples.size()) >= min_designs) return samples;
  const std::string how = "; fill it with `chipgym optimum --task " + task.name + "` (every design of its space) or `chipgym train --task " +
                          task.name + " --agent random --budget " + std::to_string(min_designs) +
                          " --fidelity synth` (same cache), or lower --min-designs";
  if (samples.empty())
    throw hdl::ParamError("nothing to learn from: the cache " + cache_file + " holds no synthesized design of family " +
                          task.family + " (task " + task.name + ")" + how);
  throw hdl::ParamError("too few designs to learn from: the cache " + cache_file + " holds " +
                        std::to_string(samples.size()) + " synthesized design(s) of family " + task.family + " (task " +
                        task.name + "); at least " + std::to_string(min_designs) + " are needed" + how);
}

// Targets whose held-out MAPE is above the limit, as one warning line (empty: none).
std::string poor_targets(const json& report, double max_mape) {
  std::string poor;
  for (auto it = report["targets"].begin(); it != report["targets"].end(); ++it) {
    const double mape = it.value()["gp"]["mape"].get<double>();
    if (mape > max_mape)
      poor += (poor.empty() ? "" : ", ") + it.key() + " MAPE " + fixed(mape, 1) + "%";
  }
  if (poor.empty()) return {};
  return "the surrogate's held-out error is poor: " + poor + " on " + std::to_string(report["test"].get<long long>()) +
         " held-out designs (above --max-mape " + fixed(max_mape, 1) + "%); its predictions there are not to be trusted: "
         "cache more designs of the family and refit";
}

void print_report(const json& r) {
  std::cout << "surrogate of " << r["task"].get<std::string>() << " (family " << r["family"].get<std::string>()
            << "): " << r["designs"] << " designs in the cache, fitted on " << r["train"] << ", " << r["test"]
            << " held out (seed " << r["seed"] << ")\n";
  std::printf("%-12s %-6s %8s %9s %9s\n", "target", "model", "MAPE %", "RMSE(ln)", "Spearman");
  for (auto it = r["targets"].begin(); it != r["targets"].end(); ++it)
    for (const char* m : {"gp", "knn", "ridge"}) {
      const json& a = it.value()[m];
      std::printf("%-12s %-6s %8.2f %9.4f %9.3f\n", std::string(m) == "gp" ? it.key().c_str() : "", m,
                  a["mape"].get<double>(), a["rmse_log"].get<double>(), a["spearman"].get<double>());
    }
  std::cout << "fit " << fixed(r["fit_seconds"].get<double>(), 2) << " s; predict "
            << fixed(1e6 * r["predict_seconds_per_design"].get<double>(), 1) << " us per design against "
            << fixed(r["synthesis_seconds_per_design"].get<double>(), 2) << " s per evaluation with synthesis ("
            << fixed(r["speedup"].get<double>(), 0) << "x)\n";
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<SurrogateCommand>();
  cmd.add_option("action", c->action, "fit: learn the model from the cache and save it; eval: held-out error")
      ->required()
      ->check(CLI::IsMember({"fit", "eval"}));
  cmd.add_option("--task", c->task, "design task whose family is modelled")->capture_default_str();
  cmd.add_option("--task-file", c->task_file, "a task as JSON instead of --task");
  cmd.add_option("--model", c->model, "model file (default: surrogates/<task>.<family>.json beside the cache)");
  cmd.add_option("--min-designs", c->min_designs, "refuse to fit on fewer cached designs")->capture_default_str();
  cmd.add_option("--test-fraction", c->test_fraction, "share of the designs held out")->capture_default_str();
  cmd.add_option("--max-mape", c->max_mape, "warn (exit 2) when a target's held-out MAPE is above this, in percent")
      ->capture_default_str();
  cmd.add_option("--seed", c->seed, "seed of the held-out split and of the fit")->capture_default_str();
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval)");
  cmd.add_flag("--json", c->as_json, "print JSON");
  return [c]() -> int {
    if (c->min_designs < 5) throw hdl::ParamError("--min-designs must be at least 5 (a fit and a held-out check)");
    if (!(c->test_fraction > 0 && c->test_fraction < 1)) throw hdl::ParamError("--test-fraction must be in (0, 1)");
    if (c->seed < 0) throw hdl::ParamError("--seed must be a non-negative integer");
    const env::Task task = load_task(c->task, c->task_file);
    if (!task.has_design())
      throw hdl::ParamError("task '" + task.name + "' is a kernel task: it has no design family with a cycle model and "
                            "synthesized designs to learn from; choose a design task (see `chipgym tasks`)");
    const hdl::Family& family = task.design_family();
    auto cache = open_cache(c->cache);
    evaluators::Pipeline pipeline(cache);
    const auto file = c->model.empty() ? sg::model_file(*cache, task) : std::filesystem::path(c->model);
    sg::Gp::FitOptions fit;
    fit.seed = static_cast<std::uint64_t>(c->seed);

    json out;
    if (c->action == "eval") {
      if (!std::filesystem::exists(file))
        throw hdl::ParamError("no model of task " + task.name + " (family " + family.name() + ") at " + file.string() +
                              ": fit one with `chipgym surrogate fit --task " + task.name + "`");
      const sg::CostModel model = sg::CostModel::load(file, family);  // refuses another family or version
      const auto samples = designs_or_refuse(task, pipeline, c->min_designs, cache->file().string());
      out = sg::holdout_report(task, samples, c->test_fraction, static_cast<std::uint64_t>(c->seed), fit);
      out["model"] = {{"file", file.string()}, {"designs", model.designs()}, {"targets", model.learned_targets()}};
    } else {
      const auto samples = designs_or_refuse(task, pipeline, c->min_designs, cache->file().string());
      out = sg::holdout_report(task, samples, c->test_fraction, static_cast<std::uint64_t>(c->seed), fit);
      sg::CostModel model = sg::CostModel::fit(task, samples, fit);
      model.info()["holdout"] = out;
      model.save(file);
      out["model"] = {{"file", file.string()}, {"designs", model.designs()}, {"targets", model.learned_targets()}};
    }
    const std::string warning = poor_targets(out, c->max_mape);
    out["warning"] = warning.empty() ? json(nullptr) : json(warning);
    if (c->as_json) {
      std::cout << out.dump(2) << "\n";
    } else {
      print_report(out);
      std::cout << (c->action == "fit" ? "model saved to " : "model ") << file.string() << " (fitted on "
                << out["model"]["designs"] << " designs)\n";
    }
    if (!warning.empty()) {
      std::cerr << "warning: " << warning << "\n";
      return kBadInput;
    }
    return 0;
  };
}

const CommandRegistration registered{
    {"surrogate", "a cost model learned from the cache: fit it, or measure its held-out error (fit | eval)", setup}};

}  // namespace

}  // namespace chipgym::cli

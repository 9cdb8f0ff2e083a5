// A learned cost model: the synthesis figures of a family's designs (transistors, cells, depth,
// iCE40 LUT/FF/DSP) predicted from their parameters and the exact cycle model's figures, with
// uncertainty, fitted on what the evaluation cache already holds.
//
// The model is one exact Gaussian process per target, on a log scale: an ARD Matern-5/2 kernel
// plus a linear kernel (area grows with the array, so the linear part extrapolates where the
// Matern part has no data), its hyper-parameters by a few restarts of marginal-likelihood
// ascent with analytic gradients. For a few hundred to a few thousand designs it is exact,
// gives a predictive variance (what Bayesian optimization screens with) and an analytic
// gradient of the mean (what gradient search descends). Two baselines are fitted beside it by
// `chipgym surrogate eval`: k nearest neighbours and ridge regression on the same features.
//
// Plain C++, no libtorch: the surrogate fidelity (evaluators/stages/surrogate.cpp) and the CLI
// use it without paying for its headers.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "env/env.h"
#include "env/task.h"
#include "evaluators/cache.h"
#include "evaluators/pipeline.h"
#include "hdl/family.h"

namespace chipgym::agents::surrogate {

using json = nlohmann::json;

// The version a model file records; a file of another version is refused.
inline constexpr const char* kChipgymVersion = "0.1.0";
// What is predicted, each as ln(1 + value).
inline const std::vector<std::string>& targets() {
  static const std::vector<std::string> t = {"transistors", "cells", "depth", "luts", "ffs", "dsps"};
  return t;
}

// Features of a design: per numeric parameter one value (log2 when every value it takes is a
// power of two), per choice parameter a one-hot block; then the cycle model's figures on the
// workload, log2(1 + x): cycles and every numeric derived figure.
class Features {
 public:
  Features(const hdl::Family& family, json workload);
  std::vector<double> of(const hdl::Params& p) const;
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return names_.size(); }
  // How many leading features come from the parameters alone (the differentiable part).
  std::size_t param_features() const { return param_features_; }

 private:
  const hdl::Family& family_;
  json workload_;
  std::vector<std::string> names_;
  std::vector<std::string> derived_keys_;
  std::size_t param_features_ = 0;
};

// An exact Gaussian process on one scalar target. Inputs and target are standardized inside.
class Gp {
 public:
  struct FitOptions {
    int restarts = 3;      // random starts of the marginal-likelihood ascent (the first: unit length-scales)
    int iterations = 80;   // Adam steps per start
    std::size_t max_optimize = 400;  // hyper-parameters from a random subset this large
    std::uint64_t seed = 1;
    bool keep_hyper = false;  // refit with the current hyper-parameters (warm start, fewer steps)
  };
  void fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y, const FitOptions& o);
  bool fitted() const { return !alpha_.empty(); }
  // Mean and variance of the target (its own scale, not standardized).
  std::pair<double, double> predict(const std::vector<double>& x) const;
  // d mean / d x.
  std::vector<double> grad_mean(const std::vector<double>& x) const;
  double log_marginal_likelihood() const { return lml_; }
  json to_json() const;
  static Gp from_json(const json& j);

 private:
  double kernel(const double* a, const double* b) const;  // standardized inputs
  void factorize();
  std::vector<double> standardize(const std::vector<double>& x) const;
  std::size_t n_ = 0, d_ = 0;
  std::vector<double> x_;  // n x d standardized, row-major
  std::vector<double> y_;  // standardized
  std::vector<double> x_mean_, x_scale_;
  double y_mean_ = 0, y_scale_ = 1;
  std::vector<double> log_ls_;            // ARD length-scales
  double log_sf2_ = 0, log_sl2_ = -2, log_sn2_ = -4;  // Matern, linear and noise variances
  std::vector<double> chol_, alpha_;
  double lml_ = 0;
};

// One design the cache holds: its parameters and its measured figures.
struct Sample {
  hdl::Params params;
  std::map<std::string, double> figures;  // target -> value, only those measured (iCE40 only if run)
  double seconds = 0;                      // wall time of the original evaluation
};

// Every design of the task's family the cache holds with synthesis figures: the task's search
// space looked up under the keys the pipeline uses (synth and rtl, with and without iCE40), so
// entries written before the cache stored the design are found too, and every eval entry that
// names its design (same family and version, any workload: the RTL depends on the parameters
// only). One per design; failed evaluations are left out.
std::vector<Sample> cached_designs(const env::Task& task, evaluators::Pipeline& pipeline);

// Accuracy of predictions against measured values, per target.
struct Accuracy {
  std::size_t n = 0;
  double mape = 0;      // mean absolute percentage error, in percent
  double rmse_log = 0;  // root mean square error of ln(1 + value)
  double spearman = 0;  // rank correlation
  json to_json() const { return {{"n", n}, {"mape", mape}, {"rmse_log", rmse_log}, {"spearman", spearman}}; }
};
Accuracy accuracy(const std::vector<double>& predicted, const std::vector<double>& measured);

struct Prediction {
  std::map<std::string, double> mean;     // target -> predicted value (natural units)
  std::map<std::string, double> log_std;  // target -> predictive std of ln(1 + value)
};

// The fitted model of one task's family: a Gp per target it could learn.
class CostModel {
 public:
  // Fits on `samples` (features on the task's workload). A target measured on fewer than 3
  // designs is left out (e.g. iCE40 figures where the cache has none).
  static CostModel fit(const env::Task& task, const std::vector<Sample>& samples, const Gp::FitOptions& o);

  Prediction predict(const hdl::Params& p) const;
  // Predicted figures as Metrics fields: cycles from the exact model, the rest predicted.
  evaluators::Metrics predicted_metrics(const hdl::Params& p) const;
  const std::vector<std::string>& learned_targets() const { return learned_; }
  const Gp& gp(const std::string& target) const { return gps_.at(target); }
  const Features& features() const { return *features_; }
  const std::string& family() const { return family_; }
  const std::string& task() const { return task_; }
  const json& workload() const { return workload_; }
  std::size_t designs() const { return designs_; }
  json& info() { return info_; }  // held-out figures and the like, saved with the model
  const json& info() const { return info_; }

  void save(const std::filesystem::path& file) const;
  // Throws hdl::ParamError naming the file when it is unreadable, of another family than
  // `family`, of another version of that family, or of another chipgym version.
  static CostModel load(const std::filesystem::path& file, const hdl::Family& family);

 private:
  std::string task_, family_;
  int family_version_ = 0;
  json workload_;
  std::size_t designs_ = 0;
  std::vector<std::string> learned_;
  std::map<std::string, Gp> gps_;
  std::shared_ptr<Features> features_;
  json info_ = json::object();
};

// Where the model of a task is kept: beside the cache, surrogates/<task>.<family>.json.
std::filesystem::path model_file(const evaluators::Cache& cache, const env::Task& task);
// The model for an evaluation of `family` on `workload`: the one fitted on that workload, else
// any of the family; nullopt when the cache directory holds none. Loaded once per file
// version (thread-safe). Throws hdl::ParamError for a file of another version.
std::shared_ptr<const CostModel> find_model(const std::filesystem::path& cache_file, const hdl::Family& family,
                                            const json& workload);

// Baselines beside the Gp, on the same standardized features and log targets.
std::vector<double> knn_predict(const std::vector<std::vector<double>>& train_x, const std::vector<double>& train_y,
                                const std::vector<std::vector<double>>& test_x, int k = 5);
std::vector<double> ridge_predict(const std::vector<std::vector<double>>& train_x, const std::vector<double>& train_y,
                                  const std::vector<std::vector<double>>& test_x, double lambda = 1e-2);

// A seeded split: the samples shuffled by `seed`, the first `n_first` of them, then the rest.
std::pair<std::vector<Sample>, std::vector<Sample>> seeded_split(const std::vector<Sample>& samples, std::size_t n_first,
                                                                 std::uint64_t seed);

// Scores of a given split: the Gp and both baselines fitted on `train`, each learned target
// scored on `test` ({target: {gp, knn, ridge: Accuracy JSON}}), with the Gp's predictions of
// `test` (in order) and the fit and per-design predict times.
struct SplitReport {
  json targets = json::object();
  std::vector<Prediction> predictions;
  double fit_seconds = 0, predict_seconds_per_design = 0;
};
SplitReport split_report(const env::Task& task, const std::vector<Sample>& train, const std::vector<Sample>& test,
                         const Gp::FitOptions& o);

// Held-out evaluation: a seeded split (test_fraction held out), split_report on it; plus the
// synthesis time per design it is measured against.
json holdout_report(const env::Task& task, const std::vector<Sample>& samples, double test_fraction, std::uint64_t seed,
                    const Gp::FitOptions& o);

// What the surrogate agents (sbo, gradient) fit as real results arrive: a Gp on ln(reward)
// over the features of the searched designs (an admissible reward is > 0; a penalty, an
// infeasible or failed design, is put one unit below the worst admissible one seen). The
// task's objective is modelled directly, so it serves any task; the cycle model's exact
// figures among the features carry the throughput part.
class RewardModel {
 public:
  // param_features_only: leave out the cycle model's figures (gradient search differentiates
  // the model through the parameter features only).
  RewardModel(const env::Env& env, bool param_features_only);
  const env::Env& env() const { return env_; }
  hdl::Params params(const std::vector<long long>& design) const;
  bool valid(const std::vector<long long>& design) const;  // the family's constraints hold
  const std::vector<double>& features(const std::vector<long long>& design) const;  // memoized
  const Features& feature_map() const { return features_; }
  std::size_t dims() const { return dims_; }
  // Fits on every told design (the Gp's hyper-parameters from a few seeded restarts).
  void fit(const std::vector<std::pair<std::vector<long long>, double>>& told, std::uint64_t seed);
  bool ready() const { return gp_.fitted(); }
  std::pair<double, double> predict(const std::vector<long long>& design) const;  // ln reward: mean, variance
  std::pair<double, double> predict_features(const std::vector<double>& x) const { return gp_.predict(x); }
  std::vector<double> grad(const std::vector<double>& x) const { return gp_.grad_mean(x); }
  double best() const { return best_; }  // the largest ln reward told (penalties floored)

 private:
  const env::Env& env_;
  Features features_;
  std::size_t dims_;
  Gp gp_;
  double best_ = 0;
  mutable std::map<std::vector<long long>, std::vector<double>> memo_;
};

// How many designs each fidelity saw in a surrogate agent's run, for the summary.
json fidelity_counts(long long screened, long long real, const std::string& real_fidelity);

}  // namespace chipgym::agents::surrogate

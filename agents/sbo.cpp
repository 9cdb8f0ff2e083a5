// sbo: surrogate-assisted Bayesian optimization. After `startup` random designs, every ask
// refits a Gaussian process on ln(reward) of what was really evaluated (agents/surrogate.h:
// RewardModel, features from the parameters and the exact cycle model), screens up to
// `screen` unseen designs that meet the family's constraints with it (all of them when the
// space is that small), and proposes those of the largest expected improvement. Only the
// proposals cost real evaluations (the run's budget); the screened ones are counted in the
// summary as the surrogate fidelity's.
//
// Two models (hyper-parameter `model`):
//   area    (default) the GP learns ln(transistors) of the designs really synthesized, and a
//           candidate's reward is the task's own objective (Task::reward) of the exact cycle
//           model's figures with the predicted transistors; expected improvement is taken over
//           the GP's predictive distribution (Gauss-Hermite, 9 nodes). Only what is unknown is
//           learned: cycles are exact, so the model does not have to rediscover them.
//   reward  the GP learns ln(reward) directly (any task; what sbo did first).
//
// Designs whose generated Verilog is the same text are one design (gemm's c_depth, which an
// output-stationary array does not use, is the common case): their figures are the same, so
// sbo proposes at most one of them, and never one whose twin it has already evaluated. The
// generator costs no tool run (hyper-parameter `twins`: false proposes them as any design).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "agents/agent.h"
#include "agents/surrogate.h"
#include "env/env.h"
#include "evaluators/pool.h"
#include "evaluators/sha256.h"

namespace chipgym::agents {

namespace {

class SurrogateBo final : public Searcher {
 public:
  struct Hyper {
    int startup = 3;     // random designs before the model is used (3: docs/results.md, chosen among 2, 3, 4)
    int screen = 4096;   // candidates the surrogate screens per proposal
    double xi = 0.01;    // expected improvement over the best ln(reward) by at least this
    std::string model = "area";  // area | reward (see the top of the file)
    bool twins = true;           // designs of the same generated Verilog are one (see the top)
  };
  SurrogateBo(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), seed_(seed), rng_(seed) {
    hyper_.startup = h.value("startup", hyper_.startup);
    hyper_.screen = h.value("screen", hyper_.screen);
    hyper_.xi = h.value("xi", hyper_.xi);
    hyper_.model = h.value("model", hyper_.model);
    hyper_.twins = h.value("twins", hyper_.twins);
    if (hyper_.startup < 1 || hyper_.screen < 1 || hyper_.xi < 0)
      throw hdl::ParamError("sbo: need startup >= 1, screen >= 1, xi >= 0");
    if (hyper_.model != "area" && hyper_.model != "reward")
      throw hdl::ParamError("sbo: model must be area or reward, not '" + hyper_.model + "'");
  }
  void bind(const SearchContext& c) override {
    if (!c.env) return;
    model_ = std::make_unique<surrogate::RewardModel>(*c.env, false);
    env_ = c.env;
    area_ = std::make_unique<surrogate::RewardModel>(*c.env, false);
    fidelity_ = c.env->config().fidelity.empty() ? c.env->task().fidelity : c.env->config().fidelity;
    // A space small enough is screened whole, every time (its valid designs, enumerated once).
    double points = 1;
    for (long long n : space_.nvec()) points *= static_cast<double>(n);
    if (points <= hyper_.screen) {
      Design d(space_.dims(), 0);
      for (bool more = true; more;) {
        if (model_->valid(d)) all_.push_back(d);
        std::size_t k = 0;
        for (; k < d.size(); ++k) {
          if (++d[k] < space_.nvec()[k]) break;
          d[k] = 0;
        }
        more = k < d.size();
      }
    }
  }
  std::vector<Design> ask(int n) override {
    if (!model_) throw std::logic_error("sbo: the run loop did not give the searcher its environment (bind)");
    std::vector<Design> out;
    if (static_cast<int>(told_.size()) >= hyper_.startup) {
      if (hyper_.model == "area") {
        // RewardModel fits ln of its targets: the transistors of the designs that have them.
        std::vector<std::pair<Design, double>> areas;
        for (const auto& [d, t] : area_told_)
          if (t > 0) areas.emplace_back(d, t);
        area_->fit(areas, seed_ + told_.size());
        if (area_->ready()) out = screened(n);
      } else {
        model_->fit(told_, seed_ + told_.size());
        if (model_->ready()) out = screened(n);
      }
    }
    while (static_cast<int>(out.size()) < n) {
      Design d = random_valid();
      if (seen_.count(d) && seen_.size() >= all_.size() && !all_.empty()) break;  // exhausted
      propose(d);
      out.push_back(d);
    }
    return out;
  }
  void observe(const std::vector<Design>& designs, const std::vector<json>& figures) override {
    for (std::size_t i = 0; i < designs.size() && i < figures.size(); ++i)
      area_told_.emplace_back(designs[i], figures[i].value("transistors", 0.0));
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) told_.emplace_back(designs[i], rewards[i]);
  }
  bool done() const override { return !all_.empty() && seen_.size() >= all_.size(); }
  json hyper_parameters() const override {
    return {{"startup", hyper_.startup}, {"screen", hyper_.screen}, {"xi", hyper_.xi}, {"model", hyper_.model},
            {"twins", hyper_.twins}};
  }
  json report() const override {
    return surrogate::fidelity_counts(screened_, static_cast<long long>(told_.size()), fidelity_);
  }

 private:
  Design random_valid() {
    Design d = space_.sample(rng_);
    for (int t = 0; t < 200 && (known(d) || !model_->valid(d)); ++t) d = space_.sample(rng_);
    return d;
  }
  // The generated Verilog's hash (memoized): what makes two designs one (no tool runs).
  const std::string& rtl_key(const Design& d) {
    auto it = rtl_keys_.find(d);
    if (it != rtl_keys_.end()) return it->second;
    std::string key;
    try {
      key = evaluators::sha256_hex(env_->task().design_family().emit(env_->decode(d)).source());
    } catch (const std::exception&) {
      key = "design:" + json(d).dump();  // not generated: only itself
    }
    return rtl_keys_.emplace(d, std::move(key)).first->second;
  }
  // Seen, or (twins) the twin of a design proposed before.
  bool known(const Design& d) {
    if (seen_.count(d)) return true;
    if (!hyper_.twins || !env_) return false;
    if (proposed_rtl_.count(rtl_key(d))) {
      seen_.insert(d);  // one design with the one proposed: never worth a real evaluation
      return true;
    }
    return false;
  }
  void propose(const Design& d) {
    seen_.insert(d);
    if (hyper_.twins && env_) proposed_rtl_.insert(rtl_key(d));
  }
  std::vector<Design> screened(int n) {
    std::vector<Design> candidates;
    if (!all_.empty()) {
      for (const auto& d : all_)
        if (!known(d)) candidates.push_back(d);
    } else {
      std::set<Design> picked;
      for (int i = 0; i < hyper_.screen * 4 && static_cast<int>(picked.size()) < hyper_.screen; ++i) {
        Design d = space_.sample(rng_);
        if (!known(d) && model_->valid(d)) picked.insert(d);
      }
      candidates.assign(picked.begin(), picked.end());
    }
    screened_ += static_cast<long long>(candidates.size());
    std::vector<std::pair<double, std::size_t>> scored;
    if (hyper_.model == "area") {
      double best = -1e300;
      for (const auto& [d, r] : told_) best = std::max(best, r);
      best = best > 0 ? best * std::exp(hyper_.xi) : best;
      for (std::size_t i = 0; i < candidates.size(); ++i) scored.emplace_back(area_ei(candidates[i], best), i);
    }
    const double best = hyper_.model == "area" ? 0 : model_->best() + hyper_.xi;
    for (std::size_t i = 0; hyper_.model != "area" && i < candidates.size(); ++i) {
      const auto [mean, var] = model_->predict(candidates[i]);
      const double sd = std::sqrt(std::max(var, 1e-12));
      const double z = (mean - best) / sd;
      const double ei = (mean - best) * 0.5 * std::erfc(-z / std::sqrt(2.0)) + sd * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      scored.emplace_back(ei, i);
    }
    // The largest first; ties by candidate order (deterministic).
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Design> out;
    for (std::size_t i = 0; i < scored.size() && static_cast<int>(out.size()) < n; ++i) {
      const Design& d = candidates[scored[i].second];
      if (known(d)) continue;  // the twin of one proposed in this batch
      propose(d);
      out.push_back(d);
    }
    return out;
  }

  // The exact cycle model's metrics of a design (no tools, no cache: a pipeline of its own).
  const evaluators::Metrics& modelled(const Design& d) {
    auto it = modelled_.find(d);
    if (it != modelled_.end()) return it->second;
    evaluators::EvalJob job = env_->job(d);
    job.options.fidelity = "model";
    evaluators::Metrics m = evaluators::evaluate_job(model_pipeline_, job);
    return modelled_.emplace(d, std::move(m)).first->second;
  }
  // E[max(reward - best, 0)] with ln(transistors) ~ N(mean, var) of the area model; the reward
  // is the task's of the modelled figures with those transistors.
  double area_ei(const Design& d, double best) {
    static const double nodes[9] = {-4.512745863, -3.205429002, -2.076847979, -1.023255664, 0.0,
                                    1.023255664,  2.076847979,  3.205429002,  4.512745863};
    static const double weights[9] = {2.234584e-05, 2.789141e-03, 4.991640e-02, 2.440975e-01, 4.062347e-01,
                                      2.440975e-01, 4.991640e-02, 2.789141e-03, 2.234584e-05};
    evaluators::Metrics m = modelled(d);
    if (m.error) return -1;  // the cycle model refuses it: never worth synthesizing first
    m.fidelity = fidelity_;
    const auto [mean, var] = area_->predict(d);
    const double sd = std::sqrt(std::max(var, 1e-12));
    double ei = 0, expected = 0;
    for (int k = 0; k < 9; ++k) {
      m.transistors = static_cast<long long>(std::llround(std::exp(mean + nodes[k] * sd)));
      const double r = env_->task().reward(m);
      ei += weights[k] * std::max(r - best, 0.0);
      expected += weights[k] * r;
    }
    return ei > 0 ? ei : 1e-9 * std::exp(std::min(expected, 700.0) / 1e3);  // ties broken by the expected reward
  }

  env::Space space_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::unique_ptr<surrogate::RewardModel> model_, area_;
  const env::Env* env_ = nullptr;
  evaluators::Pipeline model_pipeline_{nullptr};
  std::map<Design, evaluators::Metrics> modelled_;
  std::vector<std::pair<Design, double>> area_told_;  // transistors of every design told (0: none)
  std::string fidelity_ = "synth";
  std::vector<Design> all_;
  std::set<Design> seen_;
  std::map<Design, std::string> rtl_keys_;
  std::set<std::string> proposed_rtl_;
  std::vector<std::pair<Design, double>> told_;
  long long screened_ = 0;
};

const Registration<Agent> registered_sbo{searcher_agent<SurrogateBo>(
    "sbo", "surrogate-assisted Bayesian optimization: a Gaussian process screens the space, expected improvement picks what is synthesized", 56)};

}  // namespace

}  // namespace chipgym::agents

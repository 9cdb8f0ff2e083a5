// sbo: surrogate-assisted Bayesian optimization. After `startup` random designs, every ask
// refits a Gaussian process on ln(reward) of what was really evaluated (agents/surrogate.h:
// RewardModel, features from the parameters and the exact cycle model), screens up to
// `screen` unseen designs that meet the family's constraints with it (all of them when the
// space is that small), and proposes those of the largest expected improvement. Only the
// proposals cost real evaluations (the run's budget); the screened ones are counted in the
// summary as the surrogate fidelity's.
#include <algorithm>
#include <cmath>
#include <set>

#include "agents/agent.h"
#include "agents/surrogate.h"
#include "env/env.h"

namespace chipgym::agents {

namespace {

class SurrogateBo final : public Searcher {
 public:
  struct Hyper {
    int startup = 4;     // random designs before the model is used
    int screen = 4096;   // candidates the surrogate screens per proposal
    double xi = 0.01;    // expected improvement over the best ln(reward) by at least this
  };
  SurrogateBo(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), seed_(seed), rng_(seed) {
    hyper_.startup = h.value("startup", hyper_.startup);
    hyper_.screen = h.value("screen", hyper_.screen);
    hyper_.xi = h.value("xi", hyper_.xi);
    if (hyper_.startup < 1 || hyper_.screen < 1 || hyper_.xi < 0)
      throw hdl::ParamError("sbo: need startup >= 1, screen >= 1, xi >= 0");
  }
  void bind(const SearchContext& c) override {
    if (!c.env) return;
    model_ = std::make_unique<surrogate::RewardModel>(*c.env, false);
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
      model_->fit(told_, seed_ + told_.size());
      if (model_->ready()) out = screened(n);
    }
    while (static_cast<int>(out.size()) < n) {
      Design d = random_valid();
      if (seen_.count(d) && seen_.size() >= all_.size() && !all_.empty()) break;  // exhausted
      seen_.insert(d);
      out.push_back(d);
    }
    return out;
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) told_.emplace_back(designs[i], rewards[i]);
  }
  bool done() const override { return !all_.empty() && seen_.size() >= all_.size(); }
  json hyper_parameters() const override {
    return {{"startup", hyper_.startup}, {"screen", hyper_.screen}, {"xi", hyper_.xi}};
  }
  json report() const override {
    return surrogate::fidelity_counts(screened_, static_cast<long long>(told_.size()), fidelity_);
  }

 private:
  Design random_valid() {
    Design d = space_.sample(rng_);
    for (int t = 0; t < 200 && (seen_.count(d) || !model_->valid(d)); ++t) d = space_.sample(rng_);
    return d;
  }
  std::vector<Design> screened(int n) {
    std::vector<Design> candidates;
    if (!all_.empty()) {
      for (const auto& d : all_)
        if (!seen_.count(d)) candidates.push_back(d);
    } else {
      std::set<Design> picked;
      for (int i = 0; i < hyper_.screen * 4 && static_cast<int>(picked.size()) < hyper_.screen; ++i) {
        Design d = space_.sample(rng_);
        if (!seen_.count(d) && model_->valid(d)) picked.insert(d);
      }
      candidates.assign(picked.begin(), picked.end());
    }
    screened_ += static_cast<long long>(candidates.size());
    const double best = model_->best() + hyper_.xi;
    std::vector<std::pair<double, std::size_t>> scored;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
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
      out.push_back(candidates[scored[i].second]);
      seen_.insert(out.back());
    }
    return out;
  }

  env::Space space_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::unique_ptr<surrogate::RewardModel> model_;
  std::string fidelity_ = "synth";
  std::vector<Design> all_;
  std::set<Design> seen_;
  std::vector<std::pair<Design, double>> told_;
  long long screened_ = 0;
};

const Registration<Agent> registered_sbo{searcher_agent<SurrogateBo>(
    "sbo", "surrogate-assisted Bayesian optimization: a Gaussian process screens the space, expected improvement picks what is synthesized", 56)};

}  // namespace

}  // namespace chipgym::agents

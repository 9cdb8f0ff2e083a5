// gradient: gradient search through the learned model. After `startup` random designs, every
// ask refits a Gaussian process on ln(reward) over the parameter features (agents/surrogate.h:
// RewardModel) and relaxes the design: a numeric parameter becomes a continuous feature (its
// value, or log2 for powers of two) within its searched range, a choice a softmax over its
// searched values (the one-hot block). Adam ascends the model's mean (analytic gradient,
// chained through the softmax) from the best designs so far and from random ones; the end
// point is projected to the nearest searched values (argmax for choices), and when that design
// breaks a constraint of the family or was already evaluated, to the nearest one that is valid
// and new. Each proposal is then evaluated with the real tools by the run.
#include <algorithm>
#include <cmath>
#include <set>

#include "agents/agent.h"
#include "agents/surrogate.h"
#include "env/env.h"

namespace chipgym::agents {

namespace {

class GradientSearch final : public Searcher {
 public:
  struct Hyper {
    int startup = 4;          // random designs before the model is used
    int steps = 60;           // Adam steps per start
    double learning_rate = 0.08;  // per step, in units of each parameter's searched range
    int starts = 4;           // ascents per proposal: from the best designs, then random ones
  };
  GradientSearch(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), seed_(seed), rng_(seed) {
    hyper_.startup = h.value("startup", hyper_.startup);
    hyper_.steps = h.value("steps", hyper_.steps);
    hyper_.learning_rate = h.value("learning_rate", hyper_.learning_rate);
    hyper_.starts = h.value("starts", hyper_.starts);
    if (hyper_.startup < 1 || hyper_.steps < 1 || hyper_.learning_rate <= 0 || hyper_.starts < 1)
      throw hdl::ParamError("gradient: need startup >= 1, steps >= 1, learning_rate > 0, starts >= 1");
  }

  void bind(const SearchContext& c) override {
    if (!c.env) return;
    model_ = std::make_unique<surrogate::RewardModel>(*c.env, true);
    fidelity_ = c.env->config().fidelity.empty() ? c.env->task().fidelity : c.env->config().fidelity;
    // Where each searched parameter sits among the features, and its values' features.
    const auto& names = model_->feature_map().names();
    const auto domains = c.env->task().search_domains();
    for (std::size_t k = 0; k < domains.size(); ++k) {
      Dim dim;
      const std::string& p = domains[k].first;
      for (const auto& v : domains[k].second) {
        if (const auto* s = std::get_if<std::string>(&v)) {
          dim.choice = true;
          const auto it = std::find(names.begin(), names.end(), p + "=" + *s);
          dim.columns.push_back(static_cast<std::size_t>(it - names.begin()));
        } else {
          const long long x = std::get<long long>(v);
          const auto it = std::find(names.begin(), names.end(), p);
          const bool log2 = it == names.end();
          const auto col = log2 ? std::find(names.begin(), names.end(), "log2(" + p + ")") : it;
          dim.columns = {static_cast<std::size_t>(col - names.begin())};
          dim.values.push_back(log2 ? std::log2(std::max<double>(1.0, double(x))) : double(x));
        }
      }
      if (!dim.choice) {
        dim.lo = *std::min_element(dim.values.begin(), dim.values.end());
        dim.hi = *std::max_element(dim.values.begin(), dim.values.end());
      }
      dims_.push_back(dim);
    }
  }

  std::vector<Design> ask(int n) override {
    if (!model_) throw std::logic_error("gradient: the run loop did not give the searcher its environment (bind)");
    std::vector<Design> out;
    if (static_cast<int>(told_.size()) >= hyper_.startup) {
      model_->fit(told_, seed_ + told_.size());
      if (model_->ready()) {
        auto ranked = told_;
        std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        for (int i = 0; i < n; ++i) {
          Design best;
          double best_value = -1e300;
          for (int s = 0; s < hyper_.starts; ++s) {
            const std::size_t from = static_cast<std::size_t>(i * hyper_.starts + s);
            const Design start = from < ranked.size() && s < (hyper_.starts + 1) / 2 ? ranked[from].first : random_valid();
            Relaxed r = ascend(relax(start));
            Design d = project(r);
            if (d.empty()) continue;
            const double value = model_->predict(d).first;
            if (value > best_value) best_value = value, best = d;
          }
          if (best.empty()) break;
          seen_.insert(best);
          out.push_back(best);
        }
      }
    }
    while (static_cast<int>(out.size()) < n) {
      Design d = random_valid();
      seen_.insert(d);
      out.push_back(d);
    }
    return out;
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) told_.emplace_back(designs[i], rewards[i]);
  }
  json hyper_parameters() const override {
    return {{"startup", hyper_.startup}, {"steps", hyper_.steps}, {"learning_rate", hyper_.learning_rate},
            {"starts", hyper_.starts}};
  }
  json report() const override {
    json r = surrogate::fidelity_counts(relaxed_points_, static_cast<long long>(told_.size()), fidelity_);
    r["projections_repaired"] = repaired_;
    return r;
  }

 private:
  struct Dim {
    bool choice = false;
    std::vector<std::size_t> columns;  // numeric: one; choice: one per searched value
    std::vector<double> values;        // numeric: the feature of each searched value
    double lo = 0, hi = 0;
  };
  // Numeric dimensions: the feature value; choices: logits, one per searched value.
  struct Relaxed {
    std::vector<std::vector<double>> v;
    std::vector<double> base;  // features of the start (the parameters not searched)
  };

  static std::vector<double> softmax(const std::vector<double>& logits) {
    const double m = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] - m);
    for (auto& x : p) x /= sum;
    return p;
  }
  Relaxed relax(const Design& d) const {
    Relaxed r;
    r.base = model_->features(d);
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      if (dims_[k].choice) {
        std::vector<double> logits(dims_[k].columns.size(), 0.0);
        logits[static_cast<std::size_t>(d[k])] = 2.0;
        r.v.push_back(logits);
      } else {
        r.v.push_back({dims_[k].values[static_cast<std::size_t>(d[k])]});
      }
    }
    return r;
  }
  std::vector<double> point(const Relaxed& r) const {
    std::vector<double> x = r.base;
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      if (dims_[k].choice) {
        const auto p = softmax(r.v[k]);
        for (std::size_t c = 0; c < p.size(); ++c) x[dims_[k].columns[c]] = p[c];
      } else {
        x[dims_[k].columns[0]] = r.v[k][0];
      }
    }
    return x;
  }
  Relaxed ascend(Relaxed r) {
    std::vector<std::vector<double>> m(r.v.size()), s(r.v.size());
    for (std::size_t k = 0; k < r.v.size(); ++k) m[k].assign(r.v[k].size(), 0.0), s[k].assign(r.v[k].size(), 0.0);
    for (int t = 1; t <= hyper_.steps; ++t) {
      const auto x = point(r);
      const auto g = model_->grad(x);
      ++relaxed_points_;
      for (std::size_t k = 0; k < dims_.size(); ++k) {
        std::vector<double> gk(r.v[k].size(), 0.0);
        double scale = 1.0;
        if (dims_[k].choice) {
          const auto p = softmax(r.v[k]);
          double mean = 0;
          for (std::size_t c = 0; c < p.size(); ++c) mean += p[c] * g[dims_[k].columns[c]];
          for (std::size_t c = 0; c < p.size(); ++c) gk[c] = p[c] * (g[dims_[k].columns[c]] - mean);
          scale = 4.0;  // logits: a range of about four
        } else {
          gk[0] = g[dims_[k].columns[0]];
          scale = std::max(dims_[k].hi - dims_[k].lo, 1e-9);
        }
        for (std::size_t c = 0; c < gk.size(); ++c) {
          m[k][c] = 0.9 * m[k][c] + 0.1 * gk[c];
          s[k][c] = 0.999 * s[k][c] + 0.001 * gk[c] * gk[c];
          const double mh = m[k][c] / (1 - std::pow(0.9, t)), sh = s[k][c] / (1 - std::pow(0.999, t));
          r.v[k][c] += hyper_.learning_rate * scale * mh / (std::sqrt(sh) + 1e-12);
          if (!dims_[k].choice) r.v[k][c] = std::clamp(r.v[k][c], dims_[k].lo, dims_[k].hi);
        }
      }
    }
    return r;
  }
  // How far a design is from the relaxed point (each numeric dimension in units of its range).
  double distance(const Relaxed& r, const Design& d) const {
    double dist = 0;
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      if (dims_[k].choice) {
        dist += 1 - softmax(r.v[k])[static_cast<std::size_t>(d[k])];
      } else {
        const double range = std::max(dims_[k].hi - dims_[k].lo, 1e-9);
        const double diff = (r.v[k][0] - dims_[k].values[static_cast<std::size_t>(d[k])]) / range;
        dist += diff * diff;
      }
    }
    return dist;
  }
  Design project(const Relaxed& r) {
    Design d(dims_.size());
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      if (dims_[k].choice) {
        const auto& l = r.v[k];
        d[k] = std::max_element(l.begin(), l.end()) - l.begin();
      } else {
        std::size_t best = 0;
        for (std::size_t i = 1; i < dims_[k].values.size(); ++i)
          if (std::fabs(dims_[k].values[i] - r.v[k][0]) < std::fabs(dims_[k].values[best] - r.v[k][0])) best = i;
        d[k] = static_cast<long long>(best);
      }
    }
    if (!seen_.count(d) && model_->valid(d)) return d;
    // The nearest valid new design among one and two changes of the projection.
    ++repaired_;
    std::vector<std::pair<double, Design>> near;
    for (std::size_t a = 0; a < d.size(); ++a)
      for (long long va = 0; va < space_.nvec()[a]; ++va) {
        Design e = d;
        e[a] = va;
        near.emplace_back(distance(r, e), e);
        for (std::size_t b = a + 1; b < d.size(); ++b)
          for (long long vb = 0; vb < space_.nvec()[b]; ++vb) {
            Design f = e;
            f[b] = vb;
            near.emplace_back(distance(r, f), f);
          }
      }
    std::stable_sort(near.begin(), near.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [dist, e] : near)
      if (!seen_.count(e) && model_->valid(e)) return e;
    return {};
  }
  Design random_valid() {
    Design d = space_.sample(rng_);
    for (int t = 0; t < 200 && (seen_.count(d) || !model_->valid(d)); ++t) d = space_.sample(rng_);
    return d;
  }

  env::Space space_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::unique_ptr<surrogate::RewardModel> model_;
  std::vector<Dim> dims_;
  std::string fidelity_ = "synth";
  std::set<Design> seen_;
  std::vector<std::pair<Design, double>> told_;
  long long relaxed_points_ = 0, repaired_ = 0;
};

const Registration<Agent> registered_gradient{searcher_agent<GradientSearch>(
    "gradient",
    "gradient search: ascend a Gaussian process through relaxed parameters (softmax for choices), project to the "
    "nearest valid design, synthesize it",
    57)};

}  // namespace

}  // namespace chipgym::agents

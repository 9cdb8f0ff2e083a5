// Black-box searchers: random, exhaustive grid, simulated annealing, genetic algorithm, TPE.
// Each keeps its hyper-parameters in one struct with defaults, printed into config.json, and
// registers itself below its class (agents/agent.h).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "agents/agent.h"
#include "hdl/param_space.h"

namespace chipgym::agents {

namespace {

// Random search without repeats (until the space is exhausted).
class RandomSearch final : public Searcher {
 public:
  struct Hyper {
    int max_resample = 100;  // tries to find a design not proposed before
  };
  RandomSearch(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.max_resample = h.value("max_resample", hyper_.max_resample);
  }
  std::vector<Design> ask(int n) override {
    std::vector<Design> out;
    for (int i = 0; i < n; ++i) {
      Design d = space_.sample(rng_);
      for (int t = 0; t < hyper_.max_resample && seen_.count(d); ++t) d = space_.sample(rng_);
      seen_.insert(d);
      out.push_back(d);
    }
    return out;
  }
  void tell(const std::vector<Design>&, const std::vector<double>&) override {}
  json hyper_parameters() const override { return {{"max_resample", hyper_.max_resample}}; }

 private:
  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::set<Design> seen_;
};

const Registration<Agent> registered_random{
    searcher_agent<RandomSearch>("random", "uniform random designs, without repeats", 10)};

// Every design once, in mixed-radix order (the first dimension changes fastest).
class GridSearch final : public Searcher {
 public:
  GridSearch(const env::Space& space, std::uint64_t, const json&) : space_(space), next_(space.dims(), 0) {}
  std::vector<Design> ask(int n) override {
    std::vector<Design> out;
    for (int i = 0; i < n && !exhausted_; ++i) {
      out.push_back(next_);
      std::size_t d = 0;
      for (; d < next_.size(); ++d) {
        if (++next_[d] < space_.nvec()[d]) break;
        next_[d] = 0;
      }
      exhausted_ = d == next_.size();
    }
    return out;
  }
  void tell(const std::vector<Design>&, const std::vector<double>&) override {}
  bool done() const override { return exhausted_; }
  json hyper_parameters() const override { return json::object(); }

 private:
  env::Space space_;
  Design next_;
  bool exhausted_ = false;
};

const Registration<Agent> registered_grid{
    searcher_agent<GridSearch>("grid", "exhaustive: every design once, in order", 20)};

// Simulated annealing: a neighbour changes one dimension by one step (or jumps with
// probability `jump`); worse designs are accepted with probability exp(delta / T), and T
// falls geometrically per evaluation.
class SimulatedAnnealing final : public Searcher {
 public:
  struct Hyper {
    double initial_temperature = 10.0;
    double cooling = 0.97;
    double jump = 0.1;
  };
  SimulatedAnnealing(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.initial_temperature = h.value("initial_temperature", hyper_.initial_temperature);
    hyper_.cooling = h.value("cooling", hyper_.cooling);
    hyper_.jump = h.value("jump", hyper_.jump);
    if (hyper_.initial_temperature <= 0 || hyper_.cooling <= 0 || hyper_.cooling > 1 || hyper_.jump < 0 || hyper_.jump > 1)
      throw hdl::ParamError("sa: need initial_temperature > 0, cooling in (0, 1], jump in [0, 1]");
    temperature_ = hyper_.initial_temperature;
  }
  std::vector<Design> ask(int n) override {
    std::vector<Design> out;
    for (int i = 0; i < n; ++i) out.push_back(current_.empty() ? space_.sample(rng_) : neighbour(current_));
    return out;
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) {
      const double delta = rewards[i] - current_reward_;
      const bool accept = current_.empty() || delta >= 0 ||
                          std::uniform_real_distribution<double>(0, 1)(rng_) < std::exp(delta / temperature_);
      if (accept) {
        current_ = designs[i];
        current_reward_ = rewards[i];
      }
      temperature_ = std::max(1e-9, temperature_ * hyper_.cooling);
    }
  }
  json hyper_parameters() const override {
    return {{"initial_temperature", hyper_.initial_temperature}, {"cooling", hyper_.cooling}, {"jump", hyper_.jump}};
  }

 private:
  Design neighbour(const Design& x) {
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < hyper_.jump) return space_.sample(rng_);
    Design y = x;
    for (int tries = 0; tries < 32; ++tries) {
      const std::size_t d = std::uniform_int_distribution<std::size_t>(0, y.size() - 1)(rng_);
      if (space_.nvec()[d] < 2) continue;
      const long long step = std::uniform_int_distribution<int>(0, 1)(rng_) ? 1 : -1;
      const long long v = y[d] + step;
      if (v < 0 || v >= space_.nvec()[d]) continue;
      y[d] = v;
      return y;
    }
    return space_.sample(rng_);
  }
  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  Design current_;
  double current_reward_ = 0;
  double temperature_ = 1;
};

const Registration<Agent> registered_sa{
    searcher_agent<SimulatedAnnealing>("sa", "simulated annealing over one-step neighbours", 30)};

// Genetic algorithm: a population evaluated generation by generation; parents by tournament,
// uniform crossover, per-gene mutation to a random value; the best `elite` survive.
class GeneticAlgorithm final : public Searcher {
 public:
  struct Hyper {
    int population = 16;
    int tournament = 3;
    double crossover = 0.9;
    double mutation = 0.1;
    int elite = 2;
  };
  GeneticAlgorithm(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.population = h.value("population", hyper_.population);
    hyper_.tournament = h.value("tournament", hyper_.tournament);
    hyper_.crossover = h.value("crossover", hyper_.crossover);
    hyper_.mutation = h.value("mutation", hyper_.mutation);
    hyper_.elite = h.value("elite", hyper_.elite);
    if (hyper_.population < 2 || hyper_.tournament < 1 || hyper_.elite < 0 || hyper_.elite >= hyper_.population)
      throw hdl::ParamError("ga: need population >= 2, tournament >= 1, 0 <= elite < population");
    for (int i = 0; i < hyper_.population; ++i) pending_.push_back(space_.sample(rng_));
  }
  std::vector<Design> ask(int n) override {
    std::vector<Design> out;
    for (int i = 0; i < n; ++i) {
      if (pending_.empty()) breed();
      out.push_back(pending_.front());
      pending_.erase(pending_.begin());
    }
    return out;
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) scored_.emplace_back(rewards[i], designs[i]);
  }
  json hyper_parameters() const override {
    return {{"population", hyper_.population}, {"tournament", hyper_.tournament}, {"crossover", hyper_.crossover},
            {"mutation", hyper_.mutation}, {"elite", hyper_.elite}};
  }

 private:
  const Design& pick(const std::vector<std::pair<double, Design>>& pool) {
    std::size_t best = std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng_);
    for (int t = 1; t < hyper_.tournament; ++t) {
      std::size_t c = std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng_);
      if (pool[c].first > pool[best].first) best = c;
    }
    return pool[best].second;
  }
  void breed() {
    // The last `population` scored designs are this generation (asked but untold designs are
    // ignored: the run loop always tells what it asked before asking again).
    std::vector<std::pair<double, Design>> pool(scored_.end() - std::min<std::ptrdiff_t>(scored_.size(), hyper_.population),
                                                scored_.end());
    if (pool.empty()) {
      pending_.push_back(space_.sample(rng_));
      return;
    }
    std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int e = 0; e < hyper_.elite && e < static_cast<int>(pool.size()); ++e) pending_.push_back(pool[e].second);
    std::uniform_real_distribution<double> u(0, 1);
    while (static_cast<int>(pending_.size()) < hyper_.population) {
      Design child = pick(pool);
      if (u(rng_) < hyper_.crossover) {
        const Design& other = pick(pool);
        for (std::size_t d = 0; d < child.size(); ++d)
          if (u(rng_) < 0.5) child[d] = other[d];
      }
      for (std::size_t d = 0; d < child.size(); ++d)
        if (u(rng_) < hyper_.mutation)
          child[d] = std::uniform_int_distribution<long long>(0, space_.nvec()[d] - 1)(rng_);
      pending_.push_back(child);
    }
  }
  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::vector<Design> pending_;
  std::vector<std::pair<double, Design>> scored_;
};

const Registration<Agent> registered_ga{
    searcher_agent<GeneticAlgorithm>("ga", "genetic algorithm: tournament selection, uniform crossover, mutation, elitism", 40)};

// Tree-structured Parzen estimator over a discrete space (model-based): after `startup`
// random designs, split what was seen at the `gamma` quantile of reward into good and bad,
// model each dimension of both with smoothed categorical densities l and g, draw
// `candidates` designs from l and propose the unseen one with the largest l/g.
class Tpe final : public Searcher {
 public:
  struct Hyper {
    int startup = 10;
    double gamma = 0.25;
    int candidates = 24;
    double prior = 1.0;  // pseudo-count added to every value of every dimension
  };
  Tpe(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.startup = h.value("startup", hyper_.startup);
    hyper_.gamma = h.value("gamma", hyper_.gamma);
    hyper_.candidates = h.value("candidates", hyper_.candidates);
    hyper_.prior = h.value("prior", hyper_.prior);
    if (hyper_.startup < 1 || hyper_.gamma <= 0 || hyper_.gamma >= 1 || hyper_.candidates < 1 || hyper_.prior <= 0)
      throw hdl::ParamError("tpe: need startup >= 1, gamma in (0, 1), candidates >= 1, prior > 0");
  }
  std::vector<Design> ask(int n) override {
    std::vector<Design> out;
    for (int i = 0; i < n; ++i) {
      Design d = static_cast<int>(told_.size()) < hyper_.startup ? unseen_random() : model_based();
      seen_.insert(d);
      out.push_back(d);
    }
    return out;
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) told_.emplace_back(rewards[i], designs[i]);
  }
  json hyper_parameters() const override {
    return {{"startup", hyper_.startup}, {"gamma", hyper_.gamma}, {"candidates", hyper_.candidates}, {"prior", hyper_.prior}};
  }

 private:
  Design unseen_random() {
    Design d = space_.sample(rng_);
    for (int t = 0; t < 100 && seen_.count(d); ++t) d = space_.sample(rng_);
    return d;
  }
  Design model_based() {
    auto sorted = told_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::size_t n_good = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(hyper_.gamma * sorted.size())));
    const std::size_t dims = space_.dims();
    std::vector<std::vector<double>> good(dims), bad(dims);
    for (std::size_t d = 0; d < dims; ++d) {
      good[d].assign(static_cast<std::size_t>(space_.nvec()[d]), hyper_.prior);
      bad[d].assign(static_cast<std::size_t>(space_.nvec()[d]), hyper_.prior);
    }
    for (std::size_t i = 0; i < sorted.size(); ++i)
      for (std::size_t d = 0; d < dims; ++d) (i < n_good ? good : bad)[d][static_cast<std::size_t>(sorted[i].second[d])] += 1;
    Design best;
    double best_score = -1e300;
    for (int c = 0; c < hyper_.candidates; ++c) {
      Design x(dims);
      double score = 0;
      for (std::size_t d = 0; d < dims; ++d) {
        std::discrete_distribution<long long> l(good[d].begin(), good[d].end());
        x[d] = l(rng_);
        const auto v = static_cast<std::size_t>(x[d]);
        const double sum_good = std::accumulate(good[d].begin(), good[d].end(), 0.0);
        const double sum_bad = std::accumulate(bad[d].begin(), bad[d].end(), 0.0);
        score += std::log(good[d][v] / sum_good) - std::log(bad[d][v] / sum_bad);
      }
      if (!seen_.count(x) && score > best_score) {
        best_score = score;
        best = x;
      }
    }
    return best.empty() ? unseen_random() : best;
  }
  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::set<Design> seen_;
  std::vector<std::pair<double, Design>> told_;
};

const Registration<Agent> registered_tpe{
    searcher_agent<Tpe>("tpe", "model-based: tree-structured Parzen estimator over the discrete space", 50)};

}  // namespace

std::vector<const Agent*> searchers() {
  std::vector<const Agent*> out;
  for (const Agent* a : all_agents())
    if (a->make_searcher) out.push_back(a);
  return out;
}

std::unique_ptr<Searcher> make_searcher(const std::string& name, const env::Space& space, std::uint64_t seed,
                                        const json& hyper) {
  const Agent& a = agent(name);
  if (!a.make_searcher)
    throw hdl::ParamError("agent '" + name + "' (" + to_string(a.kind) + ") is not a black-box searcher");
  if (!hyper.is_object()) throw hdl::ParamError("hyper-parameters must be a JSON object");
  for (auto it = hyper.begin(); it != hyper.end(); ++it)
    if (!a.defaults.contains(it.key())) {
      std::string valid;
      for (auto d = a.defaults.begin(); d != a.defaults.end(); ++d) valid += (valid.empty() ? "" : ", ") + d.key();
      throw hdl::ParamError("agent '" + name + "' has no hyper-parameter '" + it.key() +
                            "'; valid: " + (valid.empty() ? "none" : valid));
    }
  try {
    return a.make_searcher(space, seed, hyper);
  } catch (const json::exception& e) {
    throw hdl::ParamError("agent '" + name + "': a hyper-parameter has the wrong type: " + e.what());
  }
}

}  // namespace chipgym::agents

// NSGA-II (Deb et al., 2002) over a MultiDiscrete design space, with two objectives, both
// minimised: the task's area objective (transistors by default, or iCE40 LUTs or cells:
// env::Task::objectives) and workload cycles (Searcher::observe). An admissible design (a
// positive reward: within budget, correct or not checked, no error) beats every design that is
// not; among the admissible, non-dominated sorting and crowding distance rank them; the others
// rank by reward. Each generation: binary tournaments on (rank, crowding), uniform crossover,
// per-dimension mutation; parents and offspring together are cut back to the population.
// The run records each run's front (runs/pareto.h), so compare reports its hypervolume.
#include <algorithm>
#include <limits>
#include <random>
#include <set>

#include "agents/agent.h"
#include "hdl/param_space.h"

namespace chipgym::agents {

namespace {

class Nsga2 final : public Searcher {
 public:
  struct Hyper {
    int population = 12;
    double crossover = 0.9;
    double mutation = 0.2;
  };
  Nsga2(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.population = h.value("population", hyper_.population);
    hyper_.crossover = h.value("crossover", hyper_.crossover);
    hyper_.mutation = h.value("mutation", hyper_.mutation);
    if (hyper_.population < 4 || hyper_.crossover < 0 || hyper_.crossover > 1 || hyper_.mutation < 0 || hyper_.mutation > 1)
      throw hdl::ParamError("nsga2: need population >= 4 and crossover, mutation in [0, 1]");
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
  void observe(const std::vector<Design>& designs, const std::vector<json>& figures) override {
    for (std::size_t i = 0; i < designs.size() && i < figures.size(); ++i)
      observed_.push_back({figures[i].value("area", figures[i].value("transistors", 0.0)), figures[i].value("cycles", 0.0)});
  }
  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size(); ++i) {
      Individual x;
      x.design = designs[i];
      x.reward = std::isfinite(rewards[i]) ? rewards[i] : -3.0;
      const std::size_t k = told_++;
      if (k < observed_.size()) x.objectives = observed_[k];
      x.admissible = x.reward > 0 && x.objectives[0] > 0 && x.objectives[1] > 0;
      generation_.push_back(std::move(x));
    }
  }
  json hyper_parameters() const override {
    return {{"population", hyper_.population}, {"crossover", hyper_.crossover}, {"mutation", hyper_.mutation}};
  }

 private:
  struct Individual {
    Design design;
    double reward = 0;
    std::array<double, 2> objectives{0, 0};
    bool admissible = false;
    int rank = 0;
    double crowding = 0;
  };

  static bool dominates(const Individual& a, const Individual& b) {
    if (a.admissible != b.admissible) return a.admissible;
    if (!a.admissible) return a.reward > b.reward;
    return a.objectives[0] <= b.objectives[0] && a.objectives[1] <= b.objectives[1] &&
           (a.objectives[0] < b.objectives[0] || a.objectives[1] < b.objectives[1]);
  }
  // Non-dominated sorting and crowding distance, in place; returns the fronts (indices).
  static std::vector<std::vector<std::size_t>> rank(std::vector<Individual>& pop) {
    std::vector<std::vector<std::size_t>> fronts(1), beats(pop.size());
    std::vector<int> beaten_by(pop.size(), 0);
    for (std::size_t i = 0; i < pop.size(); ++i)
      for (std::size_t j = 0; j < pop.size(); ++j) {
        if (i == j) continue;
        if (dominates(pop[i], pop[j])) beats[i].push_back(j);
        else if (dominates(pop[j], pop[i])) ++beaten_by[i];
      }
    for (std::size_t i = 0; i < pop.size(); ++i)
      if (beaten_by[i] == 0) fronts[0].push_back(i);
    for (std::size_t f = 0; !fronts[f].empty(); ++f) {
      std::vector<std::size_t> next;
      for (std::size_t i : fronts[f]) {
        pop[i].rank = static_cast<int>(f);
        for (std::size_t j : beats[i])
          if (--beaten_by[j] == 0) next.push_back(j);
      }
      fronts.push_back(next);
    }
    fronts.pop_back();
    for (auto& front : fronts) {
      for (std::size_t i : front) pop[i].crowding = 0;
      for (int m = 0; m < 2; ++m) {
        auto sorted = front;
        std::stable_sort(sorted.begin(), sorted.end(),
                         [&](std::size_t a, std::size_t b) { return pop[a].objectives[m] < pop[b].objectives[m]; });
        const double span = pop[sorted.back()].objectives[m] - pop[sorted.front()].objectives[m];
        pop[sorted.front()].crowding = pop[sorted.back()].crowding = std::numeric_limits<double>::infinity();
        if (span <= 0) continue;
        for (std::size_t k = 1; k + 1 < sorted.size(); ++k)
          pop[sorted[k]].crowding += (pop[sorted[k + 1]].objectives[m] - pop[sorted[k - 1]].objectives[m]) / span;
      }
    }
    return fronts;
  }
  static bool better(const Individual& a, const Individual& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.crowding > b.crowding;
  }
  const Individual& tournament() {
    std::uniform_int_distribution<std::size_t> pick(0, parents_.size() - 1);
    const Individual& a = parents_[pick(rng_)];
    const Individual& b = parents_[pick(rng_)];
    return better(b, a) ? b : a;
  }
  void breed() {
    // Parents and the generation just told, cut back to the population by rank and crowding.
    std::vector<Individual> pool = parents_;
    pool.insert(pool.end(), generation_.begin(), generation_.end());
    generation_.clear();
    if (pool.empty()) {
      pending_.push_back(space_.sample(rng_));
      return;
    }
    rank(pool);
    std::stable_sort(pool.begin(), pool.end(), better);
    if (static_cast<int>(pool.size()) > hyper_.population) pool.resize(static_cast<std::size_t>(hyper_.population));
    parents_ = std::move(pool);
    rank(parents_);  // crowding within the survivors
    std::uniform_real_distribution<double> u(0, 1);
    while (static_cast<int>(pending_.size()) < hyper_.population) {
      Design child = tournament().design;
      if (u(rng_) < hyper_.crossover) {
        const Design& other = tournament().design;
        for (std::size_t d = 0; d < child.size(); ++d)
          if (u(rng_) < 0.5) child[d] = other[d];
      }
      for (std::size_t d = 0; d < child.size(); ++d)
        if (u(rng_) < hyper_.mutation) child[d] = std::uniform_int_distribution<long long>(0, space_.nvec()[d] - 1)(rng_);
      pending_.push_back(child);
    }
  }

  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::vector<Design> pending_;
  std::vector<std::array<double, 2>> observed_;  // figures, in the order of the designs told
  std::size_t told_ = 0;
  std::vector<Individual> parents_, generation_;
};

const Registration<Agent> registered{searcher_agent<Nsga2>(
    "nsga2", "NSGA-II: two objectives (the task's area, transistors by default, and workload cycles), non-dominated sorting and crowding", 55)};

}  // namespace

}  // namespace chipgym::agents

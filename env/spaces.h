// Gym-style spaces as plain values: they sample with a seeded generator, check membership
// and serialize to JSON.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace chipgym::env {

using json = nlohmann::json;

class Space {
 public:
  enum class Kind { Discrete, MultiDiscrete, Box };

  static Space discrete(long long n);
  static Space multi_discrete(std::vector<long long> nvec);
  static Space box(std::vector<double> low, std::vector<double> high);

  Kind kind() const { return kind_; }
  // Discrete: {n}; MultiDiscrete: one count per dimension.
  const std::vector<long long>& nvec() const { return nvec_; }
  const std::vector<double>& low() const { return low_; }
  const std::vector<double>& high() const { return high_; }
  std::size_t dims() const;

  // Discrete and MultiDiscrete sample integers; Box samples uniformly in [low, high].
  std::vector<long long> sample(std::mt19937_64& rng) const;
  std::vector<double> sample_box(std::mt19937_64& rng) const;
  bool contains(const std::vector<long long>& x) const;
  bool contains(const std::vector<double>& x) const;
  // Number of points of a discrete space (as a double: it may be large).
  double size() const;

  json to_json() const;
  static Space from_json(const json& j);  // throws hdl::ParamError on malformed input
  bool operator==(const Space& o) const {
    return kind_ == o.kind_ && nvec_ == o.nvec_ && low_ == o.low_ && high_ == o.high_;
  }

 private:
  Kind kind_ = Kind::Discrete;
  std::vector<long long> nvec_;
  std::vector<double> low_, high_;
};

}  // namespace chipgym::env

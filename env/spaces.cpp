#include "env/spaces.h"

#include "hdl/param_space.h"

namespace chipgym::env {

Space Space::discrete(long long n) {
  if (n < 1) throw hdl::ParamError("a Discrete space needs n >= 1");
  Space s;
  s.kind_ = Kind::Discrete;
  s.nvec_ = {n};
  return s;
}

Space Space::multi_discrete(std::vector<long long> nvec) {
  if (nvec.empty()) throw hdl::ParamError("a MultiDiscrete space needs at least one dimension");
  for (long long n : nvec)
    if (n < 1) throw hdl::ParamError("every dimension of a MultiDiscrete space needs n >= 1");
  Space s;
  s.kind_ = Kind::MultiDiscrete;
  s.nvec_ = std::move(nvec);
  return s;
}

Space Space::box(std::vector<double> low, std::vector<double> high) {
  if (low.size() != high.size() || low.empty()) throw hdl::ParamError("a Box needs low and high of one non-zero size");
  for (std::size_t i = 0; i < low.size(); ++i)
    if (!(low[i] <= high[i])) throw hdl::ParamError("a Box needs low <= high in every dimension");
  Space s;
  s.kind_ = Kind::Box;
  s.low_ = std::move(low);
  s.high_ = std::move(high);
  return s;
}

std::size_t Space::dims() const { return kind_ == Kind::Box ? low_.size() : nvec_.size(); }

std::vector<long long> Space::sample(std::mt19937_64& rng) const {
  if (kind_ == Kind::Box) throw std::logic_error("sample() of a Box: use sample_box()");
  std::vector<long long> x;
  for (long long n : nvec_) x.push_back(std::uniform_int_distribution<long long>(0, n - 1)(rng));
  return x;
}

std::vector<double> Space::sample_box(std::mt19937_64& rng) const {
  if (kind_ != Kind::Box) throw std::logic_error("sample_box() of a discrete space: use sample()");
  std::vector<double> x;
  for (std::size_t i = 0; i < low_.size(); ++i) x.push_back(std::uniform_real_distribution<double>(low_[i], high_[i])(rng));
  return x;
}

bool Space::contains(const std::vector<long long>& x) const {
  if (kind_ == Kind::Box || x.size() != nvec_.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i] < 0 || x[i] >= nvec_[i]) return false;
  return true;
}

bool Space::contains(const std::vector<double>& x) const {
  if (kind_ != Kind::Box || x.size() != low_.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(x[i] >= low_[i] && x[i] <= high_[i])) return false;
  return true;
}

double Space::size() const {
  double n = 1;
  for (long long v : nvec_) n *= static_cast<double>(v);
  return kind_ == Kind::Box ? 0 : n;
}

json Space::to_json() const {
  switch (kind_) {
    case Kind::Discrete:
      return {{"type", "Discrete"}, {"n", nvec_[0]}};
    case Kind::MultiDiscrete:
      return {{"type", "MultiDiscrete"}, {"nvec", nvec_}};
    case Kind::Box:
      return {{"type", "Box"}, {"low", low_}, {"high", high_}};
  }
  return {};
}

Space Space::from_json(const json& j) {
  try {
    const std::string type = j.at("type").get<std::string>();
    if (type == "Discrete") return discrete(j.at("n").get<long long>());
    if (type == "MultiDiscrete") return multi_discrete(j.at("nvec").get<std::vector<long long>>());
    if (type == "Box") return box(j.at("low").get<std::vector<double>>(), j.at("high").get<std::vector<double>>());
    throw hdl::ParamError("unknown space type '" + type + "'; known: Discrete, MultiDiscrete, Box");
  } catch (const json::exception& e) {
    throw hdl::ParamError(std::string("malformed space JSON: ") + e.what());
  }
}

}  // namespace chipgym::env

#include "env/env.h"

#include <algorithm>
#include <cmath>

#include "env/workload.h"
#include "hdl/gemm.h"
#include "hdl/splitmix.h"

namespace chipgym::env {

namespace {
constexpr int kDimBins = 7;  // log2 of a dimension: [0, 2), [2, 4), ..., [10, 12), [12, inf)
}  // namespace

const std::vector<std::string>& workload_feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"log10_macs/12", "log10_gemms/6", "mean_log2_intensity/8"};
    for (const char* dim : {"m", "k", "n"})
      for (int b = 0; b < kDimBins; ++b)
        n.push_back(std::string("share_log2_") + dim + (b + 1 < kDimBins ? "_" + std::to_string(2 * b) + "_" + std::to_string(2 * b + 2)
                                                                        : "_" + std::to_string(2 * b) + "_up"));
    return n;
  }();
  return names;
}

std::vector<double> workload_features(const json& task_workload) {
  if (!task_workload.is_object() || !task_workload.contains("shapes")) return {};
  double macs = 0, gemms = 0, log_intensity = 0;
  std::vector<double> hist(3 * kDimBins, 0.0);
  for (const auto& sh : hdl::gemm_shapes(task_workload)) {
    LayerGemm g;
    g.m = sh.m;
    g.k = sh.k;
    g.n = sh.n;
    g.count = sh.count;
    const double w = static_cast<double>(g.macs());
    macs += w;
    gemms += static_cast<double>(g.count);
    log_intensity += w * std::log2(1.0 + g.intensity());
    const long long dims[3] = {g.m, g.k, g.n};
    for (int d = 0; d < 3; ++d) {
      const int bin = std::min(kDimBins - 1, static_cast<int>(std::log2(static_cast<double>(dims[d])) / 2.0));
      hist[static_cast<std::size_t>(d * kDimBins + bin)] += w;
    }
  }
  std::vector<double> out = {std::log10(1.0 + macs) / 12.0, std::log10(1.0 + gemms) / 6.0, log_intensity / macs / 8.0};
  for (double h : hist) out.push_back(h / macs);
  for (double& v : out) v = std::clamp(v, 0.0, 1.0);
  return out;
}

Env::Env(Task task, EnvConfig config, std::shared_ptr<evaluators::Pipeline> pipeline)
    : task_(std::move(task)), config_(std::move(config)), pipeline_(std::move(pipeline)) {
  if (config_.formulation != "absolute" && config_.formulation != "incremental")
    throw hdl::ParamError("unknown formulation '" + config_.formulation + "'; choose absolute or incremental");
  if (config_.max_steps < 1) throw hdl::ParamError("max_steps must be at least 1");
  options_.fidelity = config_.fidelity.empty() ? task_.fidelity : config_.fidelity;
  // iCE40 resources are not in the objective unless the budget names them: skip that run.
  options_.fpga = task_.needs_fpga();
  for (auto& [name, values] : task_.search_domains()) {
    names_.push_back(name);
    values_.push_back(values);
  }
  std::vector<long long> nvec;
  for (std::size_t i = 0; i < values_.size(); ++i) {
    nvec.push_back(static_cast<long long>(values_[i].size()));
    if (values_[i].size() > 1 && std::holds_alternative<long long>(values_[i][0])) numeric_.push_back(i);
  }
  design_space_ = Space::multi_discrete(nvec);
  for (std::size_t a : numeric_)
    for (std::size_t b : numeric_)
      if (a != b) transfers_.emplace_back(a, b);
  action_space_ = config_.formulation == "absolute"
                      ? design_space_
                      : Space::discrete(1 + 2 * static_cast<long long>(names_.size()) + static_cast<long long>(transfers_.size()));
  for (const auto& w : task_.workloads.empty() ? json::array({task_.workload}) : task_.workloads) {
    variant_obs_.push_back(workload_features(w));
    if (variant_obs_.back().size() != variant_obs_.front().size())
      throw hdl::ParamError("task " + task_.name + ": workload " + std::to_string(variant_obs_.size() - 1) +
                            (variant_obs_.front().empty() ? " is a list of GEMM shapes and the first is not"
                                                          : " is not a list of GEMM shapes, as the first is"));
  }
  const std::size_t features = variant_obs_.front().size();
  std::vector<double> low(names_.size() + features, 0.0), high(names_.size() + features, 1.0);
  for (std::size_t i = 0; i < kMetricObservations; ++i) {
    low.push_back(0.0);
    high.push_back(10.0);
  }
  observation_space_ = Space::box(low, high);
}

std::vector<std::string> Env::observation_names() const {
  std::vector<std::string> out;
  for (const auto& n : names_) out.push_back("param:" + n);
  if (!variant_obs_.front().empty())
    for (const auto& n : workload_feature_names()) out.push_back("workload:" + n);
  for (const char* n : {"correct", "log10_cycles", "log10_transistors", "reward/100+1"}) out.push_back(std::string("metric:") + n);
  return out;
}

hdl::Params Env::decode(const std::vector<long long>& indices) const {
  hdl::Params p = task_.design_family().space().defaults();
  for (std::size_t i = 0; i < names_.size(); ++i) p.set(names_[i], values_[i].at(static_cast<std::size_t>(indices.at(i))));
  return p;
}

std::vector<long long> Env::encode(const hdl::Params& params) const {
  std::vector<long long> out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const auto& v = params.at(names_[i]);
    long long best = 0;
    double best_distance = 1e300;
    for (std::size_t j = 0; j < values_[i].size(); ++j) {
      double d;
      if (std::holds_alternative<long long>(v) && std::holds_alternative<long long>(values_[i][j]))
        d = std::fabs(static_cast<double>(std::get<long long>(v) - std::get<long long>(values_[i][j])));
      else
        d = v == values_[i][j] ? 0 : 1;
      if (d < best_distance) {
        best_distance = d;
        best = static_cast<long long>(j);
      }
    }
    out.push_back(best);
  }
  return out;
}

Evaluation Env::evaluate(const std::vector<long long>& indices) const {
  Evaluation e;
  e.metrics = pipeline_->evaluate(task_.design_family(), decode(indices), current_workload(), options_);
  e.reward = task_.reward(e.metrics);
  return e;
}

evaluators::EvalJob Env::job(const std::vector<long long>& indices) const {
  return {task_.design_family().name(), decode(indices).to_json(), current_workload(), options_};
}

Evaluation Env::rewarded(evaluators::Metrics metrics) const {
  Evaluation e;
  e.reward = task_.reward(metrics);
  e.metrics = std::move(metrics);
  return e;
}

Evaluation Env::verify(const std::vector<long long>& indices, evaluators::EvalPool* pool) const {
  evaluators::EvalJob j = job(indices);
  j.options.fidelity = "rtl";
  j.options.fpga = true;
  j.options.synthesis = true;
  Evaluation e;
  e.metrics = pool ? pool->evaluate({j}).at(0) : pipeline_->evaluate(task_.design_family(), decode(indices), current_workload(), j.options);
  e.reward = task_.reward(e.metrics);
  return e;
}

std::vector<double> Env::observe(const std::vector<long long>& indices, const evaluators::Metrics* m, double reward) const {
  std::vector<double> obs;
  for (std::size_t i = 0; i < indices.size(); ++i)
    obs.push_back(values_[i].size() > 1 ? static_cast<double>(indices[i]) / static_cast<double>(values_[i].size() - 1) : 0.0);
  obs.insert(obs.end(), variant_obs_[variant_].begin(), variant_obs_[variant_].end());
  const std::size_t metrics_at = obs.size();
  if (!m) {
    obs.insert(obs.end(), {0.0, 0.0, 0.0, 0.0});
  } else {
    obs.push_back(m->correct.value_or(false) ? 1.0 : 0.0);  // not simulated: 0, as wrong
    obs.push_back(std::log10(1.0 + static_cast<double>(m->cycles)));
    obs.push_back(std::log10(1.0 + static_cast<double>(m->transistors)));
    obs.push_back(std::clamp(std::max(reward, -3.0) / 100.0 + 1.0, 0.0, 10.0));
  }
  for (std::size_t i = metrics_at; i < obs.size(); ++i) obs[i] = std::clamp(obs[i], 0.0, 10.0);
  return obs;
}

std::shared_ptr<const Env::Outcome> Env::make_outcome(const std::vector<long long>& indices, const Evaluation& e) const {
  const auto& m = e.metrics;
  auto o = std::make_shared<Outcome>();
  o->reward = e.reward;
  auto full = observe(indices, &m, o->reward);
  o->metrics_observation.assign(full.end() - static_cast<std::ptrdiff_t>(kMetricObservations), full.end());
  json metrics = m.to_json();
  metrics.erase("stages");
  o->info = {{"metrics", metrics}, {"score", task_.score(m)}, {"params", decode(indices).to_json()},
             {"design", indices}, {"cache_hit", m.cache_hit}};
  if (workloads() > 1) o->info["workload"] = variant_;
  if (m.error) o->info["error"] = {{"category", m.error->category}, {"message", m.error->message}};
  return o;
}

// Failures that are not the design's (a tool missing, a timeout) are not kept: the next step
// of that design evaluates it again.
void Env::keep(const std::vector<long long>& indices, const Outcome& o) const {
  if (o.info.contains("error") && !evaluators::design_failure(o.info["error"].value("category", std::string()))) return;
  auto kept = std::make_shared<Outcome>(o);
  kept->info["cache_hit"] = true;  // what a later step of the same design reports
  std::lock_guard<std::mutex> lock(memo_->mu);
  memo_->outcomes.emplace(key(indices), std::move(kept));
}

std::vector<long long> Env::key(const std::vector<long long>& indices) const {
  std::vector<long long> k = indices;
  k.push_back(static_cast<long long>(variant_));
  return k;
}

std::shared_ptr<const Env::Outcome> Env::outcome(const std::vector<long long>& indices) {
  std::shared_ptr<const Outcome> o;
  {
    std::lock_guard<std::mutex> lock(memo_->mu);
    if (auto it = memo_->outcomes.find(key(indices)); it != memo_->outcomes.end()) return it->second;
    if (auto it = memo_->supplied.find(key(indices)); it != memo_->supplied.end()) {
      o = it->second;
      memo_->supplied.erase(it);
    }
  }
  if (!o) o = make_outcome(indices, evaluate(indices));
  keep(indices, *o);
  return o;
}

bool Env::remembers(const std::vector<long long>& indices) const {
  std::lock_guard<std::mutex> lock(memo_->mu);
  return memo_->outcomes.count(key(indices)) > 0 || memo_->supplied.count(key(indices)) > 0;
}

void Env::supply(const std::vector<long long>& indices, evaluators::Metrics metrics) const {
  auto o = make_outcome(indices, rewarded(std::move(metrics)));
  std::lock_guard<std::mutex> lock(memo_->mu);
  memo_->supplied[key(indices)] = std::move(o);
}

StepResult Env::result_for(const std::vector<long long>& indices, bool terminated, bool truncated) {
  auto o = outcome(indices);
  StepResult r;
  r.reward = o->reward;
  r.observation = observe(indices, nullptr, 0.0);
  std::copy(o->metrics_observation.begin(), o->metrics_observation.end(),
            r.observation.end() - static_cast<std::ptrdiff_t>(o->metrics_observation.size()));
  r.terminated = terminated;
  r.truncated = truncated;
  r.info = o->info;
  return r;
}

std::vector<char> Env::action_mask() const {
  if (config_.formulation == "absolute") {
    long long total = 0;
    for (auto n : design_space_.nvec()) total += n;
    return std::vector<char>(static_cast<std::size_t>(total), 1);
  }
  const long long n = static_cast<long long>(names_.size());
  std::vector<char> mask(static_cast<std::size_t>(action_space_.nvec()[0]), 1);
  const auto& nvec = design_space_.nvec();
  auto in_range = [&](std::size_t i, long long v) { return v >= 0 && v < nvec[i]; };
  for (long long i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    mask[static_cast<std::size_t>(1 + 2 * i)] = in_range(u, state_[u] - 1);
    mask[static_cast<std::size_t>(2 + 2 * i)] = in_range(u, state_[u] + 1);
  }
  for (std::size_t t = 0; t < transfers_.size(); ++t) {
    const auto [from, to] = transfers_[t];
    mask[static_cast<std::size_t>(1 + 2 * n) + t] = in_range(from, state_[from] - 1) && in_range(to, state_[to] + 1);
  }
  return mask;
}

void read_snapshot(const json& s, const Space& design_space, std::vector<long long>& state, int& steps, bool& over) {
  try {
    auto design = s.at("state").get<std::vector<long long>>();
    if (!design.empty() && !design_space.contains(design))
      throw hdl::ParamError("environment snapshot holds the design " + json(design).dump() + ", outside the design space");
    const int recorded_steps = s.at("steps").get<int>();
    const bool recorded_over = s.at("episode_over").get<bool>();
    state = std::move(design);
    steps = recorded_steps;
    over = recorded_over;
  } catch (const json::exception& e) {
    throw hdl::ParamError(std::string("malformed environment snapshot: ") + e.what());
  }
}

void Env::restore(const json& s) {
  // A snapshot of a chipgym that knew one workload per task has neither field: workload 0.
  long long w = 0, episodes = 0;
  try {
    w = s.value("workload", 0LL);
    episodes = s.value("episodes", 0LL);
  } catch (const json::exception& e) {
    throw hdl::ParamError(std::string("malformed environment snapshot: ") + e.what());
  }
  if (w < 0 || static_cast<std::size_t>(w) >= workloads() || episodes < 0)
    throw hdl::ParamError("environment snapshot holds workload " + std::to_string(w) + " of " +
                          std::to_string(workloads()) + " (or a negative episode count)");
  read_snapshot(s, design_space_, state_, steps_, episode_over_);
  variant_ = static_cast<std::size_t>(w);
  episodes_ = episodes;
}

// The baseline design is fixed; the seed draws the workload, when there are several.
std::vector<double> Env::reset(std::uint64_t seed) {
  if (workloads() > 1) {
    std::uint64_t s = seed;
    std::uint64_t draw = hdl::splitmix64(s) ^ static_cast<std::uint64_t>(episodes_);
    variant_ = static_cast<std::size_t>(hdl::splitmix64(draw) % workloads());
  }
  ++episodes_;
  return restart();
}

std::vector<double> Env::restart() {
  steps_ = 0;
  episode_over_ = false;
  state_ = encode(task_.design_family().space().defaults());
  return observe(state_, nullptr, 0.0);
}

std::pair<std::vector<long long>, bool> Env::edited(long long a) const {
  std::vector<long long> next = state_;
  const long long n = static_cast<long long>(names_.size());
  if (a >= 1 && a <= 2 * n) {
    const std::size_t i = static_cast<std::size_t>((a - 1) / 2);
    next[i] += (a - 1) % 2 == 0 ? -1 : 1;
  } else if (a > 2 * n) {
    const auto [from, to] = transfers_[static_cast<std::size_t>(a - 1 - 2 * n)];
    next[from] -= 1;
    next[to] += 1;
  }
  const bool valid = design_space_.contains(next);
  return {std::move(next), valid};
}

std::vector<long long> Env::destination(const std::vector<long long>& action) const {
  if (config_.formulation == "absolute") return action;
  auto [next, valid] = edited(action.at(0));
  return valid ? next : state_;
}

StepResult Env::step(const std::vector<long long>& action) {
  if (!action_space_.contains(action))
    throw hdl::ParamError("action " + json(action).dump() + " is outside the action space " +
                          action_space_.to_json().dump());
  if (episode_over_) throw hdl::ParamError("the episode is over: call reset() before step()");
  if (config_.formulation == "absolute") {
    episode_over_ = true;
    state_ = action;
    return result_for(state_, true, false);
  }
  // Incremental: apply one edit.
  const auto [next, valid] = edited(action[0]);
  if (valid) state_ = next;
  ++steps_;
  const bool truncated = steps_ >= config_.max_steps;
  episode_over_ = truncated;
  StepResult r = result_for(state_, false, truncated);
  r.info["invalid_move"] = !valid;
  r.info["step"] = steps_;
  return r;
}

}  // namespace chipgym::env

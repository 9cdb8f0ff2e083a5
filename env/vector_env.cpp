#include "env/vector_env.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace chipgym::env {

namespace {

void check_action(const Env& e, const std::vector<long long>& action, std::size_t i) {
  if (!e.action_space().contains(action))
    throw hdl::ParamError("action " + json(action).dump() + " of environment " + std::to_string(i) +
                          " is outside the action space " + e.action_space().to_json().dump());
}
void check_action(const MultiAgentEnv& e, const std::map<std::string, std::vector<long long>>& actions, std::size_t) {
  e.check_actions(actions);
}

const Env& joint(const Env& e) { return e; }
const Env& joint(const MultiAgentEnv& e) { return e.joint(); }

json final_observation(const StepResult& r) { return r.observation; }
json final_observation(const MultiStepResult& r) { return r.observations; }

}  // namespace

template <class E>
BasicVectorEnv<E>::BasicVectorEnv(const Task& task, const EnvConfig& config, int num_envs, int workers,
                                  std::shared_ptr<evaluators::Pipeline> pipeline,
                                  std::shared_ptr<evaluators::EvalPool> pool)
    : workers_(workers), pool_(std::move(pool)) {
  if (num_envs < 1) throw hdl::ParamError("a VectorEnv needs at least one environment");
  if (workers < 1) throw hdl::ParamError("--workers must be at least 1");
  const E prototype(task, config, pipeline);
  for (int i = 0; i < num_envs; ++i) envs_.push_back(prototype);  // copies share the in-memory results
}

template <class E>
auto BasicVectorEnv<E>::reset(std::uint64_t seed) -> std::vector<Observation> {
  seed_ = seed;
  std::vector<Observation> out;
  for (std::size_t i = 0; i < envs_.size(); ++i) out.push_back(envs_[i].reset(seed + i));
  return out;
}

template <class E>
void BasicVectorEnv<E>::evaluate_ahead(const std::vector<Action>& actions) {
  // Each design once per workload; its result is handed to the environment that asked for it
  // (the memo is shared, and keyed by workload and design).
  std::vector<std::pair<std::size_t, std::vector<long long>>> wanted;  // workload, design
  std::vector<std::size_t> asker;
  std::vector<evaluators::EvalJob> jobs;
  for (std::size_t i = 0; i < envs_.size(); ++i) {
    auto design = envs_[i].destination(actions[i]);
    const Env& e = joint(envs_[i]);
    std::pair<std::size_t, std::vector<long long>> wanted_key{e.workload(), design};
    if (e.remembers(design) || std::find(wanted.begin(), wanted.end(), wanted_key) != wanted.end()) continue;
    jobs.push_back(e.job(design));
    wanted.push_back(std::move(wanted_key));
    asker.push_back(i);
  }
  if (jobs.empty()) return;
  auto results = pool_->evaluate(jobs);
  for (std::size_t k = 0; k < wanted.size(); ++k) joint(envs_[asker[k]]).supply(wanted[k].second, std::move(results[k]));
}

template <class E>
auto BasicVectorEnv<E>::step(const std::vector<Action>& actions) -> std::vector<Result> {
  if (actions.size() != envs_.size())
    throw hdl::ParamError("VectorEnv::step needs " + std::to_string(envs_.size()) + " actions, got " +
                          std::to_string(actions.size()));
  for (std::size_t i = 0; i < envs_.size(); ++i) check_action(envs_[i], actions[i], i);
  if (pool_) evaluate_ahead(actions);
  std::vector<Result> results(envs_.size());
  std::vector<std::exception_ptr> failures(envs_.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < envs_.size();) {
      try {
        Result& r = results[i];
        r = envs_[i].step(actions[i]);
        if (r.terminated || r.truncated) {  // the autoreset of the header
          r.info["final_observation"] = final_observation(r);
          if constexpr (std::is_same_v<E, Env>) r.observation = envs_[i].reset(seed_ + i);
          else r.observations = envs_[i].reset(seed_ + i);
        }
      } catch (...) {
        failures[i] = std::current_exception();  // rethrown below, on the caller's thread
      }
    }
  };
  std::vector<std::thread> pool;
  // With a pool the results are in memory already: the steps only look them up.
  const std::size_t threads = pool_ ? 1 : std::min<std::size_t>(static_cast<std::size_t>(workers_), envs_.size());
  for (std::size_t w = 1; w < threads; ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);
  return results;
}

template <class E>
json BasicVectorEnv<E>::snapshot() const {
  json envs = json::array();
  for (const auto& e : envs_) envs.push_back(e.snapshot());
  return {{"envs", envs}, {"seed", seed_}};
}

template <class E>
void BasicVectorEnv<E>::restore(const json& s) {
  const auto& envs = s.at("envs");
  if (envs.size() != envs_.size())
    throw hdl::ParamError("checkpoint holds " + std::to_string(envs.size()) + " environments, the run has " +
                          std::to_string(envs_.size()));
  for (std::size_t i = 0; i < envs.size(); ++i) envs_[i].restore(envs[i]);
  seed_ = s.at("seed");
}

template class BasicVectorEnv<Env>;
template class BasicVectorEnv<MultiAgentEnv>;

}  // namespace chipgym::env

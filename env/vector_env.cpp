#include "env/vector_env.h"

#include <atomic>
#include <exception>
#include <thread>

namespace chipgym::env {

VectorEnv::VectorEnv(const Task& task, const EnvConfig& config, int num_envs, int workers,
                     std::shared_ptr<evaluators::Pipeline> pipeline)
    : workers_(workers) {
  if (num_envs < 1) throw hdl::ParamError("a VectorEnv needs at least one environment");
  if (workers < 1) throw hdl::ParamError("--workers must be at least 1");
  const Env prototype(task, config, pipeline);
  for (int i = 0; i < num_envs; ++i) envs_.push_back(prototype);  // copies share the in-memory results
  needs_reset_.assign(envs_.size(), true);
}

std::vector<std::vector<double>> VectorEnv::reset(std::uint64_t seed) {
  seed_ = seed;
  std::vector<std::vector<double>> out;
  for (std::size_t i = 0; i < envs_.size(); ++i) {
    out.push_back(envs_[i].reset(seed + i));
    needs_reset_[i] = false;
  }
  return out;
}

std::vector<StepResult> VectorEnv::step(const std::vector<std::vector<long long>>& actions) {
  if (actions.size() != envs_.size())
    throw hdl::ParamError("VectorEnv::step needs " + std::to_string(envs_.size()) + " actions, got " +
                          std::to_string(actions.size()));
  for (std::size_t i = 0; i < envs_.size(); ++i)
    if (!envs_[i].action_space().contains(actions[i]))
      throw hdl::ParamError("action " + json(actions[i]).dump() + " of environment " + std::to_string(i) +
                            " is outside the action space " + envs_[i].action_space().to_json().dump());
  std::vector<StepResult> results(envs_.size());
  std::vector<std::exception_ptr> failures(envs_.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < envs_.size();) {
      try {
        if (needs_reset_[i]) envs_[i].reset(seed_ + i);
        results[i] = envs_[i].step(actions[i]);
      } catch (...) {
        failures[i] = std::current_exception();  // rethrown below, on the caller's thread
      }
    }
  };
  std::vector<std::thread> pool;
  const std::size_t threads = std::min<std::size_t>(static_cast<std::size_t>(workers_), envs_.size());
  for (std::size_t w = 1; w < threads; ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);
  for (std::size_t i = 0; i < envs_.size(); ++i) needs_reset_[i] = results[i].terminated || results[i].truncated;
  return results;
}

}  // namespace chipgym::env

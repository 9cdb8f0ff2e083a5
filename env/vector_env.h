// N environments stepped together; their evaluations run concurrently on `workers` threads.
// An environment whose episode ended is reset on its next step (its result then starts the
// new episode), as Gymnasium's vector environments do.
#pragma once
#include "env/env.h"

namespace chipgym::env {

class VectorEnv {
 public:
  VectorEnv(const Task& task, const EnvConfig& config, int num_envs, int workers,
            std::shared_ptr<evaluators::Pipeline> pipeline);
  std::size_t size() const { return envs_.size(); }
  const Env& at(std::size_t i) const { return envs_.at(i); }
  // Environment i is reset with seed + i.
  std::vector<std::vector<double>> reset(std::uint64_t seed);
  // One action per environment. Throws hdl::ParamError when the count is wrong or an action
  // is outside the action space (before anything is evaluated).
  std::vector<StepResult> step(const std::vector<std::vector<long long>>& actions);

 private:
  std::vector<Env> envs_;
  std::vector<bool> needs_reset_;
  std::uint64_t seed_ = 0;
  int workers_;
};

}  // namespace chipgym::env

// bench_rl: how fast the RL agents learn, and where a training run's wall time goes.
//   1. PPO update throughput: samples per second through rollouts and updates on a
//      synthetic environment that costs nothing (a contextual bandit with gemm-int8's action
//      shape: 7 dimensions), for the design-search settings and for CleanRL's.
//   2. A typical run: `chipgym train --agent ppo` on gemm-int8-small (Yosys synthesis of
//      every new design) from an empty cache, then the same run again on the warm cache; the
//      share of wall time spent learning versus evaluating designs.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "agents/rl.h"
#include "agents/synthetic.h"
#include "evaluators/cache.h"
#include "evaluators/runner.h"
#include "runs/train.h"

using namespace chipgym;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int main() {
  std::printf("1. PPO update throughput on a free synthetic environment (7 action dimensions of 5 choices)\n");
  std::printf("   %-34s %10s %10s %14s\n", "settings", "samples", "seconds", "samples/s");
  struct Setting {
    const char* name;
    agents::rl::json hyper;
  };
  const Setting settings[] = {
      {"design search (8 envs x 1 step)", runs::rl_hyper("ppo", agents::rl::json::object())},
      {"CleanRL defaults (4 envs x 128)", agents::rl::json::object()},
  };
  for (const auto& s : settings) {
    agents::rl::SyntheticConfig c;
    c.kind = "bandit";
    c.dims = 7;
    c.choices = 5;
    c.contexts = 11;
    c.num_envs = s.hyper.value("num_envs", 4);
    agents::rl::SyntheticEnv env(c);
    auto learner = agents::rl::make_learner("ppo", env, 1, s.hyper);
    const long long samples = 4096;
    auto t0 = Clock::now();
    learner->learn(samples, {});
    const double secs = since(t0);
    std::printf("   %-34s %10lld %10.3f %14.0f  (%lld updates)\n", s.name, samples, secs, samples / secs, learner->updates());
  }

  std::printf("\n2. A typical run: chipgym train --task gemm-int8-small --agent ppo --budget 48 --seed 1\n");
  evaluators::TempDir dir("chipgym-bench-rl-");
  auto cache = std::make_shared<evaluators::Cache>(dir.path() / "cache.sqlite");
  auto pipeline = std::make_shared<evaluators::Pipeline>(cache);
  for (const char* phase : {"empty cache", "warm cache"}) {
    runs::TrainOptions o;
    o.task = env::task("gemm-int8-small");
    o.agent = "ppo";
    o.budget = 48;
    o.seed = 1;
    o.out = dir.path() / (std::string("run-") + phase[0]);
    auto t0 = Clock::now();
    auto r = runs::train(o, pipeline);
    const double total = since(t0);
    const double eval = r.summary["seconds_evaluating"], learn = r.summary["seconds_learning"];
    std::printf("   %-12s %7.2f s wall: evaluating %7.2f s (%5.1f%%), learning and the rest %6.3f s (%5.2f%%), %lld updates, best %.3f\n",
                phase, total, eval, 100 * eval / total, learn, 100 * learn / total, r.summary["updates"].get<long long>(),
                r.summary["best_reward"].get<double>());
  }
  return 0;
}

#include "runs/train.h"

#include <ctime>

#include "agents/agent.h"
#include "agents/rl.h"
#include "env/env.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

namespace {

// What Searcher::observe reads of an event: the same live and on resume.
json figures_of(const json& event, const std::string& area) {
  const long long cycles = event.value("cycles", 0LL);
  return {{"transistors", event.value("transistors", 0LL)},
          {"cycles", cycles > 0 ? cycles : event.value("cycles_model", 0LL)},
          {"area", event.value(area, 0LL)}};
}

}  // namespace

fs::path default_run_dir(const std::string& task, const std::string& agent, long long seed) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fs::path("runs") / (task + "-" + agent + "-" + std::to_string(seed) + "-" + stamp);
}

long long adopt_recorded_run(TrainOptions& o, const json& config) {
  try {
    if (config.at("agent").get<std::string>() != o.agent && !o.agent.empty())
      throw hdl::ParamError("cannot resume: the run used agent '" + config["agent"].get<std::string>() + "', not '" + o.agent + "'");
    o.task = env::Task::from_json(config.at("task"));
    o.agent = config.at("agent").get<std::string>();
    o.hyper = config.at("hyper");
    o.seed = config.at("seed").get<long long>();
    o.workers = config.at("workers").get<int>();
    o.fidelity = config.at("env").at("fidelity").get<std::string>();
    return config.at("budget").get<long long>();
  } catch (const json::exception& e) {
    throw hdl::ParamError("config.json of " + o.out.string() + " is incomplete or malformed: " + e.what());
  }
}

json run_config(const TrainOptions& o, const json& hyper, const env::EnvConfig& env_config, const env::Env& design_env,
                const evaluators::Pipeline& pipeline) {
  json config = {{"kind", agents::to_string(agents::trainable_agent(o.agent).kind)},  // replay dispatches on it
                 {"task", o.task.to_json()},
                 {"agent", o.agent},
                 {"hyper", hyper},
                 {"seed", o.seed},
                 {"budget", o.budget},
                 {"workers", o.workers},
                 {"env", env_config.to_json()},
                 {"design_space", design_env.design_space().to_json()},
                 {"param_names", design_env.param_names()},
                 {"observation_names", design_env.observation_names()},
                 {"tools", pipeline.tools().versions()},
                 {"chipgym", "0.1.0"},
                 {"launch", evaluators::launch_of(o.pool.get())}};
  config["env"]["fidelity"] = o.fidelity.empty() ? o.task.fidelity : o.fidelity;
  return config;
}

TrainResult train(const TrainOptions& o_in, std::shared_ptr<evaluators::Pipeline> pipeline,
                  const std::function<void(const Progress&)>& on_progress) {
  TrainOptions o = o_in;
  if (o.budget < 1 && o.budget_given) throw hdl::ParamError("--budget must be at least 1 evaluation");
  if (o.seed < 0) throw hdl::ParamError("--seed must be a non-negative integer");
  if (o.workers < 1) throw hdl::ParamError("--workers must be at least 1");
  if ((o.fidelity.empty() ? o.task.fidelity : o.fidelity) == "model")
    throw hdl::ParamError("--fidelity model has no area, and the objective of " + o.task.name +
                          " needs it: use synth or rtl");
  // Unknown names list every agent and suggest the nearest.
  if (agents::trainable_agent(o.agent).kind == agents::AgentKind::rl) return train_rl(o_in, pipeline, on_progress);
  if (!o.init.empty())
    throw hdl::ParamError("--init starts an RL agent from a pretrained policy; the agent '" + o.agent +
                          "' is a search agent, with no policy to start from");
  if (o.task.workloads.size() > 1)
    throw hdl::ParamError("--workloads trains one policy across " + std::to_string(o.task.workloads.size()) +
                          " workloads, for the RL agents (ppo, dqn, ippo, mappo); the agent '" + o.agent +
                          "' searches for one workload's best design: give it --workload");

  Recorder recorder = o.resume ? Recorder::resume(o.out) : Recorder::create(o.out, o.force);
  if (o.resume) {
    // The recorded run decides everything but the budget, which may grow.
    const long long recorded_budget = adopt_recorded_run(o, recorder.recorded_config());
    if (!o.budget_given) o.budget = recorded_budget;
    // Keep only complete batches: an interrupted batch is asked and evaluated again.
    const auto& read = recorder.recorded_events();
    if (!read.empty()) {
      const long long batch = read.back().value("batch", -1LL), size = read.back().value("batch_size", 1LL);
      long long in_batch = 0;
      for (const auto& e : read) in_batch += e.value("batch", -1LL) == batch;
      if (in_batch < size) recorder.keep_recorded(read.size() - static_cast<std::size_t>(in_batch), "of an unfinished batch");
    }
  }

  env::EnvConfig env_config;
  env_config.fidelity = o.fidelity;
  env::Env environment(o.task, env_config, pipeline);
  json hyper = o.hyper;
  if (o.agent == "llm") {  // it reads the task and keeps its transcript in the run (not in config.json)
    hyper["task"] = o.task.to_json();
    hyper["transcript"] = (o.out / "llm.jsonl").string();
  }
  auto searcher = agents::make_searcher(o.agent, environment.design_space(), static_cast<std::uint64_t>(o.seed), hyper);
  searcher->bind({&environment, pipeline});
  recorder.start(run_config(o, searcher->hyper_parameters(), env_config, environment, *pipeline), o.budget,
                 design_export(o.task, o.agent), on_progress);

  // Replay: the searcher sees the recorded evaluations in their batches, so that it is in
  // the state it had when the run stopped.
  const auto& events = recorder.recorded_events();
  long long batch = 0;
  for (std::size_t i = 0; i < events.size();) {
    const long long size = events[i].value("batch_size", 1LL);
    auto asked = searcher->ask(static_cast<int>(size));
    std::vector<agents::Design> designs;
    std::vector<double> rewards;
    std::vector<json> figures;
    for (long long j = 0; j < size && i < events.size(); ++j, ++i) {
      try {
        designs.push_back(events[i].at("design").get<agents::Design>());
        rewards.push_back(events[i].at("reward").get<double>());
        figures.push_back(figures_of(events[i], o.task.area_objective()));
      } catch (const json::exception& e) {
        throw hdl::ParamError("cannot resume " + o.out.string() + ": event " + std::to_string(i) +
                              " of events.jsonl lacks a design or reward (" + e.what() + ")");
      }
    }
    if (asked != designs)
      throw hdl::ParamError("cannot resume " + o.out.string() + ": the agent no longer proposes the recorded designs "
                            "(was the run made by another chipgym version?)");
    searcher->observe(designs, figures);
    searcher->tell(designs, rewards);
    ++batch;
  }

  const auto pool = o.pool ? o.pool : evaluators::thread_pool(pipeline, o.workers);
  while (recorder.progress().evaluations < o.budget && !searcher->done()) {
    const int size = static_cast<int>(std::min<long long>(o.workers, o.budget - recorder.progress().evaluations));
    auto designs = searcher->ask(size);
    if (designs.empty()) break;
    std::vector<evaluators::EvalJob> jobs;
    for (const auto& d : designs) jobs.push_back(environment.job(d));
    std::vector<evaluators::Metrics> results = pool->evaluate(jobs);
    std::vector<double> rewards;
    std::vector<json> figures;
    for (std::size_t j = 0; j < designs.size(); ++j) {
      const env::Evaluation ev = environment.rewarded(std::move(results[j]));
      rewards.push_back(ev.reward);
      figures.push_back(figures_of(recorder.record({designs[j], environment.decode(designs[j]).to_json(), ev.reward, ev.metrics.to_json(),
                       ev.metrics.cache_hit, {{"batch", batch}, {"batch_size", static_cast<long long>(designs.size())}}}),
                                   o.task.area_objective()));
    }
    searcher->observe(designs, figures);
    searcher->tell(designs, rewards);
    ++batch;
    recorder.report_progress();
  }

  recorder.finish([&](const json& best) { return environment.evaluate(best["design"].get<agents::Design>()).metrics.to_json(); },
                  [&](const json& best) { return environment.verify(best["design"].get<agents::Design>(), pool.get()).metrics.to_json(); });
  TrainResult result;
  result.summary = recorder.write_summary(
      [&] {
        json fields = {{"task", o.task.name}, {"agent", o.agent}, {"seed", o.seed}};
        if (auto r = searcher->report(); !r.empty()) fields["agent_report"] = r;
        return fields;
      }(),
      recorder.progress().evaluations >= o.budget || searcher->done());
  result.notices = recorder.notices();
  return result;
}

}  // namespace chipgym::runs

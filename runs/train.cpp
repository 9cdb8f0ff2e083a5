#include "runs/train.h"

#include <chrono>
#include <ctime>
#include <future>
#include <sstream>

#include "agents/agent.h"
#include "agents/rl.h"
#include "env/env.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

fs::path default_run_dir(const std::string& task, const std::string& agent, long long seed) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fs::path("runs") / (task + "-" + agent + "-" + std::to_string(seed) + "-" + stamp);
}

namespace {

std::string best_report_md(const env::Task& task, const std::string& agent, const json& event, const json& metrics) {
  std::ostringstream os;
  os << "# Best design of " << task.name << " (" << agent << ")\n\n"
     << "Evaluation " << event["eval"] << ", reward " << event["reward"] << ".\n\n"
     << "| parameter | value |\n|---|---|\n";
  for (auto it = event["params"].begin(); it != event["params"].end(); ++it)
    os << "| " << it.key() << " | " << it.value().dump() << " |\n";
  os << "\n| metric | value |\n|---|---|\n";
  const bool simulated = metrics.value("fidelity", std::string()) == "rtl";
  for (const char* k : {"correct", "cycles", "cycles_model", "cells", "transistors", "depth", "luts", "ffs", "dsps", "brams"})
    if (metrics.contains(k) && (simulated || std::string(k) != "correct")) os << "| " << k << " | " << metrics[k].dump() << " |\n";
  os << "\nFidelity: " << metrics.value("fidelity", std::string("?"))
     << (simulated ? " (simulated against the golden model)" : " (cycles from the cycle model, which equals the RTL on the verification matrix)")
     << "\n";
  os << "\nObjective: " << task.objective << "\n\nRe-evaluate with `chipgym eval --task " << task.name << " --set "
     << [&] {
          std::string s;
          for (auto it = event["params"].begin(); it != event["params"].end(); ++it)
            s += (s.empty() ? "" : ",") + it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
          return s;
        }()
     << "`.\n";
  return os.str();
}

}  // namespace

void export_best_design(RunDir& dir, const env::Task& task, const std::string& agent, const json& event,
                        const json& metrics) {
  auto params = task.design_family().space().from_json(event["params"], false);
  // A design that breaks a constraint of its family (an input error) has no Verilog.
  std::map<std::string, std::string> files;
  try {
    files = task.design_family().emit(params).files;
  } catch (const hdl::ParamError&) {
  }
  dir.export_best({{"params", event["params"]}, {"design", event["design"]}, {"eval", event["eval"]},
                   {"reward", event["reward"]}},
                  files, metrics, best_report_md(task, agent, event, metrics));
}

long long adopt_recorded_run(TrainOptions& o, const RunDir& dir) {
  json config = dir.read_config();
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
  json config = {{"task", o.task.to_json()},
                 {"agent", o.agent},
                 {"hyper", hyper},
                 {"seed", o.seed},
                 {"budget", o.budget},
                 {"workers", o.workers},
                 {"env", env_config.to_json()},
                 {"design_space", design_env.design_space().to_json()},
                 {"param_names", design_env.param_names()},
                 {"tools", pipeline.tools().versions()},
                 {"chipgym", "0.1.0"}};
  config["env"]["fidelity"] = o.fidelity.empty() ? o.task.fidelity : o.fidelity;
  return config;
}

bool best_holds(const RunDir& dir, const json& event) {
  try {
    std::ifstream in(dir.path() / "best" / "design.json");
    return in && json::parse(in).value("eval", -1LL) == event.value("eval", -2LL);
  } catch (const json::exception&) {
    return false;
  }
}

double seconds_of_earlier_sessions(const RunDir& dir) {
  try {
    std::ifstream in(dir.path() / "summary.json");
    return in ? json::parse(in).value("seconds_total", 0.0) : 0.0;
  } catch (const json::exception&) {
    return 0.0;
  }
}

TrainResult train(const TrainOptions& o_in, std::shared_ptr<evaluators::Pipeline> pipeline,
                  const std::function<void(const Progress&)>& on_progress) {
  TrainOptions o = o_in;
  TrainResult result;
  if (o.budget < 1 && o.budget_given) throw hdl::ParamError("--budget must be at least 1 evaluation");
  if (o.seed < 0) throw hdl::ParamError("--seed must be a non-negative integer");
  if (o.workers < 1) throw hdl::ParamError("--workers must be at least 1");
  if ((o.fidelity.empty() ? o.task.fidelity : o.fidelity) == "model")
    throw hdl::ParamError("--fidelity model has no area, and the objective of " + o.task.name +
                          " needs it: use synth or rtl");
  // Unknown names list every agent and suggest the nearest.
  if (agents::trainable_agent(o.agent).kind == agents::AgentKind::rl) return train_rl(o_in, pipeline, on_progress);

  std::optional<RunDir> dir;
  std::vector<json> events;
  if (o.resume) {
    dir.emplace(RunDir::open(o.out));
    // The recorded run decides everything but the budget, which may grow.
    const long long recorded_budget = adopt_recorded_run(o, *dir);
    if (!o.budget_given) o.budget = recorded_budget;
    auto read = dir->read_events();
    if (read.torn_lines)
      result.notices.push_back("skipped " + std::to_string(read.torn_lines) + " torn line(s) of events.jsonl (cut by a crash)");
    // Keep only complete batches: an interrupted batch is asked and evaluated again.
    std::size_t keep = read.events.size();
    if (keep > 0) {
      const json& last = read.events.back();
      const long long batch = last.value("batch", -1LL), size = last.value("batch_size", 1LL);
      long long in_batch = 0;
      for (const auto& e : read.events) in_batch += e.value("batch", -1LL) == batch;
      if (in_batch < size) {
        keep -= static_cast<std::size_t>(in_batch);
        result.notices.push_back("dropped " + std::to_string(in_batch) + " evaluation(s) of an unfinished batch; they run again");
      }
    }
    events.assign(read.events.begin(), read.events.begin() + static_cast<std::ptrdiff_t>(keep));
    if (read.torn_lines || keep != read.events.size()) dir->rewrite_events(events);
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

  const json config = run_config(o, searcher->hyper_parameters(), env_config, environment, *pipeline);
  if (!dir) dir.emplace(RunDir::create(o.out, o.force));
  dir->write_config(config);

  const auto t0 = std::chrono::steady_clock::now();
  Progress progress;
  progress.budget = o.budget;
  json best_event;
  auto consider_best = [&](const json& event, const evaluators::Metrics* m) {
    if (progress.has_best && event["reward"].get<double>() <= progress.best_reward) return;
    progress.has_best = true;
    progress.best_reward = event["reward"];
    best_event = event;
    if (m) export_best_design(*dir, o.task, o.agent, event, m->to_json());
  };

  // Replay: the searcher sees the recorded evaluations in their batches, so that it is in
  // the state it had when the run stopped.
  long long batch = 0;
  for (std::size_t i = 0; i < events.size();) {
    const long long size = events[i].value("batch_size", 1LL);
    auto asked = searcher->ask(static_cast<int>(size));
    std::vector<agents::Design> designs;
    std::vector<double> rewards;
    for (long long j = 0; j < size && i < events.size(); ++j, ++i) {
      try {
        designs.push_back(events[i].at("design").get<agents::Design>());
        rewards.push_back(events[i].at("reward").get<double>());
      } catch (const json::exception& e) {
        throw hdl::ParamError("cannot resume " + o.out.string() + ": event " + std::to_string(i) +
                              " of events.jsonl lacks a design or reward (" + e.what() + ")");
      }
      progress.cache_hits += events[i].value("cache_hit", false);
      consider_best(events[i], nullptr);
    }
    if (asked != designs)
      throw hdl::ParamError("cannot resume " + o.out.string() + ": the agent no longer proposes the recorded designs "
                            "(was the run made by another chipgym version?)");
    searcher->tell(designs, rewards);
    ++batch;
  }
  progress.evaluations = static_cast<long long>(events.size());

  while (progress.evaluations < o.budget && !searcher->done()) {
    const int size = static_cast<int>(std::min<long long>(o.workers, o.budget - progress.evaluations));
    auto designs = searcher->ask(size);
    if (designs.empty()) break;
    std::vector<std::future<env::Evaluation>> running;
    for (const auto& d : designs)
      running.push_back(std::async(std::launch::async, [&environment, d] { return environment.evaluate(d); }));
    std::vector<double> rewards;
    for (std::size_t j = 0; j < designs.size(); ++j) {
      const auto [m, reward] = running[j].get();
      rewards.push_back(reward);
      json event = {{"eval", progress.evaluations},
                    {"batch", batch},
                    {"batch_size", static_cast<long long>(designs.size())},
                    {"design", designs[j]},
                    {"params", environment.decode(designs[j]).to_json()},
                    {"reward", reward},
                    {"cycles", m.cycles},
                    {"transistors", m.transistors},
                    {"correct", m.correct ? json(*m.correct) : json(nullptr)},
                    {"cache_hit", m.cache_hit},
                    {"seconds", m.seconds}};
      if (m.error) event["error"] = {{"category", m.error->category}, {"message", m.error->message}};
      dir->append_event(event);
      ++progress.evaluations;
      progress.cache_hits += m.cache_hit;
      consider_best(event, &m);
    }
    searcher->tell(designs, rewards);
    ++batch;
    progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_progress) on_progress(progress);
  }

  // A resumed run whose best came from the replayed part may not have exported it (a crash
  // between the event and the export): export again unless best/ holds that evaluation.
  if (progress.has_best && !best_holds(*dir, best_event)) {
    auto indices = best_event["design"].get<agents::Design>();
    evaluators::Metrics m = environment.evaluate(indices).metrics;
    progress.has_best = false;
    consider_best(best_event, &m);
  }
  progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double seconds_before = o.resume ? seconds_of_earlier_sessions(*dir) : 0.0;
  result.summary = {{"task", o.task.name},
                    {"agent", o.agent},
                    {"seed", o.seed},
                    {"evaluations", progress.evaluations},
                    {"cache_hits", progress.cache_hits},
                    {"best_reward", progress.has_best ? json(progress.best_reward) : json(nullptr)},
                    {"best", best_event},
                    {"seconds_this_session", progress.seconds},
                    {"seconds_total", seconds_before + progress.seconds},
                    {"complete", progress.evaluations >= o.budget || searcher->done()}};
  dir->write_summary(result.summary);
  return result;
}

}  // namespace chipgym::runs

// `chipgym train` with an RL agent (ppo, dqn, ippo, mappo): the learner steps a batch of
// environments over the task; every environment step is one evaluation, recorded in
// events.jsonl as the black-box agents' are. After every update the learner, its optimizer,
// its random-number state and the environments' state go to checkpoints/, so a killed run
// resumes from the last checkpoint and repeats the same trajectory: the evaluations recorded
// after that checkpoint are dropped and taken again (from the cache, so they are cheap).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "agents/agent.h"
#include "agents/rl.h"
#include "env/vector_env.h"
#include "evaluators/sha256.h"
#include "runs/train.h"

namespace chipgym::runs {

namespace fs = std::filesystem;
namespace rl = agents::rl;

namespace {

// agents/rl.h's VecEnv over the task's vector environment (env/vector_env.h, whose autoreset
// it keeps), with what a run adds: each evaluation is handed to `on_eval` in environment
// order, with its reward and info, and the wall time of step() is counted.
class RunVecEnv : public rl::VecEnv {
 public:
  using OnEval = std::function<void(double reward, const json& info)>;
  // One agent ("all") over an env::VectorEnv, or the task's agent groups over an
  // env::MultiAgentVectorEnv.
  static std::unique_ptr<RunVecEnv> make(const env::Task& task, const env::EnvConfig& config, bool multi, int num_envs,
                                         int workers, std::shared_ptr<evaluators::Pipeline> pipeline,
                                         std::shared_ptr<evaluators::EvalPool> pool = nullptr);
  void set_on_eval(OnEval f) { on_eval_ = std::move(f); }
  // Test hook (fault injection, like eval's hidden --inject-verilog): every reward after the
  // first `n` evaluations of this session is NaN, so the run-level stop on a non-finite loss
  // can be tested. train_rl sets it from $CHIPGYM_TEST_NAN_REWARD_AFTER; nothing else does.
  void set_nan_reward_after(long long n) { nan_after_ = n; }
  // Wall time spent in step(): evaluating designs (and recording them).
  double seconds() const { return seconds_; }
  // One name per entry of agent a's observation (Env::observation_names()'s names).
  virtual std::vector<std::string> observation_names(int a) const = 0;

 protected:
  // The reward the learner sees (the test hook's NaN, or `reward`), after on_eval has it.
  double evaluated(double reward, const json& info) {
    if (nan_after_ >= 0 && evaluations_++ >= nan_after_) reward = std::numeric_limits<double>::quiet_NaN();
    if (on_eval_) on_eval_(reward, info);
    return reward;
  }
  double seconds_ = 0;

 private:
  OnEval on_eval_;
  long long nan_after_ = -1, evaluations_ = 0;  // the test hook
};

// The adapter proper: converts observations to floats and the learner's actions, [agent][env],
// to each environment's form.
template <class V>
class RlVecEnv final : public RunVecEnv {
 public:
  static constexpr bool kMulti = std::is_same_v<V, env::MultiAgentVectorEnv>;
  RlVecEnv(const env::Task& task, const env::EnvConfig& config, int num_envs, int workers,
           std::shared_ptr<evaluators::Pipeline> pipeline, std::shared_ptr<evaluators::EvalPool> pool)
      : vec_(task, config, num_envs, workers, std::move(pipeline), std::move(pool)) {
    if constexpr (kMulti) names_ = vec_.at(0).agents();
    else names_ = {"all"};
  }
  int num_envs() const override { return static_cast<int>(vec_.size()); }
  int num_agents() const override { return static_cast<int>(names_.size()); }
  std::string agent_name(int a) const override { return names_.at(static_cast<std::size_t>(a)); }
  int obs_dim(int a) const override {
    if constexpr (kMulti) return static_cast<int>(vec_.at(0).observation_space(agent_name(a)).dims());
    else return static_cast<int>(vec_.at(0).observation_space().dims());
  }
  std::vector<std::string> observation_names(int a) const override {
    if constexpr (kMulti) return vec_.at(0).observation_names(agent_name(a));
    else return vec_.at(0).observation_names();
  }
  std::vector<long long> nvec(int a) const override {
    if constexpr (kMulti) return vec_.at(0).action_space(agent_name(a)).nvec();
    else return vec_.at(0).action_space().nvec();
  }
  std::vector<std::vector<rl::Obs>> reset(std::uint64_t seed) override {
    std::vector<std::vector<rl::Obs>> out(names_.size());
    for (const auto& obs : vec_.reset(seed)) add_observation(out, obs);
    return out;
  }
  Step step(const std::vector<std::vector<rl::Action>>& actions) override {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<typename V::Action> per_env(vec_.size());
    for (std::size_t e = 0; e < vec_.size(); ++e) {
      if constexpr (kMulti)
        for (std::size_t a = 0; a < names_.size(); ++a) per_env[e][names_[a]] = actions[a][e];
      else per_env[e] = actions[0][e];
    }
    Step out;
    out.obs.resize(names_.size());
    for (auto& r : vec_.step(per_env)) {
      double reward;
      if constexpr (kMulti) reward = r.rewards.begin()->second;  // the team reward
      else reward = r.reward;
      out.reward.push_back(evaluated(reward, r.info));
      out.done.push_back(r.terminated || r.truncated);
      if constexpr (kMulti) add_observation(out.obs, r.observations);
      else add_observation(out.obs, r.observation);
    }
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }
  std::vector<std::vector<std::vector<char>>> masks() const override {
    std::vector<std::vector<std::vector<char>>> out(names_.size());
    for (std::size_t e = 0; e < vec_.size(); ++e)
      for (std::size_t a = 0; a < names_.size(); ++a) {
        if constexpr (kMulti) out[a].push_back(vec_.at(e).action_mask(names_[a]));
        else out[a].push_back(vec_.at(e).action_mask());
      }
    return out;
  }
  json snapshot() const override { return vec_.snapshot(); }
  void restore(const json& s) override { vec_.restore(s); }

 private:
  void add_observation(std::vector<std::vector<rl::Obs>>& out, const typename V::Observation& obs) const {
    for (std::size_t a = 0; a < names_.size(); ++a) {
      const std::vector<double>* o;
      if constexpr (kMulti) o = &obs.at(names_[a]);
      else o = &obs;
      out[a].emplace_back(o->begin(), o->end());
    }
  }
  V vec_;
  std::vector<std::string> names_;
};

std::unique_ptr<RunVecEnv> RunVecEnv::make(const env::Task& task, const env::EnvConfig& config, bool multi,
                                           int num_envs, int workers, std::shared_ptr<evaluators::Pipeline> pipeline,
                                           std::shared_ptr<evaluators::EvalPool> pool) {
  if (multi)
    return std::make_unique<RlVecEnv<env::MultiAgentVectorEnv>>(task, config, num_envs, workers, std::move(pipeline),
                                                               std::move(pool));
  return std::make_unique<RlVecEnv<env::VectorEnv>>(task, config, num_envs, workers, std::move(pipeline), std::move(pool));
}

std::string file_sha256(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return evaluators::Sha256().update(bytes).hex();
}

struct Checkpoint {
  fs::path weights, meta_file;
  json meta;
};

// Checkpoints of a run, oldest first: checkpoints/ckpt-<updates>.json names its .pt file and
// its checksum; the .json is written last, so a checkpoint without one is incomplete.
std::vector<Checkpoint> list_checkpoints(const fs::path& run) {
  std::vector<Checkpoint> out;
  const fs::path dir = run / "checkpoints";
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("ckpt-", 0) != 0 || entry.path().extension() != ".json") continue;
    Checkpoint c;
    c.meta_file = entry.path();
    try {
      std::ifstream in(entry.path());
      c.meta = json::parse(in);
      c.weights = dir / c.meta.at("file").get<std::string>();
      c.meta.at("updates").get<long long>();
    } catch (const json::exception& e) {
      throw hdl::ParamError("checkpoint " + entry.path().string() + " is corrupt (" + e.what() +
                            "); move it away to resume from an earlier one");
    }
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const Checkpoint& a, const Checkpoint& b) {
    return a.meta["updates"].get<long long>() < b.meta["updates"].get<long long>();
  });
  return out;
}

// Design-search defaults: CleanRL's defaults suit long runs on fast simulators; a design
// search has a budget of a few hundred evaluations, so each algorithm's entry says what
// changes (agents/agent.h: search_defaults; config.json records every value used).
json design_search_defaults(const std::string& agent) {
  const agents::Agent* a = rl::find_algorithm(agent);
  return a ? a->search_defaults : json::object();
}

}  // namespace

json rl_hyper(const std::string& agent, const json& user) {
  json hyper = design_search_defaults(agent);
  if (!user.is_object()) throw hdl::ParamError("--hyper must be a JSON object");
  for (auto it = user.begin(); it != user.end(); ++it) hyper[it.key()] = it.value();
  try {
    return rl::resolve_hyper(agent, hyper);
  } catch (const std::invalid_argument& e) {
    throw hdl::ParamError(e.what());
  }
}

namespace {

// The last checkpoint of `run`, its checksum checked; `what` prefixes the errors ("" or
// "--init").
Checkpoint last_good_checkpoint(const fs::path& run, const std::string& what) {
  auto checkpoints = list_checkpoints(run);
  const std::string head = what.empty() ? "" : what + " ";
  if (checkpoints.empty()) throw hdl::ParamError(head + run.string() + " has no checkpoint yet (no update happened)");
  Checkpoint c = checkpoints.back();
  if (file_sha256(c.weights) != c.meta.value("sha256", std::string()))
    throw hdl::ParamError((what.empty() ? "" : what + ": ") + "checkpoint " + c.weights.string() +
                          " is corrupt (its checksum does not match)");
  return c;
}

// The design a learner's policy picks acting greedily in one environment of `vec` (one step
// in the absolute formulation, an episode of edits in the incremental one): the last
// evaluation's info (params, design, metrics).
json greedy_design(rl::Learner& learner, RunVecEnv& vec, const env::EnvConfig& env_config) {
  const int steps = env_config.formulation == "absolute" ? 1 : env_config.max_steps;
  auto obs = vec.reset(0);
  json design;
  for (int t = 0; t < steps; ++t) {
    std::vector<rl::Obs> o;
    std::vector<std::vector<char>> m;
    auto masks = vec.masks();
    for (int a = 0; a < vec.num_agents(); ++a) {
      o.push_back(obs[static_cast<std::size_t>(a)][0]);
      m.push_back(masks[static_cast<std::size_t>(a)][0]);
    }
    auto act = learner.act_greedy(o, m);
    std::vector<std::vector<rl::Action>> batch;
    for (int a = 0; a < vec.num_agents(); ++a) {
      batch.emplace_back();
      for (int e = 0; e < vec.num_envs(); ++e) batch.back().push_back(act[static_cast<std::size_t>(a)]);
    }
    json last;
    vec.set_on_eval([&](double reward, const json& info) {
      if (last.is_null()) {
        last = info;
        last["reward"] = reward;
      }
    });
    auto s = vec.step(batch);
    design = last;
    obs = s.obs;
  }
  return design;
}

// What each agent of a multi-agent run observed: config.json's "agent_observations", or, for a
// run that predates it, the shared view every agent had then (its own parameters, then every
// entry of the joint observation that is not a parameter).
json recorded_agent_observations(const json& config) {
  if (config.contains("agent_observations")) return config["agent_observations"];
  json out = json::object();
  const json groups = config.value("agent_groups", json::object()), joint = config.value("observation_names", json::array());
  for (const auto& [agent, params] : groups.items()) {
    std::vector<std::string> names;
    for (const auto& p : params) names.push_back("param:" + p.get<std::string>());
    for (const auto& n : joint)
      if (n.get<std::string>().rfind("param:", 0) != 0) names.push_back(n.get<std::string>());
    out[agent] = names;
  }
  return out;
}

json agent_observations(const RunVecEnv& vec) {
  json out = json::object();
  for (int a = 0; a < vec.num_agents(); ++a) out[vec.agent_name(a)] = vec.observation_names(a);
  return out;
}

// `train --init RUN`: checks that RUN's policy fits this run (agent, task family, observation
// layout, each agent's view, searched values, formulation; each refused by name) and returns
// {its config, its last checkpoint}.
std::pair<json, Checkpoint> pretrained_policy(const TrainOptions& o, const fs::path& run, const env::Env& design_env,
                                              const RunVecEnv& vec, bool multi) {
  if (!fs::is_directory(run)) throw hdl::ParamError("--init " + run.string() + ": no such run directory");
  json config = RunDir::open(run).read_config();
  if (config.value("kind", std::string()) != "rl")
    throw hdl::ParamError("--init " + run.string() + " is a run of the search agent '" + config.value("agent", std::string("?")) +
                          "', which has no policy to start from");
  const std::string agent = config.value("agent", std::string("?"));
  if (agent != o.agent)
    throw hdl::ParamError("--init " + run.string() + " trained agent '" + agent + "', not '" + o.agent +
                          "': a policy starts only the agent that learned it");
  const json task = config.value("task", json::object());
  const std::string family = task.value("family", std::string("?"));
  if (family != o.task.family)
    throw hdl::ParamError("--init " + run.string() + " is a policy for task family '" + family + "' (task " +
                          task.value("name", std::string("?")) + "), not for " + o.task.name + "'s family '" + o.task.family + "'");
  if (!config.contains("observation_names"))
    throw hdl::ParamError("--init " + run.string() + " records no observation layout (an older chipgym made it): its policy "
                          "cannot be checked against this task's observations; train it again");
  const auto theirs = config["observation_names"].get<std::vector<std::string>>();
  const auto mine = design_env.observation_names();
  if (theirs != mine) {
    std::size_t i = 0;
    while (i < theirs.size() && i < mine.size() && theirs[i] == mine[i]) ++i;
    const std::string a = i < theirs.size() ? theirs[i] : "(none)", b = i < mine.size() ? mine[i] : "(none)";
    throw hdl::ParamError("--init " + run.string() + " observes another layout: " + std::to_string(theirs.size()) +
                          " entries against this task's " + std::to_string(mine.size()) + "; entry " + std::to_string(i) +
                          " is " + a + " there and " + b + " here (the searched parameters must be the same)");
  }
  if (multi) {
    using Views = std::map<std::string, std::vector<std::string>>;
    const auto theirs_by_agent = recorded_agent_observations(config).get<Views>();
    for (const auto& [agent, names] : agent_observations(vec).get<Views>()) {
      auto it = theirs_by_agent.find(agent);
      if (it == theirs_by_agent.end()) {
        std::string known;
        for (const auto& entry : theirs_by_agent) known += (known.empty() ? "" : ", ") + entry.first;
        throw hdl::ParamError("--init " + run.string() + " has no agent '" + agent + "': its agents are " + known);
      }
      if (it->second != names)
        throw hdl::ParamError("--init " + run.string() + ": agent '" + agent + "' observes another view there: " +
                              json(it->second).dump() + " against this task's " + json(names).dump() +
                              " (the task's \"agents\" must declare the same \"observes\")");
    }
  }
  // The same names may take other values: the policy's outputs would mean other designs.
  const json their_search = task.value("search", json::object());
  for (const auto& name : design_env.param_names())
    if (their_search.value(name, json()) != o.task.search.value(name, json()))
      throw hdl::ParamError("--init " + run.string() + "'s policy chooses among other values: " + name + " takes " +
                            their_search.value(name, json()).dump() + " there and " + o.task.search.value(name, json()).dump() +
                            " here");
  if (config.value("hyper", json::object()).value("formulation", std::string()) != o.hyper.value("formulation", std::string()))
    throw hdl::ParamError("--init " + run.string() + " learned the " +
                          config["hyper"].value("formulation", std::string("?")) + " formulation, this run uses " +
                          o.hyper.value("formulation", std::string("?")));
  return {config, last_good_checkpoint(run, "--init")};
}

// Where a task workload came from (its source, else its shapes), to compare a pretraining
// run's workloads with this one's.
std::string workload_source(const json& w) { return w.value("source", w.value("shapes", json::array()).dump()); }
// Every workload a task's environments draw from (Task::workloads, or the workload).
std::vector<std::string> workload_sources(const json& task) {
  std::vector<std::string> out;
  const json list = task.value("workloads", json::array());
  if (list.empty()) out.push_back(workload_source(task.value("workload", json::object())));
  for (const auto& w : list) out.push_back(workload_source(w));
  return out;
}

}  // namespace

TrainResult train_rl(const TrainOptions& o_in, std::shared_ptr<evaluators::Pipeline> pipeline,
                     const std::function<void(const Progress&)>& on_progress) {
  TrainOptions o = o_in;
  Recorder recorder = o.resume ? Recorder::resume(o.out) : Recorder::create(o.out, o.force);
  std::optional<Checkpoint> resume_from;
  if (o.resume) {
    const long long recorded = adopt_recorded_run(o, recorder.recorded_config());
    // The budget sets the learning-rate and exploration schedules: it cannot change.
    if (o.budget_given && o.budget != recorded)
      throw hdl::ParamError("cannot resume an RL run with another budget (" + std::to_string(o.budget) + " instead of " +
                            std::to_string(recorded) + "): the budget sets the learning schedules");
    o.budget = recorded;
    auto checkpoints = list_checkpoints(o.out);
    if (!checkpoints.empty()) {
      resume_from = checkpoints.back();
      const json& m = resume_from->meta;
      if (m.value("task", json()) != o.task.to_json() || m.value("agent", std::string()) != o.agent)
        throw hdl::ParamError("checkpoint " + resume_from->meta_file.string() + " belongs to another run (task " +
                              m.value("task", json::object()).value("name", std::string("?")) + ", agent " +
                              m.value("agent", std::string("?")) + "), not to task " + o.task.name + " with agent " + o.agent);
      if (!fs::exists(resume_from->weights) || file_sha256(resume_from->weights) != m.value("sha256", std::string()))
        throw hdl::ParamError("checkpoint " + resume_from->weights.string() +
                              " is corrupt or missing (its checksum does not match " + resume_from->meta_file.filename().string() +
                              "); nothing was changed. Move both files away to resume from an earlier checkpoint");
    }
    // Keep what the checkpoint has seen; what came after it is taken again.
    const auto keep = static_cast<std::size_t>(resume_from ? resume_from->meta.at("steps").get<long long>() : 0);
    if (keep > recorder.recorded_events().size())
      throw hdl::ParamError("checkpoint " + resume_from->meta_file.string() + " has seen " + std::to_string(keep) +
                            " evaluations, but events.jsonl holds only " + std::to_string(recorder.recorded_events().size()));
    recorder.keep_recorded(keep, "after the last checkpoint");
  }
  o.hyper = rl_hyper(o.agent, o.hyper);
  const bool multi = rl::find_algorithm(o.agent)->multi_agent;

  env::EnvConfig env_config;
  env_config.fidelity = o.fidelity;
  env_config.formulation = o.hyper["formulation"];
  env_config.max_steps = o.hyper["episode_steps"];
  auto vec = RunVecEnv::make(o.task, env_config, multi, o.hyper["num_envs"].get<int>(), o.workers, pipeline, o.pool);
  if (const char* hook = std::getenv("CHIPGYM_TEST_NAN_REWARD_AFTER"); hook && *hook) {
    long long n = -1;
    std::size_t used = 0;
    try {
      n = std::stoll(hook, &used);
    } catch (const std::exception&) {
    }
    if (n < 0 || hook[used] != '\0')
      throw hdl::ParamError(std::string("CHIPGYM_TEST_NAN_REWARD_AFTER must be a number of evaluations, not '") + hook + "'");
    vec->set_nan_reward_after(n);
  }
  // Every environment steps at once, so the run takes whole batches: the budget is rounded
  // down to a multiple of num_envs (never over it).
  const long long num_envs = vec->num_envs(), steps_budget = o.budget / num_envs * num_envs;
  if (steps_budget < 1)
    throw hdl::ParamError("--budget " + std::to_string(o.budget) + " is smaller than one step of the " +
                          std::to_string(num_envs) + " environments (num_envs)");
  if (steps_budget != o.budget)
    recorder.notice("the budget is taken as " + std::to_string(steps_budget) + " evaluations, a multiple of the " +
                    std::to_string(num_envs) + " environments stepped together");
  std::unique_ptr<rl::Learner> learner;
  try {
    learner = rl::make_learner(o.agent, *vec, static_cast<std::uint64_t>(o.seed), o.hyper);
  } catch (const std::invalid_argument& e) {
    throw hdl::ParamError(e.what());
  }
  if (resume_from) {
    try {
      learner->load(resume_from->weights);
      vec->restore(resume_from->meta.at("env"));
    } catch (const rl::CheckpointError& e) {
      throw hdl::ParamError(std::string(e.what()) + "; nothing was changed");
    }
  }

  const env::Env design_env(o.task, env_config, pipeline);
  // Where the workloads this run trains on came from: the --init check, every checkpoint and
  // the summary name them.
  const std::vector<std::string> sources = workload_sources(o.task.to_json());
  // A pretrained start: on a resume, the recorded one (needed again only when the run was
  // killed before its first checkpoint).
  json init = json();
  if (o.resume) {
    init = recorder.recorded_config().value("init", json());
    if (!init.is_null()) o.init = {init.at("run").get<std::string>()};
  }
  for (std::size_t i = 0; i < o.init.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (fs::absolute(o.init[i]) == fs::absolute(o.init[j]))
        throw hdl::ParamError("--init gives " + o.init[i].string() + " twice");
  auto load = [&](const Checkpoint& checkpoint) {
    try {
      learner->load_weights(checkpoint.weights);
    } catch (const rl::CheckpointError& e) {
      throw hdl::ParamError("--init: " + std::string(e.what()));
    }
  };
  if (!o.init.empty() && !init.is_null() && !resume_from) {
    load(pretrained_policy(o, o.init.front(), design_env, *vec, multi).second);  // the recorded choice
  } else if (!o.init.empty() && init.is_null() && (!o.resume || !resume_from)) {
    // Every policy is checked before any is evaluated.
    std::vector<std::pair<json, Checkpoint>> policies;
    for (const auto& run : o.init) policies.push_back(pretrained_policy(o, run, design_env, *vec, multi));
    json candidates = json::array();
    std::size_t chosen = 0;
    for (std::size_t i = 0; i < policies.size(); ++i) {
      const auto& [their_config, checkpoint] = policies[i];
      load(checkpoint);
      const auto theirs = workload_sources(their_config["task"]);
      json c = {{"run", fs::absolute(o.init[i]).string()},
                {"checkpoint", checkpoint.weights.filename().string()},
                {"task", their_config["task"].value("name", std::string())},
                {"pretraining_evaluations", checkpoint.meta.value("steps", 0LL)}};
      if (theirs.size() == 1) c["workload"] = theirs.front();
      else c["workloads"] = theirs;
      for (const auto& w : sources)
        if (std::find(theirs.begin(), theirs.end(), w) != theirs.end()) {
          recorder.notice("--init " + o.init[i].string() + " was trained on this run's workload (" + w +
                          (theirs.size() > 1 ? ", one of its " + std::to_string(theirs.size()) : std::string()) +
                          "): this is not a held-out test");
          break;
        }
      // Zero-shot: the pretrained policy's greedy design for this task, before any fine-tuning.
      auto one = RunVecEnv::make(o.task, env_config, multi, 1, 1, pipeline);
      const json z = greedy_design(*learner, *one, env_config);
      c["zero_shot"] = {{"params", z.value("params", json::object())},
                        {"reward", z.value("reward", 0.0)},
                        {"metrics", z.value("metrics", json::object())},
                        {"note", "the greedy design of the pretrained policy, evaluated outside the budget"}};
      if (!candidates.empty() &&
          c["zero_shot"]["reward"].get<double>() > candidates[chosen]["zero_shot"]["reward"].get<double>())
        chosen = i;
      candidates.push_back(c);
    }
    // Several policies: fine-tuning starts from the one whose zero-shot design is best (the
    // first of equals); every zero-shot design is recorded, in --init's order.
    init = candidates[chosen];
    if (candidates.size() > 1) {
      for (auto& c : candidates) c = {{"run", c["run"]}, {"zero_shot", c["zero_shot"]}};
      init["candidates"] = candidates;
      load(policies[chosen].second);
    }
  }
  json groups = json::object();
  if (multi)
    for (int a = 0; a < vec->num_agents(); ++a) groups[vec->agent_name(a)] = o.task.agent_groups().at(vec->agent_name(a));
  json config = run_config(o, o.hyper, env_config, design_env, *pipeline);
  config["kind"] = "rl";
  config["agent_groups"] = groups;
  if (multi) config["agent_observations"] = agent_observations(*vec);
  if (!init.is_null()) config["init"] = init;
  // Across workloads, best/ and the front are of the first workload (the task's: what replay
  // and verify rebuild); summary.json's "workloads" has every workload's best.
  const std::size_t workloads = design_env.workloads();
  if (workloads > 1) recorder.best_among([](const json& e) { return e.value("workload", 0LL) == 0; });
  recorder.start(config, o.budget, design_export(o.task, o.agent), on_progress);

  // Every step of the environments is a batch of num_envs evaluations.
  vec->set_on_eval([&](double reward, const json& info) {
    json where = {{"update", learner->updates()}, {"batch", recorder.progress().evaluations / num_envs}, {"batch_size", num_envs}};
    if (workloads > 1) where["workload"] = info.value("workload", 0LL);
    recorder.record({info.value("design", json::array()), info.value("params", json::object()), reward,
                     info.value("metrics", json::object()), info.value("cache_hit", false), where});
  });

  const fs::path ckpt_dir = recorder.dir().path() / "checkpoints";
  fs::create_directories(ckpt_dir);
  std::ofstream updates_log(recorder.dir().path() / "updates.jsonl", std::ios::app);
  std::string last_checkpoint = resume_from ? resume_from->weights.filename().string() : "";
  rl::Hooks hooks;
  hooks.on_update = [&](const json& stats) {
    updates_log << stats.dump() << "\n" << std::flush;
    // Weights first (through a temporary name), then the JSON that names them and holds
    // their checksum: a crash in between leaves the previous checkpoint in charge.
    const long long u = learner->updates();
    char stem[32];
    std::snprintf(stem, sizeof stem, "ckpt-%06lld", u);
    const fs::path weights = ckpt_dir / (std::string(stem) + ".pt"), tmp = ckpt_dir / (std::string(stem) + ".pt.tmp");
    learner->save(tmp);
    fs::rename(tmp, weights);
    write_atomically(ckpt_dir / (std::string(stem) + ".json"),
                     json({{"file", weights.filename().string()}, {"sha256", file_sha256(weights)}, {"updates", u},
                           {"steps", learner->steps()}, {"task", o.task.to_json()}, {"agent", o.agent},
                           {"workloads", sources},
                           {"hyper", o.hyper}, {"env", vec->snapshot()}})
                         .dump(1));
    last_checkpoint = weights.filename().string();
    // Keep the last three.
    auto all = list_checkpoints(recorder.dir().path());
    for (std::size_t i = 0; i + 3 < all.size(); ++i) {
      fs::remove(all[i].weights);
      fs::remove(all[i].meta_file);
    }
    recorder.report_progress();
  };

  std::string stopped;
  try {
    learner->learn(steps_budget, hooks);
  } catch (const rl::NanLoss& e) {
    stopped = std::string(e.what()) + "; training stopped" +
              (last_checkpoint.empty() ? std::string(" before any checkpoint")
                                       : "; the last good checkpoint is checkpoints/" + last_checkpoint);
    // Reported through summary["stopped"] (chipgym train prints it and exits 3).
  }
  recorder.report_progress();
  recorder.finish(
      [&](const json& best) { return design_env.evaluate(best["design"].get<std::vector<long long>>()).metrics.to_json(); },
      [&](const json& best) { return design_env.verify(best["design"].get<std::vector<long long>>(), o.pool.get()).metrics.to_json(); });
  json fields = {{"task", o.task.name},
                 {"agent", o.agent},
                 {"seed", o.seed},
                 {"updates", learner->updates()},
                 // This session's wall time in the environments (evaluations) and the rest
                 // (acting, learning, checkpoints).
                 {"seconds_evaluating", vec->seconds()},
                 {"seconds_learning", std::max(0.0, recorder.progress().seconds - vec->seconds())},
                 {"budget_used", steps_budget}};
  if (!stopped.empty()) fields["stopped"] = stopped;
  if (workloads > 1) {
    // Per workload: its evaluations and its best (the highest reward, penalties included).
    std::vector<long long> seen(workloads, 0);
    std::vector<json> best(workloads, json(nullptr));
    for (const auto& e : recorder.recorded_events()) {
      const auto w = static_cast<std::size_t>(e.value("workload", 0LL));
      if (w >= workloads) continue;
      ++seen[w];
      const auto r = e.find("reward");
      if (r != e.end() && r->is_number() && (best[w].is_null() || r->get<double>() > best[w]["reward"].get<double>()))
        best[w] = {{"reward", *r}, {"params", e.value("params", json::object())}, {"eval", e["eval"]}};
    }
    json per = json::array();
    for (std::size_t w = 0; w < workloads; ++w) per.push_back({{"source", sources[w]}, {"evaluations", seen[w]}, {"best", best[w]}});
    fields["workloads"] = per;
  }
  if (!init.is_null())
    fields["init"] = {{"run", init["run"]}, {"zero_shot_reward", init["zero_shot"]["reward"]},
                      {"zero_shot_params", init["zero_shot"]["params"]},
                      {"policies", init.contains("candidates") ? init["candidates"].size() : 1}};
  TrainResult result;
  result.summary = recorder.write_summary(fields, stopped.empty() && recorder.progress().evaluations >= steps_budget);
  result.notices = recorder.notices();
  return result;
}

json policy_choice(const fs::path& run, std::shared_ptr<evaluators::Pipeline> pipeline) {
  RunDir dir = RunDir::open(run);
  json config = dir.read_config();
  if (config.value("kind", std::string()) != "rl")
    throw hdl::ParamError(run.string() + " is a run of the black-box agent '" + config.value("agent", std::string("?")) +
                          "', which has no policy: replay its best design instead");
  const Checkpoint c = last_good_checkpoint(run, "");
  env::Task task;
  env::EnvConfig env_config;
  json hyper;
  try {
    task = env::Task::from_json(config.at("task"));
    hyper = config.at("hyper");
    env_config.fidelity = config.at("env").at("fidelity");
    env_config.formulation = hyper.at("formulation");
    env_config.max_steps = hyper.at("episode_steps");
  } catch (const json::exception& e) {
    throw hdl::ParamError("config.json of " + run.string() + " is incomplete or malformed: " + e.what());
  }
  const std::string agent = config.value("agent", std::string());
  const bool multi = rl::find_algorithm(agent) && rl::find_algorithm(agent)->multi_agent;
  // The policy acts in one environment of the run's kind; nothing is evaluated but the steps
  // of an incremental episode (from the cache, as a rule).
  auto vec = RunVecEnv::make(task, env_config, multi, 1, 1, pipeline);
  std::unique_ptr<rl::Learner> learner;
  try {
    learner = rl::make_learner(agent, *vec, 0, hyper);
    learner->load(c.weights);
  } catch (const std::exception& e) {
    throw hdl::ParamError(e.what());
  }
  const json design = greedy_design(*learner, *vec, env_config);
  return {{"params", design.value("params", json::object())},
          {"design", design.value("design", json::array())},
          {"source", "greedy policy of checkpoints/" + c.weights.filename().string() + " (after " +
                         std::to_string(c.meta.value("steps", 0LL)) + " evaluations)"}};
}

}  // namespace chipgym::runs

#include "runs/compare.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <cmath>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>

#include "agents/agent.h"
#include "agents/rl.h"
#include "env/env.h"
#include "evaluators/runner.h"
#include "evaluators/sha256.h"
#include "runs/pareto.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

double t95(int n) {
  static const double table[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
                                 2.228,  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
                                 2.086,  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045};
  const int dof = n - 1;
  if (dof < 1) return 0;
  if (dof < 30) return table[dof];
  return 1.96 + 2.4 / dof;  // close to the table beyond 30 degrees of freedom
}

namespace {

struct RunCurve {
  std::string agent;
  long long seed = 0;
  std::vector<double> best_so_far;  // after evaluation i
  double best = -1e300;
  double seconds = 0;
  std::vector<FrontPoint> front;  // within the budget
};

RunCurve read_curve(const fs::path& dir, const std::string& agent, long long seed, long long budget,
                    const std::string& objective) {
  RunCurve c;
  c.agent = agent;
  c.seed = seed;
  RunDir run = RunDir::open(dir);
  std::vector<json> events = run.read_events().events;
  // A pretrained start (--init): its zero-shot design was the run's first real evaluation; of
  // several policies, their zero-shot designs were the first ones, in --init's order.
  if (const json init = run.read_config().value("init", json()); init.contains("zero_shot")) {
    const json starts = init.contains("candidates") ? init["candidates"] : json::array({init});
    std::vector<json> zero_shots;
    for (const auto& c : starts) {
      json e = c["zero_shot"].value("metrics", json::object());
      e["eval"] = -1;
      e["reward"] = c["zero_shot"].value("reward", json());
      e["params"] = c["zero_shot"].value("params", json::object());
      zero_shots.push_back(e);
    }
    events.insert(events.begin(), zero_shots.begin(), zero_shots.end());
  }
  std::vector<json> counted;
  for (const auto& e : events) {
    if (!e.contains("eval")) continue;
    if (static_cast<long long>(c.best_so_far.size()) >= budget) break;  // a longer earlier run counts up to the budget
    counted.push_back(e);
    // A reward recorded as null (not a finite number) counts as a failed design.
    const double r = e.contains("reward") && e["reward"].is_number() ? e["reward"].get<double>() : -3.0;
    c.best = std::max(c.best, r);
    c.best_so_far.push_back(c.best);
  }
  c.front = pareto_front(admissible_points(counted, objective));
  std::ifstream summary(dir / "summary.json");
  if (summary) {
    try {
      c.seconds = json::parse(summary).value("seconds_total", 0.0);
    } catch (const json::exception&) {
    }
  }
  return c;
}

}  // namespace

namespace {
std::string optimum_key(const env::Task& task, const evaluators::Pipeline& pipeline) {
  json t = task.to_json();
  t.erase("description");
  t.erase("objective");
  return evaluators::sha256_hex("optimum-v1\n" + t.dump() + "\n" + std::to_string(task.design_family().version()) +
                                "\n" + pipeline.tools().versions());
}
}  // namespace

std::optional<json> cached_optimum(const env::Task& task, const evaluators::Pipeline& pipeline,
                                   std::shared_ptr<evaluators::Cache> cache) {
  if (!cache) return std::nullopt;
  auto v = cache->get("optimum", optimum_key(task, pipeline));
  if (!v) return std::nullopt;
  try {
    return json::parse(*v);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::vector<FrontPoint>> true_front(const json& truth) {
  try {
    std::vector<FrontPoint> front;
    if (truth.contains("front")) {
      for (const auto& p : truth["front"]) front.push_back(FrontPoint::from_json(p));
      return front;
    }
    const fs::path run = truth.value("run", std::string());
    if (run.empty() || !fs::exists(run / "events.jsonl")) return std::nullopt;
    const RunDir dir = RunDir::open(run);
    return pareto_front(admissible_points(dir.read_events().events, area_objective_of(dir.read_config().value("task", json()))));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

json find_optimum(const env::Task& task, std::shared_ptr<evaluators::Pipeline> pipeline,
                  std::shared_ptr<evaluators::Cache> cache, const fs::path& out, int workers,
                  const std::function<void(const Progress&)>& on_progress, std::shared_ptr<evaluators::EvalPool> pool) {
  if (auto known = cached_optimum(task, *pipeline, cache)) return *known;
  env::Env probe(task, {}, nullptr);
  const double size = probe.design_space().size();
  if (size > 100000) throw hdl::ParamError("the search space of " + task.name + " has " + std::to_string(size) +
                                           " designs: too many to enumerate");
  TrainOptions t;
  t.task = task;
  t.agent = "grid";
  t.budget = static_cast<long long>(size);
  t.seed = 0;
  t.workers = workers;
  t.pool = std::move(pool);
  t.out = out;
  t.resume = fs::exists(out / "config.json");
  if (t.resume) {
    json saved;
    try {
      saved = RunDir::open(out).read_config().at("task");
    } catch (const std::exception&) {
    }
    if (saved != task.to_json())
      throw hdl::ParamError(out.string() + " holds an exhaustive run of another task (or task version); use another --out");
  }
  auto r = train(t, pipeline, on_progress);
  // A design that failed for a passing reason (timeout, crash, missing tool) may hide the
  // optimum: such a result is not recorded as the truth.
  const auto events = RunDir::open(out).read_events().events;
  for (const auto& e : events)
    if (e.contains("error")) {
      const std::string category = e["error"].value("category", std::string());
      if (!evaluators::design_failure(category))
        throw std::runtime_error("evaluation " + e["eval"].dump() + " failed (" + category +
                                 "): the optimum is not recorded; fix the cause and run again (it resumes)");
    }
  if (!r.summary.value("complete", false) || r.summary["best"].is_null())
    throw std::runtime_error("the exhaustive run did not finish");
  json truth = {{"optimum", r.summary["best_reward"]}, {"params", r.summary["best"]["params"]},
                {"designs", r.summary["evaluations"]}, {"run", out.string()}, {"front", json::array()}};
  for (const auto& p : pareto_front(admissible_points(events, task.area_objective()))) truth["front"].push_back(p.to_json());
  if (cache) cache->put("optimum", optimum_key(task, *pipeline), truth.dump());
  return truth;
}

void parse_agent_hyper(const std::string& text, std::map<std::string, json>& hyper) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw hdl::ParamError("--hyper expects AGENT=JSON (e.g. ppo='{\"learning_rate\": 0.003}'), not '" + text + "'");
  const std::string agent = text.substr(0, eq);
  json value;
  try {
    value = json::parse(text.substr(eq + 1));
  } catch (const json::parse_error& e) {
    throw hdl::ParamError("--hyper " + agent + "=... is not valid JSON: " + e.what());
  }
  if (!value.is_object()) throw hdl::ParamError("--hyper " + agent + "=... must be a JSON object, not " + value.dump());
  if (hyper.count(agent)) throw hdl::ParamError("--hyper is given twice for agent '" + agent + "'");
  hyper[agent] = value;
}

void parse_agent_init(const std::string& text, std::map<std::string, std::vector<fs::path>>& init) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw hdl::ParamError("--init expects AGENT=RUN (e.g. ppo=runs/pretrained), not '" + text + "'");
  const std::string agent = text.substr(0, eq);
  const fs::path run = text.substr(eq + 1);
  for (const auto& r : init[agent])
    if (fs::absolute(r) == fs::absolute(run))
      throw hdl::ParamError("--init gives " + run.string() + " twice for agent '" + agent + "'");
  init[agent].push_back(run);
}

namespace {
// compare.json's record of an agent's --init: the run, or the list of runs when several.
json recorded_init_of(const std::vector<fs::path>& runs) {
  if (runs.size() == 1) return fs::absolute(runs.front()).string();
  json out = json::array();
  for (const auto& r : runs) out.push_back(fs::absolute(r).string());
  return out;
}
std::string init_text(const json& recorded) {
  if (recorded.is_null()) return "none";
  if (recorded.is_string()) return recorded.get<std::string>();
  std::string out;
  for (const auto& r : recorded) out += (out.empty() ? "" : ", ") + r.get<std::string>();
  return out;
}

// The comparison's recorded settings (compare.json): the hyper-parameters of every agent that
// ran in it. A rerun resumes the runs, so it must give them the same; an agent not recorded
// (a comparison made before compare.json, or an agent added now) had none unless given now.
void check_recorded_settings(const CompareOptions& o) {
  const fs::path file = o.out / "compare.json";
  json recorded = json::object(), recorded_init = json::object();
  if (fs::exists(file)) {
    try {
      std::ifstream in(file);
      const json saved = json::parse(in);
      recorded = saved.at("hyper");
      recorded_init = saved.value("init", json::object());
    } catch (const json::exception& e) {
      throw hdl::ParamError(file.string() + " is corrupt (" + e.what() + "); move it away or use another --out");
    }
  }
  for (const auto& agent : o.agents) {
    const json now = o.hyper.count(agent) ? o.hyper.at(agent) : json::object();
    bool has_runs = false;
    for (long long s = 0; s < o.seeds && !has_runs; ++s)
      has_runs = fs::exists(o.out / (agent + "-" + std::to_string(s)) / "config.json");
    const json before = recorded.contains(agent) ? recorded[agent] : json::object();
    if ((recorded.contains(agent) || has_runs) && before != now)
      throw hdl::ParamError("cannot resume the comparison in " + o.out.string() + " with other hyper-parameters for " +
                            agent + " (" + now.dump() + " instead of the recorded " + before.dump() +
                            "): its runs continue with the ones they started with; give the recorded --hyper or use another --out");
    recorded[agent] = now;
    const json init_now = o.init.count(agent) ? recorded_init_of(o.init.at(agent)) : json();
    const json init_before = recorded_init.value(agent, json());
    if ((recorded_init.contains(agent) || has_runs) && init_before != init_now)
      throw hdl::ParamError("cannot resume the comparison in " + o.out.string() + " with another --init for " + agent +
                            " (" + init_text(init_now) + " instead of the recorded " + init_text(init_before) +
                            "): give the recorded --init or use another --out");
    if (!init_now.is_null()) recorded_init[agent] = init_now;
  }
  json settings = {{"hyper", recorded}};
  if (!recorded_init.empty()) settings["init"] = recorded_init;
  write_atomically(file, settings.dump(2) + "\n");
}

}  // namespace

CompareResult compare(const CompareOptions& o, std::shared_ptr<evaluators::Pipeline> pipeline,
                      const std::function<void(const std::string&)>& on_progress) {
  if (o.agents.empty()) throw hdl::ParamError("--agents needs at least one agent");
  for (const auto& a : o.agents) agents::trainable_agent(a);  // unknown names list every agent, and the nearest
  if (o.seeds < 1) throw hdl::ParamError("--seeds must be at least 1");
  if (o.budget < 1) throw hdl::ParamError("--budget must be at least 1 evaluation");
  if (o.workers < 1) throw hdl::ParamError("--workers must be at least 1");
  for (const auto& [agent, hyper] : o.hyper) {
    if (std::find(o.agents.begin(), o.agents.end(), agent) == o.agents.end()) {
      std::string list;
      for (const auto& a : o.agents) list += (list.empty() ? "" : ",") + a;
      throw hdl::ParamError("--hyper names agent '" + agent + "', which is not in --agents (" + list + ")");
    }
    // Checked before any run starts: unknown names list the valid ones.
    if (agents::rl::find_algorithm(agent))
      rl_hyper(agent, hyper);
    else if (agent != "llm")  // llm's hyper-parameters get the task and transcript added per run
      agents::make_searcher(agent, env::Env(o.task, {}, nullptr).design_space(), 0, hyper);
  }
  for (const auto& [agent, runs] : o.init) {
    if (std::find(o.agents.begin(), o.agents.end(), agent) == o.agents.end())
      throw hdl::ParamError("--init names agent '" + agent + "', which is not in --agents");
    if (!agents::rl::find_algorithm(agent))
      throw hdl::ParamError("--init " + agent + "=...: only the RL agents (ppo, dqn, ippo, mappo) start from a pretrained "
                            "policy; " + agent + " is a search agent");
    if (o.budget < static_cast<long long>(runs.size()) + 1)
      throw hdl::ParamError(runs.size() == 1
                                ? "--init needs --budget of at least 2: the zero-shot design is the first real evaluation"
                                : "--init gives " + agent + " " + std::to_string(runs.size()) + " policies: --budget needs at least " +
                                      std::to_string(runs.size() + 1) + " (their zero-shot designs are the first real evaluations)");
    for (const auto& run : runs)
      if (!fs::exists(run / "config.json"))
        throw hdl::ParamError("--init " + agent + "=" + run.string() + ": no run there (no config.json)");
  }
  // A rerun resumes the runs it finds: one of another task is refused before anything is written.
  const json task_json = o.task.to_json();
  for (const auto& agent : o.agents)
    for (long long seed = 0; seed < o.seeds; ++seed) {
      const fs::path run = o.out / (agent + "-" + std::to_string(seed));
      if (!fs::exists(run / "config.json")) continue;
      json saved;
      try {
        saved = RunDir::open(run).read_config().at("task");
      } catch (const std::exception&) {
      }
      if (saved == task_json) continue;
      const std::string name = saved.is_object() ? saved.value("name", std::string("?")) : std::string("?");
      throw hdl::ParamError("cannot resume the comparison in " + o.out.string() + ": its run " + run.string() +
                            (name == o.task.name ? " was recorded with another definition of task " + name +
                                                       " (another --task-file or --workload)"
                                                 : " was recorded with --task " + name + "; this command says --task " +
                                                       o.task.name) +
                            ": give the recorded task to continue it, or use another --out");
    }
  fs::create_directories(o.out);
  check_recorded_settings(o);

  struct Job {
    std::string agent;
    long long seed;
  };
  std::vector<Job> jobs;
  for (const auto& a : o.agents)
    for (long long s = 0; s < o.seeds; ++s) jobs.push_back({a, s});
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::vector<std::string> errors, stopped;
  std::size_t finished = 0;
  auto worker = [&] {
    for (std::size_t i; (i = next++) < jobs.size();) {
      TrainOptions t;
      t.task = o.task;
      t.agent = jobs[i].agent;
      t.budget = o.budget;
      t.seed = jobs[i].seed;
      t.pool = o.pool;
      if (o.hyper.count(jobs[i].agent)) t.hyper = o.hyper.at(jobs[i].agent);
      if (o.init.count(jobs[i].agent)) {
        t.init = o.init.at(jobs[i].agent);
        // The zero-shot designs are the first real evaluations (read_curve).
        t.budget = o.budget - static_cast<long long>(t.init.size());
      }
      t.out = o.out / (jobs[i].agent + "-" + std::to_string(jobs[i].seed));
      t.resume = fs::exists(t.out / "config.json");  // a killed comparison continues (of this task: checked above)
      try {
        auto trained = train(t, pipeline);
        if (trained.summary.contains("stopped")) {
          std::lock_guard<std::mutex> lock(mu);
          stopped.push_back(t.out.string() + ": " + trained.summary["stopped"].get<std::string>());
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back(t.out.string() + ": " + e.what());
      }
      std::lock_guard<std::mutex> lock(mu);
      ++finished;
      if (on_progress)
        on_progress(std::to_string(finished) + "/" + std::to_string(jobs.size()) + " runs done (" + jobs[i].agent +
                    " seed " + std::to_string(jobs[i].seed) + ")");
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < std::min<int>(o.workers, static_cast<int>(jobs.size())); ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!errors.empty()) throw std::runtime_error("some runs failed: " + errors.front());

  std::vector<RunCurve> curves;
  for (const auto& j : jobs)
    curves.push_back(read_curve(o.out / (j.agent + "-" + std::to_string(j.seed)), j.agent, j.seed, o.budget,
                                o.task.area_objective()));
  CompareResult result;
  result.stopped = stopped;
  for (const auto& s : stopped) result.notices.push_back("stopped early, counted as far as it got: " + s);
  result.reference = -1e300;
  for (const auto& c : curves) result.reference = std::max(result.reference, c.best);
  if (o.optimum) {
    if (*o.optimum + 1e-9 < result.reference)
      result.notices.push_back("a run beat the stated optimum: the optimum is wrong or stale");
    result.reference = std::max(result.reference, *o.optimum);
    result.reference_is_optimum = true;
  }

  std::vector<std::vector<FrontPoint>> all_fronts;
  for (const auto& c : curves) all_fronts.push_back(c.front);
  if (o.true_front) all_fronts.push_back(*o.true_front);  // the ideal and nadir of the whole space
  const Normalisation norm = Normalisation::over(all_fronts);
  const std::optional<double> true_volume =
      o.true_front ? std::optional<double>(hypervolume(*o.true_front, norm)) : std::nullopt;
  for (const auto& agent : o.agents) {
    AgentRow row;
    row.agent = agent;
    std::vector<double> bests, volumes;
    for (const auto& c : curves)
      if (c.agent == agent) volumes.push_back(hypervolume(c.front, norm));
    double sum95 = 0, sum99 = 0;
    for (const auto& c : curves) {
      if (c.agent != agent) continue;
      bests.push_back(c.best);
      row.wall_seconds += c.seconds;
      auto reach = [&](double fraction) -> std::optional<double> {
        if (result.reference <= 0) return std::nullopt;  // fractions of a non-positive reference mean nothing
        for (std::size_t i = 0; i < c.best_so_far.size(); ++i)
          if (c.best_so_far[i] >= fraction * result.reference) return static_cast<double>(i + 1);
        return std::nullopt;
      };
      if (auto e = reach(0.95)) {
        sum95 += *e;
        ++row.reached_95;
      }
      if (auto e = reach(0.99)) {
        sum99 += *e;
        ++row.reached_99;
      }
    }
    row.runs = static_cast<int>(bests.size());
    for (double b : bests) row.mean += b / row.runs;
    for (double b : bests) row.stddev += (b - row.mean) * (b - row.mean);
    row.stddev = row.runs > 1 ? std::sqrt(row.stddev / (row.runs - 1)) : 0;
    row.ci95 = row.runs > 1 ? t95(row.runs) * row.stddev / std::sqrt(static_cast<double>(row.runs)) : 0;
    if (row.reached_95) row.evals_to_95 = sum95 / row.reached_95;
    if (row.reached_99) row.evals_to_99 = sum99 / row.reached_99;
    row.regret = result.reference - row.mean;
    double hv_sd = 0;
    for (double v : volumes) row.hypervolume += v / static_cast<double>(volumes.size());
    for (double v : volumes) hv_sd += (v - row.hypervolume) * (v - row.hypervolume);
    const int nv = static_cast<int>(volumes.size());
    row.hypervolume_ci95 = nv > 1 ? t95(nv) * std::sqrt(hv_sd / (nv - 1)) / std::sqrt(static_cast<double>(nv)) : 0;
    if (true_volume) row.hypervolume_regret = *true_volume - row.hypervolume;
    row.wall_seconds /= std::max(1, row.runs);
    result.rows.push_back(row);
  }

  // leaderboard.csv and leaderboard.md, best mean first.
  auto rows = result.rows;
  std::stable_sort(rows.begin(), rows.end(), [](const AgentRow& a, const AgentRow& b) { return a.mean > b.mean; });
  auto fmt = [](double v, int digits = 3) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(digits) << v;
    return os.str();
  };
  auto opt = [&](const std::optional<double>& v, int reached, int runs) {
    return v ? fmt(*v, 1) + (reached < runs ? " (" + std::to_string(reached) + "/" + std::to_string(runs) + ")" : "")
             : std::string("never");
  };
  std::ostringstream csv, md;
  csv << "agent,runs,mean_best,std_best,ci95_low,ci95_high,regret,evals_to_95pct,reached_95pct,evals_to_99pct,"
         "reached_99pct,wall_seconds_per_run,hypervolume,hypervolume_ci95,hypervolume_regret\n";
  if (result.reference <= 0)
    result.notices.push_back("no admissible design was found: evaluations-to-x% are not defined");
  md << "# Leaderboard: " << o.task.name << "\n\n"
     << o.seeds << " seeds per agent, budget " << o.budget << " evaluations. Reference objective "
     << fmt(result.reference) << (result.reference_is_optimum ? " (the true optimum)" : " (the best any run found)")
     << "; higher is better.\n\n";
  for (const auto& [agent, hyper] : o.hyper) md << "Hyper-parameters of " << agent << ": `" << hyper.dump() << "`.\n\n";
  for (const auto& [agent, runs] : o.init) {
    if (runs.size() == 1) {
      md << agent << " starts from the policy pretrained in `" << runs.front().string()
         << "` (--init): its first evaluation is that policy's zero-shot design, then " << o.budget - 1
         << " of fine-tuning; the pretraining's own evaluations are not counted here.\n\n";
      continue;
    }
    md << agent << " starts from " << runs.size() << " policies pretrained in";
    for (std::size_t i = 0; i < runs.size(); ++i) md << (i ? ", `" : " `") << runs[i].string() << "`";
    md << " (--init): its first " << runs.size() << " evaluations are their zero-shot designs, then "
       << o.budget - static_cast<long long>(runs.size())
       << " of fine-tuning from the policy whose design was best; the pretraining's own evaluations are not counted here.\n\n";
  }
  md << "| agent | best reward, mean | std | 95% CI | regret | evals to 95% | evals to 99% | hypervolume (95% CI) |"
     << (true_volume ? " hypervolume regret |" : "") << " wall s/run |\n"
     << "|---|---|---|---|---|---|---|---|" << (true_volume ? "---|" : "") << "---|\n";
  for (const auto& r : rows) {
    csv << r.agent << "," << r.runs << "," << r.mean << "," << r.stddev << "," << r.mean - r.ci95 << "," << r.mean + r.ci95
        << "," << r.regret << "," << (r.evals_to_95 ? fmt(*r.evals_to_95, 1) : "") << "," << r.reached_95 << ","
        << (r.evals_to_99 ? fmt(*r.evals_to_99, 1) : "") << "," << r.reached_99 << "," << r.wall_seconds << ","
        << r.hypervolume << "," << r.hypervolume_ci95 << ","
        << (r.hypervolume_regret ? fmt(*r.hypervolume_regret, 4) : "") << "\n";
    md << "| " << r.agent << " | " << fmt(r.mean) << " | " << (r.runs > 1 ? fmt(r.stddev) : "-") << " | "
       << (r.runs > 1 ? "[" + fmt(r.mean - r.ci95) + ", " + fmt(r.mean + r.ci95) + "]" : "- (one seed)") << " | " << fmt(r.regret) << " | " << opt(r.evals_to_95, r.reached_95, r.runs) << " | "
       << opt(r.evals_to_99, r.reached_99, r.runs) << " | " << fmt(r.hypervolume)
       << (r.runs > 1 ? " ± " + fmt(r.hypervolume_ci95) : std::string()) << " | "
       << (r.hypervolume_regret ? fmt(*r.hypervolume_regret) + " | " : std::string()) << fmt(r.wall_seconds, 1) << " |\n";
  }
  md << "\nEvaluations to x%: the first evaluation whose best-so-far reward reaches x% of the reference, mean over\n"
        "the seeds that reached it (reached/seeds in brackets). Plots: sample_efficiency.svg / .png (and, where the\n"
        "optimum is known, regret.svg / .png on a log axis; beyond four agents, one panel per agent).\n"
        "Hypervolume: of each run's Pareto front on transistors and workload cycles (both lower is better), on a\n"
        "log scale normalised over every admissible design of this comparison, reference point (1.1, 1.1); at most\n"
        "1.21, larger is better, comparable only within this table. Fronts: pareto.svg / .png (`chipgym pareto DIR`).\n";
  if (true_volume)
    md << "Hypervolume regret: the hypervolume of the whole space's front (the exhaustive run of `chipgym optimum`, "
       << fmt(*true_volume) << " here, normalised with the runs) minus the agent's mean; 0 is the true front.\n";
  write_atomically(o.out / "leaderboard.csv", csv.str());
  write_atomically(o.out / "leaderboard.md", md.str());
  result.files = {(o.out / "leaderboard.md").string(), (o.out / "leaderboard.csv").string()};

  // Sample-efficiency data: per agent and evaluation, the mean best-so-far over seeds and its 95%
  // interval (Student t; one seed: the band is the line), then min and max; where the optimum is
  // known, the regret (optimum - best so far) of the mean and of the band's ends, floored at
  // `floor` so that a log axis can draw a regret of 0.
  const bool regret_plot = result.reference_is_optimum && result.reference > 0;
  const double floor = 1e-4 * std::abs(result.reference);
  std::ostringstream data;
  data << "# eval mean lo hi min max" << (regret_plot ? " regret regret_lo regret_hi" : "") << "\n";
  double y_lo = 1e300, y_hi = -1e300;
  std::vector<std::string> plotted;  // agents with data, in order (their block in curves.dat)
  for (const auto& agent : o.agents) {
    std::ostringstream block;
    for (long long i = 0; i < o.budget; ++i) {
      std::vector<double> values;
      for (const auto& c : curves) {
        if (c.agent != agent || c.best_so_far.empty()) continue;
        values.push_back(c.best_so_far[std::min<std::size_t>(static_cast<std::size_t>(i), c.best_so_far.size() - 1)]);
      }
      if (values.empty()) continue;
      const int n = static_cast<int>(values.size());
      double mean = 0, var = 0;
      for (double v : values) mean += v / n;
      for (double v : values) var += (v - mean) * (v - mean);
      const double half = n > 1 ? t95(n) * std::sqrt(var / (n - 1)) / std::sqrt(static_cast<double>(n)) : 0.0;
      y_lo = std::min(y_lo, mean - half);
      y_hi = std::max(y_hi, mean + half);
      block << i + 1 << " " << mean << " " << mean - half << " " << mean + half << " "
            << *std::min_element(values.begin(), values.end()) << " " << *std::max_element(values.begin(), values.end());
      if (regret_plot) {
        const double ref = result.reference;
        block << " " << std::max(floor, ref - mean) << " " << std::max(floor, ref - (mean + half)) << " "
              << std::max(floor, ref - (mean - half));
      }
      block << "\n";
    }
    if (block.str().empty()) continue;
    data << "# " << agent << "\n" << block.str() << "\n\n";
    plotted.push_back(agent);
  }
  // One plot with a line and band per agent up to four agents; beyond four, small multiples
  // (one panel per agent, the same axes), so that bands do not hide one another.
  const bool multiples = plotted.size() > 4;
  auto script = [&](const std::string& name, int mean, int lo, int hi, const std::string& ylabel, bool log_y,
                    const std::string& title) {
    std::ostringstream g;
    const int cols = multiples ? (plotted.size() > 6 ? 3 : 2) : 1;
    const int rows = multiples ? static_cast<int>((plotted.size() + cols - 1) / cols) : 1;
    const int width = multiples ? 420 * cols : 900, height = multiples ? 300 * rows : 560;
    std::ostringstream axes;
    axes << "set xlabel 'evaluations'\nset ylabel '" << ylabel << "'\nset grid\nset key bottom right\n"
         << "set style fill transparent solid 0.2 noborder\nset xrange [1:" << std::max<long long>(2, o.budget) << "]\n";
    if (log_y) {
      axes << "set logscale y\nset yrange [" << floor << ":*]\nset key top right\n";
    } else if (y_lo < y_hi) {
      const double pad = 0.05 * (y_hi - y_lo);
      axes << "set yrange [" << y_lo - pad << ":" << y_hi + pad << "]\n";
    }
    auto band = [&](std::size_t b, bool titled) {
      const std::string idx = "'curves.dat' index " + std::to_string(b), lc = " lc " + std::to_string(b + 1);
      return idx + " using 1:" + std::to_string(lo) + ":" + std::to_string(hi) + " with filledcurves notitle" + lc + ", " +
             idx + " using 1:" + std::to_string(mean) + " with lines lw 2" + lc +
             (titled ? " title '" + plotted[b] + "'" : " notitle");
    };
    std::string body;
    if (multiples) {
      body = "set multiplot layout " + std::to_string(rows) + "," + std::to_string(cols) + " title '" + title + "'\n";
      for (std::size_t b = 0; b < plotted.size(); ++b) body += "set title '" + plotted[b] + "'\nplot " + band(b, false) + "\n";
      body += "unset multiplot\n";
    } else {
      body = "set title '" + title + "'\nplot ";
      for (std::size_t b = 0; b < plotted.size(); ++b) body += (b ? ", " : "") + band(b, true);
      body += "\n";
    }
    g << axes.str() << "set terminal svg size " << width << "," << height << " dynamic\nset output '" << name << ".svg'\n"
      << body << "set terminal pngcairo size " << width << "," << height << "\nset output '" << name << ".png'\n" << body;
    return g.str();
  };
  const std::string what = o.task.name + " (" + std::to_string(o.seeds) + " seeds, mean, band = 95% interval)";
  std::vector<std::pair<std::string, std::string>> plots = {
      {"sample_efficiency", script("sample_efficiency", 2, 3, 4, "best reward so far", false, "sample efficiency: " + what)}};
  if (regret_plot) {
    std::ostringstream label;
    label << "regret: optimum - best so far (log; 0 drawn at " << floor << ")";
    plots.push_back({"regret", script("regret", 7, 8, 9, label.str(), true, "regret: " + what)});
  }
  write_atomically(o.out / "curves.dat", data.str());
  {  // each agent's fronts, its seeds united
    std::vector<std::pair<std::string, std::vector<FrontPoint>>> fronts;
    for (const auto& agent : o.agents) {
      std::vector<FrontPoint> united;
      for (const auto& c : curves)
        if (c.agent == agent) united.insert(united.end(), c.front.begin(), c.front.end());
      fronts.push_back({agent, pareto_front(united)});
    }
    plot_fronts(fronts, "Pareto fronts: " + o.task.name + " (" + std::to_string(o.seeds) + " seeds united)", o.out,
                result.files, result.notices, o.task.area_objective());
  }
  for (const auto& [name, text] : plots) {
    write_atomically(o.out / (name + ".gp"), text);
    evaluators::RunRequest req;
    req.argv = {"gnuplot", name + ".gp"};
    req.cwd = o.out;
    req.limits.wall_seconds = 60;
    auto r = evaluators::run_process(req);
    if (r.ok()) {
      result.files.push_back((o.out / (name + ".svg")).string());
      result.files.push_back((o.out / (name + ".png")).string());
    } else {
      result.notices.push_back("no plot: " + r.describe("gnuplot") + " (install gnuplot-nox; the data is in curves.dat, the script in " +
                               name + ".gp)");
    }
  }
  return result;
}

}  // namespace chipgym::runs

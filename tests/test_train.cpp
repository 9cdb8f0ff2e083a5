// chipgym train: run directories, agents, resume after SIGKILL, bad input.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <fstream>
#include <set>
#include <thread>

#include "agents/searcher.h"
#include "env/env.h"
#include "env/multi_agent_env.h"
#include "env/vector_env.h"
#include "test_support.h"

using namespace chipgym;
using json = nlohmann::json;
using test_support::kTinyTask;
using test_support::run_chipgym;

namespace {


std::size_t count_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

}  // namespace

TEST_CASE("spaces sample with a seed, check membership and round-trip through JSON") {
  auto md = env::Space::multi_discrete({2, 3, 5});
  std::mt19937_64 a(7), b(7);
  for (int i = 0; i < 50; ++i) {
    auto x = md.sample(a);
    CHECK(x == md.sample(b));
    CHECK(md.contains(x));
  }
  CHECK_FALSE(md.contains(std::vector<long long>{2, 0, 0}));
  CHECK_FALSE(md.contains(std::vector<long long>{0, 0}));
  CHECK(md.size() == 30);
  CHECK(env::Space::from_json(md.to_json()) == md);
  auto box = env::Space::box({0, -1}, {1, 1});
  CHECK(env::Space::from_json(box.to_json()) == box);
  CHECK(box.contains(box.sample_box(a)));
  CHECK_FALSE(box.contains(std::vector<double>{2, 0}));
  CHECK(env::Space::from_json(env::Space::discrete(4).to_json()).nvec() == std::vector<long long>{4});
  CHECK_THROWS_WITH(env::Space::from_json(json{{"type", "Tuple"}}), Catch::Contains("unknown space type"));
  CHECK_THROWS_AS(env::Space::discrete(0), hdl::ParamError);
}

TEST_CASE("the observation carries the workload's features: MACs, GEMMs, intensity, histograms of M, K and N") {
  // gemm-tiny: one 4x8x4 GEMM, 128 MACs, 128 bytes of minimum traffic (intensity 1).
  const auto f = env::workload_features(json{{"shapes", {{4, 8, 4}}}});
  REQUIRE(f.size() == env::workload_feature_names().size());
  REQUIRE(f.size() == 24);
  CHECK(f[0] == Approx(std::log10(129.0) / 12));
  CHECK(f[1] == Approx(std::log10(2.0) / 6));
  CHECK(f[2] == Approx(1.0 / 8));  // log2(1 + 1) / 8
  for (int d = 0; d < 3; ++d)      // log2 4 = 2, log2 8 = 3: all MACs in the bin [2, 4)
    for (int b = 0; b < 7; ++b) CHECK(f[static_cast<std::size_t>(3 + 7 * d + b)] == (b == 1 ? 1.0 : 0.0));
  CHECK(env::workload_feature_names()[3 + 1] == "share_log2_m_2_4");
  CHECK(env::workload_feature_names().back() == "share_log2_n_12_up");
  // Two GEMMs weighted by their MACs: 3 x 64x64x64 against 1 x 4x4x4 (a 4096th of one).
  const auto g = env::workload_features(json{{"shapes", {{64, 64, 64, 3}, {4, 4, 4}}}});
  const double big = 3.0 * 64 * 64 * 64, small = 64, total = big + small;
  CHECK(g[0] == Approx(std::log10(1 + total) / 12));
  CHECK(g[1] == Approx(std::log10(5.0) / 6));
  CHECK(g[3 + 3] == Approx(big / total));  // M = 64: bin [6, 8)
  CHECK(g[3 + 1] == Approx(small / total));
  // Not a GEMM workload: no features. Malformed shapes: the gemm family's error.
  CHECK(env::workload_features(json{{"patterns", {"random"}}, {"seed", 1}}).empty());
  CHECK_THROWS_WITH(env::workload_features(json{{"shapes", {{0, 1, 1}}}}), Catch::Contains("must be in 1.."));
  // MACs are counted in 64 bits: a shape or a workload beyond 2^52 MACs is refused, not wrapped.
  CHECK_THROWS_WITH(env::workload_features(json{{"shapes", {{1 << 24, 1 << 24, 1 << 24}}}}), Catch::Contains("more than 2^52 MACs"));
  CHECK_THROWS_WITH(env::workload_features(json{{"shapes", {{1 << 16, 1 << 16, 1 << 16, 1 << 4}, {1 << 16, 1 << 16, 1 << 16, 1 << 4}}}}),
                    Catch::Contains("in all"));

  // In the Env: parameters, then the features (constant over a run), then the metrics.
  auto task = env::Task::from_json(json::parse(kTinyTask));
  env::Env e(task, {}, nullptr);
  const auto names = e.observation_names();
  REQUIRE(names.size() == 3 + 24 + 4);
  CHECK(e.observation_space().dims() == names.size());
  CHECK(names[0] == "param:rows");
  CHECK(names[3] == "workload:log10_macs/12");
  CHECK(names.back() == "metric:reward/100+1");
  const auto obs = e.reset(1);
  CHECK(std::vector<double>(obs.begin() + 3, obs.end() - 4) == f);
  auto other = json::parse(kTinyTask);
  other["workload"]["shapes"] = {{64, 64, 64, 3}, {4, 4, 4}};
  env::Env e2(env::Task::from_json(other), {}, nullptr);
  const auto obs2 = e2.reset(1);
  CHECK(std::vector<double>(obs2.begin() + 3, obs2.end() - 4) == g);
  // A task without GEMM shapes keeps the old layout: parameters and metrics.
  env::Env s(env::task("sha256-miner"), {}, nullptr);
  CHECK(s.observation_space().dims() == s.param_names().size() + 4);
}

TEST_CASE("Env: absolute one-step episodes and incremental edits with transactional moves") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));

  env::Env absolute(task, {}, pipeline);
  CHECK(absolute.action_space().to_json() == json{{"type", "MultiDiscrete"}, {"nvec", {2, 2, 2}}});
  auto obs = absolute.reset(1);
  CHECK(absolute.observation_space().contains(obs));
  auto r = absolute.step({1, 1, 0});  // rows=2, cols=2, os
  CHECK(r.terminated);
  CHECK(r.reward > 0);
  CHECK(r.info["params"]["rows"] == 2);
  CHECK(r.info["params"]["dataflow"] == "os");
  CHECK(absolute.observation_space().contains(r.observation));
  CHECK_THROWS_WITH(absolute.step({0, 0, 0}), Catch::Contains("reset()"));
  absolute.reset(1);
  CHECK_THROWS_WITH(absolute.step({2, 0, 0}), Catch::Contains("outside the action space"));

  env::EnvConfig incremental_config;
  incremental_config.formulation = "incremental";
  incremental_config.max_steps = 3;
  env::Env incremental(task, incremental_config, pipeline);
  // keep + (down, up) for rows, cols, dataflow + transfers rows->cols, cols->rows.
  CHECK(incremental.action_space().to_json() == json{{"type", "Discrete"}, {"n", 1 + 6 + 2}});
  incremental.reset(1);  // baseline: the defaults (rows=4, cols=4) snapped to rows=2, cols=2, os
  auto s1 = incremental.step({7});  // transfer: rows down one value, cols up one: cols is at its top
  CHECK(s1.info["invalid_move"] == true);
  auto s2 = incremental.step({1});  // rows down
  CHECK(s2.info["invalid_move"] == false);
  CHECK(s2.info["params"]["rows"] == 1);
  CHECK_FALSE(s2.truncated);
  auto s3 = incremental.step({8});  // transfer cols -> rows: rows 2, cols 1
  CHECK(s3.info["params"]["rows"] == 2);
  CHECK(s3.info["params"]["cols"] == 1);
  CHECK(s3.truncated);  // max_steps reached
}

TEST_CASE("VectorEnv steps its environments concurrently and agrees with one Env, design for design") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  env::VectorEnv v(task, {}, 4, 2, pipeline);
  auto obs = v.reset(3);
  CHECK(obs.size() == 4);
  std::vector<std::vector<long long>> actions = {{0, 0, 0}, {1, 0, 1}, {0, 1, 0}, {1, 1, 1}};
  auto results = v.step(actions);
  env::Env single(task, {}, pipeline);
  for (std::size_t i = 0; i < actions.size(); ++i) {
    single.reset(0);
    auto r = single.step(actions[i]);
    CHECK(results[i].reward == r.reward);
    CHECK(results[i].info["params"] == r.info["params"]);
    CHECK(results[i].terminated);
  }
  // Finished episodes reset themselves on the next step; the repeated designs are cache hits.
  auto again = v.step(actions);
  for (auto& r : again) CHECK(r.info["cache_hit"] == true);
  CHECK_THROWS_WITH(v.step({{0, 0, 0}}), Catch::Contains("needs 4 actions, got 1"));
  CHECK_THROWS_WITH(v.step({{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 5}}), Catch::Contains("outside the action space"));
}

TEST_CASE("VectorEnv resets an environment in the step that ends its episode and returns the new episode's first observation") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  env::EnvConfig incremental;
  incremental.formulation = "incremental";
  incremental.max_steps = 2;
  env::VectorEnv v(task, incremental, 2, 2, pipeline);
  auto first = v.reset(0);  // the baseline: rows=2, cols=2, os
  CHECK(first[0][0] == 1.0);
  auto s1 = v.step({{1}, {0}});  // environment 0: rows down; environment 1: keep
  CHECK_FALSE(s1[0].truncated);
  CHECK_FALSE(s1[0].info.contains("final_observation"));
  CHECK(s1[0].observation[0] == 0.0);
  auto s2 = v.step({{0}, {0}});  // the second edit ends both episodes
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(s2[i].truncated);
    CHECK(s2[i].observation == first[i]);  // the first observation of the new episode
  }
  CHECK(s2[0].info["final_observation"][0] == 0.0);  // the ended episode's last: rows down
  CHECK(s2[0].info["params"]["rows"] == 1);
  auto s3 = v.step({{0}, {0}});  // acts in the new episode, from the baseline
  CHECK(s3[0].info["params"]["rows"] == 2);
  CHECK(s3[0].info["step"] == 1);
}

TEST_CASE("MultiAgentVectorEnv steps multi-agent environments with the same autoreset and agrees with one MultiAgentEnv") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  env::MultiAgentVectorEnv v(task, {}, 2, 2, pipeline);
  auto first = v.reset(0);
  REQUIRE(first.size() == 2);
  std::map<std::string, std::vector<long long>> low, high;
  for (const auto& agent : v.at(0).agents()) {
    const auto n = v.at(0).action_space(agent).nvec().size();
    low[agent] = std::vector<long long>(n, 0);
    high[agent] = std::vector<long long>(n, 1);
  }
  auto results = v.step({low, high});
  env::MultiAgentEnv single(task, {}, pipeline);
  for (std::size_t i = 0; i < 2; ++i) {
    single.reset(0);
    auto r = single.step(i == 0 ? low : high);
    CHECK(results[i].rewards == r.rewards);
    CHECK(results[i].info["params"] == r.info["params"]);
    CHECK(results[i].terminated);
    CHECK(results[i].observations == first[i]);  // reset at once: the next episode's first
    CHECK(results[i].info["final_observation"] == json(r.observations));
  }
  CHECK_THROWS_WITH(v.step({low, {}}), Catch::Contains("no action for agent"));
  CHECK_THROWS_WITH(v.step({low}), Catch::Contains("needs 2 actions, got 1"));
}

TEST_CASE("MultiAgentEnv: agents act in parallel on their own parameters for one team reward") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  std::map<std::string, std::vector<std::string>> groups = {{"compute", {"rows", "cols"}}, {"dataflow", {"dataflow"}}};
  env::MultiAgentEnv ma(task, {}, pipeline, groups);
  CHECK(ma.agents() == std::vector<std::string>{"compute", "dataflow"});
  CHECK(ma.action_space("compute").to_json() == json{{"type", "MultiDiscrete"}, {"nvec", {2, 2}}});
  auto obs = ma.reset(0);
  CHECK(obs["compute"].size() == 2 + 24 + 4);  // own parameters, the workload's features, metrics
  CHECK(obs["dataflow"].size() == 1 + 24 + 4);
  auto r = ma.step({{"compute", {1, 0}}, {"dataflow", {1}}});  // rows=2, cols=1, ws
  env::Env single(task, {}, pipeline);
  single.reset(0);
  auto s = single.step({1, 0, 1});
  CHECK(r.rewards["compute"] == s.reward);
  CHECK(r.rewards["dataflow"] == s.reward);
  CHECK(r.terminated);
  CHECK(r.info["params"]["dataflow"] == "ws");
  CHECK(ma.observation_space("compute").contains(r.observations["compute"]));
  ma.reset(0);
  CHECK_THROWS_WITH(ma.step({{"compute", {1, 0}}}), Catch::Contains("no action for agent 'dataflow'"));
  CHECK_THROWS_WITH(ma.step({{"compute", {1, 0}}, {"dataflow", {1}}, {"memory", {0}}}),
                    Catch::Contains("unknown agent 'memory'"));
  CHECK_THROWS_WITH(env::MultiAgentEnv(task, {}, pipeline, {{"compute", {"rows"}}, {"dataflow", {"dataflow"}}}),
                    Catch::Contains("'cols' belongs to 0 agents"));
  // The gemm-int8 task splits compute, memory and dataflow.
  env::MultiAgentEnv gemm(env::task("gemm-int8"), {}, nullptr);
  CHECK(gemm.agents() == std::vector<std::string>{"compute", "dataflow", "memory"});
}

TEST_CASE("MultiAgentEnv: an agent that declares its subsystem's view observes just those entries of the joint observation") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  json j = json::parse(kTinyTask);
  j["agents"] = {{"compute", {{"params", {"rows", "cols"}},
                              {"observes", {"workload:share_log2_m*", "workload:share_log2_n*", "metric:log10_cycles", "param:dataflow"}}}},
                 {"dataflow", {"dataflow"}}};
  auto task = env::Task::from_json(j);
  CHECK(task.agent_groups()["compute"] == std::vector<std::string>{"rows", "cols"});
  env::MultiAgentEnv ma(task, {}, pipeline);
  const auto names = ma.observation_names("compute");
  REQUIRE(names.size() == 2 + 1 + 7 + 7 + 1);
  // Its own parameters first, then the selected entries in the joint observation's order.
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 4) ==
        std::vector<std::string>{"param:rows", "param:cols", "param:dataflow", "workload:share_log2_m_0_2"});
  CHECK(names.back() == "metric:log10_cycles");
  CHECK(ma.observation_space("compute").dims() == names.size());
  CHECK(ma.observation_names("dataflow").size() == 1 + 24 + 4);  // no view declared: what every agent shares
  // The values are the joint observation's, entry for entry, after a step.
  env::Env single(task, {}, pipeline);
  const auto joint_names = single.observation_names();
  ma.reset(0);
  auto r = ma.step({{"compute", {1, 0}}, {"dataflow", {1}}});
  single.reset(0);
  auto s = single.step({1, 0, 1});
  REQUIRE(r.observations["compute"].size() == names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto at = std::find(joint_names.begin(), joint_names.end(), names[i]) - joint_names.begin();
    INFO(names[i]);
    CHECK(r.observations["compute"][i] == s.observation[static_cast<std::size_t>(at)]);
  }
  CHECK(ma.observation_space("compute").contains(r.observations["compute"]));
  // Bad views are refused by name.
  auto refused = [&](json agents, const std::string& why) {
    json bad = json::parse(kTinyTask);
    bad["agents"] = agents;
    CHECK_THROWS_WITH(env::MultiAgentEnv(env::Task::from_json(bad), {}, nullptr), Catch::Contains(why));
  };
  refused({{"compute", {{"params", {"rows", "cols"}}, {"observes", {"workload:depth*"}}}}, {"dataflow", {"dataflow"}}},
          "agent 'compute' observes 'workload:depth*', which names no entry of gemm-tiny's observation; the entries are param:rows");
  refused({{"compute", {{"params", {"rows", "cols"}}, {"sees", {"metric:*"}}}}, {"dataflow", {"dataflow"}}},
          "agent 'compute' has an unknown key \"sees\"");
  refused({{"compute", {{"params", {"rows", "cols"}}, {"observes", "metric:*"}}}, {"dataflow", {"dataflow"}}},
          "\"observes\" must be a list of observation names");
}

TEST_CASE("compare runs every agent on every seed and writes a leaderboard and a sample-efficiency plot") {
  evaluators::TempDir dir("chipgym-compare-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const auto out = dir.path() / "cmp";
  // Ground truth first: every design once; the optimum is then recorded in the cache.
  auto truth = run_chipgym({"optimum", "--task-file", task_file.string(), "--out", (dir.path() / "optimum").string(),
                            "--cache-dir", (dir.path() / "cache").string(), "--json"});
  INFO(truth.out << truth.err);
  REQUIRE(truth.ok());
  CHECK(json::parse(truth.out)["designs"] == 8);
  // Another workload is another truth (the same syntheses, from the cache; other cycles).
  auto decode = run_chipgym({"optimum", "--task-file", task_file.string(), "--workload", "zoo:gpt2-decode", "--out",
                             (dir.path() / "optimum-decode").string(), "--cache-dir", (dir.path() / "cache").string(), "--json"});
  INFO(decode.out << decode.err);
  REQUIRE(decode.ok());
  CHECK(json::parse(decode.out)["designs"] == 8);
  CHECK(json::parse(decode.out)["optimum"] != json::parse(truth.out)["optimum"]);
  auto r = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,grid", "--seeds", "2",
                        "--budget", "8", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  for (const char* f : {"leaderboard.md", "leaderboard.csv", "sample_efficiency.svg", "sample_efficiency.png",
                        "random-0/events.jsonl", "random-1/events.jsonl", "grid-0/summary.json", "grid-1/summary.json"})
    CHECK(std::filesystem::exists(out / f));
  std::ifstream csv(out / "leaderboard.csv");
  std::string header, first, second;
  std::getline(csv, header);
  std::getline(csv, first);
  std::getline(csv, second);
  CHECK_THAT(header, Catch::StartsWith("agent,runs,mean_best,std_best,ci95_low,ci95_high,regret,evals_to_95pct"));
  // Grid enumerates all 8 designs: it finds the optimum on both seeds, regret 0.
  CHECK_THAT(first + second, Catch::Contains("grid,2,18.67"));
  CHECK_THAT(r.out, Catch::Contains("(the true optimum)"));
  CHECK_THAT(r.err, Catch::Contains("regret against the recorded optimum"));
  CHECK(std::filesystem::file_size(out / "sample_efficiency.png") > 1000);
  // The band is the mean's 95% interval over seeds (then min and max): grid's two seeds are
  // the same run, so its band has no width.
  {
    std::ifstream curves(out / "curves.dat");
    std::string line, agent;
    int rows = 0;
    while (std::getline(curves, line)) {
      if (line.rfind("# ", 0) == 0) agent = line.substr(2);
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      double eval = 0, mean = 0, lo = 0, hi = 0, min = 0, max = 0;
      REQUIRE(static_cast<bool>(in >> eval >> mean >> lo >> hi >> min >> max));
      CHECK(lo <= mean);
      CHECK(mean <= hi);
      CHECK(min <= max);
      if (agent == "grid") CHECK(lo == hi);
      ++rows;
    }
    CHECK(rows == 16);
  }
  // The optimum is known: regret on a log axis, and the hypervolume regret against the front of
  // the exhaustive run (grid evaluates all 8 designs, so its front is the true one).
  CHECK(std::filesystem::file_size(out / "regret.png") > 1000);
  {
    std::stringstream gp;
    gp << std::ifstream(out / "regret.gp").rdbuf();
    CHECK_THAT(gp.str(), Catch::Contains("set logscale y") && Catch::Contains("using 1:7 with lines"));
    std::stringstream md;
    md << std::ifstream(out / "leaderboard.md").rdbuf();
    CHECK_THAT(md.str(), Catch::Contains("| hypervolume regret |") && Catch::Contains("exhaustive run"));
    std::ifstream lb(out / "leaderboard.csv");
    std::string line;
    bool grid_seen = false;
    while (std::getline(lb, line))
      if (line.rfind("grid,", 0) == 0) {
        grid_seen = true;
        CHECK_THAT(line, Catch::EndsWith(",0.0000"));
      } else if (line.rfind("random,", 0) == 0) {
        CHECK_FALSE(line.back() == ',');  // a regret is reported for every agent
      }
    CHECK(grid_seen);
  }
  // Beyond four agents the sample-efficiency plot is small multiples: one panel per agent.
  {
    const auto many = dir.path() / "many";
    auto m = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,grid,sa,ga,tpe", "--seeds", "1",
                          "--budget", "3", "--out", many.string(), "--cache-dir", (dir.path() / "cache").string()});
    INFO(m.out << m.err);
    REQUIRE(m.ok());
    std::stringstream gp;
    gp << std::ifstream(many / "sample_efficiency.gp").rdbuf();
    CHECK_THAT(gp.str(), Catch::Contains("set multiplot layout 3,2") && Catch::Contains("set title 'tpe'"));
    CHECK(std::filesystem::file_size(many / "sample_efficiency.png") > 1000);
  }
  // Running it again resumes every finished run instead of starting over.
  auto again = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,grid", "--seeds", "2",
                            "--budget", "8", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()});
  CHECK(again.ok());
  CHECK(test_support::read_jsonl(out / "random-0" / "events.jsonl").size() == 8);
  auto bad = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,bo", "--out", out.string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("unknown agent 'bo'"));
}

TEST_CASE("a target-specification task rewards the smallest design that meets the cycle target") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  task.budget = {{"kind", "target"}, {"max_cycles", 120}};
  env::Env e(task, {}, pipeline);
  e.reset(0);
  auto fast = e.step({1, 1, 0});  // 2x2 os: 88 cycles on the workload
  e.reset(0);
  auto slow = e.step({0, 0, 0});  // 1x1 os: too slow for the target
  CHECK(fast.info["metrics"]["cycles"].get<long long>() <= 120);
  CHECK(fast.info["score"]["meets_target"] == true);
  CHECK(fast.reward == Approx(1e6 / fast.info["metrics"]["transistors"].get<double>()));
  CHECK(slow.info["metrics"]["cycles"].get<long long>() > 120);
  CHECK(slow.info["score"]["meets_target"] == false);
  CHECK(slow.reward == -1);
  CHECK(env::task("gemm-int8-target").budget["kind"] == "target");
}

TEST_CASE("an FPGA-bound task rewards throughput per iCE40 LUT within the device's DSPs") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  auto task = env::Task::from_json(json::parse(kTinyTask));
  task.budget = {{"kind", "fpga"}, {"max_luts", 5280}, {"max_dsps", 2}};
  task.objectives = {"luts", "cycles"};
  REQUIRE(task.needs_fpga());
  env::Env e(task, {}, pipeline);
  e.reset(0);
  auto small = e.step({0, 0, 0});  // 1x1: one multiplier, one SB_MAC16
  e.reset(0);
  auto big = e.step({1, 1, 0});  // 2x2: four DSPs, over a budget of two
  const auto& m = small.info["metrics"];
  REQUIRE(m["luts"].get<long long>() > 0);
  CHECK(m["dsps"] == 1);
  CHECK(small.info["score"]["within_budget"] == true);
  CHECK(small.reward == Approx(small.info["score"]["macs_per_cycle"].get<double>() / (m["luts"].get<double>() / 1e3)));
  CHECK(small.info["score"]["objective_unit"] == "MACs/cycle per thousand iCE40 LUTs");
  CHECK(big.info["metrics"]["dsps"] == 4);
  CHECK(big.info["score"]["within_budget"] == false);
  CHECK(big.reward == -1);
  const auto& builtin = env::task("gemm-int8-ice40");
  CHECK(builtin.budget["kind"] == "fpga");
  CHECK(builtin.budget["max_dsps"] == 8);
  CHECK(builtin.area_objective() == "luts");
}

TEST_CASE("black-box agents: unknown names and hyper-parameters list the valid ones, and grid covers the space") {
  auto space = env::Space::multi_discrete({2, 3});
  CHECK_THROWS_WITH(agents::make_searcher("bo", space, 1), Catch::Contains("known agents: random, grid, sa, ga, tpe"));
  CHECK_THROWS_WITH(agents::make_searcher("ga", space, 1, json{{"populaton", 8}}),
                    Catch::Contains("no hyper-parameter 'populaton'") && Catch::Contains("population, tournament"));
  CHECK_THROWS_WITH(agents::make_searcher("sa", space, 1, json{{"cooling", 2.0}}), Catch::Contains("cooling in (0, 1]"));
  auto grid = agents::make_searcher("grid", space, 1);
  std::set<agents::Design> seen;
  while (!grid->done())
    for (auto& d : grid->ask(4)) seen.insert(d);
  CHECK(seen.size() == 6);
  // Deterministic for a seed, and every searcher finds the optimum of a small synthetic
  // objective within a fixed budget.
  auto big = env::Space::multi_discrete({8, 8, 8});
  auto objective = [](const agents::Design& d) { return -std::abs(d[0] - 5.0) - std::abs(d[1] - 2.0) - std::abs(d[2] - 6.0); };
  for (const char* name : {"random", "sa", "ga", "tpe"}) {
    auto run = [&](std::uint64_t seed) {
      auto s = agents::make_searcher(name, big, seed);
      double best = -1e9;
      std::vector<agents::Design> order;
      for (int i = 0; i < 100; ++i) {
        auto xs = s->ask(4);
        std::vector<double> ys;
        for (auto& x : xs) {
          ys.push_back(objective(x));
          best = std::max(best, ys.back());
          order.push_back(x);
        }
        s->tell(xs, ys);
      }
      return std::make_pair(best, order);
    };
    INFO(name);
    auto first = run(11), again = run(11);
    CHECK(first.second == again.second);
    CHECK(first.first == 0.0);
  }
  // The model-based searcher learns: with 40 evaluations, its mean best over ten seeds beats
  // random search's on the same objective.
  auto mean_best = [&](const char* name) {
    double total = 0;
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
      auto s = agents::make_searcher(name, big, seed);
      double best = -1e9;
      for (int i = 0; i < 40; ++i) {
        auto xs = s->ask(1);
        double y = objective(xs[0]);
        best = std::max(best, y);
        s->tell(xs, {y});
      }
      total += best;
    }
    return total / 10;
  };
  const double tpe = mean_best("tpe"), random = mean_best("random");
  INFO("tpe " << tpe << " random " << random);
  CHECK(tpe > random);
}

TEST_CASE("train writes a run directory, refuses bad input, and a run killed with SIGKILL resumes to the same result") {
  evaluators::TempDir dir("chipgym-train-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const std::string cache = (dir.path() / "cache").string();
  auto train_args = [&](const std::filesystem::path& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--task-file", task_file.string(), "--agent", "sa", "--budget", "8",
                                     "--seed", "5", "--out", out.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  // Uninterrupted reference run.
  const auto full = dir.path() / "full";
  auto r = run_chipgym(train_args(full, {"--json"}));
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  json summary = json::parse(r.out);
  CHECK(summary["evaluations"] == 8);
  auto reference = test_support::read_jsonl(full / "events.jsonl");
  REQUIRE(reference.size() == 8);
  for (const char* f : {"config.json", "summary.json", "best/design.json", "best/metrics.json", "best/report.md",
                        "best/gemm_top.v"})
    CHECK(std::filesystem::exists(full / f));
  json config = json::parse(std::ifstream(full / "config.json"));
  CHECK(config["hyper"]["cooling"] == 0.97);
  CHECK(config["seed"] == 5);
  // The run searched at synth; its best was verified at rtl before it was exported: simulated
  // bit-exact against the golden model, iCE40 included.
  {
    const json best_metrics = json::parse(std::ifstream(full / "best" / "metrics.json"));
    CHECK(best_metrics["verified"] == true);
    CHECK(best_metrics["fidelity"] == "rtl");
    CHECK(best_metrics["correct"] == true);
    CHECK(best_metrics["checked"].get<long long>() > 0);
    CHECK(best_metrics["luts"].get<long long>() > 0);
    CHECK(summary["best_verified"] == true);
    const auto checks = test_support::read_jsonl(full / "verify.jsonl");
    REQUIRE(checks.size() == 1);
    CHECK(checks[0]["passed"] == true);
    CHECK(checks[0]["eval"] == summary["best"]["eval"]);
    std::stringstream report;
    report << std::ifstream(full / "best" / "report.md").rdbuf();
    CHECK_THAT(report.str(), Catch::Contains("Verified at rtl when the run ended"));
  }

  SECTION("replay rebuilds the best design from the run directory alone and verifies every metric") {
    auto ok = run_chipgym({"replay", full.string(), "--verify"});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.out, Catch::Contains("every recorded metric reproduced"));
    CHECK_THAT(ok.out, Catch::Contains("verify: the best design is bit-exact at rtl"));
    CHECK(run_chipgym({"replay", full.string(), "--step", "3", "--verify"}).exit_code == 0);
    const auto vcd = dir.path() / "tile.vcd";
    auto wave = run_chipgym({"replay", full.string(), "--vcd", vcd.string()});
    CHECK(wave.exit_code == 0);
    CHECK_THAT(wave.err, Catch::Contains("bit-exact) written to"));
    std::ifstream vcd_in(vcd);
    std::string vcd_text((std::istreambuf_iterator<char>(vcd_in)), std::istreambuf_iterator<char>());
    CHECK_THAT(vcd_text, Catch::Contains("$enddefinitions") && Catch::Contains("c_wr_data"));
    auto out_of_range = run_chipgym({"replay", full.string(), "--step", "8"});
    CHECK(out_of_range.exit_code == 2);
    CHECK_THAT(out_of_range.err, Catch::Contains("out of range") && Catch::Contains("0..7"));
    // A recorded figure that the design does not reproduce fails --verify.
    json metrics = json::parse(std::ifstream(full / "best" / "metrics.json"));
    metrics["cycles"] = metrics["cycles"].get<long long>() + 1;
    std::ofstream(full / "best" / "metrics.json") << metrics.dump();
    auto differs = run_chipgym({"replay", full.string(), "--verify"});
    CHECK(differs.exit_code == 1);
    CHECK_THAT(differs.err, Catch::Contains("differs: cycles"));
  }
  SECTION("killed mid-way, with a torn last line, then resumed") {
    const auto killed = dir.path() / "killed";
    auto args = train_args(killed, {"--no-cache"});  // slow enough to be caught mid-way
    std::vector<char*> argv;
    std::string bin = CHIPGYM_BIN;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setpgid(0, 0);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 1200 && count_lines(killed / "events.jsonl") < 3; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const auto before = count_lines(killed / "events.jsonl");
    REQUIRE(before >= 3);
    REQUIRE(before < 8);
    std::ofstream(killed / "events.jsonl", std::ios::app) << R"({"eval": 99, "batch": 99, "desi)";  // cut by a crash

    auto resumed = run_chipgym({"train", "--agent", "sa", "--resume", "--out", killed.string(), "--cache-dir", cache, "--json"});
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.ok());
    CHECK_THAT(resumed.err, Catch::Contains("torn line"));
    auto events = test_support::read_jsonl(killed / "events.jsonl");
    REQUIRE(events.size() == reference.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      CHECK(events[i]["design"] == reference[i]["design"]);
      CHECK(events[i]["reward"] == reference[i]["reward"]);
    }
    json best = json::parse(std::ifstream(killed / "best" / "design.json"));
    json reference_best = json::parse(std::ifstream(full / "best" / "design.json"));
    CHECK(best["params"] == reference_best["params"]);
    CHECK(json::parse(resumed.out)["best_reward"] == summary["best_reward"]);
  }
  SECTION("a 2-worker run that stopped inside a batch and before exporting its best resumes to the same result") {
    const auto two = dir.path() / "two";
    auto ref = run_chipgym(train_args(two, {"--workers", "2", "--json"}));
    REQUIRE(ref.ok());
    auto events = test_support::read_jsonl(two / "events.jsonl");
    REQUIRE(events.size() == 8);
    CHECK(events[7]["batch"] == 3);
    CHECK(events[7]["batch_size"] == 2);
    const auto cut = dir.path() / "cut";
    std::filesystem::create_directories(cut);
    std::filesystem::copy_file(two / "config.json", cut / "config.json");
    {
      std::ofstream partial(cut / "events.jsonl");
      for (std::size_t i = 0; i < 7; ++i) partial << events[i].dump() << "\n";  // batch 3 half done
    }
    auto resumed = run_chipgym({"train", "--agent", "sa", "--resume", "--out", cut.string(), "--cache-dir", cache});
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.ok());
    CHECK_THAT(resumed.err, Catch::Contains("dropped 1 evaluation(s) of an unfinished batch"));
    auto again = test_support::read_jsonl(cut / "events.jsonl");
    REQUIRE(again.size() == 8);
    for (std::size_t i = 0; i < 8; ++i) CHECK(again[i]["design"] == events[i]["design"]);
    // best/ did not exist in the copy: the resumed run exported the recorded best.
    CHECK(json::parse(std::ifstream(cut / "best" / "design.json"))["params"] ==
          json::parse(std::ifstream(two / "best" / "design.json"))["params"]);
    CHECK(run_chipgym({"replay", cut.string(), "--verify"}).exit_code == 0);
  }
  SECTION("an existing run directory is refused without --resume or --force") {
    auto again = run_chipgym(train_args(full, {}));
    CHECK(again.exit_code == 2);
    CHECK_THAT(again.err, Catch::Contains("exists; use --resume") && Catch::Contains("--force"));
    CHECK(test_support::read_jsonl(full / "events.jsonl").size() == 8);  // untouched
    auto forced = run_chipgym(train_args(full, {"--force"}));
    CHECK(forced.ok());
    // --force empties run directories only.
    std::filesystem::create_directories(dir.path() / "precious");
    std::ofstream(dir.path() / "precious" / "thesis.tex") << "years of work";
    auto refused = run_chipgym(train_args(dir.path() / "precious", {"--force"}));
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("not a run directory"));
    CHECK(std::filesystem::exists(dir.path() / "precious" / "thesis.tex"));
  }
  SECTION("bad options") {
    auto out = (dir.path() / "bad").string();
    auto r0 = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "sa", "--budget", "0", "--out", out});
    CHECK(r0.exit_code == 2);
    CHECK_THAT(r0.err, Catch::Contains("--budget must be at least 1"));
    auto rs = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "sa", "--seed", "-3", "--out", out});
    CHECK(rs.exit_code == 2);
    CHECK_THAT(rs.err, Catch::Contains("--seed must be a non-negative integer"));
    auto ra = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "ppo2", "--out", out});
    CHECK(ra.exit_code == 2);
    CHECK_THAT(ra.err, Catch::Contains("unknown agent 'ppo2'; did you mean 'ppo'? known agents: random, grid, sa, ga, tpe"));
    auto rt = run_chipgym({"train", "--task", "gemm-int9", "--agent", "sa", "--out", out});
    CHECK(rt.exit_code == 2);
    CHECK_THAT(rt.err, Catch::Contains("known tasks: gemm-int8"));
    auto rm = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "sa", "--fidelity", "model", "--out", out});
    CHECK(rm.exit_code == 2);
    CHECK_THAT(rm.err, Catch::Contains("--fidelity model has no area"));
    auto rh = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "ga", "--hyper", "{\"elite\": ", "--out", out});
    CHECK(rh.exit_code == 2);
    CHECK_THAT(rh.err, Catch::Contains("--hyper is not valid JSON"));
    std::filesystem::create_directories(dir.path() / "broken");
    std::ofstream(dir.path() / "broken" / "config.json") << "{\"task\": {\"name\": ";
    auto rc = run_chipgym({"train", "--agent", "sa", "--resume", "--out", (dir.path() / "broken").string()});
    CHECK(rc.exit_code == 2);
    CHECK_THAT(rc.err, Catch::Contains("config.json") && Catch::Contains("not valid JSON"));
    std::ofstream(dir.path() / "broken" / "config.json") << "{\"agent\": \"sa\"}";
    auto rp = run_chipgym({"train", "--agent", "sa", "--resume", "--out", (dir.path() / "broken").string()});
    CHECK(rp.exit_code == 2);
    CHECK_THAT(rp.err, Catch::Contains("incomplete or malformed"));
  }
}

TEST_CASE("Env across workloads: each reset draws one from the seed and the observation and results are that workload's") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  json t = json::parse(kTinyTask);
  json w1 = t["workload"];
  w1["shapes"] = {{64, 64, 64, 3}, {4, 4, 4}};
  t["workloads"] = {t["workload"], w1};
  const auto task = env::Task::from_json(t);
  CHECK(task.to_json()["workloads"].size() == 2);
  json bad = t;
  bad["workloads"] = {w1, t["workload"]};
  CHECK_THROWS_WITH(env::Task::from_json(bad), Catch::Contains("first entry of workloads must be the task's workload"));

  env::Env e(task, {}, pipeline);
  REQUIRE(e.workloads() == 2);
  CHECK(e.workload() == 0);  // before a reset: the task's workload
  const std::vector<double> f0 = env::workload_features(t["workload"]), f1 = env::workload_features(w1);
  std::vector<std::size_t> drawn;
  for (int i = 0; i < 32; ++i) {
    const auto obs = e.reset(7);
    drawn.push_back(e.workload());
    CHECK(std::vector<double>(obs.begin() + 3, obs.end() - 4) == (e.workload() == 0 ? f0 : f1));
  }
  // Every episode draws again (the same seed, another episode count), and a copy that restores
  // the snapshot draws the same sequence.
  CHECK(std::count(drawn.begin(), drawn.end(), 0u) > 4);
  CHECK(std::count(drawn.begin(), drawn.end(), 1u) > 4);
  env::Env replay(task, {}, pipeline);
  std::vector<std::size_t> again;
  for (int i = 0; i < 32; ++i) {
    replay.reset(7);
    again.push_back(replay.workload());
  }
  CHECK(again == drawn);
  const json snap = e.snapshot();
  env::Env restored(task, {}, pipeline);
  restored.restore(snap);
  CHECK(restored.workload() == e.workload());
  e.reset(7);
  restored.reset(7);
  CHECK(restored.workload() == e.workload());
  json out_of_range = snap;
  out_of_range["workload"] = 2;
  CHECK_THROWS_WITH(restored.restore(out_of_range), Catch::Contains("workload 2 of 2"));

  // The same design on each workload: other cycles, each result kept for its own workload.
  std::map<std::size_t, long long> cycles;
  for (int i = 0; i < 32 && cycles.size() < 2; ++i) {
    e.reset(11);
    auto r = e.step({1, 1, 0});
    REQUIRE(r.info["workload"] == e.workload());
    cycles[e.workload()] = r.info["metrics"]["cycles"].get<long long>();
  }
  REQUIRE(cycles.size() == 2);
  CHECK(cycles[0] != cycles[1]);
  CHECK(cycles[0] == env::Env(env::Task::from_json(json::parse(kTinyTask)), {}, pipeline).evaluate({1, 1, 0}).metrics.cycles);

  // Multi-agent: every agent's view carries the episode's workload, the snapshot keeps it.
  env::MultiAgentEnv m(task, {}, pipeline);
  const auto views = m.reset(3);
  const auto& first = views.begin()->second;
  CHECK(std::vector<double>(first.end() - 4 - 24, first.end() - 4) == (m.joint().workload() == 0 ? f0 : f1));
  env::MultiAgentEnv m2(task, {}, pipeline);
  m2.restore(m.snapshot());
  CHECK(m2.joint().workload() == m.joint().workload());
}

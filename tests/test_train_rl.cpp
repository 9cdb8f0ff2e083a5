// chipgym train with the RL agents on hardware: run directories with checkpoints, an exact
// resume from a checkpoint, refusal of foreign and corrupt checkpoints, replay of the policy.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "evaluators/sha256.h"
#include "test_support.h"

using json = nlohmann::json;
using test_support::kTinyTask;
using test_support::run_chipgym;
namespace fs = std::filesystem;

namespace {

std::vector<json> events_of(const fs::path& run) {
  std::vector<json> out;
  std::ifstream in(run / "events.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("RL agents train on a task, checkpoint every update, and resume from a checkpoint exactly", "[rl]") {
  chipgym::evaluators::TempDir dir("chipgym-train-rl-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const std::string cache = (dir.path() / "cache").string();
  auto train = [&](const std::string& agent, const fs::path& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"train", "--task-file", task_file.string(), "--agent", agent, "--budget", "32",
                                     "--seed", "3", "--out", out.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };

  const auto full = dir.path() / "full";
  auto r = train("ppo", full);
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  auto reference = events_of(full);
  REQUIRE(reference.size() == 32);
  json config = json::parse(std::ifstream(full / "config.json"));
  CHECK(config["kind"] == "rl");
  CHECK(config["hyper"]["clip_coef"] == 0.2);  // CleanRL's defaults, with the design-search changes
  CHECK(config["hyper"]["num_envs"] == 8);
  // 32 evaluations in rollouts of 8: four updates, the last three checkpoints kept.
  for (const char* f : {"checkpoints/ckpt-000002.pt", "checkpoints/ckpt-000003.json", "checkpoints/ckpt-000004.pt",
                        "updates.jsonl", "best/design.json", "summary.json"})
    CHECK(fs::exists(full / f));
  CHECK_FALSE(fs::exists(full / "checkpoints/ckpt-000001.pt"));
  json summary = json::parse(std::ifstream(full / "summary.json"));
  CHECK(summary["updates"] == 4);
  CHECK(summary["complete"] == true);

  SECTION("a run killed after update 2 resumes from its checkpoint and repeats the trajectory") {
    const auto crashed = dir.path() / "crashed";
    fs::copy(full, crashed, fs::copy_options::recursive);
    for (const char* f : {"ckpt-000003.pt", "ckpt-000003.json", "ckpt-000004.pt", "ckpt-000004.json"})
      fs::remove(crashed / "checkpoints" / f);
    fs::remove(crashed / "summary.json");
    std::ofstream(crashed / "events.jsonl", std::ios::app) << R"({"eval": 32, "desi)";  // cut by the kill
    auto resumed = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", crashed.string(), "--cache-dir", cache});
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.ok());
    CHECK_THAT(resumed.err + resumed.out, Catch::Contains("dropped 16 evaluation(s) after the last checkpoint") &&
                                              Catch::Contains("skipped 1 torn line"));
    auto again = events_of(crashed);
    REQUIRE(again.size() == reference.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
      CHECK(again[i]["design"] == reference[i]["design"]);
      CHECK(again[i]["reward"] == reference[i]["reward"]);
    }
    // The learner ends in the same state: the last update's losses are the same numbers.
    auto last_line = [](const fs::path& file) {
      std::ifstream in(file);
      std::string line, last;
      while (std::getline(in, line))
        if (!line.empty()) last = line;
      return json::parse(last);
    };
    CHECK(last_line(crashed / "updates.jsonl") == last_line(full / "updates.jsonl"));
  }

  SECTION("a corrupt checkpoint or one of another run is refused, and the run is left as it was") {
    const auto victim = dir.path() / "victim";
    fs::copy(full, victim, fs::copy_options::recursive);
    const std::string events_before = read_text(victim / "events.jsonl");
    // Corrupt: the newest weights cut in half.
    const auto pt = victim / "checkpoints" / "ckpt-000004.pt";
    const std::string bytes = read_text(pt);
    std::ofstream(pt, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    auto corrupt = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", victim.string(), "--cache-dir", cache});
    CHECK(corrupt.exit_code == 2);
    CHECK_THAT(corrupt.err, Catch::Contains("ckpt-000004.pt is corrupt") && Catch::Contains("nothing was changed"));
    CHECK(read_text(victim / "events.jsonl") == events_before);
    std::ofstream(pt, std::ios::binary) << bytes;
    // Foreign: the newest checkpoint comes from a MAPPO run of the same task.
    const auto other = dir.path() / "other";
    REQUIRE(train("mappo", other).ok());
    json foreign_meta = json::parse(std::ifstream(other / "checkpoints" / "ckpt-000004.json"));
    foreign_meta["updates"] = 5;  // the newest
    std::ofstream(victim / "checkpoints" / "ckpt-000005.json") << foreign_meta.dump();
    fs::copy_file(other / "checkpoints" / "ckpt-000004.pt", victim / "checkpoints" / "ckpt-000004.pt",
                  fs::copy_options::overwrite_existing);
    auto foreign = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", victim.string(), "--cache-dir", cache});
    CHECK(foreign.exit_code == 2);
    CHECK_THAT(foreign.err, Catch::Contains("belongs to another run") && Catch::Contains("agent mappo"));
    CHECK(read_text(victim / "events.jsonl") == events_before);
  }

  SECTION("replay --policy acts greedily with the saved policy and evaluates the design it picks") {
    auto p = run_chipgym({"replay", full.string(), "--policy", "--json"});
    INFO(p.out << p.err);
    REQUIRE(p.exit_code == 0);
    json out = json::parse(p.out);
    CHECK_THAT(out["design"]["source"].get<std::string>(), Catch::Contains("greedy policy of checkpoints/ckpt-000004.pt"));
    CHECK(out["design"]["params"].contains("rows"));
    CHECK(out["metrics"]["transistors"].get<long long>() > 0);
    auto black_box = dir.path() / "bb";
    REQUIRE(train("random", black_box).ok());
    auto refused = run_chipgym({"replay", black_box.string(), "--policy"});
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("has no policy"));
  }

  SECTION("DQN, IPPO and MAPPO run on the task too, and bad hyper-parameters list the valid names") {
    for (const char* agent : {"dqn", "ippo", "mappo"}) {
      auto run = train(agent, dir.path() / agent);
      INFO(agent << run.out << run.err);
      CHECK(run.ok());
      CHECK(events_of(dir.path() / agent).size() == 32);
    }
    json groups = json::parse(std::ifstream(dir.path() / "mappo" / "config.json"))["agent_groups"];
    CHECK(groups.size() == 3);
    // Every agent's observation is recorded; a policy whose agents observed other views starts
    // no run (--init), refused by name before anything is written.
    json views = json::parse(kTinyTask);
    views["agents"] = {{"rows", {{"params", {"rows"}}, {"observes", {"workload:share_log2_m*", "metric:log10_cycles"}}}},
                       {"cols", {"cols"}}, {"dataflow", {"dataflow"}}};
    const auto views_file = dir.path() / "views.json";
    std::ofstream(views_file) << views.dump();
    const auto viewed = dir.path() / "mappo-views";
    auto v = run_chipgym({"train", "--task-file", views_file.string(), "--agent", "mappo", "--budget", "8", "--seed", "3",
                          "--out", viewed.string(), "--cache-dir", cache});
    INFO(v.out << v.err);
    REQUIRE(v.ok());
    json observed = json::parse(std::ifstream(viewed / "config.json"))["agent_observations"];
    CHECK(observed["rows"].size() == 1 + 7 + 1);
    CHECK(observed["rows"].back() == "metric:log10_cycles");
    CHECK(observed["cols"].size() == 1 + 24 + 4);
    CHECK(json::parse(std::ifstream(dir.path() / "mappo" / "config.json"))["agent_observations"]["rows"].size() == 1 + 24 + 4);
    const auto crossed = dir.path() / "crossed";
    auto c = train("mappo", crossed, {"--init", viewed.string()});
    CHECK(c.exit_code == 2);
    CHECK_THAT(c.err, Catch::Contains("agent 'rows' observes another view there") &&
                          Catch::Contains("the task's \"agents\" must declare the same \"observes\""));
    CHECK_FALSE(fs::exists(crossed / "events.jsonl"));
    auto bad = train("ppo", dir.path() / "bad", {"--hyper", R"({"clip": 0.1})"});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("unknown ppo hyper-parameter 'clip'; valid: learning_rate"));
    auto budget = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", full.string(), "--budget", "64", "--cache-dir", cache});
    CHECK(budget.exit_code == 2);
    CHECK_THAT(budget.err, Catch::Contains("cannot resume an RL run with another budget"));
  }
}

TEST_CASE("an RL run whose loss turns non-finite stops with exit 3 and keeps its last good checkpoint", "[rl]") {
  chipgym::evaluators::TempDir dir("chipgym-train-rl-nan-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const std::string cache = (dir.path() / "cache").string();
  // The test hook makes every reward after the first N evaluations NaN.
  auto train = [&](const std::string& agent, const fs::path& out, const std::string& nan_after) {
    return run_chipgym({"train", "--task-file", task_file.string(), "--agent", agent, "--budget", "32", "--seed", "3",
                        "--out", out.string(), "--cache-dir", cache},
                       {{"CHIPGYM_TEST_NAN_REWARD_AFTER", nan_after}});
  };
  auto sha256_of = [](const fs::path& file) { return chipgym::evaluators::Sha256().update(read_text(file)).hex(); };
  // Every line of events.jsonl parses (nothing torn, NaN written as null).
  auto lines_of = [](const fs::path& file) {
    std::vector<std::string> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };

  // PPO, 8 environments: updates after evaluations 8, 16, 24, 32. The NaN rewards arrive in
  // the third rollout (evaluations 16..23), so update 3 fails and checkpoint 2 is the last good one.
  const auto ppo = dir.path() / "ppo";
  auto r = train("ppo", ppo, "16");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("PPO loss is not finite at update 3") && Catch::Contains("training stopped") &&
                        Catch::Contains("the last good checkpoint is checkpoints/ckpt-000002.pt"));
  const auto ckpt = ppo / "checkpoints" / "ckpt-000002.pt";
  REQUIRE(fs::exists(ckpt));
  json meta = json::parse(std::ifstream(ppo / "checkpoints" / "ckpt-000002.json"));
  CHECK(meta["sha256"] == sha256_of(ckpt));
  CHECK(meta["steps"] == 16);
  CHECK_FALSE(fs::exists(ppo / "checkpoints" / "ckpt-000003.json"));
  json summary = json::parse(std::ifstream(ppo / "summary.json"));
  CHECK(summary["complete"] == false);
  CHECK_THAT(summary["stopped"].get<std::string>(), Catch::Contains("not finite") && Catch::Contains("ckpt-000002.pt"));
  CHECK(summary["updates"] == 2);
  CHECK(summary["evaluations"] == 24);
  auto lines = lines_of(ppo / "events.jsonl");
  REQUIRE(lines.size() == 24);
  double best = -1e300;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json e = json::parse(lines[i]);  // throws (fails the test) on a torn or non-JSON line
    INFO("evaluation " << i << ": " << lines[i]);
    if (i < 16) {
      REQUIRE(e["reward"].is_number());
      best = std::max(best, e["reward"].get<double>());
    } else {
      CHECK(e["reward"].is_null());
    }
  }
  // The best design is a real one, from before the NaN rewards.
  CHECK(summary["best_reward"].get<double>() == best);
  json best_design = json::parse(std::ifstream(ppo / "best" / "design.json"));
  CHECK(best_design["eval"].get<long long>() < 16);
  CHECK(best_design["reward"].get<double>() == best);

  // The kept checkpoint still drives the policy.
  auto p = run_chipgym({"replay", ppo.string(), "--policy", "--json"});
  INFO(p.out << p.err);
  CHECK(p.exit_code == 0);
  if (p.exit_code == 0)
    CHECK_THAT(json::parse(p.out)["design"]["source"].get<std::string>(), Catch::Contains("checkpoints/ckpt-000002.pt"));

  // Nothing is lost: resumed without the fault, the run continues from checkpoint 2 and completes.
  auto resumed = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", ppo.string(), "--cache-dir", cache});
  INFO(resumed.out << resumed.err);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.err, Catch::Contains("dropped 8 evaluation(s) after the last checkpoint"));
  auto after = events_of(ppo);
  CHECK(after.size() == 32);
  for (const auto& e : after) CHECK(e["reward"].is_number());
  CHECK(json::parse(std::ifstream(ppo / "summary.json"))["complete"] == true);

  // DQN learns from update 1 after evaluation 24 (learning starts after 16 steps): the NaN
  // rewards of evaluations 24..31 reach its replay batch at update 2.
  const auto dqn = dir.path() / "dqn";
  auto d = train("dqn", dqn, "24");
  INFO(d.out << d.err);
  CHECK(d.exit_code == 3);
  CHECK_THAT(d.err, Catch::Contains("DQN loss is not finite at update 2") &&
                        Catch::Contains("the last good checkpoint is checkpoints/ckpt-000001.pt"));
  REQUIRE(fs::exists(dqn / "checkpoints" / "ckpt-000001.pt"));
  CHECK(json::parse(std::ifstream(dqn / "checkpoints" / "ckpt-000001.json"))["sha256"] ==
        sha256_of(dqn / "checkpoints" / "ckpt-000001.pt"));
  for (const auto& line : lines_of(dqn / "events.jsonl")) CHECK_NOTHROW(json::parse(line));
  CHECK(json::parse(std::ifstream(dqn / "best" / "design.json"))["eval"].get<long long>() < 24);
  CHECK(run_chipgym({"replay", dqn.string(), "--policy", "--json"}).exit_code == 0);

  // In a comparison the stopped run counts as far as it got; compare says so and exits 3.
  auto cmp = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "ppo", "--seeds", "1", "--budget",
                          "32", "--out", (dir.path() / "cmp").string(), "--cache-dir", cache},
                         {{"CHIPGYM_TEST_NAN_REWARD_AFTER", "16"}});
  INFO(cmp.out << cmp.err);
  CHECK(cmp.exit_code == 3);
  CHECK_THAT(cmp.err, Catch::Contains("stopped early, counted as far as it got") &&
                          Catch::Contains("PPO loss is not finite at update 3"));
  CHECK(fs::exists(dir.path() / "cmp" / "leaderboard.md"));

  // The hook's value is checked.
  auto bad = train("ppo", dir.path() / "bad", "soon");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("CHIPGYM_TEST_NAN_REWARD_AFTER must be a number"));
}

TEST_CASE("compare --hyper gives one agent's runs their hyper-parameters and a rerun cannot change them", "[rl]") {
  chipgym::evaluators::TempDir dir("chipgym-compare-hyper-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const auto out = dir.path() / "cmp";
  auto compare = [&](std::vector<std::string> hyper, const std::string& agents = "random,ppo") {
    std::vector<std::string> args = {"compare", "--task-file", task_file.string(), "--agents", agents, "--seeds", "1",
                                     "--budget", "8", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()};
    for (const auto& h : hyper) {
      args.push_back("--hyper");
      args.push_back(h);
    }
    return run_chipgym(args);
  };
  auto r = compare({R"(ppo={"learning_rate": 0.002, "update_epochs": 2})"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  json config = json::parse(std::ifstream(out / "ppo-0" / "config.json"));
  CHECK(config["hyper"]["learning_rate"] == 0.002);
  CHECK(config["hyper"]["update_epochs"] == 2);
  CHECK(config["hyper"]["num_envs"] == 8);  // the other design-search defaults stay
  json recorded = json::parse(std::ifstream(out / "compare.json"));
  CHECK(recorded["hyper"]["ppo"] == json{{"learning_rate", 0.002}, {"update_epochs", 2}});
  CHECK(recorded["hyper"]["random"] == json::object());
  CHECK_THAT(r.out, Catch::Contains(R"(Hyper-parameters of ppo: `{"learning_rate":0.002,"update_epochs":2}`)"));

  // A rerun resumes: the same hyper-parameters are fine, others are refused before anything runs.
  CHECK(compare({R"(ppo={"update_epochs": 2, "learning_rate": 0.002})"}).ok());
  const std::string events_before = read_text(out / "ppo-0" / "events.jsonl");
  auto changed = compare({R"(ppo={"learning_rate": 0.003, "update_epochs": 2})"});
  CHECK(changed.exit_code == 2);
  CHECK_THAT(changed.err, Catch::Contains("cannot resume the comparison in") &&
                              Catch::Contains("with other hyper-parameters for ppo") &&
                              Catch::Contains(R"(instead of the recorded {"learning_rate":0.002,"update_epochs":2})"));
  auto dropped = compare({});
  CHECK(dropped.exit_code == 2);
  CHECK_THAT(dropped.err, Catch::Contains("with other hyper-parameters for ppo ({} instead of"));
  CHECK(read_text(out / "ppo-0" / "events.jsonl") == events_before);

  // Bad input: an agent not compared, malformed JSON, no '=', unknown names, an agent twice.
  auto foreign = compare({R"(dqn={"learning_rate": 0.01})"});
  CHECK(foreign.exit_code == 2);
  CHECK_THAT(foreign.err, Catch::Contains("--hyper names agent 'dqn', which is not in --agents (random,ppo)"));
  auto malformed = compare({R"(ppo={"learning_rate": )"});
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.err, Catch::Contains("--hyper ppo=... is not valid JSON"));
  auto no_agent = compare({R"({"learning_rate": 0.01})"});
  CHECK(no_agent.exit_code == 2);
  CHECK_THAT(no_agent.err, Catch::Contains("--hyper expects AGENT=JSON"));
  auto not_object = compare({"ppo=[1]"});
  CHECK(not_object.exit_code == 2);
  CHECK_THAT(not_object.err, Catch::Contains("must be a JSON object"));
  auto unknown = compare({R"(ppo={"clip": 0.1})"}, "ppo");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("unknown ppo hyper-parameter 'clip'"));
  auto twice = compare({R"(ppo={})", R"(ppo={})"});
  CHECK(twice.exit_code == 2);
  CHECK_THAT(twice.err, Catch::Contains("--hyper is given twice for agent 'ppo'"));
}

TEST_CASE("train --init starts PPO from another run's policy: zero-shot design recorded, foreign runs refused by name", "[rl]") {
  chipgym::evaluators::TempDir dir("chipgym-train-init-");
  const std::string cache = (dir.path() / "cache").string();
  auto write_task = [&](const std::string& name, const json& shapes) {
    json t = json::parse(kTinyTask);
    t["workload"]["shapes"] = shapes;
    const auto file = dir.path() / (name + ".json");
    std::ofstream(file) << t.dump();
    return file.string();
  };
  const auto trained_on = write_task("train", {{4, 8, 4}}), held_out = write_task("held", {{8, 8, 8}, {4, 16, 4}});
  auto train = [&](const std::string& task_file, const std::string& agent, const fs::path& out, std::vector<std::string> extra,
                   const std::string& budget = "8") {
    std::vector<std::string> args = {"train", "--task-file", task_file, "--agent", agent, "--budget", budget,
                                     "--seed", "1", "--out", out.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };
  const auto pre = dir.path() / "pre";
  auto r = train(trained_on, "ppo", pre, {}, "16");
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  json pre_config = json::parse(std::ifstream(pre / "config.json"));
  REQUIRE(pre_config["observation_names"].size() == 3 + 24 + 4);

  // On the workload it was trained on, the zero-shot design is the pretrained policy's greedy
  // choice, the one replay --policy picks; the notice says it is not a held-out test.
  const auto same = dir.path() / "same";
  r = train(trained_on, "ppo", same, {"--init", pre.string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK_THAT(r.err, Catch::Contains("was trained on this run's workload") && Catch::Contains("not a held-out test"));
  json same_config = json::parse(std::ifstream(same / "config.json"));
  auto policy = run_chipgym({"replay", pre.string(), "--policy", "--json"});
  REQUIRE(policy.exit_code == 0);
  CHECK(same_config["init"]["zero_shot"]["params"] == json::parse(policy.out)["design"]["params"]);

  // A held-out workload: the start is recorded, the budget is this run's own.
  const auto held = dir.path() / "held";
  r = train(held_out, "ppo", held, {"--init", pre.string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK_THAT(r.out, Catch::Contains("started from the policy of") && Catch::Contains("zero-shot design"));
  CHECK_THAT(r.err, !Catch::Contains("not a held-out test"));
  json config = json::parse(std::ifstream(held / "config.json"));
  const json& init = config["init"];
  CHECK(init["checkpoint"] == "ckpt-000002.pt");  // 16 evaluations in rollouts of 8: two updates
  CHECK(init["pretraining_evaluations"] == 16);
  CHECK(init["task"] == "gemm-tiny");
  CHECK(init["workload"] == json::array({{4, 8, 4}}).dump());
  CHECK(init["zero_shot"]["params"].contains("rows"));
  CHECK(init["zero_shot"]["metrics"]["transistors"].get<long long>() > 0);
  CHECK(events_of(held).size() == 8);  // the zero-shot evaluation is outside the budget
  json summary = json::parse(std::ifstream(held / "summary.json"));
  CHECK(summary["init"]["zero_shot_reward"] == init["zero_shot"]["reward"]);

  // compare --init: the pretrained agent's zero-shot design is its first real evaluation, so it
  // fine-tunes on budget - 1 (one step of its 8 environments) and is compared at the same 9
  // evaluations as the searcher.
  const auto cmp = dir.path() / "cmp";
  auto compare = [&](std::vector<std::string> extra, const std::string& agents = "ppo,random") {
    std::vector<std::string> args = {"compare", "--task-file", held_out, "--agents", agents, "--seeds", "1",
                                     "--budget", "9", "--out", cmp.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };
  r = compare({"--init", "ppo=" + pre.string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(events_of(cmp / "ppo-0").size() == 8);
  CHECK(events_of(cmp / "random-0").size() == 9);
  const json cmp_init = json::parse(std::ifstream(cmp / "ppo-0" / "config.json"))["init"];
  CHECK(cmp_init["zero_shot"]["params"] == init["zero_shot"]["params"]);  // the same policy's greedy design
  CHECK(json::parse(std::ifstream(cmp / "compare.json"))["init"]["ppo"] == fs::absolute(pre).string());
  CHECK_THAT(r.out, Catch::Contains("ppo starts from the policy pretrained in") &&
                        Catch::Contains("its first evaluation is that policy's zero-shot design, then 8 of fine-tuning"));
  {
    // curves.dat: ppo's block starts at the zero-shot reward and has 9 evaluations.
    std::ifstream in(cmp / "curves.dat");
    std::vector<std::vector<double>> ppo_rows;
    bool in_ppo = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("# ", 0) == 0) in_ppo = line == "# ppo";
      else if (in_ppo && !line.empty()) {
        std::istringstream ls(line);
        std::vector<double> row;
        for (double v; ls >> v;) row.push_back(v);
        ppo_rows.push_back(row);
      }
    }
    REQUIRE(ppo_rows.size() == 9);
    CHECK(ppo_rows[0][1] == Approx(cmp_init["zero_shot"]["reward"].get<double>()));
  }
  // A rerun resumes with the same start only; --init is for RL agents in --agents, budget >= 2.
  CHECK(compare({"--init", "ppo=" + pre.string()}).ok());
  const auto no_init = compare({});
  CHECK(no_init.exit_code == 2);
  CHECK_THAT(no_init.err, Catch::Contains("with another --init for ppo (none instead of the recorded"));
  const auto searcher = compare({"--init", "random=" + pre.string()});
  CHECK(searcher.exit_code == 2);
  CHECK_THAT(searcher.err, Catch::Contains("only the RL agents (ppo, dqn, ippo, mappo) start from a pretrained policy"));
  const auto absent = compare({"--init", "dqn=" + pre.string()});
  CHECK(absent.exit_code == 2);
  CHECK_THAT(absent.err, Catch::Contains("--init names agent 'dqn', which is not in --agents"));
  const auto no_run = compare({"--init", "ppo=" + (dir.path() / "nowhere").string()});
  CHECK(no_run.exit_code == 2);
  CHECK_THAT(no_run.err, Catch::Contains("no run there (no config.json)"));
  const auto malformed = compare({"--init", "ppo"});
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.err, Catch::Contains("--init expects AGENT=RUN"));

  // Several policies: each one's zero-shot design is evaluated and recorded, in --init's order,
  // and fine-tuning starts from the one whose design was best.
  const auto multi = dir.path() / "multi";
  r = train(held_out, "ppo", multi, {"--init", pre.string(), "--init", same.string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  const json multi_init = json::parse(std::ifstream(multi / "config.json"))["init"];
  REQUIRE(multi_init["candidates"].size() == 2);
  CHECK(multi_init["candidates"][0]["run"] == fs::absolute(pre).string());
  CHECK(multi_init["candidates"][1]["run"] == fs::absolute(same).string());
  CHECK(multi_init["candidates"][0]["zero_shot"]["params"] == init["zero_shot"]["params"]);
  const double z0 = multi_init["candidates"][0]["zero_shot"]["reward"], z1 = multi_init["candidates"][1]["zero_shot"]["reward"];
  CHECK(multi_init["run"] == (z1 > z0 ? fs::absolute(same) : fs::absolute(pre)).string());
  CHECK(multi_init["zero_shot"]["reward"].get<double>() == std::max(z0, z1));
  CHECK_THAT(r.out, Catch::Contains("(the best zero-shot design of 2 policies)"));
  CHECK(events_of(multi).size() == 8);
  auto twice = train(held_out, "ppo", dir.path() / "twice", {"--init", pre.string(), "--init", pre.string()});
  CHECK(twice.exit_code == 2);
  CHECK_THAT(twice.err, Catch::Contains("--init gives " + pre.string() + " twice"));
  // In compare they are the agent's first evaluations, and it fine-tunes on the rest.
  const auto cmp2 = dir.path() / "cmp2";
  auto compare2 = [&](std::vector<std::string> extra, const std::string& budget) {
    std::vector<std::string> args = {"compare", "--task-file", held_out, "--agents", "ppo", "--seeds", "1",
                                     "--budget", budget, "--out", cmp2.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };
  const std::vector<std::string> both = {"--init", "ppo=" + pre.string(), "--init", "ppo=" + same.string()};
  auto small = compare2(both, "2");
  CHECK(small.exit_code == 2);
  CHECK_THAT(small.err, Catch::Contains("--init gives ppo 2 policies: --budget needs at least 3"));
  r = compare2(both, "10");
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(events_of(cmp2 / "ppo-0").size() == 8);
  CHECK(json::parse(std::ifstream(cmp2 / "compare.json"))["init"]["ppo"] ==
        json::array({fs::absolute(pre).string(), fs::absolute(same).string()}));
  CHECK_THAT(r.out, Catch::Contains("ppo starts from 2 policies pretrained in") &&
                        Catch::Contains("its first 2 evaluations are their zero-shot designs, then 8 of fine-tuning"));
  {
    std::ifstream in(cmp2 / "curves.dat");
    std::vector<double> best;
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') {
        std::istringstream ls(line);
        double eval, b;
        ls >> eval >> b;
        best.push_back(b);
      }
    REQUIRE(best.size() == 10);
    CHECK(best[0] == Approx(z0));
    CHECK(best[1] == Approx(std::max(z0, z1)));
  }
  auto other_order = compare2({"--init", "ppo=" + same.string(), "--init", "ppo=" + pre.string()}, "10");
  CHECK(other_order.exit_code == 2);
  CHECK_THAT(other_order.err, Catch::Contains("with another --init for ppo (" + fs::absolute(same).string() + ", " +
                                              fs::absolute(pre).string() + " instead of the recorded"));

  // Refused, each by name, and nothing is written.
  auto refused = [&](const std::string& task_file, const std::string& agent, const fs::path& from, const std::string& why) {
    const auto out = dir.path() / ("refused-" + agent + "-" + from.filename().string());
    auto bad = train(task_file, agent, out, {"--init", from.string()});
    INFO(bad.err);
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains(why));
    CHECK_FALSE(fs::exists(out / "events.jsonl"));
  };
  refused(held_out, "mappo", pre, "trained agent 'ppo', not 'mappo'");
  refused(held_out, "tpe", pre, "is a search agent, with no policy to start from");
  const auto bb = dir.path() / "bb";
  REQUIRE(train(trained_on, "random", bb, {}, "2").ok());
  refused(held_out, "ppo", bb, "is a run of the search agent 'random'");
  refused(held_out, "ppo", dir.path() / "nowhere", "no such run directory");
  json other = json::parse(kTinyTask);  // other values of a searched parameter
  other["search"]["rows"] = {1, 2, 4};
  const auto other_file = dir.path() / "other.json";
  std::ofstream(other_file) << other.dump();
  refused(other_file.string(), "ppo", pre, "rows takes [1,2] there and [1,2,4] here");
  other = json::parse(kTinyTask);  // a parameter fewer: another observation layout
  other["search"].erase("dataflow");
  std::ofstream(other_file) << other.dump();
  refused(other_file.string(), "ppo", pre, "observes another layout");
  json family = json::parse(std::ifstream(pre / "config.json"));  // a run of another family
  family["task"]["family"] = "codesign";
  const auto foreign = dir.path() / "foreign";
  fs::copy(pre, foreign, fs::copy_options::recursive);
  std::ofstream(foreign / "config.json") << family.dump();
  refused(held_out, "ppo", foreign, "is a policy for task family 'codesign'");
}

TEST_CASE("train --workloads trains one policy across workloads with best/ of the first and every workload's best in the summary", "[rl]") {
  chipgym::evaluators::TempDir dir("chipgym-train-workloads-");
  const std::string cache = (dir.path() / "cache").string();
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  auto train = [&](const std::string& agent, const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--task-file", task_file.string(), "--agent", agent, "--budget", "16",
                                     "--seed", "1", "--fidelity", "synth", "--out", out.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };
  const std::vector<std::string> sources = {"gen:transformer:1", "gen:transformer:2", "zoo:bert-base"};
  const auto pre = dir.path() / "pre";
  auto r = train("mappo", pre, {"--workloads", "gen:transformer:1..2,zoo:bert-base"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  const json summary = json::parse(std::ifstream(pre / "summary.json"));
  REQUIRE(summary["workloads"].size() == 3);
  long long total = 0;
  for (std::size_t w = 0; w < 3; ++w) {
    CHECK(summary["workloads"][w]["source"] == sources[w]);
    total += summary["workloads"][w]["evaluations"].get<long long>();
  }
  CHECK(total == 16);
  std::set<long long> seen;
  for (const auto& e : events_of(pre)) seen.insert(e.at("workload").get<long long>());
  CHECK(seen.size() >= 2);
  CHECK(summary["best"]["workload"] == 0);  // best/ is the task's workload's, the one replay rebuilds
  const json config = json::parse(std::ifstream(pre / "config.json"));
  CHECK(config["task"]["workloads"].size() == 3);
  CHECK(config["task"]["workload"]["source"] == "gen:transformer:1");
  bool checkpoint_lists = false;
  for (const auto& entry : fs::directory_iterator(pre / "checkpoints"))
    if (entry.path().extension() == ".json")
      checkpoint_lists = json::parse(std::ifstream(entry.path()))["workloads"] == json(sources);
  CHECK(checkpoint_lists);

  // A workload it was trained on is not held out: said so.
  r = train("mappo", dir.path() / "again", {"--init", pre.string(), "--workload", "gen:transformer:2"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK_THAT(r.err, Catch::Contains("gen:transformer:2, one of its 3") && Catch::Contains("not a held-out test"));

  // Bad input: exit 2, nothing written.
  const auto none = dir.path() / "none";
  r = train("tpe", none, {"--workloads", "zoo:bert-base,gen:cnn:1"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("for the RL agents") && Catch::Contains("give it --workload"));
  r = train("ppo", none, {"--workloads", ","});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--workloads lists no workload"));
  r = train("ppo", none, {"--workloads", "zoo:bert-base,gen:cnn:3,zoo:bert-base"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("lists zoo:bert-base twice"));
  r = train("ppo", none, {"--workloads", "gen:cnn:5..2"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("0 <= A <= B"));
  r = train("ppo", none, {"--workloads", "zoo:bert-base", "--workload", "zoo:bert-base"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("give one"));
  CHECK_FALSE(fs::exists(none));
}

// chipgym train with the RL agents on hardware: run directories with checkpoints, an exact
// resume from a checkpoint, refusal of foreign and corrupt checkpoints, replay of the policy.
#include <catch2/catch.hpp>
#include <fstream>

#include <nlohmann/json.hpp>

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
    auto bad = train("ppo", dir.path() / "bad", {"--hyper", R"({"clip": 0.1})"});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("unknown ppo hyper-parameter 'clip'; valid: learning_rate"));
    auto budget = run_chipgym({"train", "--resume", "--agent", "ppo", "--out", full.string(), "--budget", "64", "--cache-dir", cache});
    CHECK(budget.exit_code == 2);
    CHECK_THAT(budget.err, Catch::Contains("cannot resume an RL run with another budget"));
  }
}

// Pareto fronts (runs/pareto.h): the non-dominated designs of a run, their hypervolume,
// `chipgym pareto` on a run and a comparison, and bad input.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "evaluators/runner.h"
#include "runs/pareto.h"
#include "test_support.h"

using namespace chipgym;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json event(long long eval, double transistors, double cycles, double reward) {
  return {{"eval", eval}, {"transistors", transistors}, {"cycles", cycles}, {"reward", reward},
          {"params", {{"rows", eval}}}};
}

}  // namespace

TEST_CASE("a Pareto front keeps the admissible designs nothing beats on both transistors and cycles and its hypervolume is exact") {
  std::vector<json> events = {event(0, 100, 100, 1.0),  // dominated by 1 and by 2
                              event(1, 10, 100, 2.0),   event(2, 100, 10, 2.0),
                              event(3, 1000, 1, 0.5),   event(4, 10, 100, 2.0),  // the same point again: the earlier stays
                              event(5, 1, 1, -1.0),     // over budget: not admissible
                              event(6, 1, 1, 0.0)};     // outside a constraint: not admissible
  events.push_back({{"event", "session"}});              // a note: skipped
  json failed = event(7, 1, 1, 5.0);
  failed["error"] = {{"category", "synth_error"}};
  events.push_back(failed);
  const auto front = runs::pareto_front(runs::admissible_points(events));
  REQUIRE(front.size() == 3);
  CHECK(front[0].eval == 1);
  CHECK(front[1].eval == 2);
  CHECK(front[2].eval == 3);
  CHECK(front[0].params == json{{"rows", 1}});
  // log10 transistors 1..3 and cycles 0..2, normalised: (0, 1), (0.5, 0.5), (1, 0); reference (1.1, 1.1):
  // 0.5 x 0.1 + 0.5 x 0.6 + 0.1 x 1.1 = 0.46.
  const auto norm = runs::Normalisation::over({front});
  CHECK(runs::hypervolume(front, norm) == Approx(0.46));
  CHECK(runs::hypervolume({front[1]}, norm) == Approx(0.6 * 0.6));
  CHECK(runs::hypervolume({}, norm) == 0.0);
}

TEST_CASE("chipgym pareto prints and plots the fronts of a run and of a comparison, whose leaderboard reports hypervolume") {
  evaluators::TempDir dir("chipgym-pareto-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << test_support::kTinyTask;
  const auto out = dir.path() / "cmp";
  auto r = test_support::run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "grid,random", "--seeds", "2",
                                      "--budget", "4", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(fs::file_size(out / "pareto.png") > 1000);
  std::stringstream md;
  md << std::ifstream(out / "leaderboard.md").rdbuf();
  CHECK_THAT(md.str(), Catch::Contains("hypervolume (95% CI)") && Catch::Contains("reference point (1.1, 1.1)"));

  // A run's front is exactly the designs of its events that no other admissible one dominates
  // (checked here by brute force), and summary.json records it.
  const auto events = test_support::read_jsonl(out / "random-0" / "events.jsonl");
  std::set<long long> expected;
  auto cycles = [](const json& e) { return e["cycles"].get<long long>() > 0 ? e["cycles"] : e["cycles_model"]; };
  for (const auto& a : events) {
    if (a["reward"].get<double>() <= 0) continue;
    bool dominated = false;
    for (const auto& b : events) {
      if (b["reward"].get<double>() <= 0) continue;
      const bool no_worse = b["transistors"] <= a["transistors"] && cycles(b) <= cycles(a);
      const bool better = b["transistors"] < a["transistors"] || cycles(b) < cycles(a);
      const bool same_earlier = b["transistors"] == a["transistors"] && cycles(b) == cycles(a) && b["eval"] < a["eval"];
      dominated = dominated || (no_worse && better) || same_earlier;
    }
    if (!dominated) expected.insert(a["eval"].get<long long>());
  }
  REQUIRE_FALSE(expected.empty());
  auto one = test_support::run_chipgym({"pareto", (out / "random-0").string(), "--json", "--out", (dir.path() / "plot").string()});
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  std::set<long long> got;
  const json fronts = json::parse(one.out)["fronts"];
  for (const auto& p : fronts["random"]) got.insert(p["eval"].get<long long>());
  CHECK(got == expected);
  std::set<long long> recorded;
  const json summary = json::parse(std::ifstream(out / "random-0" / "summary.json"));
  for (const auto& p : summary["pareto"]) recorded.insert(p["eval"].get<long long>());
  CHECK(recorded == expected);
  CHECK(fs::exists(dir.path() / "plot" / "pareto.svg"));

  auto all = test_support::run_chipgym({"pareto", out.string()});
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::Contains("grid: ") && Catch::Contains("random: ") && Catch::Contains("on the front"));

  // Bad input: not a directory, and a directory that is neither a run nor a comparison.
  auto missing = test_support::run_chipgym({"pareto", (dir.path() / "nothing").string()});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("is not a directory"));
  auto neither = test_support::run_chipgym({"pareto", (dir.path() / "cache").string()});
  CHECK(neither.exit_code == 2);
  CHECK_THAT(neither.err, Catch::Contains("is neither a run directory"));
}

TEST_CASE("nsga2 searches two objectives, records its front, and a stopped run resumes to the same events") {
  evaluators::TempDir dir("chipgym-nsga2-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << test_support::kTinyTask;
  const std::string cache = (dir.path() / "cache").string();
  auto train = [&](const fs::path& out, const std::string& budget, bool resume) {
    std::vector<std::string> args = {"train", "--task-file", task_file.string(), "--agent", "nsga2", "--budget", budget,
                                     "--seed", "3", "--hyper", R"({"population": 4})", "--out", out.string(),
                                     "--cache-dir", cache, "--json"};
    if (resume) args.push_back("--resume");
    return test_support::run_chipgym(args);
  };
  const auto full = dir.path() / "full", cut = dir.path() / "cut";
  auto a = train(full, "10", false);
  INFO(a.out << a.err);
  REQUIRE(a.ok());
  const json summary = json::parse(a.out);
  CHECK(summary["evaluations"] == 10);
  CHECK_FALSE(summary["pareto"].empty());
  REQUIRE(train(cut, "5", false).ok());  // stops inside its second generation
  auto b = train(cut, "10", true);
  INFO(b.err);
  REQUIRE(b.ok());
  auto designs = [](const fs::path& run) {
    std::vector<json> out;
    for (const auto& e : test_support::read_jsonl(run / "events.jsonl")) out.push_back({e["design"], e["reward"]});
    return out;
  };
  CHECK(designs(cut) == designs(full));
  auto bad = test_support::run_chipgym({"train", "--task-file", task_file.string(), "--agent", "nsga2", "--hyper",
                                        R"({"population": 2})", "--out", (dir.path() / "bad").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("nsga2: need population >= 4"));
}

// A task bound for an FPGA declares iCE40 LUTs as its area objective: its designs are
// synthesized for iCE40 too, nsga2 ranks them on LUTs and cycles, and the recorded front is on
// LUTs (the scalar reward stays the task's objective).
TEST_CASE("a task that declares iCE40 LUTs as its area objective gets its front, nsga2 and pareto on LUTs and cycles") {
  evaluators::TempDir dir("chipgym-luts-");
  json task = json::parse(test_support::kTinyTask);
  task["name"] = "gemm-tiny-ice40";
  task["objectives"] = {"luts", "cycles"};
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << task.dump();
  const auto out = dir.path() / "run";
  auto r = test_support::run_chipgym({"train", "--task-file", task_file.string(), "--agent", "nsga2", "--budget", "6",
                                      "--seed", "1", "--hyper", R"({"population": 4})", "--out", out.string(),
                                      "--cache-dir", (dir.path() / "cache").string(), "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  const json summary = json::parse(r.out);
  REQUIRE_FALSE(summary["pareto"].empty());
  // The front is on LUTs: every point has them, and none dominates another on LUTs and cycles.
  const auto events = test_support::read_jsonl(out / "events.jsonl");
  std::vector<runs::FrontPoint> all = runs::admissible_points(events, "luts");
  REQUIRE(all.size() >= 2);
  for (const auto& p : summary["pareto"]) {
    REQUIRE(p.contains("luts"));
    CHECK_FALSE(p.contains("transistors"));
    CHECK(p["luts"].get<double>() > 0);
    for (const auto& q : all)
      CHECK_FALSE((q.area <= p["luts"].get<double>() && q.cycles <= p["cycles"].get<double>() &&
                   (q.area < p["luts"].get<double>() || q.cycles < p["cycles"].get<double>())));
  }
  CHECK(summary["pareto"].size() == runs::pareto_front(all).size());
  // The task JSON of the run keeps the objectives, so the run rebuilds from its directory.
  const json config = json::parse(std::ifstream(out / "config.json"));
  CHECK(config["task"]["objectives"] == json({"luts", "cycles"}));
  auto shown = test_support::run_chipgym({"pareto", out.string(), "--out", (dir.path() / "plot").string()});
  INFO(shown.err);
  REQUIRE(shown.ok());
  CHECK_THAT(shown.out, Catch::Contains("(luts, cycles; both lower is better)"));
  std::ifstream gp(dir.path() / "plot" / "pareto.gp");
  CHECK_THAT(std::string(std::istreambuf_iterator<char>(gp), {}), Catch::Contains("set xlabel 'iCE40 LUTs"));

  // Bad input: an objective nobody measures, or a model-only task that has no LUTs.
  task["objectives"] = {"area", "cycles"};
  std::ofstream(task_file) << task.dump();
  auto bad = test_support::run_chipgym({"train", "--task-file", task_file.string(), "--agent", "nsga2", "--out",
                                        (dir.path() / "bad").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("\"objectives\" must be [AREA, \"cycles\"] with AREA one of transistors, cells, luts"));
  task["objectives"] = {"luts", "cycles"};
  task["fidelity"] = "model";
  std::ofstream(task_file) << task.dump();
  bad = test_support::run_chipgym({"train", "--task-file", task_file.string(), "--agent", "nsga2", "--out",
                                   (dir.path() / "bad2").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("its objectives need luts, which the fidelity model"));
  CHECK_FALSE(fs::exists(dir.path() / "bad" / "events.jsonl"));
}

// runs::Recorder, the one record of a training run: events appended and flushed, torn lines
// skipped on resume, the best design exported (and exported again after a crash), summaries
// that add up the sessions. No tool runs: the evaluations are made up.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>

#include "env/env.h"
#include "runs/recorder.h"
#include "test_support.h"

using namespace chipgym;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  evaluators::TempDir tmp{"chipgym-recorder-"};
  env::Task task = env::Task::from_json(json::parse(test_support::kTinyTask));
  // Decodes designs only; nothing is evaluated.
  env::Env design_env{task, {}, std::make_shared<evaluators::Pipeline>(nullptr)};
  fs::path run = tmp.path() / "run";

  runs::Evaluation evaluation(std::vector<long long> design, double reward, bool cache_hit = false) const {
    json metrics = {{"cycles", 40}, {"transistors", 1000 * (design[0] + 1)}, {"correct", nullptr},
                    {"seconds", 0.5}, {"fidelity", "synth"}, {"cache_hit", cache_hit}};
    return {design, design_env.decode(design).to_json(), reward, metrics, cache_hit, {{"batch", 0}, {"batch_size", 1}}};
  }
  void start(runs::Recorder& r, long long budget = 10) const {
    r.start({{"task", task.to_json()}, {"agent", "test"}}, budget, runs::design_export(task, "test"));
  }
};

std::size_t lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

}  // namespace

TEST_CASE("Recorder: a recorded evaluation is one line of events.jsonl, on disk before record() returns") {
  Scratch s;
  auto r = runs::Recorder::create(s.run, false);
  CHECK_FALSE(fs::exists(s.run));  // nothing is written before start()
  s.start(r);
  CHECK(fs::exists(s.run / "config.json"));
  json event = r.record(s.evaluation({1, 0, 1}, 2.5));
  // Read while the recorder still holds the file open: the line was flushed.
  auto events = test_support::read_jsonl(s.run / "events.jsonl");
  REQUIRE(events.size() == 1);
  CHECK(events[0] == event);
  CHECK(events[0]["eval"] == 0);
  CHECK(events[0]["batch"] == 0);
  CHECK(events[0]["batch_size"] == 1);
  CHECK(events[0]["design"] == json{1, 0, 1});
  CHECK(events[0]["params"]["dataflow"] == "ws");
  CHECK(events[0]["reward"] == 2.5);
  CHECK(events[0]["cycles"] == 40);
  CHECK(events[0]["transistors"] == 2000);
  CHECK(events[0]["correct"].is_null());
  CHECK(events[0]["cache_hit"] == false);
  CHECK(events[0]["seconds"] == 0.5);
  CHECK_FALSE(events[0].contains("error"));
  // A failed evaluation carries its error's category and message (not its stage).
  auto failed = s.evaluation({0, 0, 0}, -3);
  failed.metrics["error"] = {{"category", "synth_error"}, {"message", "no top"}, {"stage", "synthesize"}};
  CHECK(r.record(failed)["error"] == json{{"category", "synth_error"}, {"message", "no top"}});
  // A reward that is not finite is written as null: the line stays JSON.
  CHECK(r.record(s.evaluation({0, 1, 0}, std::numeric_limits<double>::quiet_NaN()))["reward"].is_null());
  CHECK(lines_of(s.run / "events.jsonl") == 3);
  CHECK(r.progress().evaluations == 3);
}

TEST_CASE("Recorder: the best design is exported to best/ when a reward beats every earlier one, and never for a non-finite one") {
  Scratch s;
  auto r = runs::Recorder::create(s.run, false);
  s.start(r);
  r.record(s.evaluation({0, 0, 0}, 1.0));
  json design = json::parse(std::ifstream(s.run / "best" / "design.json"));
  CHECK(design["eval"] == 0);
  CHECK(design["params"]["rows"] == 1);
  for (const char* f : {"best/metrics.json", "best/report.md", "best/gemm_top.v"}) CHECK(fs::exists(s.run / f));
  r.record(s.evaluation({1, 1, 0}, 3.0));
  r.record(s.evaluation({1, 0, 0}, 2.0));                                       // worse: best/ stays
  r.record(s.evaluation({0, 1, 1}, std::numeric_limits<double>::infinity()));  // not finite: never the best
  design = json::parse(std::ifstream(s.run / "best" / "design.json"));
  CHECK(design["eval"] == 1);
  CHECK(design["params"]["rows"] == 2);
  CHECK(json::parse(std::ifstream(s.run / "best" / "metrics.json"))["transistors"] == 2000);
  CHECK(r.progress().has_best);
  CHECK(r.progress().best_reward == 3.0);
  CHECK(r.best_event()["eval"] == 1);
  bool re_evaluated = false;
  r.finish([&](const json&) {
    re_evaluated = true;
    return json::object();
  });
  CHECK_FALSE(re_evaluated);  // best/ holds the best already
  json summary = r.write_summary({{"agent", "test"}}, true);
  CHECK(summary["agent"] == "test");
  CHECK(summary["evaluations"] == 4);
  CHECK(summary["best_reward"] == 3.0);
  CHECK(summary["best"]["eval"] == 1);
  CHECK(summary["complete"] == true);
  CHECK(json::parse(std::ifstream(s.run / "summary.json")) == summary);
}

TEST_CASE("Recorder: a resume skips a torn last line with a notice, keeps what it is told, and exports a best that best/ lacks") {
  Scratch s;
  double first_session = 0;
  {
    auto r = runs::Recorder::create(s.run, false);
    s.start(r);
    r.record(s.evaluation({0, 0, 0}, 1.0, true));
    r.record(s.evaluation({1, 1, 1}, 4.0));
    r.record(s.evaluation({1, 0, 1}, 2.0, true));
    r.finish([](const json&) { return json::object(); });
    first_session = r.write_summary({}, false)["seconds_total"];
  }
  // A crash: the last line cut, and best/ lost before its export.
  std::ofstream(s.run / "events.jsonl", std::ios::app) << R"({"eval": 3, "desi)";
  fs::remove_all(s.run / "best");

  auto r = runs::Recorder::resume(s.run);
  REQUIRE(r.resuming());
  CHECK(r.recorded_config()["agent"] == "test");
  REQUIRE(r.recorded_events().size() == 3);
  REQUIRE(r.notices().size() == 1);
  CHECK(r.notices()[0] == "skipped 1 torn line(s) of events.jsonl (cut by a crash)");
  r.keep_recorded(2, "after the test's checkpoint");
  REQUIRE(r.notices().size() == 2);
  CHECK(r.notices()[1] == "dropped 1 evaluation(s) after the test's checkpoint; they run again");
  CHECK(lines_of(s.run / "events.jsonl") == 4);  // nothing is rewritten before start(): the torn line is there
  s.start(r);
  auto events = test_support::read_jsonl(s.run / "events.jsonl");  // throws on a torn line
  REQUIRE(events.size() == 2);
  // The kept events count: evaluations, cache hits, the best (not exported again by start()).
  CHECK(r.progress().evaluations == 2);
  CHECK(r.progress().cache_hits == 1);
  CHECK(r.progress().best_reward == 4.0);
  CHECK_FALSE(fs::exists(s.run / "best" / "design.json"));
  CHECK(r.record(s.evaluation({0, 1, 0}, 0.5))["eval"] == 2);
  // best/ does not hold evaluation 1: finish() evaluates it again and exports it.
  json asked;
  r.finish([&](const json& best) {
    asked = best;
    return json{{"cycles", 40}, {"fidelity", "synth"}};
  });
  CHECK(asked["eval"] == 1);
  json design = json::parse(std::ifstream(s.run / "best" / "design.json"));
  CHECK(design["eval"] == 1);
  CHECK(design["reward"] == 4.0);
  json summary = r.write_summary({}, true);
  CHECK(summary["evaluations"] == 3);
  CHECK(summary["cache_hits"] == 1);
  CHECK(summary["seconds_total"].get<double>() >= first_session + summary["seconds_this_session"].get<double>() - 1e-9);
}

TEST_CASE("Recorder: a new run refuses an existing run directory unless forced, and progress reports reach the callback") {
  Scratch s;
  {
    auto r = runs::Recorder::create(s.run, false);
    s.start(r);
    r.record(s.evaluation({0, 0, 0}, 1.0));
  }
  auto again = runs::Recorder::create(s.run, false);
  CHECK_THROWS_WITH(s.start(again), Catch::Contains("exists; use --resume"));
  auto forced = runs::Recorder::create(s.run, true);
  std::vector<runs::Progress> reports;
  forced.start({{"agent", "test"}}, 7, runs::design_export(s.task, "test"),
               [&](const runs::Progress& p) { reports.push_back(p); });
  CHECK(lines_of(s.run / "events.jsonl") == 0);
  forced.record(s.evaluation({1, 1, 0}, 2.0, true));
  forced.report_progress();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].evaluations == 1);
  CHECK(reports[0].budget == 7);
  CHECK(reports[0].cache_hits == 1);
  CHECK(reports[0].has_best);
  CHECK(reports[0].best_reward == 2.0);
  CHECK_THROWS_WITH(runs::Recorder::resume(s.tmp.path() / "nothing"), Catch::Contains("has no config.json"));
}

TEST_CASE("Recorder: the best is verified at rtl when the run ends and one that fails is recorded and never the best again while the next best is tried") {
  Scratch s;
  auto r = runs::Recorder::create(s.run, false);
  s.start(r);
  r.record(s.evaluation({0, 0, 0}, 1.0));
  r.record(s.evaluation({1, 0, 0}, 3.0));  // the best so far, which fails at rtl
  r.record(s.evaluation({0, 1, 0}, 2.0));  // the next best, which passes
  r.record(s.evaluation({1, 0, 0}, 3.0));  // the failing design again (a cache hit)
  // Until the run ends, best/ is the best at the run's fidelity, not yet verified.
  json provisional = json::parse(std::ifstream(s.run / "best" / "metrics.json"));
  CHECK(provisional["verified"] == false);
  std::vector<json> asked;
  auto verify = [&](const json& event) {
    asked.push_back(event["design"]);
    json m = {{"fidelity", "rtl"}, {"cycles", 40}, {"transistors", 1000}, {"luts", 12}, {"mismatches", 0}, {"correct", true}};
    if (event["design"] == json{1, 0, 0}) {
      m["correct"] = false;
      m["mismatches"] = 7;
    }
    return m;
  };
  r.finish([](const json&) { return json::object(); }, verify);
  // The failing design is asked once (its repeat is the same design), then the next best.
  CHECK(asked == std::vector<json>{json{1, 0, 0}, json{0, 1, 0}});
  CHECK(r.best_verified() == true);
  CHECK(r.best_event()["design"] == json{0, 1, 0});
  const json design = json::parse(std::ifstream(s.run / "best" / "design.json"));
  CHECK(design["design"] == json{0, 1, 0});
  const json metrics = json::parse(std::ifstream(s.run / "best" / "metrics.json"));
  CHECK(metrics["verified"] == true);
  CHECK(metrics["fidelity"] == "rtl");
  CHECK(metrics["luts"] == 12);
  const auto checks = test_support::read_jsonl(s.run / "verify.jsonl");
  REQUIRE(checks.size() == 2);
  CHECK(checks[0]["eval"] == 1);
  CHECK(checks[0]["passed"] == false);
  CHECK(checks[0]["mismatches"] == 7);
  CHECK(checks[1]["eval"] == 2);
  CHECK(checks[1]["passed"] == true);
  REQUIRE(r.notices().size() == 1);
  CHECK_THAT(r.notices()[0], Catch::Contains("evaluation 1, reward 3.0) fails at rtl: 7 outputs differ") &&
                                 Catch::Contains("the next best is tried"));
  CHECK(lines_of(s.run / "events.jsonl") == 4);  // events.jsonl stays one line per evaluation
  CHECK(r.write_summary(json::object(), true)["best_verified"] == true);

  // A resume knows the failing design: it is not the best again, and a best that is already
  // verified in best/ is not checked again.
  auto resumed = runs::Recorder::resume(s.run);
  s.start(resumed);
  CHECK(resumed.best_event()["design"] == json{0, 1, 0});
  resumed.record(s.evaluation({1, 0, 0}, 3.0));
  CHECK(json::parse(std::ifstream(s.run / "best" / "design.json"))["design"] == json{0, 1, 0});
  asked.clear();
  resumed.finish([](const json&) { return json::object(); }, verify);
  CHECK(asked.empty());
  CHECK(resumed.best_verified() == true);

  // When every try fails, best/ holds the best design marked as failing, and a notice says so.
  Scratch t;
  auto failing = runs::Recorder::create(t.run, false);
  t.start(failing);
  failing.record(t.evaluation({1, 0, 0}, 3.0));
  failing.finish([](const json&) { return json::object(); }, verify);
  CHECK(failing.best_verified() == false);
  CHECK(json::parse(std::ifstream(t.run / "best" / "metrics.json"))["verified"] == false);
  CHECK_THAT(failing.notices().back(), Catch::Contains("none of the 1 best designs passed at rtl"));

  // A check that fails for want of a tool says nothing of the design: it stays unverified.
  Scratch u;
  auto no_tool = runs::Recorder::create(u.run, false);
  u.start(no_tool);
  no_tool.record(u.evaluation({0, 1, 0}, 2.0));
  no_tool.finish([](const json&) { return json::object(); }, [](const json&) {
    return json{{"fidelity", "rtl"}, {"correct", nullptr}, {"error", {{"category", "environment"}, {"message", "verilator not found on PATH"}}}};
  });
  CHECK(no_tool.best_verified().is_null());
  CHECK_FALSE(fs::exists(u.run / "verify.jsonl"));
  CHECK(json::parse(std::ifstream(u.run / "best" / "metrics.json"))["verified"] == false);
  CHECK_THAT(no_tool.notices().back(), Catch::Contains("could not be verified at rtl: verilator not found on PATH"));
}

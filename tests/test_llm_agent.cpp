// The "llm" design agent in chipgym train / compare, against a mock OpenAI-compatible server
// on 127.0.0.1 that the test starts and scripts.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "mock_llm.h"
#include "test_support.h"

using json = nlohmann::json;
using test_support::kTinyTask;
using test_support::run_chipgym;

namespace {

// The mock server answering a script of (status, content), then `fallback` with status 200;
// it reports no token usage.
struct MockServer : test_support::MockLlmServer {
  static std::vector<test_support::MockStep> steps(const std::vector<std::pair<int, std::string>>& script) {
    std::vector<test_support::MockStep> out;
    for (const auto& [status, content] : script) out.emplace_back(status, content);
    return out;
  }
  MockServer(const std::vector<std::pair<int, std::string>>& script, const std::string& fallback)
      : MockLlmServer(
            steps(script), [fallback](const json&) { return test_support::MockStep(200, fallback); }, nullptr) {}
};


// gemm-tiny's searched parameters in order: rows [1, 2], cols [1, 2], dataflow [os, ws].
std::vector<long long> design(const json& event) { return event.at("design").get<std::vector<long long>>(); }

}  // namespace

TEST_CASE("the llm agent evaluates the designs the model proposes, replaces invalid ones, and resumes from its transcript") {
  unsetenv("CHIPGYM_LLM_URL");
  chipgym::evaluators::TempDir dir("chipgym-llm-agent-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const std::string cache = (dir.path() / "cache").string();
  const auto out = dir.path() / "run";

  MockServer server({{200, "Here you go:\n```json\n[{\"rows\": 2, \"cols\": 1, \"dataflow\": \"ws\"}]\n```"},
                     {200, "I think rows=2 is best"},
                     {200, "[{\"rows\": 3, \"cols\": 1, \"dataflow\": \"os\"}]"},
                     {200, "[{\"rows\": 1, \"cols\": 2, \"dataflow\": \"ws\"}]"},
                     {200, "[{\"rows\": 2, \"cols\": 2, \"dataflow\": \"os\"}]"},
                     {200, "[{\"rows\": 2, \"cols\": 2, \"dataflow\": \"ws\"}]"}},
                    "[]");
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--task-file", task_file.string(), "--agent", "llm", "--budget", "6",
                                  "--seed", "3", "--out", out.string(), "--cache-dir", cache};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto r = run_chipgym(args({"--hyper", json{{"url", server.url()}}.dump(), "--json"}));
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  auto events = test_support::read_jsonl(out / "events.jsonl");
  REQUIRE(events.size() == 6);
  CHECK(design(events[0]) == std::vector<long long>{1, 0, 1});
  CHECK(design(events[3]) == std::vector<long long>{0, 1, 1});
  CHECK(design(events[4]) == std::vector<long long>{1, 1, 0});
  CHECK(design(events[5]) == std::vector<long long>{1, 1, 1});
  // The two invalid replies became random designs, all six distinct.
  std::set<std::vector<long long>> distinct;
  for (const auto& e : events) distinct.insert(design(e));
  CHECK(distinct.size() == 6);

  auto prompts = server.prompts();
  REQUIRE(prompts.size() == 6);
  CHECK_THAT(prompts[0], Catch::Contains("gemm-tiny") && Catch::Contains("throughput per area") &&
                             Catch::Contains(R"({"cols":[1,2],"dataflow":["os","ws"],"rows":[1,2]})") &&
                             Catch::Contains("No design has been evaluated yet"));
  CHECK_THAT(prompts[1], Catch::Contains("1 design(s) evaluated so far") &&
                             Catch::Contains(R"({"design":{"cols":1,"dataflow":"ws","rows":2},"reward":)"));
  CHECK_THAT(prompts[2], Catch::Contains("Feedback on your previous answer") && Catch::Contains("not valid JSON"));
  CHECK_THAT(prompts[3], Catch::Contains("'rows' = 3 is not one of [1,2]"));
  CHECK_THAT(prompts[4], !Catch::Contains("Feedback on your previous answer"));
  CHECK(json::parse(std::ifstream(out / "config.json"))["hyper"] ==
        json{{"url", server.url()}, {"model", "default"}, {"temperature", 0.2}, {"timeout", 60.0}, {"retries", 2}});

  auto transcript = test_support::read_jsonl(out / "llm.jsonl");
  REQUIRE(transcript.size() == 6);
  for (const auto& t : transcript) {
    CHECK(t["ok"] == true);
    CHECK(t["prompt_sha256"].get<std::string>().size() == 64);
  }

  // Resume with the server stopped: the last two evaluations come back from the transcript.
  server.stop();
  {
    std::ofstream cut(out / "events.jsonl", std::ios::trunc);
    for (std::size_t i = 0; i < 4; ++i) cut << events[i].dump() << "\n";
  }
  auto resumed = run_chipgym(args({"--resume"}));
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.ok());
  auto again = test_support::read_jsonl(out / "events.jsonl");
  REQUIRE(again.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(design(again[i]) == design(events[i]));
  CHECK(test_support::read_jsonl(out / "llm.jsonl").size() == 6);  // no new call, no failure line
}

TEST_CASE("the llm agent needs an endpoint, falls back to random designs on failed calls, and stops after three") {
  unsetenv("CHIPGYM_LLM_URL");
  chipgym::evaluators::TempDir dir("chipgym-llm-agent-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  const std::string cache = (dir.path() / "cache").string();

  auto no_url = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "llm", "--budget", "2", "--out",
                             (dir.path() / "none").string(), "--cache-dir", cache});
  CHECK(no_url.exit_code == 2);
  CHECK_THAT(no_url.err, Catch::Contains("the llm agent needs --hyper '{\"url\": ...}' or CHIPGYM_LLM_URL"));

  MockServer failing({{500, ""}, {500, ""}, {500, ""}, {500, ""}}, "[]");
  const auto out = dir.path() / "failing";
  auto r = run_chipgym({"train", "--task-file", task_file.string(), "--agent", "llm", "--budget", "6", "--out",
                        out.string(), "--cache-dir", cache, "--hyper",
                        json{{"url", failing.url()}, {"retries", 0}}.dump()});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("3 model calls in a row failed"));
  CHECK(test_support::read_jsonl(out / "events.jsonl").size() == 2);  // two random designs before the third failure
  auto transcript = test_support::read_jsonl(out / "llm.jsonl");
  REQUIRE(transcript.size() == 3);
  CHECK(transcript[0]["ok"] == false);
  CHECK_THAT(transcript[0]["warning"].get<std::string>(), Catch::Contains("random design(s) instead"));
  CHECK(transcript[2]["fatal"] == true);
  CHECK_THAT(failing.prompts()[1], Catch::Contains("the previous model call failed"));
}

TEST_CASE("chipgym compare runs the llm agent beside random when CHIPGYM_LLM_URL is set") {
  chipgym::evaluators::TempDir dir("chipgym-llm-agent-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << kTinyTask;
  MockServer server({}, "[{\"rows\": 2, \"cols\": 2, \"dataflow\": \"ws\"}]");
  const auto out = dir.path() / "cmp";
  auto r = run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,llm", "--seeds", "1",
                        "--budget", "3", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()},
                       {{"CHIPGYM_LLM_URL", server.url()}});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  auto events = test_support::read_jsonl(out / "llm-0" / "events.jsonl");
  REQUIRE(events.size() == 3);
  CHECK(design(events[0]) == std::vector<long long>{1, 1, 1});
  CHECK(std::filesystem::exists(out / "llm-0" / "llm.jsonl"));
  std::ifstream lb(out / "leaderboard.md");
  std::string text((std::istreambuf_iterator<char>(lb)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("llm") && Catch::Contains("random"));
}

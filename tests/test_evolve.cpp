// chipgym evolve: the program database (MAP-Elites cells, islands, migration, seeded
// sampling, persistence) and the evolutionary loop with the offline mutation proposer and
// with a scripted mock OpenAI-compatible server on 127.0.0.1.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "env/kernel_task.h"
#include "hdl/param_space.h"
#include "agents/diff.h"
#include "agents/evolve.h"
#include "runs/evolve.h"
#include "agents/program_db.h"
#include "mock_llm.h"
#include "test_support.h"

using namespace chipgym::agents;
using namespace chipgym::runs;
using namespace chipgym::env;
using chipgym::env::find_kernel_task;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json pass_report(double transistors, double throughput, int latency) {
  return {{"verdict", "pass"}, {"stage", ""}, {"synthesis", {{"transistors", transistors}, {"cells", 10}}},
          {"simulation", {{"throughput", throughput}, {"latency_cycles", latency}}}};
}

Program program(int island, const std::string& code, const json& report, int latency = 1) {
  Program p;
  p.island = island;
  p.code = code;
  p.report = report;
  p.passed = report["verdict"] == "pass";
  p.fitness = fitness_of(report);
  if (p.passed) {
    p.area = report["synthesis"]["transistors"];
    p.latency = latency;
  }
  return p;
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("chipgym_evolve_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE("fitness ranks every passing kernel above every failure and a further failure above an earlier one") {
  const double small = fitness_of(pass_report(200, 1.0, 1));
  const double big = fitness_of(pass_report(400, 1.0, 1));
  const double slow = fitness_of(pass_report(200, 0.5, 1));
  CHECK(small == Approx(5.0));
  CHECK(small > big);
  CHECK(small > slow);
  CHECK(slow > 0);
  const double synth = fitness_of({{"verdict", "fail"}, {"stage", "synthesize"}});
  const double sim = fitness_of({{"verdict", "fail"}, {"stage", "simulate"}});
  const double lint = fitness_of({{"verdict", "fail"}, {"stage", "lint"}});
  const double screen = fitness_of({{"verdict", "bad_input"}, {"stage", "screen"}});
  CHECK(0 > synth);
  CHECK(synth > sim);
  CHECK(sim > lint);
  CHECK(lint > screen);
  CHECK(screen > kNoCandidatePenalty);
}

TEST_CASE("Neighbouring seeds give unrelated random streams, not one shifted by a draw") {
  auto stream = [](std::uint64_t seed) {
    ProgramDbConfig c;
    c.seed = seed;
    ProgramDb db(c);
    std::vector<std::uint64_t> out;
    for (int i = 0; i < 16; ++i) out.push_back(db.next_random());
    return out;
  };
  const auto s1 = stream(1), s2 = stream(2);
  // No draw of seed 2's first eight appears anywhere in seed 1's first sixteen (the old linear
  // seeding made s2[i] == s1[i + 1]).
  for (int i = 0; i < 8; ++i) CHECK(std::find(s1.begin(), s1.end(), s2[static_cast<std::size_t>(i)]) == s1.end());
  CHECK(stream(1) == s1);  // and a seed still gives the same stream
}

TEST_CASE("MAP-Elites cells keep the fittest program per area and latency bin, per island") {
  ProgramDbConfig c;
  c.islands = 2;
  ProgramDb db(c);
  const int a = db.add(program(0, "a", pass_report(360, 1.0, 1)));
  const int b = db.add(program(0, "b", pass_report(300, 1.0, 1)));   // same log2 bin (8), fitter
  const int d = db.add(program(0, "d", pass_report(100, 1.0, 3), 3));   // another cell
  const int f = db.add(program(0, "f", {{"verdict", "fail"}, {"stage", "lint"}}));
  const int e = db.add(program(1, "e", pass_report(360, 1.0, 1)));
  CHECK(db.cell_of(db.get(a)) == std::make_pair(8, 1));
  CHECK(db.cell_of(db.get(d)) == std::make_pair(6, 3));
  auto el = db.elites(0);
  CHECK(el.size() == 2);
  CHECK(std::find(el.begin(), el.end(), a) == el.end());
  CHECK(std::find(el.begin(), el.end(), b) != el.end());
  CHECK(std::find(el.begin(), el.end(), f) == el.end());
  CHECK(db.best() == d);
  CHECK(db.best_in_island(1) == e);
  // Migration copies island 0's best to island 1 and island 1's best to island 0.
  auto moved = db.migrate(4);
  REQUIRE(moved.size() == 2);
  CHECK(db.get(moved[0]).island == 1);
  CHECK(db.get(moved[0]).code == "d");
  CHECK(db.get(moved[0]).origin == "migration");
  CHECK(db.get(moved[0]).parent_id == d);
  CHECK(db.best_in_island(1) == moved[0]);
  // Island 1 now holds d as its best and island 0 holds it already: nothing more to copy.
  CHECK(db.migrate(6).empty());
}

TEST_CASE("parent and inspiration sampling is seeded and survives a save and load") {
  ProgramDbConfig c;
  c.islands = 2;
  c.seed = 42;
  c.exploration = 0.3;
  ProgramDb db(c);
  for (int i = 0; i < 6; ++i) db.add(program(i % 2, "p" + std::to_string(i), pass_report(100 + 90 * i, 1.0, i % 3)));
  db.add(program(0, "bad", {{"verdict", "fail"}, {"stage", "simulate"}}));
  const fs::path dir = fresh_dir("db");
  fs::create_directories(dir);
  db.island_feedback[1] = "the SEARCH text does not match";
  db.stats["calls"] = 3;
  db.save(dir / "db.json");
  CHECK_FALSE(fs::exists(dir / "db.json.tmp"));
  ProgramDb loaded = ProgramDb::load(dir / "db.json");
  CHECK(loaded.to_json() == db.to_json());
  std::vector<int> first, second;
  for (int k = 0; k < 40; ++k) {
    first.push_back(db.sample_parent(k % 2));
    for (int id : db.sample_inspirations(k % 2, first.back())) first.push_back(100 + id);
    second.push_back(loaded.sample_parent(k % 2));
    for (int id : loaded.sample_inspirations(k % 2, second.back())) second.push_back(100 + id);
  }
  CHECK(first == second);
  // Exploration sometimes picks the failed program, tournaments pick elites.
  CHECK(std::count(first.begin(), first.end(), 6) >= 1);
  // Inspirations are never the parent.
  for (int k = 0; k < 20; ++k) {
    const int parent = db.sample_parent(0);
    for (int id : db.sample_inspirations(0, parent)) CHECK(id != parent);
  }
  CHECK(loaded.island_feedback.at(1) == "the SEARCH text does not match");
  std::ofstream(dir / "broken.json") << "{not json";
  CHECK_THROWS_WITH(ProgramDb::load(dir / "broken.json"), Catch::Contains("corrupt program database"));
  CHECK_THROWS_WITH(ProgramDb::load(dir / "missing.json"), Catch::Contains("cannot read the program database"));
  fs::remove_all(dir);
}

namespace {

using Step = test_support::MockStep;
using MockServer = test_support::MockLlmServer;  // answers 400 past the end of its script

EvolveConfig offline_config(const fs::path& out, int generations, std::uint64_t seed = 7) {
  EvolveConfig c;
  c.task = "relu-int8";
  c.generations = generations;
  c.out = out;
  c.db.seed = seed;
  c.db.islands = 2;
  c.db.migration_interval = 1;
  c.random_vectors = 8;
  c.workers = 2;
  return c;
}

EvolveConfig llm_config(const fs::path& out, const std::string& url, int generations) {
  EvolveConfig c;
  c.task = "relu-int8";
  c.generations = generations;
  c.out = out;
  c.db.islands = 1;
  c.db.exploration = 0;  // always an elite parent: the scripted diffs are written against it
  c.db.migration_interval = 0;
  c.random_vectors = 8;
  c.use_llm = true;
  c.llm.base_url = url;
  c.llm.model = "mock-coder";
  c.llm.api_key_env = "CHIPGYM_TEST_NO_KEY";
  c.llm.timeout_seconds = 1;
  c.llm.max_retries = 2;
  c.llm.backoff_seconds = 0.01;
  return c;
}


json program_list(const fs::path& dir) {
  std::ifstream in(dir / "checkpoints" / "db.json");
  return json::parse(in)["programs"];
}

std::string diff(const std::string& search, const std::string& replace) {
  return "Here is my change.\n<<<<<<< SEARCH\n" + search + "\n=======\n" + replace + "\n>>>>>>> REPLACE\n";
}

std::string canonical_with(const std::string& from, const std::string& to) {
  std::string code = find_kernel_task("relu-int8").canonical_verilog;
  code.replace(code.find(from), from.size(), to);
  return code;
}

}  // namespace

TEST_CASE("the offline mutation proposer evolves 2 generations deterministically and a stopped run resumes identically") {
  const fs::path a = fresh_dir("offline_a"), b = fresh_dir("offline_b"), c = fresh_dir("offline_c");
  auto sa = run_evolve(offline_config(a, 2));
  auto sb = run_evolve(offline_config(b, 2));
  CHECK(sa.generations_done == 2);
  CHECK(sa.candidates == 4);  // 2 islands x 1 child x 2 generations
  CHECK(sa.stop_reason == "generations");
  const json pa = program_list(a);
  CHECK(pa == program_list(b));
  CHECK(sa.best_fitness == sb.best_fitness);
  // Seeds on both islands, then mutations of a parent, each a one-block diff.
  REQUIRE(pa.size() >= 6);
  CHECK(pa[0]["origin"] == "seed");
  CHECK(pa[0]["passed"] == true);
  CHECK(pa[0]["fitness"].get<double>() > 0);
  int mutations = 0;
  for (const auto& p : pa)
    if (p["origin"] == "mutation") {
      ++mutations;
      CHECK(p["code"] != pa[p["parent_id"].get<int>()]["code"]);
      CHECK(fs::exists(a / "candidates" / ("p" + p["id"].dump() + ".v")));
    }
  CHECK(mutations == 4);
  // Everything recorded: prompts, responses (SEARCH/REPLACE), events with scores, best/program.v.
  CHECK(fs::exists(a / "prompts" / "g1_i1_c0.txt"));
  std::ifstream response(a / "responses" / "g0_i0_c0.txt");
  std::stringstream text;
  text << response.rdbuf();
  CHECK_THAT(text.str(), Catch::StartsWith("<<<<<<< SEARCH"));
  int scored = 0;
  for (const auto& ev : test_support::read_jsonl(a / "events.jsonl"))
    if (ev["event"] == "candidate") {
      ++scored;
      CHECK(ev.contains("verdict"));
      CHECK(ev.contains("fitness"));
      CHECK(ev["mutation"].get<std::string>().size() > 0);
    }
  CHECK(scored == 4);
  CHECK(fs::exists(a / "best" / "program.v"));
  CHECK(fs::exists(a / "templates" / "user.txt"));
  // chipgym replay scores the best kernel again and reproduces its report.
  auto replayed = test_support::run_chipgym({"replay", a.string(), "--verify", "--json"});
  INFO(replayed.err);
  CHECK(replayed.exit_code == 0);
  const json rj = json::parse(replayed.out);
  CHECK(rj["differences"].empty());
  CHECK(rj["fitness"] == sa.best_fitness);
  CHECK(rj["program"] == sa.best_id);

  // One generation, stop, resume up to two: the same database as the uninterrupted run.
  CHECK(run_evolve(offline_config(c, 1)).generations_done == 1);
  auto again = offline_config(c, 2);
  again.resume = true;
  auto sc = run_evolve(again);
  CHECK(sc.generations_done == 2);
  CHECK(sc.candidates == 2);
  CHECK(program_list(c) == pa);
  // Another run into a used directory without --resume is refused, and so is resuming nothing.
  CHECK_THROWS_WITH(run_evolve(offline_config(c, 3)), Catch::Contains("pass --resume"));
  auto nothing = offline_config(fresh_dir("offline_none"), 2);
  nothing.resume = true;
  CHECK_THROWS_WITH(run_evolve(nothing), Catch::Contains("nothing to resume"));
  auto other_task = again;
  other_task.task = "no-such-task";
  CHECK_THROWS_AS(run_evolve(other_task), chipgym::hdl::ParamError);
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST_CASE("an evolve run is an ordinary run directory and an older layout is refused with how to convert it") {
  const fs::path a = fresh_dir("layout_a");
  const EvolveSummary sa = run_evolve(offline_config(a, 1));
  // config.json says the kind; best/ holds the program, its record, its report; the database is
  // a checkpoint; summary.json is the summary.
  const json config = json::parse(std::ifstream(a / "config.json"));
  CHECK(config["kind"] == "evolve");
  CHECK(config["task"] == "relu-int8");
  const json design = json::parse(std::ifstream(a / "best" / "design.json"));
  CHECK(design["id"] == sa.best_id);
  CHECK(design["fitness"] == sa.best_fitness);
  CHECK_FALSE(design.contains("code"));
  CHECK(json::parse(std::ifstream(a / "best" / "metrics.json")) == design["report"]);
  std::stringstream code;
  code << std::ifstream(a / "best" / "program.v").rdbuf();
  CHECK(code.str() == program_list(a)[sa.best_id]["code"]);
  CHECK(fs::exists(a / "best" / "report.md"));
  CHECK(fs::exists(a / "checkpoints" / "db.json"));
  CHECK_FALSE(fs::exists(a / "db.json"));
  CHECK(json::parse(std::ifstream(a / "summary.json"))["generations_done"] == 1);
  CHECK(sa.best_file == (a / "best" / "program.v").string());

  // A resume with another seed is refused by name; without one, the run's seed is taken.
  auto other_seed = offline_config(a, 2, 99);
  other_seed.resume = true;
  other_seed.seed_given = true;
  CHECK_THROWS_WITH(run_evolve(other_seed), Catch::Contains("has seed 7, not 99"));
  // train does not resume an evolve run, evolve does not take another run's directory.
  auto train = test_support::run_chipgym({"train", "--task", "relu-int8", "--agent", "random", "--resume", "--out", a.string()});
  CHECK(train.exit_code == 2);
  CHECK_THAT(train.err, Catch::Contains("is an evolve run: continue it with chipgym evolve --resume --out"));

  // The older layout: db.json, best.v and best.json at the top, no kind.
  fs::rename(a / "checkpoints" / "db.json", a / "db.json");
  fs::rename(a / "best" / "program.v", a / "best.v");
  fs::rename(a / "best" / "design.json", a / "best.json");
  fs::remove_all(a / "best");
  json old_config = config;
  old_config.erase("kind");
  std::ofstream(a / "config.json") << old_config.dump(2);
  auto refused = test_support::run_chipgym({"replay", a.string()});
  CHECK(refused.exit_code == 2);
  CHECK(refused.out.empty());
  CHECK_THAT(refused.err, Catch::Contains("older layout") && Catch::Contains("chipgym replay --convert " + a.string()));
  auto resume_old = offline_config(a, 2);
  resume_old.resume = true;
  CHECK_THROWS_WITH(run_evolve(resume_old), Catch::Contains("chipgym replay --convert"));
  // --convert moves it into the current layout, then replays it, every figure reproduced.
  auto converted = test_support::run_chipgym({"replay", "--convert", a.string(), "--verify", "--json"});
  INFO(converted.err);
  CHECK(converted.exit_code == 0);
  CHECK_THAT(converted.err, Catch::Contains("converted: db.json -> checkpoints/db.json"));
  CHECK(json::parse(converted.out)["differences"].empty());
  CHECK(json::parse(std::ifstream(a / "config.json"))["kind"] == "evolve");
  CHECK(fs::exists(a / "best" / "program.v"));
  CHECK(json::parse(std::ifstream(a / "best" / "design.json"))["id"] == sa.best_id);
  // ... and it resumes like any run.
  auto resumed = offline_config(a, 2);
  resumed.resume = true;
  CHECK(run_evolve(resumed).generations_done == 2);
  auto again = test_support::run_chipgym({"replay", "--convert", a.string()});
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("not an evolve run of the older layout"));
  fs::remove_all(a);
}

TEST_CASE("evolve records through the one recorder, and a generation cut by a crash is dropped and runs again") {
  const fs::path a = fresh_dir("recorded_a"), b = fresh_dir("recorded_b");
  const EvolveSummary sb = run_evolve(offline_config(b, 2));
  // Seeds and candidates are the run's evaluations, numbered in order, with the fitness as reward.
  const auto events_b = test_support::read_jsonl(b / "events.jsonl");
  long long evals = 0;
  for (const auto& ev : events_b) {
    const std::string kind = ev["event"];
    CHECK(ev.contains("eval") == (kind == "seed" || kind == "candidate"));
    if (!ev.contains("eval")) continue;
    CHECK(ev["eval"] == evals++);
    CHECK(ev["reward"] == ev["fitness"]);
    CHECK(ev.contains("correct"));
    if (ev["verdict"] == "pass") {
      CHECK(ev["correct"] == true);
      CHECK(ev["transistors"].get<long long>() > 0);
    } else {
      CHECK(ev["error"]["category"] == ev["category"]);
    }
  }
  const json summary_b = json::parse(std::ifstream(b / "summary.json"));
  CHECK(summary_b["evaluations"] == evals);
  CHECK(summary_b["complete"] == true);
  CHECK(summary_b["best_reward"] == sb.best_fitness);
  CHECK(summary_b["best"]["program"] == sb.best_id);
  CHECK(json::parse(std::ifstream(b / "best" / "design.json"))["eval"] == summary_b["best"]["eval"]);

  // One generation, then a crash half-way through the second: two of its lines were written,
  // the second one torn.
  run_evolve(offline_config(a, 1));
  json cut;
  for (const auto& ev : events_b)
    if (ev.value("generation", 0) == 2 && ev["event"] == "candidate") cut = ev;
  REQUIRE(cut.is_object());
  cut["message"] = "written after the checkpoint";
  std::ofstream(a / "events.jsonl", std::ios::app) << cut.dump() << "\n{\"event\": \"cand";
  auto resumed = offline_config(a, 2);
  resumed.resume = true;
  const EvolveSummary sa = run_evolve(resumed);
  REQUIRE(sa.notices.size() == 2);
  CHECK_THAT(sa.notices[0], Catch::Contains("skipped 1 torn line"));
  CHECK_THAT(sa.notices[1], Catch::Contains("dropped 1 evaluation(s) after the last checkpoint (generation 1); they run again"));
  // The same evaluations as the uninterrupted run, once each; only the session notes differ.
  auto evaluations = [](const fs::path& dir) {
    std::vector<json> out;
    for (auto ev : test_support::read_jsonl(dir / "events.jsonl")) {
      if (!ev.contains("eval")) continue;
      for (const char* volatile_key : {"seconds", "stages", "cache_hit"}) ev.erase(volatile_key);
      out.push_back(ev);
    }
    return out;
  };
  CHECK(evaluations(a) == evaluations(b));
  CHECK(program_list(a) == program_list(b));
  CHECK(json::parse(std::ifstream(a / "summary.json"))["evaluations"] == evals);
  for (const auto& d : {a, b}) fs::remove_all(d);
}

TEST_CASE("evolve scores kernels through the evaluation cache: a second run of the same seed hits it") {
  const fs::path a = fresh_dir("cached_a"), b = fresh_dir("cached_b"), cache_dir = fresh_dir("cached_cache");
  auto pipeline = std::make_shared<chipgym::evaluators::Pipeline>(
      std::make_shared<chipgym::evaluators::Cache>(cache_dir / "cache.sqlite"));
  auto ca = offline_config(a, 1);
  ca.pipeline = pipeline;
  auto cb = offline_config(b, 1);
  cb.pipeline = pipeline;
  const EvolveSummary sa = run_evolve(ca);
  const EvolveSummary sb = run_evolve(cb);
  CHECK(program_list(a) == program_list(b));
  CHECK(sa.best_fitness == sb.best_fitness);
  // Scored candidates only: a child whose code another island already produced this run is
  // taken from the program database (its event has no stages) and reaches no cache at all.
  int first_hits = 0, first = 0, second_hits = 0, second = 0;
  for (const auto& ev : test_support::read_jsonl(a / "events.jsonl"))
    if (ev["event"] == "candidate" && !ev["stages"].empty()) {
      ++first;
      first_hits += ev["stages"].value("cache_hit", false);
    }
  for (const auto& ev : test_support::read_jsonl(b / "events.jsonl"))
    if (ev["event"] == "candidate" && !ev["stages"].empty()) {
      ++second;
      second_hits += ev["stages"].value("cache_hit", false);
    }
  CHECK(first >= 1);
  CHECK(first_hits == 0);
  CHECK(second == first);
  CHECK(second_hits == second);
  for (const auto& d : {a, b, cache_dir}) fs::remove_all(d);
}

TEST_CASE("the mutation proposer makes one small edit as a SEARCH/REPLACE block that applies to the parent") {
  const std::string code = find_kernel_task("relu-int8").canonical_verilog;
  std::set<std::string> seen;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    std::string what;
    const std::string reply = mutation_reply(code, seed, nullptr, &what);
    REQUIRE_FALSE(reply.empty());
    CHECK_THAT(reply, Catch::StartsWith("<<<<<<< SEARCH\n"));
    CHECK(reply == mutation_reply(code, seed, nullptr));  // seeded
    CHECK_FALSE(what.empty());
    const auto edit = apply_reply(code, reply);
    CHECK(edit.ok);
    CHECK(edit.blocks == 1);
    CHECK(edit.code != code);
    seen.insert(reply);
  }
  CHECK(seen.size() >= 10);
  // `avoid` is honoured: refusing everything gives no mutation.
  CHECK(mutation_reply(code, 1, [](const std::string&) { return true; }).empty());
}

TEST_CASE("prompt templates fill every slot and name a slot that has no value") {
  CHECK(render_template("t", "a {{x}} b {{ y }}", {{"x", "1"}, {"y", "2"}}) == "a 1 b 2");
  CHECK_THROWS_WITH(render_template("user.txt", "a {{missing}}", {}),
                    Catch::Contains("user.txt") && Catch::Contains("{{missing}}"));
  const fs::path dir = fresh_dir("prompts");
  fs::create_directories(dir);
  auto c = offline_config(fresh_dir("prompts_run"), 1);
  c.prompts_dir = dir;
  CHECK_THROWS_WITH(run_evolve(c), Catch::Contains("system.txt") && Catch::Contains("not found"));
  fs::remove_all(dir);
}

TEST_CASE("evolve with a scripted LLM feeds back unmatched diffs, build errors, cheats and empty replies, retries 500s and timeouts, and improves") {
  const std::string correct = diff(
      "  // The register takes a new element when it is empty or being emptied this cycle.",
      "  // Ready when the output register is empty or drains this cycle.");
  const std::string unmatched = diff("    if (in_valid & in_ready) begin", "    if (in_ready) begin");
  const std::string broken = "```verilog\nmodule relu_int8 (\n  input wire clk, input wire rst, input wire in_valid, "
                             "output wire in_ready,\n  input wire [7:0] in_data, input wire in_last, output wire out_valid, "
                             "input wire out_ready,\n  output wire [7:0] out_data, output wire out_last\n);\n"
                             "  assign in_ready = 1'b1 +;\nendmodule\n```\n";
  const std::string cheat = "```verilog\n" + canonical_with("in_data[7] ? 8'd0 : in_data", "8'd0") + "```\n";
  const std::string no_code = "I believe the design is already optimal; no change is needed.";
  const std::string smaller = diff("    if (in_valid && in_ready) begin", "    if (in_ready) begin");
  MockServer server({{200, correct},
                     {200, unmatched},
                     {200, broken},
                     {200, cheat},
                     {500, ""},
                     {200, correct},          // the retry after the 500: the same code again
                     {200, "", 1.6},          // times out (1 s), retried
                     {200, no_code},
                     {200, smaller}});
  const fs::path out = fresh_dir("llm");
  auto summary = run_evolve(llm_config(out, server.url(), 7));
  CHECK(summary.generations_done == 7);
  REQUIRE(server.requests().size() == 9);  // 7 calls, 2 of them retried
  CHECK(server.requests()[0]["model"] == "mock-coder");

  std::vector<json> candidates, errors;
  for (const auto& ev : test_support::read_jsonl(out / "events.jsonl")) {
    if (ev["event"] == "candidate") candidates.push_back(ev);
    if (ev["event"] == "edit_error") errors.push_back(ev);
  }
  REQUIRE(candidates.size() == 5);
  REQUIRE(errors.size() == 2);
  // 1: the correct diff passes.
  CHECK(candidates[0]["generation"] == 1);
  CHECK(candidates[0]["verdict"] == "pass");
  // 2: the unmatched SEARCH block is an error, fed back in the next prompt.
  CHECK(errors[0]["generation"] == 2);
  CHECK(errors[0]["fitness"] == kNoCandidatePenalty);
  CHECK_THAT(errors[0]["error"].get<std::string>(), Catch::Contains("does not match"));
  CHECK_THAT(server.prompt(2), Catch::Contains("could not be applied") && Catch::Contains("does not match the current code"));
  // 3: the build error is penalized and its message is in the next prompt.
  CHECK(candidates[1]["generation"] == 3);
  CHECK(candidates[1]["stage"] == "lint");
  CHECK(candidates[1]["fitness"] == -3.0);
  CHECK_THAT(server.prompt(3), Catch::Contains("FAIL at lint") && Catch::Contains("syntax error"));
  // 4: the constant-output cheat is caught and penalized.
  CHECK(candidates[2]["generation"] == 4);
  CHECK(candidates[2]["category"] == "constant_output");
  CHECK(candidates[2]["fitness"] == -2.0);
  CHECK_THAT(server.prompt(4), Catch::Contains("constant_output"));
  // 5: HTTP 500 retried; the reply repeats an earlier program, whose score is reused.
  CHECK(candidates[3]["generation"] == 5);
  CHECK(candidates[3]["llm"]["attempts"] == 2);
  CHECK(candidates[3]["same_code_as"] == candidates[0]["program"]);
  // 6: a timeout retried, then a reply without code: an error for the next prompt.
  CHECK(errors[1]["generation"] == 6);
  CHECK(errors[1]["llm"]["attempts"] == 2);
  CHECK_THAT(errors[1]["error"].get<std::string>(), Catch::Contains("no code"));
  CHECK_THAT(server.prompt(8), Catch::Contains("contains no code"));
  // 7: the smaller correct kernel is the new best, and the best fitness never went down.
  CHECK(candidates[4]["generation"] == 7);
  CHECK(candidates[4]["verdict"] == "pass");
  const json programs = program_list(out);
  CHECK(summary.best_id == candidates[4]["program"].get<int>());
  CHECK(summary.best_fitness > summary.seed_fitness);
  CHECK(programs[summary.best_id]["area"].get<double>() < programs[0]["area"].get<double>());
  double best_so_far = -1e9;
  std::map<int, double> best_by_generation;
  for (const auto& p : programs) {
    best_so_far = std::max(best_so_far, p["fitness"].get<double>());
    best_by_generation[p["generation"].get<int>()] = best_so_far;
  }
  CHECK(best_by_generation[7] > best_by_generation[0]);
  std::ifstream best(out / "best" / "program.v");
  std::stringstream best_text;
  best_text << best.rdbuf();
  CHECK_THAT(best_text.str(), Catch::Contains("if (in_ready) begin"));
  // Every prompt and response is recorded; calls and tokens are counted.
  CHECK(fs::exists(out / "prompts" / "g6_i0_c0.txt"));
  CHECK(fs::exists(out / "responses" / "g6_i0_c0.txt"));
  std::ifstream db_file(out / "checkpoints" / "db.json");
  const json db = json::parse(db_file);
  CHECK(db["stats"]["calls"] == 7);
  CHECK(db["stats"]["tokens"] == 7 * 120);
  fs::remove_all(out);
}

TEST_CASE("evolve stops at its model-call budget and resumes past it") {
  const std::string first = diff("  // The register takes a new element when it is empty or being emptied this cycle.", "  // one");
  const std::string second = diff("  // The register takes a new element when it is empty or being emptied this cycle.", "  // two");
  MockServer server({{200, first}, {200, second}, {200, "no code here"}});
  const fs::path out = fresh_dir("budget");
  auto c = llm_config(out, server.url(), 5);
  c.max_calls = 2;
  auto s = run_evolve(c);
  CHECK(s.stop_reason == "max_calls");
  CHECK(s.generations_done == 2);
  CHECK(server.requests().size() == 2);
  c.resume = true;
  c.max_calls = 3;
  auto s2 = run_evolve(c);
  CHECK(s2.stop_reason == "max_calls");
  CHECK(s2.generations_done == 3);
  CHECK(server.requests().size() == 3);
  fs::remove_all(out);
}

TEST_CASE("evolve names an unreachable LLM URL, in the library and on the command line") {
  const fs::path out = fresh_dir("unreachable");
  auto c = llm_config(out, "http://127.0.0.1:1/v1", 2);
  c.llm.max_retries = 0;
  CHECK_THROWS_WITH(run_evolve(c), Catch::Contains("cannot reach the LLM at http://127.0.0.1:1/v1"));
  // The run was saved before the error: it can be resumed once the server is up.
  CHECK(fs::exists(out / "checkpoints" / "db.json"));
  fs::remove_all(out);

  const fs::path cli_out = fresh_dir("unreachable_cli");
  auto r = test_support::run_chipgym({"evolve", "--task", "relu-int8", "--generations", "1", "--llm",
                                      "http://127.0.0.1:1/v1", "--model", "m", "--out", cli_out.string(),
                                      "--random", "4"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("error: cannot reach the LLM at http://127.0.0.1:1/v1"));
  fs::remove_all(cli_out);
  auto bad = test_support::run_chipgym({"evolve", "--task", "relu-int8", "--model", "m"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--model needs --llm URL"));
  auto unknown = test_support::run_chipgym({"evolve", "--task", "nope", "--generations", "1"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("unknown task 'nope'") && Catch::Contains("relu-int8") &&
                             Catch::Contains("gemm-int8"));
}

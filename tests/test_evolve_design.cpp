// `chipgym evolve` on a parametric design task: parameter sets as JSON, and one module of the
// accelerator rewritten while the rest is generated (agents/evolve_design.h). The designs are the
// tiny gemm task's (8 designs of 1x1..2x2 arrays), evaluated for real, with a scratch cache.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "agents/evolve.h"
#include "runs/evolve.h"
#include "mock_llm.h"
#include "agents/evolve_design.h"
#include "test_support.h"

using namespace chipgym::agents;
using namespace chipgym::runs;
using namespace chipgym::env;
using json = nlohmann::json;
namespace fs = std::filesystem;
using test_support::MockLlmServer;
using test_support::MockStep;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("chipgym_evolve_design_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}


// The attempts of a run (candidates and replies without one), in order.
std::vector<json> attempts(const fs::path& dir) {
  std::vector<json> out;
  for (const auto& e : test_support::read_jsonl(dir / "events.jsonl"))
    if (e.value("event", "") == "candidate" || e.value("event", "") == "edit_error") out.push_back(e);
  return out;
}

json db_programs(const fs::path& dir) {
  std::ifstream in(dir / "checkpoints" / "db.json");
  return json::parse(in)["programs"];
}

struct Fixture {
  test_support::ScratchCache scratch;
  std::shared_ptr<chipgym::evaluators::Pipeline> pipeline =
      std::make_shared<chipgym::evaluators::Pipeline>(scratch.cache);

  EvolveConfig config(const fs::path& out, int generations) {
    EvolveConfig c;
    c.task = "gemm-tiny";
    c.task_spec = json::parse(test_support::kTinyTask);
    c.generations = generations;
    c.out = out;
    c.db.seed = 3;
    c.db.islands = 2;
    c.db.migration_interval = 1;
    c.workers = 2;
    auto p = pipeline;
    c.pipeline = p;
    return c;
  }
  EvolveConfig llm(const fs::path& out, const std::string& url, int generations) {
    EvolveConfig c = config(out, generations);
    c.db.islands = 1;
    c.db.exploration = 0;  // the parent is always the elite: the scripted replies are written against it
    c.db.migration_interval = 0;
    c.workers = 1;
    c.use_llm = true;
    c.llm.base_url = url;
    c.llm.model = "mock-architect";
    c.llm.api_key_env = "CHIPGYM_TEST_NO_KEY";
    c.llm.timeout_seconds = 5;
    c.llm.max_retries = 0;
    return c;
  }
};

std::string json_reply(const std::string& object) { return "My reasoning ...\n```json\n" + object + "\n```\n"; }

}  // namespace

TEST_CASE("evolve searches a design task's parameter sets offline, seeded and resumable, and replays the best") {
  Fixture f;
  const fs::path a = fresh_dir("params_a"), b = fresh_dir("params_b");
  const auto whole = run_evolve(f.config(a, 3));
  CHECK(whole.subject == "params");
  CHECK(whole.generations_done == 3);
  const json programs = db_programs(a);
  REQUIRE(programs.size() >= 6);  // 2 seeds, up to 2 new designs per generation (of 8), migrations

  // The seed is the family's defaults where searched, else the middle searched value (tiny:
  // rows and cols search 1, 2; dataflow os is the default).
  CHECK(json::parse(programs[0]["code"].get<std::string>()) == json({{"rows", 2}, {"cols", 2}, {"dataflow", "os"}}));
  // Every program is a parameter set of the searched names, and its fitness is the task's
  // reward of that design, evaluated independently here.
  const auto task = chipgym::env::Task::from_json(json::parse(test_support::kTinyTask));
  chipgym::evaluators::EvalOptions o;
  o.fidelity = "synth";
  o.fpga = false;
  int checked = 0;
  for (const auto& p : programs) {
    const json params = json::parse(p["code"].get<std::string>());
    CHECK(params.size() == 3);
    REQUIRE(p["passed"] == true);
    if (checked++ < 3) {
      const auto m = f.pipeline->evaluate(task.design_family(), task.design_family().space().from_json(params),
                                          task.workload, o);
      CHECK(p["fitness"].get<double>() == Approx(task.reward(m)).epsilon(1e-12));
      CHECK(p["area"].get<double>() == static_cast<double>(m.transistors));
      CHECK(p["latency"].get<double>() == static_cast<double>(m.cycles));
    }
  }
  // The offline proposer moves one parameter at a time (in a space of 8 designs it runs out of
  // new neighbours of a parent, and says so).
  for (const auto& e : attempts(a))
    CHECK_THAT(e.value("mutation", std::string()),
               e["event"] == "candidate" ? Catch::Contains(" -> ") : Catch::Contains("no new mutation found"));
  CHECK(whole.best_fitness >= whole.seed_fitness);
  CHECK(fs::exists(a / "best" / "program.json"));
  CHECK(json::parse(std::ifstream(a / "best" / "program.json")) ==
        json::parse(programs[static_cast<std::size_t>(whole.best_id)]["code"].get<std::string>()));

  // Stopped after 2 generations and resumed to 3: the same programs as the uninterrupted run.
  run_evolve(f.config(b, 2));
  auto resume = f.config(b, 3);
  resume.resume = true;
  run_evolve(resume);
  const json resumed = db_programs(b);
  REQUIRE(resumed.size() == programs.size());
  for (std::size_t i = 0; i < programs.size(); ++i) {
    CHECK(resumed[i]["code"] == programs[i]["code"]);
    CHECK(resumed[i]["fitness"] == programs[i]["fitness"]);
  }

  // Replay evaluates the best design again without the cache and finds every figure.
  const json r = replay_evolve(a, f.pipeline);
  CHECK(r["subject"] == "params");
  CHECK(r["differences"].empty());
  CHECK(r["fitness"].get<double>() == whole.best_fitness);
  for (const auto& d : {a, b}) fs::remove_all(d);
}

TEST_CASE("a scripted model proposes parameter sets as JSON and every bad proposal is refused by name and fed back") {
  Fixture f;
  MockLlmServer server({{200, json_reply(R"({"rows": 1})")},      // valid: cols and dataflow stay
                        {200, json_reply(R"({"rows": 3})")},      // not a searched value
                        {200, json_reply(R"({"depth": 2})")},     // not a parameter
                        {200, "The design is already optimal."},  // no JSON
                        {200, R"({"rows": 2, "cols": 1,})"},      // does not parse
                        {200, "<<<<<<< SEARCH\n  \"dataflow\": \"os\"\n=======\n  \"dataflow\": \"ws\"\n>>>>>>> REPLACE\n"}});
  const fs::path out = fresh_dir("params_llm");
  const auto summary = run_evolve(f.llm(out, server.url(), 6));
  const auto tries = attempts(out);
  REQUIRE(tries.size() == 6);
  CHECK(tries[0]["event"] == "candidate");
  CHECK(tries[0]["verdict"] == "pass");
  const json programs = db_programs(out);
  CHECK(json::parse(programs[tries[0]["program"].get<int>()]["code"].get<std::string>()) ==
        json({{"rows", 1}, {"cols", 2}, {"dataflow", "os"}}));
  CHECK(tries[1]["fitness"] == -4.0);
  CHECK_THAT(tries[1]["message"].get<std::string>(), Catch::Contains("rows=3 is not one of the searched values [1,2]"));
  CHECK(tries[2]["fitness"] == -4.0);
  CHECK_THAT(tries[2]["message"].get<std::string>(), Catch::Contains("unknown parameter 'depth'"));
  CHECK(tries[3]["event"] == "edit_error");
  CHECK(tries[3]["fitness"] == -5.0);
  CHECK(tries[4]["event"] == "edit_error");
  CHECK_THAT(tries[4]["error"].get<std::string>(), Catch::Contains("does not parse"));
  CHECK(tries[5]["kind"] == "diff");
  CHECK(tries[5]["verdict"] == "pass");

  // Each prompt carries the evaluator's word on the previous proposal and the parameter list.
  REQUIRE(server.prompts().size() == 6);
  CHECK_THAT(server.prompt(0), Catch::Contains("rows: one of 1, 2") && Catch::Contains("```json"));
  CHECK_THAT(server.prompt(1), Catch::Contains("PASS: objective"));
  CHECK_THAT(server.prompt(2), Catch::Contains("is not one of the searched values"));
  CHECK_THAT(server.prompt(3), Catch::Contains("unknown parameter 'depth'"));
  CHECK_THAT(server.prompt(4), Catch::Contains("contains no JSON object"));
  CHECK_THAT(server.prompt(5), Catch::Contains("does not parse"));
  CHECK(server.requests()[0]["messages"][0]["content"].get<std::string>().find("hardware architect") != std::string::npos);
  CHECK(summary.best_fitness >= summary.seed_fitness);
  fs::remove_all(out);
}

TEST_CASE("evolve rewrites one module of an accelerator and scores the whole design against golden") {
  Fixture f;
  const fs::path probe = fresh_dir("module_probe");
  auto c = f.config(probe, 1);
  c.module = "gemm_pe";
  c.fixed = {{"rows", 1}, {"cols", 2}};
  const Subject subject = design_subject(c, f.pipeline);
  CHECK(subject.kind == "module");
  const std::string pe = subject.seed_code;
  const std::string step = "      acc   <= clear ? '0 : acc + addend;";
  REQUIRE(pe.find(step) != std::string::npos);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string code = pe;
    code.replace(code.find(from), from.size(), to);
    return "```verilog\n" + code + "```\n";
  };
  MockLlmServer server({
      {200, with(step, "      if (clear) acc <= '0;\n      else acc <= acc + addend;")},  // the same behaviour
      {200, with(step, "      acc   <= clear ? '0 : acc + addend + 1;")},                 // off by one
      {200, with(step, "      acc   <= clear ? '0 : acc + addend;\n      $system(\"touch /tmp/pwned\");")},
      {200, with("  input  wire                  clear,\n", "")},                           // a port missing
      {200, with(step, "      acc   <= clear ? : acc;")},                                   // does not compile
  });
  const fs::path out = fresh_dir("module_llm");
  auto cfg = f.llm(out, server.url(), 5);
  cfg.module = "gemm_pe.v";
  cfg.fixed = c.fixed;
  const auto summary = run_evolve(cfg);
  CHECK(summary.subject == "module");
  CHECK(summary.seed_fitness > 0);
  const auto tries = attempts(out);
  REQUIRE(tries.size() == 5);
  CHECK(tries[0]["verdict"] == "pass");
  CHECK(tries[0]["fitness"].get<double>() > 0);
  CHECK(tries[1]["fitness"] == -2.0);
  CHECK(tries[1]["stage"] == "simulate");
  CHECK(tries[2]["fitness"] == -4.0);
  CHECK_THAT(tries[2]["message"].get<std::string>(), Catch::Contains("$system"));
  CHECK(tries[3]["fitness"] == -4.0);
  CHECK_THAT(tries[3]["message"].get<std::string>(), Catch::Contains("port clear is missing"));
  CHECK(tries[4]["fitness"] == -3.0);
  CHECK(tries[4]["stage"] == "lint");
  CHECK_FALSE(fs::exists("/tmp/pwned"));
  CHECK_THAT(server.prompt(0), Catch::Contains("module of a generated accelerator: `gemm_pe`") &&
                                   Catch::Contains("- clear: input, 1 bits"));
  CHECK_THAT(server.prompt(2), Catch::Contains("differ from the golden model"));
  CHECK_THAT(server.prompt(4), Catch::Contains("port clear is missing"));
  // The candidates are the module's text; the run replays its best.
  CHECK(fs::exists(out / "candidates" / "p1.v"));
  const json r = replay_evolve(out, f.pipeline);
  CHECK(r["differences"].empty());
  fs::remove_all(out);
}

TEST_CASE("evolve on a design task names a bad module, bad fixed parameters and misplaced options") {
  const std::string out = (fresh_dir("cli_bad") / "run").string();
  auto r = test_support::run_chipgym({"evolve", "--task", "gemm-int8", "--module", "gemm_nope", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no such module") && Catch::Contains("gemm_pe"));
  CHECK_FALSE(fs::exists(out));  // nothing was created
  r = test_support::run_chipgym({"evolve", "--task", "gemm-int8", "--module", "gemm_pe", "--set", "rows=99", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("rows"));
  r = test_support::run_chipgym({"evolve", "--task", "gemm-int8", "--set", "rows=2", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("give --module too"));
  r = test_support::run_chipgym({"evolve", "--task", "relu-int8", "--module", "relu_int8", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("kernel task"));
  r = test_support::run_chipgym({"evolve", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--task"));
  CHECK_FALSE(fs::exists(out));
}

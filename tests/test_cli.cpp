// chipgym eval as a user runs it: output, the shared cache, and every kind of bad input.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "evaluators/runner.h"
#include "test_support.h"

using chipgym::evaluators::RunResult;
using chipgym::evaluators::TempDir;
using json = nlohmann::json;
using test_support::run_chipgym;

namespace {

void write_script(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0755);
}

json parse_json(const RunResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_NOTHROW(json::parse(r.out));
  return json::parse(r.out);
}

// What must be the same when a design is evaluated again (timings and cache_hit may differ).
json stable(json j) {
  for (const char* volatile_field : {"seconds", "cache_hit", "stages"}) j.erase(volatile_field);
  return j;
}

}  // namespace

TEST_CASE("chipgym eval prints every metric, and a second process gets an identical cache hit") {
  TempDir dir("chipgym-cli-");
  const std::string cache = (dir.path() / "cache").string();
  const std::vector<std::string> args = {"eval", "--task", "gemm-int8", "--set", "rows=2,cols=3,dataflow=ws",
                                         "--cache-dir", cache};
  RunResult text = run_chipgym(args);
  INFO(text.out << text.err);
  REQUIRE(text.ok());
  for (const char* field : {"correct", "cycles", "cells", "area", "logic depth", "iCE40", "objective", "time"})
    CHECK_THAT(text.out, Catch::Contains(field));
  CHECK_THAT(text.out, Catch::Contains("bit-exact"));

  auto args_json = args;
  args_json.push_back("--json");
  json first = parse_json(run_chipgym(args_json));
  CHECK(first["cache_hit"] == true);  // the text run above filled the cache
  CHECK(first["correct"] == true);
  CHECK(first["cycles"] == first["cycles_model"]);
  CHECK(first["transistors"].get<long long>() > 0);
  json again = parse_json(run_chipgym(args_json));
  CHECK(again["cache_hit"] == true);
  CHECK(stable(again) == stable(first));
  CHECK(std::filesystem::exists(dir.path() / "cache" / "cache.sqlite"));
}

TEST_CASE("two processes share one cache at the same time") {
  TempDir dir("chipgym-cli-");
  const std::string cache = (dir.path() / "cache").string();
  RunResult a, b;
  // The same design in both: they build, publish and store the same entries at once.
  std::thread ta([&] { a = run_chipgym({"eval", "--set", "rows=3,cols=2", "--no-fpga", "--cache-dir", cache, "--json"}); });
  std::thread tb([&] { b = run_chipgym({"eval", "--set", "rows=3,cols=2", "--no-fpga", "--cache-dir", cache, "--json"}); });
  ta.join();
  tb.join();
  INFO(a.err << b.err);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(stable(parse_json(a)) == stable(parse_json(b)));
  json again = parse_json(run_chipgym({"eval", "--set", "rows=3,cols=2", "--no-fpga", "--cache-dir", cache, "--json"}));
  CHECK(again["cache_hit"] == true);
  CHECK(stable(again) == stable(parse_json(a)));
}

TEST_CASE("bad input gets a clear message and a non-zero exit, and nothing already cached is lost") {
  TempDir dir("chipgym-cli-");
  const std::string cache = (dir.path() / "cache").string();
  const std::vector<std::string> cached_design = {"eval", "--set", "rows=2,cols=2", "--fidelity", "synth",
                                                  "--no-fpga", "--cache-dir", cache, "--json"};
  REQUIRE(run_chipgym(cached_design).ok());

  SECTION("options that do not parse, unknown options and commands exit 2; --help exits 0") {
    RunResult r = run_chipgym({"train", "--budget", "abc"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--budget"));
    r = run_chipgym({"eval", "--no-such-option"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--no-such-option"));
    r = run_chipgym({"frobnicate"});
    CHECK(r.exit_code == 2);
    CHECK(run_chipgym({"score", "--help"}).exit_code == 0);
    CHECK_THAT(run_chipgym({"score", "--help"}).out, Catch::Contains("--unsafe-no-sandbox"));
    r = run_chipgym({"train", "--task", "gemm-int8"});  // --agent is required
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--agent"));
    r = run_chipgym({"eval", "--fidelity", "bogus"});  // a value outside the choices
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--fidelity") && Catch::Contains("bogus"));
    r = run_chipgym({"compare", "--agents", "random", "--seeds", "two"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--seeds"));
    r = run_chipgym({"replay"});  // the run directory is required
    CHECK(r.exit_code == 2);
    CHECK(run_chipgym({}).exit_code == 2);  // no command at all
  }
  SECTION("a task file with an unknown fidelity is refused before anything runs, naming the fidelities") {
    json task = json::parse(test_support::kTinyTask);
    task["fidelity"] = "bogus";
    std::ofstream(dir.path() / "bogus.json") << task.dump();
    const auto out = dir.path() / "bogus-run";
    RunResult r = run_chipgym({"train", "--task-file", (dir.path() / "bogus.json").string(), "--agent", "random",
                               "--budget", "2", "--out", out.string(), "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown fidelity 'bogus'") && Catch::Contains("model") &&
                          Catch::Contains("synth") && Catch::Contains("rtl"));
    CHECK_FALSE(std::filesystem::exists(out));
    r = run_chipgym({"eval", "--task-file", (dir.path() / "bogus.json").string(), "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown fidelity 'bogus'"));
    // chipgym score's fidelity is not a task's: it needs golden vectors, not a family's model.
    task["fidelity"] = "untrusted";
    std::ofstream(dir.path() / "untrusted.json") << task.dump();
    r = run_chipgym({"eval", "--task-file", (dir.path() / "untrusted.json").string(), "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("the fidelity 'untrusted' is chipgym score's, not a task's"));
    r = run_chipgym({"eval", "--fidelity", "untrusted", "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--fidelity") && Catch::Contains("untrusted"));
  }
  SECTION("malformed --set") {
    RunResult r = run_chipgym({"eval", "--set", "rows8", "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("malformed assignment 'rows8'") && Catch::Contains("name=value"));
  }
  SECTION("unknown task") {
    RunResult r = run_chipgym({"eval", "--task", "gemm-int9", "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown task 'gemm-int9'") && Catch::Contains("known tasks: gemm-int8"));
  }
  SECTION("unknown parameter and out-of-range value name the valid ones") {
    RunResult r = run_chipgym({"eval", "--set", "row=2", "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("valid parameters: rows, cols"));
    r = run_chipgym({"eval", "--set", "cols=64", "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("'cols' = 64 is out of range; expected an integer in 1..32"));
  }
  SECTION("malformed parameter JSON") {
    write_script(dir.path() / "params.json", "{\"rows\": 4,,}");
    RunResult r = run_chipgym({"eval", "--params", (dir.path() / "params.json").string(), "--cache-dir", cache});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("is not valid JSON"));
  }
  SECTION("Verilog that does not compile") {
    write_script(dir.path() / "bad.v", "module gemm_pe(input wire clk;\n  assign = ;\nendmodule\n");
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--cache-dir", cache, "--json", "--inject-verilog",
                           "gemm_pe.v=" + (dir.path() / "bad.v").string()});
    CHECK(r.exit_code == 1);
    json j = parse_json(r);
    CHECK(j["error"]["category"] == "lint");
    CHECK_THAT(j["error"]["message"].get<std::string>(), Catch::Contains("%Error"));
  }
  SECTION("a tool that hangs is killed at the timeout") {
    // Answers the version query, then hangs on the design, with a child of its own.
    write_script(dir.path() / "yosys", "#!/bin/sh\nif [ \"$1\" = \"-V\" ]; then echo 'Yosys hanging'; exit 0; fi\nsleep 300 &\nsleep 300\n");
    auto t0 = std::chrono::steady_clock::now();
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--fidelity", "synth", "--timeout", "2", "--cache-dir",
                           cache, "--json"},
                          {{"CHIPGYM_YOSYS", (dir.path() / "yosys").string()}});
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.exit_code == 1);
    json j = parse_json(r);
    CHECK(j["error"]["category"] == "synth_timeout");
    CHECK_THAT(j["error"]["message"].get<std::string>(), Catch::Contains("timed out after 2"));
    CHECK(seconds < 30);
  }
  SECTION("a tool that crashes") {
    write_script(dir.path() / "yosys", "#!/bin/sh\nif [ \"$1\" = \"-V\" ]; then echo 'Yosys crashing'; exit 0; fi\nkill -SEGV $$\n");
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--fidelity", "synth", "--cache-dir", cache, "--json"},
                          {{"CHIPGYM_YOSYS", (dir.path() / "yosys").string()}});
    CHECK(r.exit_code == 1);
    CHECK(parse_json(r)["error"]["category"] == "tool_crash");
  }
  SECTION("a missing tool") {
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--cache-dir", cache, "--json"},
                          {{"CHIPGYM_VERILATOR", "/nonexistent/bin/verilator"}});
    CHECK(r.exit_code == 1);
    json j = parse_json(r);
    CHECK(j["error"]["category"] == "tool_missing");
    CHECK_THAT(j["error"]["message"].get<std::string>(), Catch::Contains("not found"));
  }
  SECTION("an unwritable cache directory") {
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--cache-dir", "/proc/chipgym-no-such-dir"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("/proc/chipgym-no-such-dir"));
  }
  SECTION("a corrupt cache file is moved aside and rebuilt") {
    std::filesystem::create_directories(dir.path() / "other");
    std::ofstream(dir.path() / "other" / "cache.sqlite") << std::string(4096, 'x');
    RunResult r = run_chipgym({"eval", "--set", "rows=2,cols=2", "--fidelity", "model", "--cache-dir",
                           (dir.path() / "other").string()});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("warning") && Catch::Contains("corrupt"));
    bool moved_aside = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.path() / "other"))
      moved_aside |= e.path().filename().string().find("cache.sqlite.corrupt-") == 0;
    CHECK(moved_aside);
  }

  json still = parse_json(run_chipgym(cached_design));
  CHECK(still["cache_hit"] == true);
}

TEST_CASE("chipgym --help lists every command, each with its one-line help") {
  RunResult r = run_chipgym({"--help"});
  CHECK(r.exit_code == 0);
  for (const char* command : {"tasks", "eval", "train", "replay", "compare", "optimum", "score", "evolve", "workload",
                              "roofline"})
    CHECK_THAT(r.out, Catch::Contains(std::string("  ") + command + " "));
  CHECK_THAT(r.out, Catch::Contains("search a task's design space with an agent"));
  // A subcommand's help keeps its options' help.
  CHECK_THAT(run_chipgym({"train", "--help"}).out,
             Catch::Contains("continue the run in --out") && Catch::Contains("RL on libtorch") && Catch::Contains("--workload"));
}

TEST_CASE("train --resume continues the recorded run only: another seed, another task or a budget below what was recorded is refused by name, and nothing is written") {
  TempDir dir("chipgym-cli-");
  const std::string cache = (dir.path() / "cache").string();
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << test_support::kTinyTask;
  const auto run = dir.path() / "run";
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--agent", "random", "--out", run.string(), "--cache-dir", cache};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_chipgym(args);
  };
  auto read = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  RunResult first = train({"--task-file", task_file.string(), "--budget", "2", "--seed", "1"});
  INFO(first.out << first.err);
  REQUIRE(first.ok());
  const std::string events = read(run / "events.jsonl"), config = read(run / "config.json");
  REQUIRE(test_support::read_jsonl(run / "events.jsonl").size() == 2);

  RunResult r = train({"--resume", "--seed", "2"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("the run in " + run.string() + " was recorded with --seed 1; this command says --seed 2") &&
                        Catch::Contains("drop --seed") && Catch::Contains("another --out"));

  r = train({"--resume", "--task", "gemm-int8-small"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("was recorded with --task gemm-tiny; this command says --task gemm-int8-small") &&
                        Catch::Contains("drop --task"));

  json other = json::parse(test_support::kTinyTask);  // the same name, another definition
  other["budget"]["max_transistors"] = 1000;
  std::ofstream(dir.path() / "other.json") << other.dump();
  r = train({"--resume", "--task-file", (dir.path() / "other.json").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("another definition of task gemm-tiny") && Catch::Contains("differ in budget") &&
                        Catch::Contains("drop --task-file"));

  r = train({"--resume", "--budget", "1"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("has already recorded 2 evaluations; --budget 1 is fewer") &&
                        Catch::Contains("give --budget 2 or more"));

  // A recorded config.json with an unknown fidelity is refused, naming the file.
  json bad = json::parse(config);
  bad["task"]["fidelity"] = "bogus";
  std::ofstream(run / "config.json") << bad.dump();
  r = train({"--resume"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("config.json of " + run.string()) && Catch::Contains("unknown fidelity 'bogus'") &&
                        Catch::Contains("model") && Catch::Contains("rtl"));
  bad = json::parse(config);
  bad["env"]["fidelity"] = "bogus";
  std::ofstream(run / "config.json") << bad.dump();
  r = train({"--resume"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown fidelity 'bogus' (env.fidelity)"));
  std::ofstream(run / "config.json") << config;

  // Nothing was written by the refused commands; the recorded seed and task with a larger
  // budget continue the run after its recorded evaluations.
  CHECK(read(run / "events.jsonl") == events);
  r = train({"--resume", "--seed", "1", "--task-file", task_file.string(), "--budget", "3", "--json"});
  INFO(r.out << r.err);
  CHECK(r.ok());
  CHECK(test_support::read_jsonl(run / "events.jsonl").size() == 3);
  CHECK(read(run / "events.jsonl").substr(0, events.size()) == events);
}

TEST_CASE("a compare rerun in a directory that holds a run of another task is refused before anything is written") {
  TempDir dir("chipgym-cli-");
  const auto task_file = dir.path() / "task.json";
  std::ofstream(task_file) << test_support::kTinyTask;
  const auto out = dir.path() / "cmp";
  std::filesystem::create_directories(out / "random-0");
  auto compare = [&] {
    return run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random", "--seeds", "1", "--budget",
                        "2", "--out", out.string(), "--cache-dir", (dir.path() / "cache").string()});
  };
  std::ofstream(out / "random-0" / "config.json") << json{{"task", {{"name", "gemm-int8-small"}}}}.dump();
  RunResult r = compare();
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("cannot resume the comparison in " + out.string()) &&
                        Catch::Contains("was recorded with --task gemm-int8-small; this command says --task gemm-tiny") &&
                        Catch::Contains("another --out"));
  json other = json::parse(test_support::kTinyTask);
  other["budget"]["max_transistors"] = 1000;
  std::ofstream(out / "random-0" / "config.json") << json{{"task", other}}.dump();
  r = compare();
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("another definition of task gemm-tiny"));
  CHECK_FALSE(std::filesystem::exists(out / "compare.json"));
  CHECK_FALSE(std::filesystem::exists(out / "random-0" / "events.jsonl"));
}

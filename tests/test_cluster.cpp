// Beyond one process: chipgym cache stats|merge|export, and train on MPI ranks (mpirun on
// 127.0.0.1, started by the test) giving the events of the single-process run.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "evaluators/cache.h"
#include "evaluators/runner.h"
#include "test_support.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using chipgym::evaluators::Cache;
using chipgym::evaluators::TempDir;
using test_support::kTinyTask;
using test_support::read_jsonl;
using test_support::run_chipgym;

namespace {

fs::path write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
  return file;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// mpirun on PATH, or empty.
std::string find_mpirun() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "mpirun";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

// mpirun, or empty with a warning that the MPI test is skipped (openmpi-bin is not installed).
std::string mpirun_or_skip() {
  const std::string mpirun = find_mpirun();
  if (mpirun.empty()) WARN("mpirun is not installed (openmpi-bin; scripts/setup installs it): the MPI tests are skipped");
  return mpirun;
}

// mpirun on loopback only, root allowed (CI runs as root), ranks not bound to cores.
chipgym::evaluators::RunResult run_mpi(const std::string& mpirun, const std::vector<std::string>& launcher_and_args,
                                       double timeout = 300, const std::map<std::string, std::string>& env = {}) {
  chipgym::evaluators::RunRequest req;
  req.argv = {mpirun, "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include",
              "lo", "--mca", "oob_tcp_if_include", "lo"};
  req.argv.insert(req.argv.end(), launcher_and_args.begin(), launcher_and_args.end());
  req.cwd = fs::temp_directory_path();
  req.env_extra = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"}, {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}, {"OMPI_MCA_rmaps_base_oversubscribe", "1"}};
  for (const auto& [k, v] : env) {
    req.env_extra[k] = v;
    req.argv.insert(req.argv.begin() + 1, {"-x", k});  // to every rank
  }
  req.limits.wall_seconds = timeout;
  return chipgym::evaluators::run_process(req);
}

// `chipgym ARGS` on 3 ranks (rank 0 and two workers).
chipgym::evaluators::RunResult on_three_ranks(const std::string& mpirun, const std::vector<std::string>& args) {
  std::vector<std::string> m = {"-np", "3", CHIPGYM_BIN};
  m.insert(m.end(), args.begin(), args.end());
  return run_mpi(mpirun, m);
}

// An evolve command of run directory `name` under `dir` (and its own cache), 2 candidates at once.
std::vector<std::string> evolve_args(const fs::path& dir, std::vector<std::string> task_args, const std::string& generations,
                                     const std::string& name) {
  std::vector<std::string> args = {"evolve"};
  args.insert(args.end(), task_args.begin(), task_args.end());
  args.insert(args.end(), {"--generations", generations, "--seed", "2", "--workers", "2", "--out", (dir / name).string(),
                           "--cache-dir", (dir / ("c-" + name)).string()});
  return args;
}

// What must agree between two runs: the designs, rewards and their order, batch by batch.
json comparable(const std::vector<json>& events) {
  json out = json::array();
  for (const auto& e : events)
    out.push_back({{"eval", e.value("eval", json())}, {"batch", e.value("batch", json())}, {"design", e.value("design", json())},
                   {"params", e.value("params", json())}, {"reward", e.value("reward", json())},
                   {"transistors", e.value("transistors", json())}, {"error", e.value("error", json())}});
  return out;
}

}  // namespace

TEST_CASE("cache merge is a union of caches with overlapping and distinct entries, and stats counts them per stage", "[cache-cli]") {
  TempDir dir("chipgym-test-");
  const fs::path a = dir.path() / "a" / "cache.sqlite", b = dir.path() / "b" / "cache.sqlite", c = dir.path() / "c" / "cache.sqlite";
  {
    Cache ca(a), cb(b);
    ca.put("eval", "k1", R"({"transistors": 1})");
    ca.put("eval", "k2", R"({"transistors": 2})");
    cb.put("eval", "k2", R"({"transistors": 2})");
    cb.put("synth", "k3", R"({"cells": 3})");
  }
  auto merged = run_chipgym({"cache", "merge", a.string(), b.string(), "--into", c.string(), "--json"});
  INFO(merged.err);
  REQUIRE(merged.ok());
  const json report = json::parse(merged.out);
  CHECK(report["entries"] == 3);
  CHECK(report["merged"][0]["added"] == 2);
  CHECK(report["merged"][1]["added"] == 1);
  CHECK(report["merged"][1]["present"] == 1);
  {
    Cache cc(c);
    CHECK(cc.get("eval", "k1") == std::optional<std::string>(R"({"transistors": 1})"));
    CHECK(cc.get("synth", "k3") == std::optional<std::string>(R"({"cells": 3})"));
  }
  // Into the first, and again: nothing new.
  REQUIRE(run_chipgym({"cache", "merge", a.string(), b.string()}).ok());
  auto again = run_chipgym({"cache", "merge", a.string(), b.string()});
  CHECK_THAT(again.out, Catch::Contains("0 entries added, 2 already present"));

  auto stats = run_chipgym({"cache", "stats", "--cache-dir", c.parent_path().string(), "--json"});
  INFO(stats.err);
  REQUIRE(stats.ok());
  const json s = json::parse(stats.out);
  CHECK(s["entries"] == 3);
  CHECK(s["stages"]["eval"]["entries"] == 2);
  CHECK(s["stages"]["synth"]["entries"] == 1);
  CHECK(s["bytes"].get<long long>() > 0);
  CHECK(run_chipgym({"cache", "stats", "--cache-dir", c.parent_path().string()}).out.find("3 entries") != std::string::npos);
}

TEST_CASE("cache merge and stats refuse a file that is not a chipgym cache, and leave it as it was", "[cache-cli]") {
  TempDir dir("chipgym-test-");
  const fs::path good = dir.path() / "good.sqlite";
  { Cache(good).put("eval", "k", "{}"); }
  const fs::path text = write_file(dir.path() / "notes" / "cache.sqlite", "these are my notes, not a database\n");
  auto r = run_chipgym({"cache", "merge", good.string(), text.string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(text.string() + " is not a chipgym cache: not a SQLite database"));
  CHECK(slurp(text) == "these are my notes, not a database\n");
  // As the target too: never moved aside and rebuilt.
  r = run_chipgym({"cache", "merge", good.string(), "--into", text.string()});
  CHECK(r.exit_code == 2);
  CHECK(slurp(text) == "these are my notes, not a database\n");
  r = run_chipgym({"cache", "stats", "--cache-dir", text.parent_path().string()});
  CHECK(r.exit_code == 2);
  r = run_chipgym({"cache", "stats", "--cache-dir", (dir.path() / "none").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no cache at"));
  r = run_chipgym({"cache", "merge", good.string()});
  CHECK(r.exit_code == 2);
}

TEST_CASE("cache export lists every evaluated design of a task's family with its parameters and metrics", "[cache-cli]") {
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  const std::string cache_dir = (dir.path() / "cache").string();
  // Three designs at the cycle model (instant; the MPI test exports synthesized ones).
  std::set<std::string> designs;
  for (const std::string set : {"rows=1,cols=1,dataflow=os", "rows=2,cols=1,dataflow=ws", "rows=2,cols=2,dataflow=os"}) {
    auto e = run_chipgym({"eval", "--task-file", task.string(), "--set", set, "--fidelity", "model", "--cache-dir", cache_dir});
    INFO(e.err);
    REQUIRE(e.ok());
  }
  auto exported = run_chipgym({"cache", "export", "--task-file", task.string(), "--format", "jsonl", "--cache-dir", cache_dir});
  INFO(exported.err);
  REQUIRE(exported.ok());
  std::vector<json> rows;
  std::istringstream lines(exported.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(json::parse(line));
  REQUIRE(rows.size() == 3);
  for (const auto& r : rows) {
    CHECK(r["family"] == "gemm");
    CHECK(r["fidelity"] == "model");
    CHECK(r["recovered"] == false);
    CHECK(r["workload"] == "task");
    CHECK(r["metrics"]["cycles_model"].get<long long>() > 0);
    designs.insert(std::to_string(r["params"]["rows"].get<int>()) + "x" + std::to_string(r["params"]["cols"].get<int>()) + " " +
                   r["params"]["dataflow"].get<std::string>());
  }
  CHECK(designs == std::set<std::string>{"1x1 os", "2x1 ws", "2x2 os"});

  // Entries written before the cache kept parameters: recovered from the task's search space.
  {
    Cache cache(fs::path(cache_dir) / "cache.sqlite");
    std::vector<std::pair<std::string, std::string>> stripped;
    cache.for_each("eval", [&](const std::string& key, const std::string& value) {
      json v = json::parse(value);
      v.erase("design");
      stripped.emplace_back(key, v.dump());
    });
    for (const auto& [key, value] : stripped) cache.put("eval", key, value);
  }
  auto csv = run_chipgym({"cache", "export", "--task-file", task.string(), "--cache-dir", cache_dir});
  INFO(csv.err);
  REQUIRE(csv.ok());
  CHECK_THAT(csv.out, Catch::StartsWith("key,family,fidelity,workload,recovered,"));
  CHECK_THAT(csv.err, Catch::Contains("recovered from gemm-tiny's search space"));
  std::size_t recovered_rows = 0;
  std::istringstream csv_lines(csv.out);
  for (std::string line; std::getline(csv_lines, line);) recovered_rows += line.find(",gemm,model,task,true,") != std::string::npos;
  CHECK(recovered_rows == designs.size());

  auto unknown = run_chipgym({"cache", "export", "--task", "gemm-int9", "--cache-dir", cache_dir});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("gemm-int8"));
}

TEST_CASE("train on 3 MPI ranks gives the events of the single-process run with the same seed and --workers", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  const std::vector<std::string> args = {"train", "--task-file", task.string(), "--agent", "sa", "--budget", "8",
                                         "--workers", "2", "--seed", "5", "--fidelity", "synth"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> all = args;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  auto single = run_chipgym(with({"--out", (dir.path() / "single").string(), "--cache-dir", (dir.path() / "c1").string()}));
  INFO(single.err);
  REQUIRE(single.ok());
  std::vector<std::string> mpi_args = {"-np", "3", CHIPGYM_BIN};
  for (const auto& a : with({"--out", (dir.path() / "mpi").string(), "--cache-dir", (dir.path() / "c2").string()}))
    mpi_args.push_back(a);
  auto mpi = run_mpi(mpirun, mpi_args);
  INFO(mpi.err);
  REQUIRE(mpi.ok());
  const auto a = read_jsonl(dir.path() / "single" / "events.jsonl"), b = read_jsonl(dir.path() / "mpi" / "events.jsonl");
  REQUIRE(a.size() == 8);
  CHECK(comparable(a) == comparable(b));
  // A fresh cache each: the same designs were answered from it (repeats), the rest evaluated.
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) CHECK(a[i]["cache_hit"] == b[i]["cache_hit"]);
  const json launch = json::parse(slurp(dir.path() / "mpi" / "config.json"))["launch"];
  CHECK(launch["mpi"] == true);
  CHECK(launch["ranks"] == 3);
  CHECK(launch["hosts"].size() == 1);
  CHECK(json::parse(slurp(dir.path() / "single" / "config.json"))["launch"]["mpi"] == false);
  // Rank 0 kept the workers' results, with their designs: the same run again is all cache hits,
  // and the cache exports them.
  auto again = run_mpi(mpirun, {"-np", "2", CHIPGYM_BIN, "train", "--task-file", task.string(), "--agent", "sa", "--budget",
                                "8", "--workers", "2", "--seed", "5", "--fidelity", "synth", "--out",
                                (dir.path() / "again").string(), "--cache-dir", (dir.path() / "c2").string()});
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK_THAT(again.err, Catch::Contains("--workers 2 evaluations in flight at once queue for 1 worker rank"));
  const auto c = read_jsonl(dir.path() / "again" / "events.jsonl");
  CHECK(comparable(c) == comparable(a));
  for (const auto& e : c) CHECK(e["cache_hit"] == true);
  std::set<std::string> evaluated, exported;
  for (const auto& e : b) evaluated.insert(e["params"].dump());
  auto rows = run_chipgym({"cache", "export", "--task-file", task.string(), "--format", "jsonl", "--cache-dir",
                           (dir.path() / "c2").string()});
  REQUIRE(rows.ok());
  std::istringstream lines(rows.out);
  for (std::string line; std::getline(lines, line);)
    if (json row = json::parse(line); row["fidelity"] == "synth") exported.insert(row["params"].dump());
  CHECK(exported == evaluated);

  // One rank: no workers, said, and evaluated in process.
  auto one = run_mpi(mpirun, {"-np", "1", CHIPGYM_BIN, "train", "--task-file", task.string(), "--agent", "sa", "--budget", "2",
                              "--seed", "5", "--out", (dir.path() / "one").string(), "--cache-dir", (dir.path() / "c2").string()});
  INFO(one.err);
  CHECK(one.ok());
  CHECK_THAT(one.err, Catch::Contains("no worker ranks"));
}

TEST_CASE("ppo's vector environments and the exhaustive optimum on MPI ranks give the single-process results", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  // PPO steps 4 environments at once: each step's designs go to the pool as one batch.
  const std::vector<std::string> args = {"train", "--task-file", task.string(), "--agent", "ppo", "--budget", "12",
                                         "--workers", "2", "--seed", "3", "--hyper", R"({"num_envs": 4})"};
  auto with = [&](const std::string& name) {
    std::vector<std::string> all = args;
    for (const std::string a : {std::string("--out"), (dir.path() / name).string(), std::string("--cache-dir"),
                                (dir.path() / ("c-" + name)).string()})
      all.push_back(a);
    return all;
  };
  auto single = run_chipgym(with("single"));
  INFO(single.err);
  REQUIRE(single.ok());
  std::vector<std::string> mpi_args = {"-np", "3", CHIPGYM_BIN};
  for (const auto& a : with("mpi")) mpi_args.push_back(a);
  auto mpi = run_mpi(mpirun, mpi_args);
  INFO(mpi.err);
  REQUIRE(mpi.ok());
  const auto a = read_jsonl(dir.path() / "single" / "events.jsonl"), b = read_jsonl(dir.path() / "mpi" / "events.jsonl");
  REQUIRE(a.size() == 12);
  CHECK(comparable(a) == comparable(b));
  const json launch = json::parse(slurp(dir.path() / "mpi" / "config.json"))["launch"];
  CHECK(launch["mpi"] == true);
  CHECK(launch["ranks"] == 3);
  CHECK_THAT(mpi.err, Catch::Contains("note: MPI: designs evaluated per worker rank: rank 1 (") &&
                          Catch::Contains(", rank 2 ("));
  CHECK_THAT(mpi.err, !Catch::Contains("stay idle"));
  // The workers evaluated: rank 0's cache holds the designs with the parameters they travelled with.
  auto rows = run_chipgym({"cache", "export", "--task-file", task.string(), "--format", "jsonl", "--cache-dir",
                           (dir.path() / "c-mpi").string()});
  REQUIRE(rows.ok());
  CHECK(std::count(rows.out.begin(), rows.out.end(), '\n') > 0);

  // The exhaustive optimum over the worker ranks (the 8 designs, some cached by the PPO run).
  auto truth = [&](bool on_mpi) {
    std::vector<std::string> o = {"optimum", "--task-file", task.string(), "--workers", "2", "--json", "--out",
                                  (dir.path() / (on_mpi ? "opt-mpi" : "opt-single")).string(), "--cache-dir",
                                  (dir.path() / (on_mpi ? "c-mpi" : "c-single")).string()};
    if (!on_mpi) return run_chipgym(o);
    std::vector<std::string> m = {"-np", "3", CHIPGYM_BIN};
    m.insert(m.end(), o.begin(), o.end());
    return run_mpi(mpirun, m);
  };
  auto t1 = truth(false), t2 = truth(true);
  INFO(t1.err << t2.err);
  REQUIRE(t1.ok());
  REQUIRE(t2.ok());
  json j1 = json::parse(t1.out), j2 = json::parse(t2.out);
  CHECK(j1["designs"] == 8);
  CHECK(j1["optimum"] == j2["optimum"]);
  CHECK(j1["params"] == j2["params"]);
  CHECK(j1["front"] == j2["front"]);
  CHECK_FALSE(j1["front"].empty());
  CHECK(json::parse(slurp(dir.path() / "opt-mpi" / "config.json"))["launch"]["ranks"] == 3);
  CHECK(comparable(read_jsonl(dir.path() / "opt-single" / "events.jsonl")) ==
        comparable(read_jsonl(dir.path() / "opt-mpi" / "events.jsonl")));
}

TEST_CASE("evolve's parameter sets on MPI ranks give the single-process run's events", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  auto single = run_chipgym(evolve_args(dir.path(), {"--task-file", task.string()}, "3", "single"));
  INFO(single.err);
  REQUIRE(single.ok());
  auto mpi = on_three_ranks(mpirun, evolve_args(dir.path(), {"--task-file", task.string()}, "3", "mpi"));
  INFO(mpi.err);
  REQUIRE(mpi.ok());
  CHECK_THAT(mpi.err, Catch::Contains("note: MPI: designs evaluated per worker rank: rank 1 ("));
  auto evaluations = [](const std::vector<json>& events) {
    json out = json::array();
    for (const auto& e : events)
      if (e.contains("eval"))
        out.push_back({e["eval"], e.value("event", json()), e.value("params", json()), e.value("reward", json()),
                       e.value("transistors", json())});
    return out;
  };
  const auto a = evaluations(read_jsonl(dir.path() / "single" / "events.jsonl"));
  REQUIRE(a.size() >= 4);
  CHECK(a == evaluations(read_jsonl(dir.path() / "mpi" / "events.jsonl")));
}

// Verilog candidates travel with their text: the worker screens the text and sandboxes every
// tool run on it, as rank 0 would, and rank 0 caches the result.
TEST_CASE("evolve's kernel candidates are scored on MPI worker ranks and give the single-process run's events", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  auto single = run_chipgym(evolve_args(dir.path(), {"--task", "relu-int8"}, "2", "single"));
  INFO(single.err);
  REQUIRE(single.ok());
  auto mpi = on_three_ranks(mpirun, evolve_args(dir.path(), {"--task", "relu-int8"}, "2", "mpi"));
  INFO(mpi.err);
  REQUIRE(mpi.ok());
  // Every candidate the single run scored was scored by a worker rank (the best's
  // re-verification too), none on rank 0.
  CHECK_THAT(mpi.err, Catch::Contains("note: MPI: designs evaluated per worker rank: rank 1 ("));
  CHECK_THAT(mpi.err, !Catch::Contains("on rank 0's --workers"));
  auto scored = [](const std::vector<json>& events) {
    json out = json::array();
    for (const auto& e : events)
      if (e.contains("program") && e.contains("fitness"))
        out.push_back({e["program"], e.value("code_sha256", json()), e["fitness"], e.value("verdict", json()),
                       e.value("transistors", json())});
    return out;
  };
  const auto a = scored(read_jsonl(dir.path() / "single" / "events.jsonl"));
  REQUIRE(a.size() >= 3);
  CHECK(a == scored(read_jsonl(dir.path() / "mpi" / "events.jsonl")));
  const json launch = json::parse(slurp(dir.path() / "mpi" / "config.json"))["launch"];
  CHECK(launch["mpi"] == true);
  CHECK(launch["ranks"] == 3);
  CHECK(json::parse(slurp(dir.path() / "single" / "config.json"))["launch"]["mpi"] == false);
  // The results were kept in rank 0's cache: the same run again is answered from it.
  auto rerun = evolve_args(dir.path(), {"--task", "relu-int8"}, "2", "mpi");
  rerun.push_back("--force");
  auto again = on_three_ranks(mpirun, rerun);
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK_THAT(again.err, !Catch::Contains("designs evaluated per worker rank"));
}

TEST_CASE("an evaluation that times out on a worker rank runs again on another, then is recorded as a timeout naming the rank", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  // Rank 1 answers every job with a tool timeout (the test hook of evaluators/mpi_pool.h).
  const std::map<std::string, std::string> hook = {{"CHIPGYM_TEST_TIMEOUT_ON_RANK", "1"}};
  auto train = [&](const std::string& np, const std::string& name) {
    return run_mpi(mpirun,
                   {"-np", np, CHIPGYM_BIN, "train", "--task-file", task.string(), "--agent", "grid", "--budget", "3",
                    "--workers", "2", "--seed", "1", "--out", (dir.path() / name).string(), "--cache-dir",
                    (dir.path() / ("c-" + name)).string()},
                   300, hook);
  };
  // Two workers: what timed out on rank 1 ran again on rank 2, and every design was evaluated.
  auto retried = train("3", "retried");
  INFO(retried.err);
  REQUIRE(retried.ok());
  const auto events = read_jsonl(dir.path() / "retried" / "events.jsonl");
  REQUIRE(events.size() == 3);
  for (const auto& e : events) CHECK_FALSE(e.contains("error"));
  CHECK_THAT(retried.err, Catch::Contains("timed out and ran again on another rank"));
  // One worker: nowhere else to go, so the timeout is recorded, naming the rank and host.
  auto alone = train("2", "alone");
  INFO(alone.err);
  const auto timed_out = read_jsonl(dir.path() / "alone" / "events.jsonl");
  REQUIRE(timed_out.size() == 3);
  for (const auto& e : timed_out) {
    REQUIRE(e.contains("error"));
    CHECK(e["error"]["category"] == "tool_timeout");
    CHECK_THAT(e["error"]["message"].get<std::string>(), Catch::Contains("on MPI rank 1, host "));
  }
}

TEST_CASE("a worker rank without Yosys, or with another Yosys or chipgym version, is refused, naming its rank and host", "[mpi]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  const fs::path other_yosys = write_file(dir.path() / "bin" / "yosys", "#!/bin/sh\necho 'Yosys 0.99 (not the one of rank 0)'\n");
  fs::permissions(other_yosys, fs::perms::owner_all);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::vector<std::string> train = {CHIPGYM_BIN, "train", "--task-file", task.string(), "--agent", "random", "--budget", "2",
                                          "--out", (dir.path() / "run").string(), "--cache-dir", (dir.path() / "c").string()};
  // Rank 1's environment, and what rank 0 says of it.
  const std::vector<std::pair<std::string, std::string>> workers = {
      {"CHIPGYM_YOSYS=" + (dir.path() / "no" / "yosys").string(), "a tool is missing there"},
      {"CHIPGYM_YOSYS=" + other_yosys.string(), "Yosys 0.99 (not the one of rank 0)"},
      // Another chipgym (the test hook of evaluators/mpi_pool.h: one build plays both).
      {"CHIPGYM_TEST_CHIPGYM_VERSION=0.0.9", "it has chipgym 0.0.9 | "}};
  for (const auto& [setting, said] : workers) {
    std::vector<std::string> mpmd = {"-np", "1"};
    mpmd.insert(mpmd.end(), train.begin(), train.end());
    mpmd.insert(mpmd.end(), {":", "-np", "1", "-x", setting});
    mpmd.insert(mpmd.end(), train.begin(), train.end());
    auto r = run_mpi(mpirun, mpmd, 120);
    INFO(setting << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(std::string("MPI rank 1 on host ") + host + " cannot evaluate"));
    CHECK_THAT(r.err, Catch::Contains(said));
    if (setting.rfind("CHIPGYM_YOSYS=" + other_yosys.string(), 0) == 0 || setting.rfind("CHIPGYM_TEST", 0) == 0)
      CHECK_THAT(r.err, Catch::Contains("the cache keys would differ"));
    CHECK_FALSE(fs::exists(dir.path() / "run" / "events.jsonl"));
  }
}

// By default Open MPI ends the whole job when one rank dies, naming the rank and node; rank 0 has written
// every result that arrived, so --resume (here on MPI again) loses only the batch in flight and
// ends with the events of an uninterrupted run.
TEST_CASE("a worker rank killed with kill -9 ends the job, and --resume gives the events of an uninterrupted run", "[mpi][mpi-fault]") {
  const std::string mpirun = mpirun_or_skip();
  if (mpirun.empty()) return;
  TempDir dir("chipgym-test-");
  const fs::path task = write_file(dir.path() / "tiny.json", kTinyTask);
  const fs::path run = dir.path() / "run", cache = dir.path() / "c";
  const std::vector<std::string> train = {"train", "--task-file", task.string(), "--agent", "random", "--budget", "8",
                                          "--workers", "2", "--seed", "3", "--cache-dir", cache.string()};
  std::vector<std::string> argv = {mpirun, "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,tcp", "--mca",
                                   "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo", "-np", "3", CHIPGYM_BIN};
  argv.insert(argv.end(), train.begin(), train.end());
  argv.insert(argv.end(), {"--out", run.string()});
  const fs::path err = dir.path() / "mpirun.err";
  const pid_t launcher = fork();
  REQUIRE(launcher >= 0);
  if (launcher == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    if (FILE* f = std::freopen(err.c_str(), "w", stderr)) (void)f;
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  // Once two results are recorded, kill rank 2 (found by its parent and its rank variable).
  for (int i = 0; i < 600 && read_jsonl(run / "events.jsonl").size() < 2; ++i) usleep(100000);
  REQUIRE(read_jsonl(run / "events.jsonl").size() >= 2);
  bool killed = false;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string status = slurp(entry.path() / "status");
    if (status.find("\nPPid:\t" + std::to_string(launcher) + "\n") == std::string::npos) continue;
    std::string environ = slurp(entry.path() / "environ");
    std::replace(environ.begin(), environ.end(), '\0', '\n');
    if (("\n" + environ).find("\nOMPI_COMM_WORLD_RANK=2\n") == std::string::npos) continue;
    killed = ::kill(std::stoi(pid), SIGKILL) == 0;
  }
  REQUIRE(killed);
  int status = 0;
  waitpid(launcher, &status, 0);
  CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK_THAT(slurp(err), Catch::Contains("rank 2") && Catch::Contains("signal 9"));
  const std::size_t kept = read_jsonl(run / "events.jsonl").size();
  CHECK(kept < 8);

  std::vector<std::string> resume = {"-np", "3", CHIPGYM_BIN, "train", "--agent", "random", "--resume", "--out", run.string(),
                                     "--cache-dir", cache.string()};
  auto resumed = run_mpi(mpirun, resume);
  INFO(resumed.err);
  REQUIRE(resumed.ok());
  std::vector<std::string> whole = train;
  whole.insert(whole.end(), {"--out", (dir.path() / "whole").string()});
  auto uninterrupted = run_chipgym(whole);
  REQUIRE(uninterrupted.ok());
  CHECK(comparable(read_jsonl(run / "events.jsonl")) == comparable(read_jsonl(dir.path() / "whole" / "events.jsonl")));
}

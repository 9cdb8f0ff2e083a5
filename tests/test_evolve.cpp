// chipgym evolve: the program database (MAP-Elites cells, islands, migration, seeded
// sampling, persistence) and the evolutionary loop with the offline mutation proposer and
// with a scripted mock OpenAI-compatible server on 127.0.0.1.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hdl/param_space.h"
#include "kernels/program_db.h"

using namespace chipgym::kernels;
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

// The learned cost model (agents/surrogate.h) as a user meets it: chipgym surrogate fit|eval on
// real cached synthesis results, the surrogate fidelity, the sbo and gradient agents, and every
// refusal. The cached designs are 16 small gemm designs synthesized once per machine into a
// cache of these tests (a later run only hits it).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "agents/surrogate.h"
#include "test_support.h"

using chipgym::evaluators::RunResult;
using chipgym::evaluators::TempDir;
using json = nlohmann::json;
using test_support::run_chipgym;
namespace fs = std::filesystem;
namespace sg = chipgym::agents::surrogate;

namespace {

const char* kTask = R"({"name": "gemm-sur16", "family": "gemm", "description": "16 small designs, for surrogate tests",
 "workload": {"shapes": [[4, 8, 4]], "seed": 1},
 "objective": "throughput per area", "budget": {"max_transistors": 20000000},
 "fidelity": "synth",
 "search": {"rows": [1, 2], "cols": [1, 2], "dataflow": ["os", "ws"], "pipeline": [0, 1]}})";

json parse_json(const RunResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_NOTHROW(json::parse(r.out));
  return json::parse(r.out);
}

// The cache of these tests, with every design of kTask synthesized; returns the task file.
struct Filled {
  fs::path root, task_file, cache_dir;
  double optimum = 0;
};
const Filled& filled() {
  static const Filled f = [] {
    Filled out;
    out.root = fs::temp_directory_path() / ("chipgym-surrogate-tests-" + std::to_string(::getuid()));
    fs::create_directories(out.root);
    out.task_file = out.root / "task.json";
    std::ofstream(out.task_file) << kTask;
    out.cache_dir = out.root / "cache";
    TempDir run("chipgym-sur-opt-");
    auto r = run_chipgym({"optimum", "--task-file", out.task_file.string(), "--cache-dir", out.cache_dir.string(),
                          "--out", (run.path() / "optimum").string(), "--workers", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    out.optimum = json::parse(r.out)["optimum"].get<double>();
    return out;
  }();
  return f;
}

std::vector<std::string> with_task(std::vector<std::string> args) {
  const auto& f = filled();
  args.insert(args.end(), {"--task-file", f.task_file.string(), "--cache-dir", f.cache_dir.string()});
  return args;
}

}  // namespace

TEST_CASE("the Gaussian process interpolates a smooth function, knows where it has no data, and its mean's gradient is exact") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-2, 2);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  auto f = [](double a, double b) { return std::sin(a) + 0.5 * b * b; };
  for (int i = 0; i < 60; ++i) {
    x.push_back({u(rng), u(rng)});
    y.push_back(f(x.back()[0], x.back()[1]));
  }
  sg::Gp gp;
  gp.fit(x, y, {});
  const auto [mean, var] = gp.predict({0.3, -0.7});
  CHECK(mean == Approx(f(0.3, -0.7)).margin(0.05));
  CHECK(gp.predict({30, 30}).second > 10 * var);  // far from the data: uncertain
  const std::vector<double> at = {0.4, 0.9};
  const auto g = gp.grad_mean(at);
  for (std::size_t k = 0; k < 2; ++k) {
    auto plus = at, minus = at;
    plus[k] += 1e-5, minus[k] -= 1e-5;
    CHECK(g[k] == Approx((gp.predict(plus).first - gp.predict(minus).first) / 2e-5).epsilon(1e-4));
  }
  // Saved and loaded, it predicts the same.
  CHECK(sg::Gp::from_json(gp.to_json()).predict(at).first == Approx(gp.predict(at).first));
}

TEST_CASE("the cost model's data takes iCE40 figures from cache entries synthesized for the iCE40") {
  // Two cached results of one design, as the pipeline keeps them: without and with iCE40.
  TempDir dir("chipgym-sur-ice40-");
  auto cache = std::make_shared<chipgym::evaluators::Cache>(dir.path() / "cache.sqlite");
  chipgym::evaluators::Pipeline pipeline(cache);
  const auto task = chipgym::env::Task::from_json(json::parse(kTask));
  const auto& family = task.design_family();
  chipgym::hdl::Params p = family.space().defaults();
  p.set("rows", 2LL);
  p.set("cols", 1LL);
  p.set("dataflow", std::string("os"));
  p.set("pipeline", 0LL);
  chipgym::evaluators::EvalOptions plain, fpga;
  plain.fidelity = fpga.fidelity = "synth";
  fpga.fpga = true;
  json m = {{"transistors", 50000}, {"cells", 4000}, {"depth", 30}, {"cycles", 100}, {"stages", {{"synthesize", json::object()}}}};
  cache->put("eval", pipeline.design_key(family, p, task.workload, plain), m.dump());
  auto only_asic = sg::cached_designs(task, pipeline);
  REQUIRE(only_asic.size() == 1);
  CHECK_FALSE(only_asic[0].figures.count("luts"));
  m["luts"] = 900;
  m["ffs"] = 400;
  m["dsps"] = 2;
  cache->put("eval", pipeline.design_key(family, p, task.workload, fpga), m.dump());
  const auto both = sg::cached_designs(task, pipeline);
  REQUIRE(both.size() == 1);
  CHECK(both[0].figures.at("luts") == 900);
  CHECK(both[0].figures.at("ffs") == 400);
  CHECK(both[0].figures.at("dsps") == 2);
  CHECK(both[0].figures.at("transistors") == 50000);
}

TEST_CASE("surrogate fit learns transistors and cells of cached designs within a few percent on held-out ones and saves the model beside the cache") {
  auto r = run_chipgym(with_task({"surrogate", "fit", "--min-designs", "10", "--test-fraction", "0.25", "--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json report = parse_json(r);
  CHECK(report["designs"] == 16);
  CHECK(report["test"] == 4);
  for (const char* t : {"transistors", "cells"}) {
    INFO(t << ": " << report["targets"][t].dump());
    CHECK(report["targets"][t]["gp"]["mape"].get<double>() < 8);
    CHECK(report["targets"][t]["gp"]["rmse_log"].get<double>() < 0.1);
    CHECK(report["targets"][t]["gp"]["spearman"].get<double>() >= 0.5);  // four designs: one swap at most
    CHECK(report["targets"][t].contains("knn"));
    CHECK(report["targets"][t].contains("ridge"));
  }
  // Microseconds against seconds.
  CHECK(report["predict_seconds_per_design"].get<double>() < 0.01);
  CHECK(report["speedup"].get<double>() > 100);
  const fs::path model = filled().cache_dir / "surrogates" / "gemm-sur16.gemm.json";
  REQUIRE(fs::exists(model));
  const json saved = json::parse(std::ifstream(model));
  CHECK(saved["family"] == "gemm");
  CHECK(saved["chipgym"] == sg::kChipgymVersion);
  CHECK(saved["designs"] == 16);

  // eval: the same held-out figures, and the human-readable table.
  auto e = run_chipgym(with_task({"surrogate", "eval", "--min-designs", "10"}));
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  CHECK_THAT(e.out, Catch::Contains("transistors") && Catch::Contains("Spearman") && Catch::Contains("knn") &&
                        Catch::Contains("us per design against"));
}

TEST_CASE("surrogate fit refuses too few cached designs, an empty cache and a kernel task, and says how to get designs") {
  auto few = run_chipgym(with_task({"surrogate", "fit", "--min-designs", "50"}));
  CHECK(few.exit_code == 2);
  CHECK_THAT(few.err, Catch::Contains("holds 16 synthesized design(s) of family gemm") &&
                          Catch::Contains("at least 50 are needed") && Catch::Contains("chipgym optimum --task gemm-sur16") &&
                          Catch::Contains("--fidelity synth"));
  TempDir empty("chipgym-sur-empty-");
  auto none = run_chipgym({"surrogate", "fit", "--task-file", filled().task_file.string(), "--cache-dir",
                           (empty.path() / "cache").string()});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("nothing to learn from") && Catch::Contains("no synthesized design of family gemm"));
  auto kernel = run_chipgym({"surrogate", "fit", "--task", "relu-int8", "--cache-dir", (empty.path() / "cache").string()});
  CHECK(kernel.exit_code == 2);
  CHECK_THAT(kernel.err, Catch::Contains("kernel task") && Catch::Contains("no design family"));
  auto no_model = run_chipgym({"surrogate", "eval", "--task-file", filled().task_file.string(), "--cache-dir",
                               (empty.path() / "cache").string()});
  CHECK(no_model.exit_code == 2);
  CHECK_THAT(no_model.err, Catch::Contains("no model of task gemm-sur16") && Catch::Contains("chipgym surrogate fit"));
}

TEST_CASE("a model file of another family, another family version or another chipgym version is refused by name") {
  REQUIRE(run_chipgym(with_task({"surrogate", "fit", "--min-designs", "10"})).exit_code == 0);
  const fs::path model = filled().cache_dir / "surrogates" / "gemm-sur16.gemm.json";
  TempDir dir("chipgym-sur-model-");
  const json saved = json::parse(std::ifstream(model));

  auto other_family = run_chipgym({"surrogate", "eval", "--task", "codesign-gemm", "--cache-dir",
                                   filled().cache_dir.string(), "--model", model.string()});
  CHECK(other_family.exit_code == 2);
  CHECK_THAT(other_family.err, Catch::Contains("is a model of family 'gemm', not 'codesign'"));

  json old_family = saved;
  old_family["family_version"] = 999;
  std::ofstream(dir.path() / "old-family.json") << old_family.dump();
  auto r = run_chipgym(with_task({"surrogate", "eval", "--min-designs", "10", "--model", (dir.path() / "old-family.json").string()}));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("was fitted on family gemm version 999") && Catch::Contains("surrogate fit --task gemm-sur16"));

  json old_chipgym = saved;
  old_chipgym["chipgym"] = "0.0.1";
  std::ofstream(dir.path() / "old-chipgym.json") << old_chipgym.dump();
  r = run_chipgym(with_task({"surrogate", "eval", "--min-designs", "10", "--model", (dir.path() / "old-chipgym.json").string()}));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("written by chipgym 0.0.1"));
}

TEST_CASE("a surrogate whose held-out error is poor is warned about, with the figure, and exits 2") {
  auto r = run_chipgym(with_task({"surrogate", "eval", "--min-designs", "10", "--max-mape", "0.0001"}));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("warning: the surrogate's held-out error is poor: ") && Catch::Contains("transistors MAPE ") &&
                        Catch::Contains("on 3 held-out designs"));
}

TEST_CASE("the surrogate fidelity predicts a design's area, marked as predicted, never as correct, and never cached") {
  REQUIRE(run_chipgym(with_task({"surrogate", "fit", "--min-designs", "10"})).exit_code == 0);
  auto real = run_chipgym(with_task({"eval", "--set", "rows=2,cols=2,dataflow=ws", "--fidelity", "synth", "--no-fpga", "--json"}));
  REQUIRE(real.exit_code == 0);
  const json measured = parse_json(real);
  REQUIRE(measured["cache_hit"] == true);  // synthesized when the cache was filled
  for (int i = 0; i < 2; ++i) {
    auto p = run_chipgym(with_task({"eval", "--set", "rows=2,cols=2,dataflow=ws", "--fidelity", "surrogate", "--json"}));
    INFO(p.err);
    REQUIRE(p.exit_code == 0);
    const json predicted = parse_json(p);
    CHECK(predicted["fidelity"] == "surrogate");
    CHECK(predicted["correct"].is_null());
    CHECK(predicted["cache_hit"] == false);
    CHECK(predicted["stages"]["surrogate"]["predicted"] == true);
    CHECK(predicted["cycles"] == measured["cycles"]);  // the exact cycle model
    CHECK(predicted["transistors"].get<double>() == Approx(measured["transistors"].get<double>()).epsilon(0.1));
    CHECK(predicted["depth"] == measured["depth"]);
  }
  TempDir empty("chipgym-sur-nomodel-");
  auto none = run_chipgym({"eval", "--task-file", filled().task_file.string(), "--cache-dir", (empty.path() / "cache").string(),
                           "--fidelity", "surrogate", "--json"});
  CHECK(none.exit_code != 0);
  CHECK_THAT(none.out + none.err, Catch::Contains("no cost model of family gemm") && Catch::Contains("chipgym surrogate fit"));
}

// c_depth sizes the C buffer of the weight-stationary array only: an output-stationary design
// generates the same Verilog whatever its c_depth, so its twins are never worth an evaluation.
TEST_CASE("sbo never spends a real evaluation on a design whose generated Verilog it has already proposed") {
  TempDir dir("chipgym-sur-twins-");
  const fs::path task = dir.path() / "twins.json";
  std::ofstream(task) << R"({"name": "gemm-twins", "family": "gemm", "description": "4 designs in 8 parameter sets",
 "workload": {"shapes": [[4, 8, 4]], "seed": 1}, "objective": "throughput per area",
 "budget": {"max_transistors": 20000000}, "fidelity": "synth",
 "search": {"rows": [1, 2], "cols": [1, 2], "dataflow": ["os"], "c_depth": [4, 16]}})";
  auto run = [&](const std::string& name, const std::string& hyper) {
    const fs::path out = dir.path() / name;
    auto r = run_chipgym({"train", "--task-file", task.string(), "--agent", "sbo", "--budget", "8", "--seed", "1",
                          "--hyper", hyper, "--out", out.string(), "--cache-dir", (dir.path() / "c").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return test_support::read_jsonl(out / "events.jsonl");
  };
  const auto once = run("twins", "{}");
  std::set<std::pair<long long, long long>> arrays;
  for (const auto& e : once) arrays.insert({e["params"]["rows"].get<long long>(), e["params"]["cols"].get<long long>()});
  CHECK(once.size() == 4);    // then every design is known: the run stops before its budget
  CHECK(arrays.size() == 4);  // one of each array, whatever its c_depth
  CHECK(run("all", R"({"twins": false})").size() == 8);
}

TEST_CASE("sbo and gradient runs spend the budget on real evaluations of valid designs and report what each fidelity saw") {
  TempDir dir("chipgym-sur-train-");
  for (const char* agent : {"sbo", "gradient"}) {
    const fs::path out = dir.path() / agent;
    auto r = run_chipgym(with_task({"train", "--agent", agent, "--budget", "10", "--seed", "2", "--out", out.string()}));
    INFO(agent << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = test_support::read_jsonl(out / "events.jsonl");
    REQUIRE(events.size() == 10);
    std::set<std::vector<long long>> designs;
    double best = 0;
    for (const auto& e : events) {
      designs.insert(e["design"].get<std::vector<long long>>());
      CHECK(e["reward"].get<double>() > 0);  // every design valid and synthesized
      CHECK(e["cache_hit"] == true);
      best = std::max(best, e["reward"].get<double>());
    }
    CHECK(designs.size() == 10);  // none evaluated twice
    CHECK(best >= 0.95 * filled().optimum);
    const json summary = json::parse(std::ifstream(out / "summary.json"));
    CHECK(summary["agent_report"]["real_evaluations"] == 10);
    CHECK(summary["agent_report"]["designs_by_fidelity"]["synth"] == 10);
    CHECK(summary["agent_report"]["designs_by_fidelity"]["surrogate"].get<long long>() > 0);
    const json config = json::parse(std::ifstream(out / "config.json"));
    CHECK(config["hyper"].contains("startup"));
    if (std::string(agent) == "sbo") CHECK(config["hyper"]["model"] == "area");
  }
  // sbo's other model (the GP on ln reward) runs too; an unknown model is refused by name.
  const fs::path out = dir.path() / "sbo-reward";
  auto r = run_chipgym(with_task({"train", "--agent", "sbo", "--budget", "6", "--seed", "2", "--hyper", R"({"model": "reward"})",
                                  "--out", out.string()}));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(test_support::read_jsonl(out / "events.jsonl").size() == 6);
  auto bad = run_chipgym(with_task({"train", "--agent", "sbo", "--budget", "6", "--hyper", R"({"model": "forest"})", "--out",
                                    (dir.path() / "bad").string()}));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("sbo: model must be area or reward, not 'forest'"));
}

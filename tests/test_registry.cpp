// The one registry (hdl/registry.h) and its entries: families, tasks (design and kernel) and
// agents register themselves, names are unique, a failed lookup suggests the nearest name,
// and a family with a task on it can be added in one file: the tiny `adder` family below is
// defined and registered here only, exactly as a family in hdl/ and a task in env/tasks/ are.
#include <catch2/catch.hpp>
#include <set>

#include <nlohmann/json.hpp>

#include "agents/agent.h"
#include "env/env.h"
#include "env/task.h"
#include "evaluators/pipeline.h"
#include "hdl/family.h"
#include "hdl/registry.h"
#include "test_support.h"

namespace agents = chipgym::agents;
namespace env = chipgym::env;
namespace hdl = chipgym::hdl;
using chipgym::Registration;
using chipgym::Registry;
using json = nlohmann::json;

namespace {

// --- a family and a task on it, in this file only -----------------------------------------

// `lanes` adders side by side, each `bits` wide with `stages` output registers: a workload of
// `additions` sums takes ceil(additions / lanes) + stages cycles.
class AdderFamily final : public hdl::Family {
 public:
  AdderFamily() {
    space_.add(hdl::Param::int_range("bits", 2, 32, 8, "operand width"))
        .add(hdl::Param::int_range("lanes", 1, 8, 1, "additions per cycle"))
        .add(hdl::Param::int_range("stages", 0, 2, 1, "output register stages"));
  }
  std::string name() const override { return "adder"; }
  int version() const override { return 1; }
  std::string description() const override { return "lanes of registered adders (a test family)"; }
  const hdl::ParamSpace& space() const override { return space_; }

  hdl::Rtl emit(const hdl::Params& p) const override {
    space_.validate(p);
    const std::string w = std::to_string(p.integer("bits") * p.integer("lanes"));
    hdl::Rtl rtl;
    rtl.top = "adder_top";
    rtl.modules = {"adder_top"};
    rtl.files["adder_top.v"] = "module adder_top (input wire clk, input wire [" + w + "-1:0] a, b, output reg [" + w +
                               "-1:0] y);\n  always @(posedge clk) y <= a + b;\nendmodule\n";
    rtl.interface = {{"protocol", "adder-test"}};
    return rtl;
  }
  std::string harness_cpp() const override { return "int main() { return 0; }\n"; }
  hdl::Stimulus stimulus(const hdl::Params&, const json& workload) const override {
    return {std::to_string(workload.value("additions", 0LL)) + "\n", json::object()};
  }
  hdl::SimCheck check(const hdl::Params&, const hdl::Stimulus&, const std::string&) const override {
    hdl::SimCheck c;
    c.error = "the adder test family is evaluated at fidelity model only";
    return c;
  }
  long long model_cycles(const hdl::Params& p, const json& workload) const override {
    const long long additions = workload.value("additions", 0LL), lanes = p.integer("lanes");
    return (additions + lanes - 1) / lanes + p.integer("stages");
  }
  json derived(const hdl::Params& p, const json& workload) const override {
    return {{"additions", workload.value("additions", 0LL)}, {"lanes", p.integer("lanes")}};
  }
  // Additions per cycle, within a budget of lanes.
  json score(const json& metrics, const json& budget) const override {
    const double cycles = metrics.value("cycles_model", 0.0);
    const long long lanes = metrics["derived"].value("lanes", 1LL);
    const bool within = lanes <= budget.value("max_lanes", 8LL);
    const double per_cycle = cycles > 0 ? metrics["derived"].value("additions", 0.0) / cycles : 0.0;
    return {{"objective", within ? per_cycle : 0.0}, {"within_budget", within}, {"additions_per_cycle", per_cycle}};
  }

 private:
  hdl::ParamSpace space_;
};

const hdl::Family& adder_family() {
  static const AdderFamily family;
  return family;
}
const Registration<hdl::FamilyEntry> adder_registered{{"adder", &adder_family}};

env::Task adder_task() {
  env::Task t;
  t.name = "adder-test";
  t.family = "adder";
  t.description = "100 additions, at most 4 lanes";
  t.workload = {{"additions", 100}};
  t.objective = "additions per cycle";
  t.budget = {{"max_lanes", 4}};
  t.fidelity = "model";
  t.search = {{"lanes", {1, 2, 4, 8}}, {"stages", {0, 1, 2}}};
  return t;
}
const Registration<env::Task> adder_task_registered{adder_task()};

// A registry of its own, for the machinery.
struct Widget {
  std::string name;
  int order = 0;
};

}  // namespace

TEST_CASE("a failed lookup names the unknown entry, suggests the nearest and lists the known ones") {
  Registry<Widget> widgets;
  widgets.add({"ppo", 2});
  widgets.add({"dqn", 1});
  widgets.add({"mappo", 3});
  CHECK(widgets.get("dqn", "agent").order == 1);
  CHECK_THROWS_AS(widgets.get("pp0", "agent"), hdl::ParamError);
  CHECK_THROWS_WITH(widgets.get("pp0", "agent"), "unknown agent 'pp0'; did you mean 'ppo'? known agents: dqn, ppo, mappo");
  // Nothing near enough: no suggestion, still the list.
  CHECK_THROWS_WITH(widgets.get("tpe", "agent"), "unknown agent 'tpe'; known agents: dqn, ppo, mappo");
  // A filtered lookup lists, and suggests, only what it accepts.
  auto not_dqn = [](const Widget& w) { return w.name != "dqn"; };
  CHECK_THROWS_WITH(widgets.get("dqn", "policy agent", not_dqn), "unknown policy agent 'dqn'; known policy agents: ppo, mappo");
  CHECK(chipgym::nearest_name("mapo", widgets.names()) == "mappo");
}

TEST_CASE("a name is registered once: a second entry of that name is refused") {
  Registry<Widget> widgets;
  widgets.add({"ga", 0});
  CHECK_THROWS_WITH(widgets.add({"ga", 1}), "registered twice: ga");
  CHECK_THROWS_AS(widgets.add({"", 1}), std::logic_error);
  CHECK(widgets.size() == 1);
  // The real registries refuse the same way: one task registry for design and kernel tasks.
  CHECK_THROWS_WITH(Registry<env::Task>::instance().add(env::task("relu-int8")), "registered twice: relu-int8");
  CHECK_THROWS_WITH(Registry<env::Task>::instance().add(adder_task()), "registered twice: adder-test");
  CHECK_THROWS_WITH(Registry<agents::Agent>::instance().add(agents::agent("ppo")), "registered twice: ppo");
  CHECK_THROWS_WITH(Registry<hdl::FamilyEntry>::instance().add({"gemm", &adder_family}), "registered twice: gemm");
}

TEST_CASE("a family and a task defined in one test file are registered, listed and evaluated at fidelity model") {
  const auto all = hdl::families();
  CHECK(std::find(all.begin(), all.end(), &adder_family()) != all.end());
  CHECK(&hdl::family("adder") == &adder_family());
  for (const hdl::FamilyEntry* e : Registry<hdl::FamilyEntry>::instance().entries()) CHECK(e->get().name() == e->name);

  const env::Task& t = env::task("adder-test");
  CHECK(t.kind() == env::TaskKind::design);
  CHECK(&t.design_family() == &adder_family());
  bool listed = false;
  for (const env::Task* listed_task : env::tasks()) listed = listed || listed_task == &t;
  CHECK(listed);

  env::Env e(t, {}, std::make_shared<chipgym::evaluators::Pipeline>(nullptr));
  CHECK(e.design_space().nvec() == std::vector<long long>{4, 3});
  e.reset(1);
  // lanes = 4, stages = 0: 25 cycles for 100 additions.
  auto r = e.step({2, 0});
  CHECK(r.info["metrics"]["cycles_model"] == 25);
  CHECK(r.reward == Approx(4.0));
  // lanes = 8 is over the budget of 4 lanes: infeasible.
  e.reset(2);
  CHECK(e.step({3, 0}).reward == -1);
}

TEST_CASE("task names are unique across kinds, and the four quantized operators are one task each with both parts") {
  std::set<std::string> names;
  for (const env::Task* t : env::tasks()) CHECK(names.insert(t->name).second);
  CHECK(env::task("gemm-int8").kind() == env::TaskKind::design);
  CHECK(env::task("relu-int8").kind() == env::TaskKind::kernel);
  for (const char* name : {"gelu-int8", "softmax-int8", "rmsnorm-int8", "layernorm-int8"}) {
    const env::Task& t = env::task(name);
    CHECK(t.kind() == env::TaskKind::both);
    CHECK(t.kernel().name == t.name);
    CHECK(&env::find_kernel_task(name) == &t.kernel());
    CHECK(t.design_family().name() + "-int8" == t.name);
  }
  // The kernel accessors read the same registry, in listing order.
  std::vector<std::string> kernel_names;
  for (const auto& k : env::kernel_tasks()) kernel_names.push_back(k.name);
  CHECK(kernel_names == std::vector<std::string>{"relu-int8", "gelu-int8", "softmax-int8", "rmsnorm-int8", "layernorm-int8"});
  CHECK_THROWS_WITH(env::find_kernel_task("gemm-int8"), Catch::Contains("unknown kernel task 'gemm-int8'") &&
                                                            Catch::Contains("known kernel tasks: relu-int8, gelu-int8"));
  CHECK_THROWS_WITH(env::task("relu-int8").design_family(), Catch::Contains("is a kernel task, with no design space"));
  CHECK_THROWS_WITH(env::task("gemm-int9"), Catch::StartsWith("unknown task 'gemm-int9'; did you mean 'gemm-int8'? "
                                                              "known tasks: gemm-int8, gemm-int8-target, gemm-int8-small, "
                                                              "gemm-int8-ice40, codesign-gemm, sha256-miner, relu-int8"));
}

TEST_CASE("chipgym tasks lists every task with its kind, kernel tasks included") {
  auto r = test_support::run_chipgym({"tasks", "--json"});
  REQUIRE(r.exit_code == 0);
  const json listed = json::parse(r.out);
  std::map<std::string, std::string> kinds;
  for (const auto& t : listed) kinds[t["name"].get<std::string>()] = t["kind"].get<std::string>();
  // The binary sees every built-in task (not the test's own).
  for (const env::Task* t : env::tasks())
    if (t->name != "adder-test") CHECK(kinds[t->name] == env::to_string(t->kind()));
  for (const auto& k : env::kernel_tasks()) {
    REQUIRE(kinds.count(k.name));
    CHECK(kinds[k.name] != "design");
  }
  CHECK(kinds["relu-int8"] == "kernel");
  CHECK(kinds["gelu-int8"] == "both");
  CHECK(kinds["gemm-int8"] == "design");
  for (const auto& t : listed)
    if (t["kind"] != "design") CHECK(t["kernel"]["interface"]["protocol"] == "stream");
  // The listing keeps the order it had; the kernel-only task sits among the operators.
  CHECK(listed[0]["name"] == "gemm-int8");
  CHECK(listed[3]["name"] == "gemm-int8-ice40");
  CHECK(listed[5]["name"] == "sha256-miner");
  CHECK(listed[6]["name"] == "relu-int8");

  auto text = test_support::run_chipgym({"tasks"});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("relu-int8  [kernel task]") &&
                           Catch::Contains("gelu-int8  (family gelu v") && Catch::Contains("[design and kernel task]") &&
                           Catch::Contains("chipgym score --task relu-int8 FILE.v"));
}

TEST_CASE("one agent registry: every agent says its kind, a description and its defaults") {
  std::map<std::string, agents::AgentKind> kinds;
  for (const agents::Agent* a : agents::all_agents()) {
    kinds[a->name] = a->kind;
    CHECK_FALSE(a->description.empty());
    CHECK(a->defaults.is_object());
  }
  for (const char* name : {"random", "grid", "sa", "ga", "tpe"}) CHECK(kinds.at(name) == agents::AgentKind::blackbox);
  for (const char* name : {"ppo", "dqn", "ippo", "mappo"}) CHECK(kinds.at(name) == agents::AgentKind::rl);
  CHECK(kinds.at("llm") == agents::AgentKind::llm);
  CHECK(kinds.at("evolve") == agents::AgentKind::evolve);
  CHECK(agents::agent("ppo").defaults["clip_coef"] == 0.2);
  CHECK(agents::agent("ga").defaults.contains("population"));
  CHECK(agents::agent("evolve").defaults["generations"] == 4);
  CHECK(agents::agent("mappo").multi_agent);
  // The order people read in --help and in errors: black-box, llm, RL, evolve.
  CHECK(Registry<agents::Agent>::instance().names() ==
        std::vector<std::string>{"random", "grid", "sa", "ga", "tpe", "nsga2", "sbo", "gradient", "llm", "ppo", "dqn", "ippo", "mappo", "evolve"});
  CHECK_THROWS_WITH(agents::agent("pp0"), "unknown agent 'pp0'; did you mean 'ppo'? known agents: random, grid, sa, ga, "
                                          "tpe, nsga2, sbo, gradient, llm, ppo, dqn, ippo, mappo, evolve");
  CHECK_THROWS_WITH(agents::make_searcher("ppo", env::Space::multi_discrete({2}), 1),
                    Catch::Contains("agent 'ppo' (rl) is not a black-box searcher"));
}

TEST_CASE("train and compare refuse an unknown agent with one error: the known names and the nearest, exit 2") {
  chipgym::evaluators::TempDir dir("chipgym-registry-");
  const auto task_file = dir.path() / "tiny.json";
  std::ofstream(task_file) << test_support::kTinyTask;
  auto train = test_support::run_chipgym(
      {"train", "--task-file", task_file.string(), "--agent", "mapo", "--out", (dir.path() / "t").string()});
  CHECK(train.exit_code == 2);
  CHECK_THAT(train.err, Catch::Contains("unknown agent 'mapo'; did you mean 'mappo'? known agents: random, grid"));
  auto compare = test_support::run_chipgym({"compare", "--task-file", task_file.string(), "--agents", "random,gaa",
                                            "--out", (dir.path() / "c").string()});
  CHECK(compare.exit_code == 2);
  CHECK_THAT(compare.err, Catch::Contains("unknown agent 'gaa'; did you mean 'ga'?") && Catch::Contains("ppo, dqn"));
  auto evolve = test_support::run_chipgym(
      {"train", "--task-file", task_file.string(), "--agent", "evolve", "--out", (dir.path() / "e").string()});
  CHECK(evolve.exit_code == 2);
  CHECK_THAT(evolve.err, Catch::Contains("agent 'evolve' (evolve) is not run by train or compare: use `chipgym evolve"));
}

// The evaluator as registered stages: fidelities are named lists of stages, and every stage
// reads its cache entry under the key the pipeline used before it had stages, so a cache filled
// by an older chipgym still hits (the entries planted below are found, not recomputed).
#include <catch2/catch.hpp>

#include "evaluators/sha256.h"
#include "evaluators/stage.h"
#include "hdl/gemm.h"
#include "test_support.h"

using namespace chipgym;
using json = nlohmann::json;

namespace {

const json kWorkload = {{"shapes", {{4, 4, 4}}}};

std::string verilator_version(const evaluators::Pipeline& p) { return p.tools().version(p.tools().verilator); }
std::string yosys_version(const evaluators::Pipeline& p) { return p.tools().version(p.tools().yosys); }

}  // namespace

TEST_CASE("fidelities are named lists of registered stages, cheapest first", "[stages]") {
  CHECK(evaluators::fidelity_names() == std::vector<std::string>{"model", "surrogate", "synth", "rtl", "untrusted", "ports", "user-rtl"});
  CHECK(evaluators::fidelity("synth").stages == std::vector<std::string>{"screen", "synthesize", "fpga"});
  CHECK(evaluators::fidelity("rtl").stages ==
        std::vector<std::string>{"screen", "lint", "simulate", "synthesize", "fpga"});
  CHECK(evaluators::fidelity("untrusted").stages ==
        std::vector<std::string>{"screen", "interface", "lint", "simulate", "loops", "synthesize"});
  for (const auto* f : evaluators::fidelities())
    for (const auto& stage : f->stages) {
      INFO(f->name << " runs " << stage);
      REQUIRE(evaluators::stages().find(stage) != nullptr);
      CHECK_FALSE(evaluators::stages().find(stage)->help.empty());
    }
  CHECK_THROWS_WITH(evaluators::fidelity("synthesis"),
                    Catch::Contains("unknown fidelity 'synthesis'; did you mean 'synth'? known fidelities: model, surrogate, synth, rtl"));
}

TEST_CASE("an unknown fidelity is an input error that names the known ones", "[stages]") {
  evaluators::Pipeline pipeline(nullptr);
  const auto& f = hdl::gemm_family();
  evaluators::EvalOptions o;
  o.fidelity = "bogus";
  auto m = pipeline.evaluate(f, f.space().parse_assignments("rows=1,cols=1"), kWorkload, o);
  REQUIRE(m.error);
  CHECK(m.error->category == "input");
  CHECK_THAT(m.error->message, Catch::Contains("unknown fidelity 'bogus'") && Catch::Contains("model, surrogate, synth, rtl"));
}

TEST_CASE("lint, simulate and synthesize read cache entries written under the keys of before the stages", "[stages]") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  const auto& f = hdl::gemm_family();
  const hdl::Params p = f.space().parse_assignments("rows=1,cols=1");
  const hdl::Rtl rtl = f.emit(p);

  SECTION("synthesize and fpga: one entry, keyed as synth-v4 was") {
    evaluators::Sha256 h;
    h.update("synth-v4").update(rtl.source()).update(rtl.top).update("hier").update("ice40").update(yosys_version(pipeline));
    const json planted = {{"cells", 12345}, {"cells_by_type", {{"$_AND_", 12345}}}, {"transistors", 777}, {"depth", 3},
                          {"ice40", {{"luts", 11}, {"ffs", 22}, {"dsps", 1}, {"brams", 0}, {"carries", 4}}}};
    scratch.cache->put("synthesize", h.hex(), planted.dump());
    evaluators::EvalOptions o;
    o.fidelity = "synth";
    auto m = pipeline.evaluate(f, p, kWorkload, o);
    INFO((m.error ? m.error->message : std::string()));
    REQUIRE(m.ok());
    CHECK(m.cells == 12345);
    CHECK(m.transistors == 777);
    CHECK(m.depth == 3);
    CHECK(m.luts == 11);
    CHECK(m.ffs == 22);
    CHECK(m.carries == 4);
    CHECK(m.stages["synthesize"]["cache_hit"].get<bool>());
  }
  SECTION("lint: keyed as lint-v1 was") {
    evaluators::Sha256 h;
    h.update("lint-v1").update(rtl.source()).update(rtl.top).update(verilator_version(pipeline));
    scratch.cache->put("lint", h.hex(), json({{"ok", false}, {"warnings", 0}, {"message", "planted lint entry"}}).dump());
    evaluators::EvalOptions o;
    o.fidelity = "rtl";
    auto m = pipeline.evaluate(f, p, kWorkload, o);
    REQUIRE(m.error);
    CHECK(m.error->category == "lint");
    CHECK_THAT(m.error->message, Catch::Contains("planted lint entry"));
  }
  SECTION("simulate: keyed as sim-v1 was, and its figures reach the metrics") {
    evaluators::Sha256 lint_key;
    lint_key.update("lint-v1").update(rtl.source()).update(rtl.top).update(verilator_version(pipeline));
    scratch.cache->put("lint", lint_key.hex(), json({{"ok", true}, {"warnings", 0}, {"message", ""}}).dump());
    const hdl::Stimulus stim = f.stimulus(p, kWorkload);
    evaluators::Sha256 h;
    h.update("sim-v1").update(rtl.source()).update(rtl.top).update(f.harness_cpp());
    h.update(verilator_version(pipeline)).update(stim.harness_input);
    const json planted = {{"correct", true}, {"checked", 16}, {"mismatches", 0}, {"cycles", 4242},
                          {"first_mismatch", ""}, {"error", ""}, {"cycles_per_problem", {4242}}};
    scratch.cache->put("simulate", h.hex(), planted.dump());
    evaluators::EvalOptions o;
    o.fidelity = "rtl";
    o.synthesis = false;
    auto m = pipeline.evaluate(f, p, kWorkload, o);
    INFO((m.error ? m.error->message : std::string()));
    REQUIRE(m.ok());
    CHECK(m.cycles == 4242);
    CHECK(m.checked == 16);
    CHECK(m.stages["lint"]["cache_hit"].get<bool>());
    CHECK(m.stages["simulate"]["cache_hit"].get<bool>());
    CHECK_FALSE(m.stages.contains("synthesize"));
  }
}

TEST_CASE("options without fpga leave the fpga stage out and key synthesis as generic gates only", "[stages]") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  const auto& f = hdl::gemm_family();
  const hdl::Params p = f.space().parse_assignments("rows=1,cols=1");
  const hdl::Rtl rtl = f.emit(p);
  evaluators::Sha256 h;
  h.update("synth-v4").update(rtl.source()).update(rtl.top).update("hier").update("generic").update(yosys_version(pipeline));
  scratch.cache->put("synthesize", h.hex(),
                     json({{"cells", 99}, {"cells_by_type", json::object()}, {"transistors", 400}, {"depth", 2}}).dump());
  evaluators::EvalOptions o;
  o.fidelity = "synth";
  o.fpga = false;
  auto m = pipeline.evaluate(f, p, kWorkload, o);
  REQUIRE(m.ok());
  CHECK(m.cells == 99);
  CHECK(m.luts == 0);
}

TEST_CASE("a design not simulated is not checked: correct is null, never false", "[stages]") {
  evaluators::Pipeline pipeline(nullptr);
  const auto& f = hdl::gemm_family();
  evaluators::EvalOptions o;
  o.fidelity = "model";
  auto m = pipeline.evaluate(f, f.space().parse_assignments("rows=1,cols=1"), kWorkload, o);
  REQUIRE(m.ok());
  CHECK_FALSE(m.correct.has_value());
  CHECK_FALSE(m.incorrect());
  CHECK(m.to_json()["correct"].is_null());
  CHECK_FALSE(evaluators::Metrics::from_json(m.to_json()).correct.has_value());
  // Records written before: false without a simulation meant "not simulated".
  json old = m.to_json();
  old["correct"] = false;
  CHECK_FALSE(evaluators::Metrics::from_json(old).correct.has_value());
  old["stages"]["simulate"] = {{"cache_hit", false}};
  CHECK(evaluators::Metrics::from_json(old).correct == false);

  auto text = test_support::run_chipgym({"eval", "--task", "gemm-int8", "--set", "rows=2,cols=2", "--fidelity", "model"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("not checked (not simulated at fidelity model)"));
  auto j = test_support::run_chipgym({"eval", "--task", "gemm-int8", "--set", "rows=2,cols=2", "--fidelity", "model", "--json"});
  REQUIRE(j.exit_code == 0);
  CHECK(json::parse(j.out)["correct"].is_null());
}

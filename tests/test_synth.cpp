// Yosys synthesis: hierarchical by default, flattened on request, metrics from stat -json.
#include <catch2/catch.hpp>

#include "evaluators/pipeline.h"
#include "hdl/gemm.h"
#include "test_support.h"

using namespace chipgym;
using json = nlohmann::json;

TEST_CASE("stat -json of Yosys 0.23 with hierarchy lines inside is parsed and aggregated per instance") {
  const std::string text = R"({
   "modules": {
      "\\pe": { "num_cells": 3, "num_cells_by_type": { "$_AND_": 2, "$_DFF_P_": 1 }, "estimated_num_transistors": "28" },
      "\\top": { "num_cells": 3, "num_cells_by_type": { "$_NOT_": 1, "pe": 2 }, "estimated_num_transistors": "2+" }
   },
       pe                       2
      "design": { "num_cells": 7 }
})";
  auto agg = evaluators::aggregate_stat(text, "top");
  CHECK(agg["$_AND_"] == 4);
  CHECK(agg["$_DFF_P_"] == 2);
  CHECK(agg["$_NOT_"] == 1);
  CHECK(agg.count("pe") == 0);
  CHECK(agg["__transistors"] == 2 + 2 * 28);
  CHECK(evaluators::parse_ltp_depth("Longest topological path in pe (length=39):\nLongest topological path in top (length=1):\n") == 39);
}

TEST_CASE("hierarchical synthesis reports cells, CMOS area, depth and iCE40 resources, and the cache returns them again") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  const auto& f = hdl::gemm_family();
  const json workload = {{"shapes", {{4, 4, 4}}}};
  evaluators::EvalOptions o;
  o.fidelity = "synth";
  auto small = pipeline.evaluate(f, f.space().parse_assignments("rows=2,cols=2"), workload, o);
  INFO((small.error ? small.error->message : std::string()));
  REQUIRE(small.ok());
  CHECK(small.cells > 1000);
  CHECK(small.transistors > small.cells);  // several transistors per gate
  CHECK(small.depth > 10);                 // at least the 8x8 multiplier's depth
  CHECK(small.luts > 0);
  CHECK(small.ffs > 0);
  CHECK(small.dsps >= 4);                  // one SB_MAC16 per processing element
  CHECK(small.cycles == small.cycles_model);
  CHECK_FALSE(small.stages["synthesize"]["flatten"].get<bool>());

  auto bigger = pipeline.evaluate(f, f.space().parse_assignments("rows=4,cols=4"), workload, o);
  REQUIRE(bigger.ok());
  CHECK(bigger.transistors > small.transistors);
  CHECK(bigger.dsps > small.dsps);

  auto again = pipeline.evaluate(f, f.space().parse_assignments("rows=2,cols=2"), workload, o);
  CHECK(again.cache_hit);
  CHECK(again.to_json()["cells"] == small.to_json()["cells"]);
  CHECK(again.transistors == small.transistors);
  CHECK(again.luts == small.luts);

  evaluators::EvalOptions flat = o;
  flat.flatten = true;
  flat.fpga = false;
  auto flattened = pipeline.evaluate(f, f.space().parse_assignments("rows=2,cols=2"), workload, flat);
  REQUIRE(flattened.ok());
  CHECK(flattened.stages["synthesize"]["flatten"].get<bool>());
  // Flattening optimizes across module boundaries, so counts differ a little, not a lot.
  CHECK(std::abs(flattened.cells - small.cells) < small.cells / 10);
  CHECK_FALSE(flattened.cache_hit);  // a different stage option is a different cache entry
}

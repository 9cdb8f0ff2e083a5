// The codesign family (accelerator + kernel mapping): parameters and their constraints, the
// generator, the mapping's cycle model against Verilator simulations, and the task.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <limits>

#include "env/multi_agent_env.h"
#include "env/task.h"
#include "evaluators/pipeline.h"
#include "hdl/codesign_gemm.h"
#include "test_support.h"

using namespace chipgym;
using hdl::ParamError;
using json = nlohmann::json;

namespace {

const hdl::Family& codesign() { return hdl::codesign_family(); }
hdl::Params params(const std::string& set) { return codesign().space().parse_assignments(set); }

// Small shapes with ragged edges in every dimension, a K that splits into chunks unevenly,
// and the degenerate 1 x 1 x 1.
const json kSmallWorkload = {{"shapes", {{5, 7, 9}, {8, 16, 8}, {3, 20, 6}, {1, 1, 1}}},
                             {"patterns", {"random", "minmax"}},
                             {"seed", 3}};

// The validation matrix: hardware (array shape, buffer depths, pipelining) x mapping (tiles,
// loop order, double buffering).
const std::vector<std::string> kMatrix = {
    "rows=1,cols=1,a_depth=4,b_depth=4,tile_m=1,tile_n=1,tile_k=4,loop_order=mnk",
    "rows=2,cols=3,a_depth=16,b_depth=16,tile_m=2,tile_n=2,tile_k=4,loop_order=mnk",
    "rows=2,cols=3,a_depth=16,b_depth=16,tile_m=2,tile_n=2,tile_k=4,loop_order=kmn,double_buffer=1",
    "rows=3,cols=2,a_depth=64,b_depth=32,tile_m=2,tile_n=4,tile_k=4,loop_order=nkm,pipeline=1",
    "rows=4,cols=4,a_depth=64,b_depth=64,tile_m=1,tile_n=2,tile_k=16,loop_order=nmk,double_buffer=1",
    "rows=4,cols=4,a_depth=64,b_depth=64,tile_m=4,tile_n=1,tile_k=8,loop_order=mkn,double_buffer=1,pipeline=1",
    "rows=2,cols=2,a_depth=8,b_depth=8,tile_m=1,tile_n=4,tile_k=2,loop_order=knm",
    "rows=5,cols=3,a_depth=128,b_depth=128,tile_m=2,tile_n=2,tile_k=32,loop_order=mnk,double_buffer=1",
    "rows=2,cols=2,a_depth=2,b_depth=2,tile_m=1,tile_n=1,tile_k=1,loop_order=kmn,double_buffer=1,in_bits=4,acc_bits=12",
    "rows=1,cols=4,a_depth=32,b_depth=32,tile_m=4,tile_n=2,tile_k=4,loop_order=nmk,double_buffer=1,pipeline=1",
    // K fits one chunk: A blocks are reused across column tiles.
    "rows=3,cols=3,a_depth=64,b_depth=64,tile_m=1,tile_n=1,tile_k=32,loop_order=mnk",
    // 16-bit accumulators wrap on minmax; partial sums accumulated in memory wrap alike.
    "rows=4,cols=2,a_depth=16,b_depth=64,tile_m=2,tile_n=8,tile_k=4,loop_order=mkn,double_buffer=1,acc_bits=16",
};

}  // namespace

TEST_CASE("codesign parameters: a tile larger than its buffer and double buffering without two tiles are refused by name") {
  const auto& space = codesign().space();
  auto d = space.defaults();
  CHECK(d.integer("rows") == 4);
  CHECK(d.symbol("loop_order") == "mnk");
  CHECK_THROWS_WITH(space.parse_assignments("a_depth=16,tile_m=2,tile_k=16"),
                    Catch::Contains("a_depth >= tile_m * tile_k"));
  CHECK_THROWS_WITH(space.parse_assignments("b_depth=16,tile_n=4,tile_k=8"),
                    Catch::Contains("b_depth >= tile_n * tile_k"));
  CHECK_THROWS_WITH(space.parse_assignments("a_depth=32,b_depth=64,tile_m=2,tile_n=2,tile_k=16,double_buffer=1"),
                    Catch::Contains("a_depth >= 2 * tile_m * tile_k with double_buffer=1"));
  CHECK_THROWS_WITH(space.parse_assignments("a_depth=64,b_depth=32,tile_m=2,tile_n=2,tile_k=16,double_buffer=1"),
                    Catch::Contains("b_depth >= 2 * tile_n * tile_k with double_buffer=1"));
  CHECK_NOTHROW(space.parse_assignments("a_depth=64,b_depth=64,tile_m=2,tile_n=2,tile_k=16,double_buffer=1"));
  CHECK_THROWS_WITH(space.parse_assignments("loop_order=mmk"), Catch::Contains("one of mnk, mkn, nmk, nkm, kmn, knm"));
  CHECK_THROWS_WITH(space.parse_assignments("tile_k=12"), Catch::Contains("power of two"));
  CHECK_THROWS_WITH(space.parse_assignments("in_bits=16,acc_bits=24"), Catch::Contains("acc_bits >= 2 * in_bits"));
  // emit() validates too: a hand-built Params cannot slip an oversized tile past the space.
  auto p = d;
  p.set("tile_k", 1024LL);
  CHECK_THROWS_AS(codesign().emit(p), ParamError);
}

TEST_CASE("codesign generator reuses the gemm datapath modules byte for byte and puts the mapping in the controller") {
  auto a = codesign().emit(params("rows=4,cols=3,loop_order=nmk"));
  auto b = codesign().emit(params("rows=4,cols=3,loop_order=nmk"));
  auto c = codesign().emit(params("rows=4,cols=3,loop_order=kmn"));
  CHECK(a.files == b.files);
  CHECK(a.source() == b.source());
  CHECK(a.source() != c.source());
  CHECK(a.top == "codesign_top");
  CHECK(a.files.at("codesign_ctrl.v") != c.files.at("codesign_ctrl.v"));
  auto body = [](const std::string& text) { return text.substr(text.find("`default_nettype none")); };
  // The PE and the array are the gemm family's (dataflow os) modules.
  auto g = hdl::gemm_family().emit(hdl::gemm_family().space().parse_assignments("rows=4,cols=3,a_depth=64,b_depth=64"));
  for (const char* f : {"gemm_pe.v", "gemm_array.v", "gemm_mux2.v", "gemm_buf_64x32.v", "gemm_buf_64x24.v"})
    CHECK(body(a.files.at(f)) == body(g.files.at(f)));
  CHECK(a.modules.size() == 7);
  // Designs that differ only in mapping share the datapath files byte for byte.
  for (const char* f : {"gemm_pe.v", "gemm_array.v", "gemm_mux2.v", "gemm_buf_64x32.v", "gemm_buf_64x24.v"})
    CHECK(a.files.at(f) == c.files.at(f));  // pe, array, two buffers, mux2, controller, top
  // A square array with equal depths has one buffer module.
  CHECK(codesign().emit(params("rows=4,cols=4")).modules.size() == 6);
}

TEST_CASE("codesign cycle model: documented phase counts for a one-step problem") {
  hdl::CodesignConfig cfg;
  cfg.hw.rows = cfg.hw.cols = 1;
  cfg.hw.a_depth = cfg.hw.b_depth = 1;
  cfg.tile_m = cfg.tile_n = cfg.tile_k = 1;
  // 1 x 1 x 1, single-buffered: load phase (1 slice + 1) + 2, compute phase (clear 1 +
  // stream 1 + drain 1 + write 1) + 2, final boundary 1.
  CHECK(hdl::codesign_model_cycles(cfg, {1, 1, 1}) == 2 + 2 + 4 + 2 + 1);
  // Double-buffered: load phase, then a compute phase with nothing left to load, then done.
  cfg.double_buffer = true;
  cfg.hw.a_depth = cfg.hw.b_depth = 2;
  CHECK(hdl::codesign_model_cycles(cfg, {1, 1, 1}) == 2 + 2 + 4 + 2 + 1);
  // K = 3 in chunks of 1: loads of the next chunk hide behind compute (4 > 2).
  CHECK(hdl::codesign_model_cycles(cfg, {1, 3, 1}) == (2 + 2) + 2 * (4 + 2) + (4 + 2) + 1);
  cfg.double_buffer = false;
  CHECK(hdl::codesign_model_cycles(cfg, {1, 3, 1}) == 3 * (2 + 2 + 4 + 2) + 1);
}

TEST_CASE("codesign loop order decides reuse: the innermost loop's other operand stays in the buffer") {
  hdl::CodesignConfig cfg;
  cfg.hw.rows = cfg.hw.cols = 2;
  cfg.hw.a_depth = cfg.hw.b_depth = 64;
  cfg.tile_m = 4;  // A blocks of 4 row slices per K step, B blocks of 1 column slice
  cfg.tile_n = 1;
  cfg.tile_k = 8;
  const hdl::GemmShape sh{16, 16, 8};  // 2 x 4 tiles, 2 K chunks: 16 steps
  auto count = [&](const std::string& order) {
    cfg.loop_order = order;
    return hdl::codesign_model(cfg, sh);
  };
  // n innermost: the A block (m0, k0) stays for the 4 column tiles; B is reloaded every step.
  auto kmn = count("kmn");
  CHECK(kmn.steps == 16);
  CHECK(kmn.a_slices == 16 * 16 / 2);  // each A element once, in slices of 2
  CHECK(kmn.b_slices == 16 * 8);       // 16 steps x 8 slices
  // m innermost: the mirror image.
  auto knm = count("knm");
  CHECK(knm.a_slices == 16 * 32);
  CHECK(knm.b_slices == 16 * 8 / 2);
  // k innermost with two chunks: nothing is reused.
  auto mnk = count("mnk");
  CHECK(mnk.a_slices == 16 * 32);
  CHECK(mnk.b_slices == 16 * 8);
  // A and B load side by side, so skipping the larger A block is what saves cycles.
  CHECK(kmn.cycles < knm.cycles);
  CHECK(knm.cycles == mnk.cycles);
}

TEST_CASE("codesign cycle model equals Verilator cycle counts and results are bit-exact across hardware x mapping") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.fidelity = "rtl";
  o.synthesis = false;
  int agree = 0;
  for (const auto& set : kMatrix) {
    INFO(set);
    auto p = params(set);
    auto m = pipeline.evaluate(codesign(), p, kSmallWorkload, o);
    INFO((m.error ? m.error->message : std::string()) << " " << m.first_mismatch);
    REQUIRE(!m.error);
    INFO(m.stages["lint"].dump());
    CHECK(m.stages["lint"]["warnings"].get<long long>() == 0);  // verilator --lint-only -Wall clean
    CHECK(m.correct == true);
    CHECK(m.mismatches == 0);
    CHECK(m.checked == 2 * (5 * 9 + 8 * 8 + 3 * 6 + 1));
    const auto per = m.stages["simulate"]["cycles_per_problem"];
    hdl::CodesignConfig cfg = hdl::CodesignConfig::from(p);
    std::size_t i = 0;
    bool all = true;
    for (const auto& sh : hdl::gemm_shapes(kSmallWorkload))
      for (int pattern = 0; pattern < 2; ++pattern, ++i) {
        CHECK(per[i].get<long long>() == hdl::codesign_model_cycles(cfg, sh));
        all = all && per[i].get<long long>() == hdl::codesign_model_cycles(cfg, sh);
      }
    CHECK(m.cycles == m.cycles_model);
    agree += all;
  }
  WARN("cycle model == RTL on " << agree << " of " << kMatrix.size() << " configurations ("
                                << kMatrix.size() * 8 << " problems)");
  CHECK(agree == static_cast<int>(kMatrix.size()));
}

TEST_CASE("codesign-gemm task: a larger space than gemm-int8, split into compute, memory and mapping agents") {
  const auto& t = env::task("codesign-gemm");
  CHECK(t.family == "codesign");
  CHECK(t.fidelity == "synth");
  CHECK(t.workload["shapes"] == env::task("gemm-int8").workload["shapes"]);
  auto size = [](const env::Task& task) {
    double n = 1;
    for (const auto& [name, values] : task.search_domains()) n *= static_cast<double>(values.size());
    return n;
  };
  CHECK(size(t) == 46656);
  CHECK(size(t) > 10 * size(env::task("gemm-int8")));
  auto groups = t.agent_groups();
  REQUIRE(groups.size() == 3);
  CHECK(groups["compute"] == std::vector<std::string>{"rows", "cols"});
  CHECK(groups["memory"] == std::vector<std::string>{"a_depth", "b_depth"});
  CHECK(groups["mapping"] == std::vector<std::string>{"tile_m", "tile_n", "tile_k", "loop_order", "double_buffer"});
  // Every searched design is either valid or refused with the constraint it breaks.
  const auto domains = t.search_domains();
  const auto& space = t.design_family().space();
  long long valid = 0, total = 0;
  std::vector<std::size_t> index(domains.size(), 0);
  for (bool more = true; more; ++total) {
    auto p = space.defaults();
    for (std::size_t d = 0; d < domains.size(); ++d) p.set(domains[d].first, domains[d].second[index[d]]);
    try {
      space.validate(p);
      ++valid;
    } catch (const ParamError& e) {
      CHECK_THAT(e.what(), Catch::Contains("depth >= "));
    }
    more = false;
    for (std::size_t d = 0; d < domains.size() && !more; ++d) {
      if (++index[d] < domains[d].second.size()) more = true;
      else index[d] = 0;
    }
  }
  CHECK(total == 46656);
  WARN("codesign-gemm: " << valid << " valid designs of " << total);
  CHECK(valid > 10000);
}

TEST_CASE("codesign mapping changes the workload's cycles several-fold on fixed hardware") {
  const auto& t = env::task("codesign-gemm");
  const auto& space = codesign().space();
  long long best = std::numeric_limits<long long>::max(), worst = 0;
  std::string best_at, worst_at;
  long long best_single = std::numeric_limits<long long>::max();
  int mappings = 0;
  for (const auto& tm : t.search["tile_m"])
    for (const auto& tn : t.search["tile_n"])
      for (const auto& tk : t.search["tile_k"])
        for (const auto& order : t.search["loop_order"])
          for (const auto& db : t.search["double_buffer"]) {
            const std::string set = "rows=8,cols=8,a_depth=256,b_depth=256,tile_m=" + tm.dump() + ",tile_n=" + tn.dump() +
                                    ",tile_k=" + tk.dump() + ",loop_order=" + order.get<std::string>() +
                                    ",double_buffer=" + db.dump();
            hdl::Params p;
            try {
              p = space.parse_assignments(set);
            } catch (const ParamError&) {
              continue;  // a tile the buffers cannot hold (twice, with double buffering)
            }
            const long long cycles = codesign().model_cycles(p, t.workload);
            ++mappings;
            if (cycles < best) best = cycles, best_at = set;
            if (cycles > worst) worst = cycles, worst_at = set;
            if (db.get<int>() == 0) best_single = std::min(best_single, cycles);
          }
  CHECK(mappings > 100);
  WARN("8x8 array, 256-entry buffers, " << mappings << " valid mappings: best " << best << " cycles (" << best_at
                                        << "), worst " << worst << " (" << worst_at << "), best single-buffered "
                                        << best_single);
  CHECK(worst > 2 * best);
  CHECK(best < best_single);  // double buffering hides loads
}

TEST_CASE("codesign evaluation: an invalid mapping is an input error naming the constraint, a valid one is scored") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  const auto& t = env::task("codesign-gemm");
  evaluators::EvalOptions o;
  o.fidelity = "synth";
  o.fpga = false;
  auto bad = codesign().space().defaults();
  bad.set("tile_k", 64LL);  // 2 x 64 A slices in a 64-entry buffer
  auto m = pipeline.evaluate(codesign(), bad, t.workload, o);
  REQUIRE(m.error);
  CHECK(m.error->category == "input");
  CHECK_THAT(m.error->message, Catch::Contains("a_depth >= tile_m * tile_k"));
  CHECK(t.reward(m) == -3);

  auto good = codesign().space().parse_assignments("rows=2,cols=2,a_depth=16,b_depth=16,tile_m=1,tile_n=2,tile_k=8");
  m = pipeline.evaluate(codesign(), good, t.workload, o);
  REQUIRE(!m.error);
  CHECK(m.cycles == m.cycles_model);
  CHECK(m.transistors > 0);
  auto s = t.score(m);
  CHECK(s["within_budget"] == true);
  CHECK(s["objective"].get<double>() > 0);
  CHECK(t.reward(m) == Approx(s["objective"].get<double>()));
}

TEST_CASE("chipgym tasks lists codesign-gemm and eval refuses an oversized tile with exit code 2") {
  auto r = test_support::run_chipgym({"tasks"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("codesign-gemm"));
  r = test_support::run_chipgym({"eval", "--task", "codesign-gemm", "--fidelity", "model", "--json", "--no-cache"});
  CHECK(r.exit_code == 0);
  auto j = json::parse(r.out);
  CHECK(j["cycles_model"].get<long long>() ==
        codesign().model_cycles(codesign().space().defaults(), env::task("codesign-gemm").workload));
  r = test_support::run_chipgym({"eval", "--task", "codesign-gemm", "--set", "tile_m=4,tile_k=64", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err + r.out, Catch::Contains("a_depth >= tile_m * tile_k"));
}

TEST_CASE("chipgym train on codesign-gemm records a design that breaks a constraint as reward -3 and goes on") {
  evaluators::TempDir dir("chipgym-codesign-train-");
  // Seed 1's first random design asks for 4 x 16 B slices in a 16-entry buffer.
  auto r = test_support::run_chipgym({"train", "--task", "codesign-gemm", "--agent", "random", "--budget", "1", "--seed",
                                      "1", "--out", (dir.path() / "run").string(), "--cache-dir",
                                      (dir.path() / "cache").string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream events(dir.path() / "run" / "events.jsonl");
  std::string line;
  REQUIRE(std::getline(events, line));
  auto e = json::parse(line);
  CHECK(e["reward"].get<double>() == -3);
  CHECK(e["error"]["category"] == "input");
  CHECK_THAT(e["error"]["message"].get<std::string>(), Catch::Contains("b_depth >= tile_n * tile_k"));
}

TEST_CASE("MultiAgentEnv on codesign-gemm: compute, memory and mapping agents share one team reward") {
  test_support::ScratchCache scratch;
  auto pipeline = std::make_shared<evaluators::Pipeline>(scratch.cache);
  env::MultiAgentEnv ma(env::task("codesign-gemm"), {}, pipeline);
  CHECK(ma.agents() == std::vector<std::string>{"compute", "mapping", "memory"});
  CHECK(ma.action_space("mapping").to_json() == json{{"type", "MultiDiscrete"}, {"nvec", {3, 3, 3, 6, 2}}});
  CHECK(ma.action_space("memory").to_json() == json{{"type", "MultiDiscrete"}, {"nvec", {3, 3}}});
  ma.reset(0);
  // The memory agent picks 16-entry buffers while the mapping agent asks for 4 x 64 A slices.
  auto r = ma.step({{"compute", {0, 0}}, {"memory", {0, 0}}, {"mapping", {2, 0, 2, 0, 0}}});
  CHECK(r.rewards["compute"] == -3);
  CHECK(r.rewards["mapping"] == -3);
  CHECK_THAT(r.info.dump(), Catch::Contains("a_depth >= tile_m * tile_k"));
}

namespace {
// Modules of a synthesis whose result came from the per-module cache.
int modules_cached(const evaluators::Metrics& m) {
  int n = 0;
  const json modules = m.stages.at("synthesize").value("modules", json::object());
  for (const auto& [unit, stage] : modules.items()) n += stage.value("cache_hit", false);
  return n;
}
}  // namespace

TEST_CASE("codesign designs that differ only in mapping reuse the datapath's per-module synthesis with the same area") {
  const auto& t = env::task("codesign-gemm");
  evaluators::EvalOptions o;
  o.fidelity = "synth";
  o.fpga = false;
  auto first = codesign().space().parse_assignments("rows=2,cols=4,a_depth=16,b_depth=16,tile_m=1,tile_n=1,tile_k=8");
  auto second = codesign().space().parse_assignments(
      "rows=2,cols=4,a_depth=16,b_depth=16,tile_m=2,tile_n=1,tile_k=4,loop_order=knm,double_buffer=1");
  test_support::ScratchCache shared;
  evaluators::Pipeline pipeline(shared.cache);
  auto a = pipeline.evaluate(codesign(), first, t.workload, o);
  REQUIRE(!a.error);
  CHECK(modules_cached(a) == 0);
  auto b = pipeline.evaluate(codesign(), second, t.workload, o);
  REQUIRE(!b.error);
  // PE, array, the A and B buffers and the read-out multiplexer come from the cache; the
  // controller and the top are synthesized.
  CHECK(modules_cached(b) == 5);
  test_support::ScratchCache fresh;
  evaluators::Pipeline cold(fresh.cache);
  auto c = cold.evaluate(codesign(), second, t.workload, o);
  REQUIRE(!c.error);
  CHECK(modules_cached(c) == 0);
  CHECK(b.transistors == c.transistors);
  CHECK(b.cells == c.cells);
  CHECK(b.depth == c.depth);
  WARN("synthesis of a mapping-only change: " << b.stages["synthesize"]["seconds"] << " s with the datapath cached, "
                                              << c.stages["synthesize"]["seconds"] << " s cold");
}

// The sha256 family: the FIPS 180-4 reference model, parameters and workloads, the generator,
// and real Verilator simulations bit-exact against the reference with the model's cycles.
#include <catch2/catch.hpp>
#include <random>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/sha256.h"
#include "hdl/sha256_core.h"
#include "test_support.h"

using namespace chipgym;
using hdl::ParamError;
using json = nlohmann::json;

namespace {

const hdl::Family& sha() { return hdl::sha256_family(); }
hdl::Params params(const std::string& set) { return sha().space().parse_assignments(set); }

const std::string kTwoBlock = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 448 bits

// Every length class: empty, short, one block with the most payload (55), the first that
// needs two blocks (56), a block boundary minus one, exactly one block of payload, and the
// same around the second boundary; then random messages.
const json kWorkload = {{"texts", {"abc", "", kTwoBlock}},
                        {"lengths", {0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 200}},
                        {"messages", 6},
                        {"min_length", 0},
                        {"max_length", 300},
                        {"seed", 7}};

}  // namespace

TEST_CASE("the SHA-256 reference model gives the FIPS 180-4 example digests") {
  CHECK(hdl::sha256_reference("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hdl::sha256_reference("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hdl::sha256_reference(kTwoBlock) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hdl::sha256_reference(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("the SHA-256 reference model agrees with the cache's SHA-256 at every length 0 to 300") {
  std::mt19937_64 rng(3);
  for (int length = 0; length <= 300; ++length) {
    std::string m(static_cast<std::size_t>(length), '\0');
    for (auto& c : m) c = static_cast<char>(rng() & 0xff);
    INFO("length " << length);
    CHECK(hdl::sha256_reference(m) == evaluators::sha256_hex(m));
  }
}

TEST_CASE("padding puts 0x80, zeros and the bit length in the right block at every length class") {
  for (auto [bytes, blocks] : std::vector<std::pair<int, int>>{
           {0, 1}, {1, 1}, {55, 1}, {56, 2}, {63, 2}, {64, 2}, {119, 2}, {120, 3}, {128, 3}}) {
    INFO("length " << bytes);
    auto padded = hdl::sha256_pad(std::string(static_cast<std::size_t>(bytes), 'x'));
    CHECK(static_cast<int>(padded.size()) == blocks);
    CHECK(hdl::sha256_block_count(bytes) == blocks);
    CHECK(padded.back()[15] == static_cast<std::uint32_t>(8 * bytes));  // the bit length, low word
    CHECK(padded.back()[14] == 0u);
    const int at = bytes;  // the 0x80 byte
    const std::uint32_t w = padded[static_cast<std::size_t>(at / 64)][(at % 64) / 4];
    CHECK(((w >> (8 * (3 - at % 4))) & 0xff) == 0x80u);
  }
}

TEST_CASE("sha256 parameters: invalid combinations are rejected with the constraint named") {
  const auto& space = sha().space();
  CHECK(space.parse_assignments("").integer("unroll") == 1);
  CHECK_NOTHROW(space.parse_assignments("unroll=8,pipeline=8"));
  CHECK_NOTHROW(space.parse_assignments("unroll=1,pipeline=64"));
  CHECK_THROWS_WITH(space.parse_assignments("unroll=8,pipeline=16"),
                    Catch::Contains("pipeline * unroll <= 64") && Catch::Contains("whole rounds"));
  CHECK_THROWS_AS(space.parse_assignments("unroll=2,pipeline=64"), ParamError);
  CHECK_THROWS_WITH(space.parse_assignments("unroll=3"), Catch::Contains("one of 1, 2, 4, 8"));
  CHECK_THROWS_WITH(space.parse_assignments("pipeline=3"), Catch::Contains("power of two in 1..64"));
  CHECK_THROWS_WITH(space.parse_assignments("cores=9"), Catch::Contains("'cores' = 9 is out of range"));
  CHECK_THROWS_WITH(space.parse_assignments("rounds=2"), Catch::Contains("unknown parameter 'rounds'"));
  CHECK_THROWS_WITH(space.from_json(json{{"unroll", 4}, {"pipeline", 32}}), Catch::Contains("pipeline * unroll <= 64"));
}

TEST_CASE("sha256 workloads: bad fields are rejected with what is wrong") {
  CHECK(hdl::sha256_messages(kWorkload).size() == 3 + 12 + 6);
  CHECK(hdl::sha256_messages(kWorkload) == hdl::sha256_messages(kWorkload));  // the seed fixes the bytes
  CHECK_THROWS_WITH(hdl::sha256_messages(json{{"lenghts", {1}}}), Catch::Contains("unknown field \"lenghts\""));
  CHECK_THROWS_WITH(hdl::sha256_messages(json{{"lengths", {-1}}}), Catch::Contains("length -1"));
  CHECK_THROWS_WITH(hdl::sha256_messages(json{{"lengths", {5000}}}), Catch::Contains("0..4096"));
  CHECK_THROWS_WITH(hdl::sha256_messages(json::object()), Catch::Contains("no messages"));
  CHECK_THROWS_WITH(hdl::sha256_messages(json{{"texts", {3}}}), Catch::Contains("not a string"));
  CHECK_THROWS_WITH(hdl::sha256_messages(json{{"messages", 2}, {"min_length", 9}, {"max_length", 3}}),
                    Catch::Contains("exceeds"));
  // The pipeline reports a bad workload as an input error, before any tool runs.
  evaluators::Pipeline pipeline(nullptr);
  evaluators::EvalOptions o;
  auto m = pipeline.evaluate(sha(), params(""), json{{"messages", -2}}, o);
  REQUIRE(m.error);
  CHECK(m.error->category == "input");
  CHECK_THAT(m.error->message, Catch::Contains("\"messages\""));
}

TEST_CASE("sha256 generator is deterministic, one file per module") {
  auto a = sha().emit(params("unroll=2,pipeline=4,cores=3"));
  auto b = sha().emit(params("unroll=2,pipeline=4,cores=3"));
  auto c = sha().emit(params("unroll=2,pipeline=2,cores=3"));
  CHECK(a.files == b.files);
  CHECK(a.source() != c.source());
  CHECK(a.top == "sha256_top");
  CHECK(a.modules == std::vector<std::string>{"sha256_rounds", "sha256_rounds_final", "sha256_k", "sha256_core", "sha256_top"});
  for (const auto& m : a.modules) CHECK(a.files.count(m + ".v") == 1);
  // One stage, one round per cycle: no plain rounds module. One cycle per step: no ROM.
  CHECK(sha().emit(params("")).modules == std::vector<std::string>{"sha256_rounds_final", "sha256_k", "sha256_core", "sha256_top"});
  CHECK(sha().emit(params("unroll=8,pipeline=8")).files.count("sha256_k.v") == 0);
}

TEST_CASE("sha256 cycle model: lanes fill in order and each takes a block every 64/unroll cycles") {
  hdl::Sha256CoreConfig g;  // one core, one stage, one round per cycle: a step is 64 cycles
  CHECK(hdl::sha256_model_cycles(g, {1}) == 65);      // fed at edge 1, digest after edge 65
  CHECK(hdl::sha256_model_cycles(g, {1, 2}) == 193);  // three blocks back to back
  g.pipeline = 2;  // two lanes, steps of 32 cycles
  auto placed = hdl::sha256_schedule(g, {1, 2, 1});
  CHECK(placed[0].slot == 0);
  CHECK(placed[0].done_cycle == 2 * 32 + 1);
  CHECK(placed[1].slot == 1);
  CHECK(placed[1].done_cycle == (1 + 2 * 2) * 32 + 1);
  CHECK(placed[2].slot == 0);  // lane 0 is free again first (step 2)
  CHECK(placed[2].first_step == 2);
  CHECK(hdl::sha256_model_cycles(g, {1, 2, 1}) == 5 * 32 + 1);
  g.pipeline = 1;
  g.cores = 2;  // messages go to the next core before the next slot
  placed = hdl::sha256_schedule(g, {3, 1, 1});
  CHECK(placed[0].core == 0);
  CHECK(placed[1].core == 1);
  CHECK(placed[2].core == 1);
  CHECK(hdl::sha256_model_cycles(g, {3, 1, 1}) == 3 * 64 + 1);
}

// The verification matrix: every unroll, pipelines from 1 to 64 stages (steps of 64 cycles down
// to one), several cores. Split into test cases so that ctest runs them side by side.
static void check_bit_exact_and_cycles(const std::vector<std::string>& configs) {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  evaluators::EvalOptions o;
  o.synthesis = false;
  const auto messages = hdl::sha256_messages(kWorkload);
  std::vector<long long> blocks;
  for (const auto& m : messages) blocks.push_back(hdl::sha256_block_count(static_cast<long long>(m.size())));
  for (const auto& set : configs) {
    auto p = params(set);
    auto m = pipeline.evaluate(sha(), p, kWorkload, o);
    INFO(set);
    INFO((m.error ? m.error->category + ": " + m.error->message : std::string()));
    INFO(m.first_mismatch);
    REQUIRE(m.ok());
    CHECK(m.stages["lint"]["warnings"] == 0);  // verilator --lint-only -Wall is clean
    CHECK(m.correct == true);
    CHECK(m.mismatches == 0);
    CHECK(m.checked == static_cast<long long>(messages.size()));  // every digest, FIPS vectors included
    CHECK(m.cycles == m.cycles_model);
    // Per message, too: each digest leaves at the cycle the model says.
    auto done = m.stages["simulate"]["cycles_per_problem"].get<std::vector<long long>>();
    auto placed = hdl::sha256_schedule(hdl::Sha256CoreConfig::from(p), blocks);
    REQUIRE(done.size() == placed.size());
    for (std::size_t i = 0; i < done.size(); ++i) CHECK(done[i] == placed[i].done_cycle);
  }
}

TEST_CASE("iterative sha256 cores of every unroll hash every length class bit-exactly in the model's cycles") {
  check_bit_exact_and_cycles({"unroll=1", "unroll=2", "unroll=4,cores=2", "unroll=8"});
}

TEST_CASE("pipelined sha256 cores hash every length class bit-exactly in the model's cycles") {
  check_bit_exact_and_cycles({"unroll=1,pipeline=2", "unroll=2,pipeline=4", "unroll=1,pipeline=4,cores=3",
                              "unroll=2,pipeline=2,cores=2"});
}

TEST_CASE("fully pipelined sha256 cores with one-cycle steps hash bit-exactly in the model's cycles") {
  check_bit_exact_and_cycles({"unroll=8,pipeline=8", "unroll=4,pipeline=16,cores=2"});
}

TEST_CASE("a sha256 core with a wrong round constant is caught as a mismatch, not a crash") {
  test_support::ScratchCache scratch;
  evaluators::Pipeline pipeline(scratch.cache);
  auto p = params("unroll=2,pipeline=2");
  auto rtl = sha().emit(p);
  std::string rom = rtl.files.at("sha256_k.v");
  const std::string k63 = "c67178f2";  // K[63], used by the last stage only
  REQUIRE(rom.find(k63) != std::string::npos);
  rom.replace(rom.find(k63), k63.size(), "c67178f3");
  evaluators::EvalOptions o;
  o.synthesis = false;
  o.inject = std::make_pair(std::string("sha256_k.v"), rom);
  auto m = pipeline.evaluate(sha(), p, json{{"texts", {"abc", ""}}}, o);
  REQUIRE(m.ok());
  CHECK(m.correct == false);  // simulated, and wrong
  CHECK(m.mismatches == 2);
  CHECK_THAT(m.first_mismatch, Catch::Contains("expected ba7816bf") && Catch::Contains("got"));
}

TEST_CASE("sha256 objective: hashes per second per LUT with the clock from logic depth, zero over the LUT budget") {
  const auto& task = env::task("sha256-miner");
  CHECK(task.family == "sha256");
  CHECK(task.budget["max_luts"] == 5280);
  json m = {{"cycles", 1000}, {"depth", 36}, {"luts", 2000}, {"ffs", 1500},
            {"derived", {{"blocks", 10}, {"peak_blocks_per_cycle", 1.0 / 64}}}};
  json s = sha().score(m, task.budget);
  // period 0.25 ns x 36 + 1 ns = 10 ns: 100 MHz; 0.01 blocks/cycle: 1 MH/s; per 2000 LUTs: 500.
  CHECK(s["clock_mhz"].get<double>() == Approx(100.0));
  CHECK(s["mhashes_per_second"].get<double>() == Approx(1.0));
  CHECK(s["objective"].get<double>() == Approx(500.0));
  CHECK(s["within_budget"] == true);
  CHECK(s["utilization"].get<double>() == Approx(0.64));
  m["luts"] = 6000;
  s = sha().score(m, task.budget);
  CHECK(s["within_budget"] == false);
  CHECK(s["objective"] == 0.0);
  m["luts"] = 2000;
  m["ffs"] = 6000;  // the UP5K has as many flip-flops as LUTs
  CHECK(sha().score(m, task.budget)["within_budget"] == false);
  m.erase("luts");  // no iCE40 run: nothing to score
  CHECK_FALSE(sha().score(m, task.budget).contains("objective"));
}

// One iCE40 synthesis in the whole suite (about 20 s): the smallest design, through the CLI.
TEST_CASE("chipgym eval --task sha256-miner simulates, synthesizes for the iCE40 and scores one iterative core") {
  evaluators::TempDir dir("chipgym-sha256-cli-");
  const std::string cache = (dir.path() / "cache").string();
  const std::vector<std::string> args = {"eval", "--task", "sha256-miner", "--set", "unroll=1,pipeline=1,cores=1",
                                         "--fidelity", "rtl", "--cache-dir", cache};
  auto text = test_support::run_chipgym(args);
  INFO(text.out << text.err);
  REQUIRE(text.ok());
  CHECK_THAT(text.out, Catch::Contains("32 outputs bit-exact against the golden model"));
  CHECK_THAT(text.out, Catch::Contains("MH/s at") && Catch::Contains("clock estimated from logic depth"));
  CHECK_THAT(text.out, Catch::Contains("LUT4") && Catch::Contains("hashes/s per iCE40 LUT"));

  auto args_json = args;
  args_json.push_back("--json");
  auto again = test_support::run_chipgym(args_json);
  REQUIRE(again.ok());
  json j = json::parse(again.out);
  CHECK(j["cache_hit"] == true);
  CHECK(j["correct"] == true);
  CHECK(j["cycles"] == j["cycles_model"]);
  CHECK(j["cycles"] == 64 * 64 + 1);  // 32 two-block headers, one block per 64 cycles
  CHECK(j["derived"]["blocks"] == 64);
  const double luts = j["luts"].get<double>(), depth = j["depth"].get<double>();
  CHECK(luts > 1000);
  CHECK(luts < 5280);                              // one core fits the UP5K
  CHECK(j["ffs"].get<long long>() >= 256 + 512 + 256 + 256);  // state, schedule, chaining value, digest
  CHECK(depth > 20);                               // at least one round's adders
  CHECK(j["score"]["within_budget"] == true);
  const double hashes_per_second = 64.0 / j["cycles"].get<double>() * 1e9 / (0.25 * depth + 1.0);
  CHECK(j["score"]["objective"].get<double>() == Approx(hashes_per_second / luts));

  auto tasks = test_support::run_chipgym({"tasks"});
  REQUIRE(tasks.ok());
  CHECK_THAT(tasks.out, Catch::Contains("sha256-miner  (family sha256 v1)") &&
                            Catch::Contains("constraint: pipeline * unroll <= 64"));
  auto bad = test_support::run_chipgym({"eval", "--task", "sha256-miner", "--set", "unroll=8,pipeline=16", "--no-cache"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("pipeline * unroll <= 64"));
}

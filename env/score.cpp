#include "env/score.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>

#include "evaluators/sha256.h"
#include "hdl/family.h"
#include "hdl/param_space.h"
#include "hdl/registry.h"
#include "hdl/stream_harness.h"
#include "env/salt.h"

namespace chipgym::env {

using evaluators::Metrics;
using hdl::ParamError;

namespace {

std::string join_values(const Vector& v, std::size_t max = 16);

// A candidate against golden vectors, as a design of its own kind: its one file is the
// candidate (the screen stage puts the screened text in), its harness the stream harness, its
// check the comparison with the golden outputs, the cheats first (they explain a mismatch
// better than a diff), then both passes. Every failure is a SimCheck error with its category.
class GoldenVectors final : public hdl::Family {
 public:
  GoldenVectors(const GoldenSet& golden, const ScoreOptions& o)
      : golden_(golden), seed_(o.seed), hidden_seed_(hidden_seed(o.seed)), mismatches_shown_(o.mismatches_shown) {
    for (const auto& v : golden_.inputs) elements_ += static_cast<long long>(v.size());
    max_cycles_ = o.cycles_per_element * static_cast<unsigned long long>(elements_) + 1000;
    pressure_seed_ = hidden_seed(o.seed ^ 0xB4C7ULL);
  }

  // Rebuilt from workload() in another process (an MPI worker rank, hdl::family_for): the
  // seeds are read, not derived, so that a host with another salt checks the same vectors.
  static std::shared_ptr<const hdl::Family> from_workload(const json& w) {
    auto g = std::shared_ptr<GoldenVectors>(new GoldenVectors());
    try {
      g->golden_.iface = StreamInterface::from_json(w.at("interface"));
      g->golden_.inputs = w.at("inputs").get<std::vector<Vector>>();
      g->golden_.outputs = w.at("outputs").get<std::vector<Vector>>();
      g->golden_.origin = w.at("origin").get<std::vector<std::string>>();
      g->seed_ = w.at("seed").get<std::uint64_t>();
      g->hidden_seed_ = w.at("hidden_seed").get<std::uint64_t>();
      g->pressure_seed_ = w.at("pressure_seed").get<std::uint64_t>();
      g->max_cycles_ = w.at("cycle_limit").get<unsigned long long>();
      g->mismatches_shown_ = w.at("mismatches_shown").get<int>();
    } catch (const json::exception& e) {
      throw ParamError(std::string("a stream-kernel workload needs the golden vectors it was made with: ") + e.what());
    }
    if (g->golden_.outputs.size() != g->golden_.inputs.size() || g->golden_.origin.size() != g->golden_.inputs.size())
      throw ParamError("a stream-kernel workload has " + std::to_string(g->golden_.inputs.size()) + " inputs, " +
                       std::to_string(g->golden_.outputs.size()) + " outputs and " +
                       std::to_string(g->golden_.origin.size()) + " origins: they must be as many");
    for (const auto& v : g->golden_.inputs) g->elements_ += static_cast<long long>(v.size());
    return g;
  }

  std::string name() const override { return "stream-kernel"; }
  int version() const override { return 1; }
  std::string description() const override { return "a candidate stream kernel against golden vectors (docs/stream.md)"; }
  const hdl::ParamSpace& space() const override {
    static const hdl::ParamSpace none;
    return none;
  }
  std::string file() const { return golden_.iface.module + ".v"; }

  // Everything the result depends on besides the candidate's text (EvalOptions::inject): the
  // vectors, where each came from, the user's and the hidden seeds and the limits in cycles.
  json workload() const {
    return {{"interface", golden_.iface.to_json()},
            {"inputs", golden_.inputs},
            {"outputs", golden_.outputs},
            {"origin", golden_.origin},
            {"seed", seed_},
            {"hidden_seed", hidden_seed_},
            {"pressure_seed", pressure_seed_},
            {"cycle_limit", max_cycles_},
            {"mismatches_shown", mismatches_shown_}};
  }

  hdl::Rtl emit(const hdl::Params&) const override {
    hdl::Rtl rtl;
    rtl.top = golden_.iface.module;
    rtl.files[file()] = "";  // the candidate, once screened
    rtl.interface = golden_.iface.to_json();
    return rtl;  // no module list: the interface stage names a missing module
  }

  std::string harness_cpp() const override { return hdl::stream_harness_source(golden_.iface.module); }

  hdl::Stimulus stimulus(const hdl::Params&, const json&) const override {
    hdl::StreamStimulus s;
    s.in_bits = golden_.iface.in_bits();
    s.out_bits = golden_.iface.out_bits();
    s.cycle_limit[0] = s.cycle_limit[1] = max_cycles_;
    s.pressure_seed = pressure_seed_;
    s.vectors = golden_.inputs;
    // The check reads the golden outputs, their origins and how many mismatches it shows.
    return {s.text(), json::object(), evaluators::sha256_hex(workload().dump())};
  }

  hdl::SimCheck check(const hdl::Params&, const hdl::Stimulus&, const std::string& output) const override;

  long long model_cycles(const hdl::Params&, const json&) const override { return 0; }
  json derived(const hdl::Params&, const json&) const override { return json::object(); }
  json score(const json&, const json&) const override { return json::object(); }

 private:
  GoldenVectors() = default;
  GoldenSet golden_;
  std::uint64_t seed_ = 0, hidden_seed_ = 0;
  int mismatches_shown_ = 0;
  long long elements_ = 0;
  unsigned long long max_cycles_ = 0;
  std::uint64_t pressure_seed_ = 0;
};

hdl::SimCheck GoldenVectors::check(const hdl::Params&, const hdl::Stimulus&, const std::string& output) const {
  hdl::SimCheck out;
  auto fail = [&](const std::string& category, const std::string& message) -> hdl::SimCheck& {
    out.correct = false;
    out.category = category;
    out.error = message;
    return out;
  };
  const auto& iface = golden_.iface;
  const auto passes = hdl::parse_stream_output(output, iface.out_bits(), iface.is_signed);
  if (passes.empty()) return fail("sim_crash", "the simulation printed no results: " + evaluators::excerpt(output, 400));

  // Compare pass 0 against golden.
  const hdl::StreamPass& p0 = passes[0];
  long long mismatched_elements = 0, mismatched_cases = 0, compared = 0, missing = 0, extra = 0;
  double sum_abs = 0;
  long long max_abs = 0;
  json first = json::array();
  std::set<Vector> got_distinct, expected_distinct;
  std::set<long long> got_values, expected_values;
  for (std::size_t c = 0; c < golden_.inputs.size(); ++c) {
    const Vector& want = golden_.outputs[c];
    const Vector got = c < p0.out.size() ? p0.out[c] : Vector{};
    expected_distinct.insert(want);
    for (auto x : want) expected_values.insert(x);
    if (c < p0.out.size()) {
      got_distinct.insert(got);
      for (auto x : got) got_values.insert(x);
    }
    long long bad = 0;
    long long first_index = -1;
    for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      if (i >= got.size()) ++missing, ++bad;
      else if (i >= want.size()) ++extra, ++bad;
      else {
        ++compared;
        const long long err = std::llabs(got[i] - want[i]);
        sum_abs += static_cast<double>(err);
        max_abs = std::max(max_abs, err);
        if (err) ++bad;
      }
      if (bad && first_index < 0) first_index = static_cast<long long>(i);
    }
    if (bad) {
      ++mismatched_cases;
      mismatched_elements += bad;
      if (static_cast<int>(first.size()) < mismatches_shown_)
        first.push_back({{"case", c}, {"origin", golden_.origin[c]}, {"first_index", first_index},
                         {"in", golden_.inputs[c]}, {"expected", want}, {"got", got}});
    }
  }
  long long total_outputs = 0;
  for (const auto& v : p0.out) total_outputs += static_cast<long long>(v.size());
  out.checked = compared;
  out.mismatches = mismatched_elements;
  out.cycles = p0.cycles;
  out.cycles_per_problem = {p0.cycles, p0.latency.empty() ? -1 : p0.latency[0]};
  if (!first.empty())
    out.first_mismatch = first[0]["origin"].get<std::string>() + " element " + std::to_string(first[0]["first_index"].get<long long>()) +
                         ": expected " + join_values(first[0]["expected"].get<Vector>()) + ", got " +
                         join_values(first[0]["got"].get<Vector>());
  json& sim = out.details;
  sim = {{"cases", golden_.inputs.size()},
         {"elements", elements_},
         {"mismatched_cases", mismatched_cases},
         {"mismatched_elements", mismatched_elements},
         {"missing_elements", missing},
         {"extra_elements", extra},
         {"max_abs_error", max_abs},
         {"mean_abs_error", compared ? sum_abs / static_cast<double>(compared) : 0.0},
         {"first_mismatches", first},
         {"cycles", p0.cycles},
         {"cycle_limit", max_cycles_},
         {"status", p0.status}};
  if (!p0.latency.empty() && p0.status == "ok") {
    long long lo = p0.latency[0], hi = p0.latency[0];
    double sum = 0;
    for (auto l : p0.latency) lo = std::min(lo, l), hi = std::max(hi, l), sum += static_cast<double>(l);
    sim["latency_cycles"] = p0.latency[0];  // the first vector, with an empty pipeline
    sim["latency_cycles_max"] = hi;
    sim["latency_cycles_min"] = lo;
    sim["latency_cycles_mean"] = sum / static_cast<double>(p0.latency.size());
    sim["throughput"] = p0.cycles ? static_cast<double>(total_outputs) / static_cast<double>(p0.cycles) : 0.0;
  }

  // Cheats and protocol failures first: they explain the mismatches better than a diff.
  if (p0.status.rfind("protocol", 0) == 0) return fail("protocol", "stream protocol violated: " + p0.status.substr(9));
  if (total_outputs == 0 && p0.status == "cycle_limit")
    return fail(p0.inputs == 0 ? "no_input" : "no_output",
                p0.inputs == 0 ? "the design never accepted an input (in_ready stayed low) in " + std::to_string(p0.cycles) + " cycles"
                               : "the design never asserted out_valid in " + std::to_string(p0.cycles) +
                                     " cycles (cycle limit " + std::to_string(max_cycles_) + ")");
  if (expected_distinct.size() > 1 && got_distinct.size() == 1 && p0.out.size() >= golden_.inputs.size()) {
    if (got_values.size() == 1 && expected_values.size() > 1)
      return fail("constant_output", "the output is the constant " + std::to_string(*got_values.begin()) +
                                         " while the golden outputs vary: the outputs must be computed from the inputs");
    return fail("input_independent", "every output vector is the same " + join_values(*got_distinct.begin()) +
                                         " while the golden outputs differ: the outputs do not depend on the inputs");
  }
  if (p0.status.rfind("extra", 0) == 0) return fail("extra_output", p0.status.substr(6));
  if (p0.status == "cycle_limit")
    return fail("cycle_limit", "the simulation reached its cycle limit (" + std::to_string(max_cycles_) + " cycles) with " +
                                   std::to_string(p0.out.size()) + " of " + std::to_string(golden_.inputs.size()) +
                                   " output vectors (is out_last raised on the last element?)");
  if (mismatched_cases > 0) {
    const json& m = first[0];
    std::ostringstream msg;
    msg << mismatched_cases << " of " << golden_.inputs.size() << " vectors differ from the golden outputs ("
        << mismatched_elements << " elements, max abs error " << max_abs << "); first: " << m["origin"].get<std::string>()
        << " in=" << join_values(m["in"].get<Vector>()) << " expected=" << join_values(m["expected"].get<Vector>())
        << " got=" << join_values(m["got"].get<Vector>());
    return fail("mismatch", msg.str());
  }
  // Pass 1: the same results under back-pressure and input gaps.
  if (passes.size() < 2) return fail("sim_crash", "the simulation stopped after the first pass");
  const hdl::StreamPass& p1 = passes[1];
  out.cycles_per_problem.push_back(p1.cycles);
  json bp = {{"cycles", p1.cycles}, {"status", p1.status}};
  if (p1.status == "ok" && p1.cycles) {
    long long n = 0;
    for (const auto& v : p1.out) n += static_cast<long long>(v.size());
    bp["throughput"] = static_cast<double>(n) / static_cast<double>(p1.cycles);
  }
  sim["backpressure"] = bp;
  if (p1.status.rfind("protocol", 0) == 0)
    return fail("protocol", "stream protocol violated under back-pressure: " + p1.status.substr(9));
  if (p1.status != "ok")
    return fail("backpressure", "under back-pressure the design did not finish: " + p1.status + " after " +
                                    std::to_string(p1.cycles) + " cycles");
  // The second pass sent the vectors in reverse order: output k belongs to case n-1-k.
  for (std::size_t k = 0; k < golden_.inputs.size(); ++k) {
    const std::size_t c = golden_.inputs.size() - 1 - k;
    if (k >= p1.out.size() || p1.out[k] != golden_.outputs[c])
      return fail("backpressure", "with back-pressure (out_ready low, gaps in in_valid) and the vectors in reverse order, " +
                                      golden_.origin[c] + " gives " + join_values(k < p1.out.size() ? p1.out[k] : Vector{}) +
                                      " instead of " + join_values(golden_.outputs[c]) +
                                      " (does the design carry state from one vector to the next, or lose data when stalled?)");
  }
  out.correct = true;
  return out;
}

// The ScoreReport of one pipeline run, from its Metrics alone (so a cached run gives the same).
ScoreReport report_of(const Metrics& m, const GoldenSet& golden, const ScoreOptions& o, const std::string& task_name) {
  ScoreReport r;
  r.result = {{"task", task_name.empty() ? json(nullptr) : json(task_name)}, {"seed", o.seed},
              {"interface", golden.iface.to_json()}, {"cases", golden.inputs.size()}};
  const json& st = m.stages;
  auto stage = [&](const char* name) { return st.contains(name) && st[name].is_object() ? st[name] : json::object(); };
  // A kernel is its interface module and the helpers it instantiates; each is synthesized
  // (flattened into the kernel) and counted.
  if (stage("screen").contains("modules")) r.result["modules"] = stage("screen")["modules"];
  if (stage("lint").contains("warnings")) {
    const json lint = stage("lint");
    r.result["lint"] = {{"warnings", lint["warnings"]}, {"first_warnings", lint.value("first_warnings", json::array())}};
    if (lint.value("combinational_loop_warning", false)) r.result["lint"]["combinational_loop_warning"] = true;
  }
  if (stage("simulate").contains("details")) r.result["simulation"] = stage("simulate")["details"];
  fill_report(r, m, "", "the candidate was not simulated");
  if (r.passed()) {
    long long elements = 0;
    for (const auto& v : golden.inputs) elements += static_cast<long long>(v.size());
    r.message = "bit-exact on " + std::to_string(golden.inputs.size()) + " vectors (" + std::to_string(elements) +
                " elements), also under back-pressure";
  }
  return r;
}

// So that a scoring job can travel to an MPI worker rank (evaluators/pool.h) and be rebuilt there.
const Registration<hdl::WorkloadFamilyEntry> registered{{"stream-kernel", &GoldenVectors::from_workload}};

}  // namespace

evaluators::EvalOptions untrusted_eval_options() {
  evaluators::EvalOptions o;
  o.fidelity = "untrusted";
  o.flatten = true;  // a kernel is small; its helpers are counted inside it
  o.fpga = false;
  o.tool_timeout = 120;
  o.sim_timeout = 20;
  o.tool_memory = 4ull << 30;
  return o;
}

void fill_report(ScoreReport& r, const Metrics& m, const std::string& prefix, const std::string& not_simulated) {
  const json& st = m.stages;
  auto stage = [&](const char* name) { return st.contains(name) && st[name].is_object() ? st[name] : json::object(); };
  if (stage("synthesize").contains("cells_by_type"))
    r.result["synthesis"] = {{"cells", m.cells}, {"cells_by_type", stage("synthesize")["cells_by_type"]},
                             {"transistors", m.transistors}, {"depth", m.depth}};
  r.stages = json::object();
  for (const char* name : {"screen", "interface", "lint", "build", "simulate", "loops", "synthesize"}) {
    const json s = stage(name);
    if (!s.contains("seconds")) continue;
    // simulate: the run of the model (its build is "build")
    r.stages[name] = std::string(name) == "simulate" && s.contains("run_seconds") ? s["run_seconds"] : s["seconds"];
  }
  r.stages["cache_hit"] = m.cache_hit;
  r.verdict = score_verdict(m.error);
  if (m.error) {
    r.stage = m.error->stage;
    r.category = m.error->category;
    r.message = prefix + m.error->message;
  } else if (m.correct != true) {  // a check that did not run: not a pass
    r.verdict = "error";
    r.category = "sim_crash";
    r.message = prefix + not_simulated;
  }
}

std::string score_verdict(const std::optional<evaluators::ErrorInfo>& error) {
  if (!error) return "pass";
  static const std::set<std::string> refused = {"input", "screen", "interface", "undefined_module"};
  static const std::set<std::string> not_scored = {"environment", "tool_missing"};
  if (refused.count(error->category)) return "bad_input";
  if (not_scored.count(error->category)) return "error";
  return "fail";
}

ScoreReport score_candidate(const std::string& verilog, const GoldenSet& golden, const ScoreOptions& o,
                            const std::string& task_name) {
  const GoldenVectors subject(golden, o);
  evaluators::EvalOptions eval = o.eval;
  // Untrusted text: screened once, every tool run on it sandboxed (evaluators/stage.h guard()).
  eval.inject = std::make_pair(subject.file(), verilog);
  Metrics m;
  if (o.pool) {
    // The job names the family and carries its workload; the pool rebuilds it where it runs.
    m = o.pool->evaluate({{subject.name(), json::object(), subject.workload(), eval}}).at(0);
  } else {
    evaluators::Pipeline pipeline(o.cache);
    m = pipeline.evaluate(subject, hdl::Params{}, subject.workload(), eval);
  }
  return report_of(m, golden, o, task_name);
}

std::uint64_t hidden_seed(std::uint64_t user_seed) {
  // Per installation unless $CHIPGYM_SCORE_SALT is set (env/salt.h): the source alone
  // does not give the vectors.
  const std::string hex = evaluators::sha256_hex(score_salt() + ":" + std::to_string(user_seed));
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

GoldenSet task_golden(const KernelTask& task, std::uint64_t user_seed, int random) {
  GoldenSet g;
  g.iface = task.iface;
  const auto edges = task.edge_cases();
  for (std::size_t i = 0; i < edges.size(); ++i) {
    g.inputs.push_back(edges[i]);
    g.origin.push_back("edge " + std::to_string(i));
  }
  // Then the vectors that do not depend on luck: every value of a small elementwise domain,
  // the reductions' thresholds (env/coverage.h); the same whatever the seed and --random.
  const auto coverage = task.coverage_vectors();
  for (std::size_t i = 0; i < coverage.size(); ++i) {
    g.inputs.push_back(coverage[i].in);
    g.origin.push_back(coverage[i].why.rfind("sweep", 0) == 0
                           ? "sweep " + std::to_string(i)
                           : "directed " + std::to_string(i) + " (" + coverage[i].why + ")");
  }
  const auto randoms = task.random_vectors(hidden_seed(user_seed), random);
  for (std::size_t i = 0; i < randoms.size(); ++i) {
    g.inputs.push_back(randoms[i]);
    g.origin.push_back("random " + std::to_string(i));
  }
  for (const auto& in : g.inputs) g.outputs.push_back(task.expected(in));
  return g;
}

GoldenSet golden_from_json(const json& j) {
  if (!j.is_object() || !j.contains("interface") || !j.contains("cases"))
    throw ParamError("golden vectors JSON needs \"interface\" and \"cases\" (see docs/stream.md)");
  GoldenSet g;
  g.iface = StreamInterface::from_json(j["interface"]);
  if (!j["cases"].is_array() || j["cases"].empty()) throw ParamError("golden vectors: \"cases\" must be a non-empty array");
  auto range = [](int bits, bool is_signed) {
    return is_signed ? std::make_pair(-(1LL << (bits - 1)), (1LL << (bits - 1)) - 1) : std::make_pair(0LL, (1LL << bits) - 1);
  };
  const auto in_range = range(g.iface.in_bits(), g.iface.is_signed);
  const auto out_range = range(g.iface.out_bits(), g.iface.is_signed);
  for (std::size_t i = 0; i < j["cases"].size(); ++i) {
    const json& c = j["cases"][i];
    const std::string where = "golden vectors: case " + std::to_string(i);
    Vector in, out;
    try {
      in = c.at("in").get<Vector>();
      out = c.at("out").get<Vector>();
    } catch (const json::exception& e) {
      throw ParamError(where + " needs \"in\" and \"out\" arrays of integers (" + e.what() + ")");
    }
    if (in.empty()) throw ParamError(where + " has an empty input vector");
    if (in.size() != out.size())
      throw ParamError(where + " has " + std::to_string(in.size()) + " inputs but " + std::to_string(out.size()) +
                       " outputs; a stream kernel gives one output per input");
    for (auto x : in)
      if (x < in_range.first || x > in_range.second)
        throw ParamError(where + ": input " + std::to_string(x) + " does not fit in_data (" + std::to_string(in_range.first) +
                         ".." + std::to_string(in_range.second) + ")");
    for (auto x : out)
      if (x < out_range.first || x > out_range.second)
        throw ParamError(where + ": output " + std::to_string(x) + " does not fit out_data (" +
                         std::to_string(out_range.first) + ".." + std::to_string(out_range.second) + ")");
    g.inputs.push_back(in);
    g.outputs.push_back(out);
    g.origin.push_back("case " + std::to_string(i));
  }
  return g;
}

json ScoreReport::to_json() const {
  json j = result;
  j["verdict"] = verdict;
  j["stage"] = stage;
  j["category"] = category;
  j["message"] = message;
  j["stages"] = stages;
  return j;
}

namespace {

std::string join_values(const Vector& v, std::size_t max) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? " " : "") + std::to_string(v[i]);
  if (v.size() > max) s += " ...";
  return s + "]";
}

}  // namespace

std::string ScoreReport::to_text() const {
  std::ostringstream out;
  const json& sim = result.contains("simulation") ? result["simulation"] : json();
  out << (result.contains("task") && result["task"].is_string() ? result["task"].get<std::string>()
                                                                 : result.contains("reference") ? std::string("reference")
                                                                                                : std::string("vectors"))
      << (result.contains("seed") && !result["seed"].is_null() ? "  seed " + result["seed"].dump() : std::string()) << "  " << (verdict == "pass" ? "PASS" : verdict == "fail" ? "FAIL" : verdict == "error" ? "NOT SCORED" : "REFUSED") << "\n";
  if (verdict != "pass") out << "  " << std::left << std::setw(14) << (stage + ":") << "[" << category << "] " << message << "\n";
  else out << "  correct       " << message << "\n";
  if (result.contains("lint")) out << "  lint          " << result["lint"]["warnings"] << " warnings\n";
  if (!sim.is_null() && sim.contains("compared_bits")) {  // a module at its ports (env/port_score.h)
    out << "  simulation    " << sim["cycles"] << " cycles, " << sim["compared_bits"] << " output bits compared (Icarus)";
    if (sim["mismatched_cycles"].get<long long>() > 0) out << ", " << sim["mismatched_cycles"] << " cycles differ";
    out << "\n";
    for (const auto& m : sim["first_mismatches"]) {
      out << "  mismatch      cycle " << m["cycle"] << " (" << m["origin"].get<std::string>() << ")\n";
      for (auto it = m["expected"].begin(); it != m["expected"].end(); ++it)
        out << "                " << it.key() << " expected " << it.value().get<std::string>() << "\n                "
            << std::string(it.key().size(), ' ') << " got      " << m["got"][it.key()].get<std::string>() << "\n";
    }
    if (result.contains("vcd")) out << "  waveform      " << result["vcd"].get<std::string>() << "\n";
  } else if (!sim.is_null()) {
    if (sim["mismatched_cases"].get<long long>() > 0) {
      out << "  errors        " << sim["mismatched_cases"] << " of " << sim["cases"] << " vectors, "
          << sim["mismatched_elements"] << " elements; max abs " << sim["max_abs_error"] << ", mean abs "
          << sim["mean_abs_error"].get<double>() << "\n";
      for (const auto& m : sim["first_mismatches"])
        out << "  mismatch      " << m["origin"].get<std::string>() << " at element " << m["first_index"]
            << ": in " << join_values(m["in"].get<Vector>()) << "\n                expected "
            << join_values(m["expected"].get<Vector>()) << "\n                got      " << join_values(m["got"].get<Vector>())
            << "\n";
    }
    if (sim.contains("latency_cycles"))
      out << "  latency       " << sim["latency_cycles"] << " cycles (first vector; max " << sim["latency_cycles_max"]
          << ")\n  throughput    " << std::fixed << std::setprecision(3) << sim["throughput"].get<double>()
          << " elements/cycle over " << sim["cycles"] << " cycles";
    if (sim.contains("backpressure") && sim["backpressure"].contains("throughput"))
      out << "; " << sim["backpressure"]["throughput"].get<double>() << " under back-pressure";
    if (sim.contains("latency_cycles")) out << "\n";
  }
  if (result.contains("synthesis"))
    out << "  area          " << result["synthesis"]["cells"] << " cells, " << result["synthesis"]["transistors"]
        << " transistors (Yosys CMOS estimate), logic depth " << result["synthesis"]["depth"] << "\n";
  double total = 0;
  for (auto it = stages.begin(); it != stages.end(); ++it)
    if (it.value().is_number()) total += it.value().get<double>();
  out << "  time          " << std::fixed << std::setprecision(2) << total << " s (";
  bool firstStage = true;
  for (auto it = stages.begin(); it != stages.end(); ++it) {
    if (!it.value().is_number()) continue;
    out << (firstStage ? "" : ", ") << it.key() << " " << it.value().get<double>();
    firstStage = false;
  }
  out << ")" << (stages.value("cache_hit", false) ? ", a cached result" : "") << "\n";
  return out.str();
}

}  // namespace chipgym::env

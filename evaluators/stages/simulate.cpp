// simulate: builds the Verilator model of the design with the family's harness (cached by the
// hash of its source beside the cache file, so a design is compiled once), runs it on the
// family's stimulus for the task's workload, and checks its outputs against the golden model
// bit for bit. Writes correct, checked, mismatches, first_mismatch and the RTL cycle count, and
// the check's own figures in Metrics::stages.simulate.details. A check that fails the design (a
// protocol violation, a stream candidate's mismatch) stops the evaluation with its category.
// The check is cached under "simulate" by the source, harness, Verilator version and stimulus.
//
// A family with a Verilog testbench (Family::harness_verilog) is simulated with Icarus Verilog
// instead: 4-state, so an X or Z output stays visible to the check, and no C++ model is built
// (a small design is compiled and run in a fraction of a second). Cached the same way, keyed
// by the testbench and the Icarus version.
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "evaluators/sandbox.h"
#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSimVersion = "sim-v1";  // bump when the build or the check changes
constexpr const char* kModelCxxFlags = "-O1";
constexpr const char* kIcarusVersion = "icarus-v1";  // bump when the Icarus build or run changes

std::optional<fs::path> build_model(Evaluation& e, const fs::path& scratch) {
  const hdl::Rtl& rtl = e.rtl;
  const EvalOptions& o = e.options;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  Sha256 h;
  h.update(kSimVersion).update(rtl.source()).update(rtl.top).update(e.family.harness_cpp());
  h.update(tools.version(tools.verilator)).update(kModelCxxFlags).update(o.vcd ? "trace" : "");
  const std::string key = h.hex();
  const fs::path models_dir = e.pipeline.models_dir();
  const fs::path cached_binary = models_dir.empty() ? fs::path() : models_dir / key / "sim";
  std::error_code ec;
  if (o.use_cache && !cached_binary.empty() && fs::exists(cached_binary, ec)) {
    m.stages["build"] = {{"seconds", 0.0}, {"cache_hit", true}};
    return cached_binary;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto files = write_rtl(rtl, scratch);
  write_file(scratch / "harness.cpp", e.family.harness_cpp());
  RunRequest req;
  req.argv = {tools.verilator, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
              "--top-module", rtl.top, "-Mdir", "obj", "-o", "sim", "-CFLAGS", kModelCxxFlags};
  if (o.vcd) req.argv.push_back("--trace");
  req.argv.insert(req.argv.end(), files.begin(), files.end());
  req.argv.push_back("harness.cpp");
  req.cwd = scratch;
  req.limits = limits_for(o, 2);
  guard(o, req);
  if (req.sandbox) sandbox_ccache(tools, req);
  else if (!tools.ccache.empty()) req.env_extra["OBJCACHE"] = tools.ccache;
  RunResult r = run_process(req);
  m.stages["build"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
  if (no_sandbox(r, m)) return std::nullopt;
  if (!r.ok()) {
    // Verilator's own %Error lines are about the design (cacheable); anything else (no
    // compiler, out of memory, no disk) is the environment's.
    const bool design_error = r.status == RunStatus::Exited && (r.err + r.out).find("%Error") != std::string::npos;
    m.error = tool_error("verilator", r, design_error ? "sim_build" : "environment", "tool_timeout", req.limits);
    m.error->message = "the Verilator model did not build: " + m.error->message;
    m.error->stage = "build";  // the model build, the first half of this stage
    return std::nullopt;
  }
  fs::path built = scratch / "obj" / "sim";
  if (!o.use_cache || cached_binary.empty()) return built;
  // Publish atomically: copy into a private directory, then rename it into place, so another
  // process or thread sees either no model or a complete one.
  static std::atomic<unsigned> serial{0};
  fs::path staging = models_dir / (key + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
  fs::create_directories(staging, ec);
  if (!ec) fs::copy_file(built, staging / "sim", fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(staging, models_dir / key, ec);
  if (ec) fs::remove_all(staging, ec);  // another process won the race, or no room: use ours
  return fs::exists(cached_binary, ec) ? cached_binary : built;
}

// The outcome of a simulation run that failed, as an error: timeouts, CPU limits, crashes.
void run_failure(const EvalOptions& o, const RunRequest& req, const RunResult& r, Metrics& m) {
  m.error = tool_error("simulation", r, "sim_crash", "sim_timeout", req.limits);
  const bool out_of_cpu = r.status == RunStatus::Signaled && (r.signal == SIGXCPU || r.signal == SIGKILL);
  if (r.status == RunStatus::TimedOut)
    m.error->message = "the simulation ran past its time limit of " + std::to_string(static_cast<int>(simulation_seconds(o))) +
                       " s (an infinite loop or a design that never settles); raise --timeout if the design is large";
  else if ((r.err + r.out).find("converge") != std::string::npos)
    m.error = ErrorInfo{"combinational_loop", "the simulation did not converge: a combinational loop (" +
                                                  excerpt(r.err + r.out, 400) + ")"};
  else if (out_of_cpu && !r.out_of_memory())
    m.error = ErrorInfo{"sim_timeout", "the simulation ran past its CPU time limit (" + r.explain("simulation", req.limits) + ")"};
}

void limit_simulation(const EvalOptions& o, RunRequest& req) {
  req.limits = limits_for(o);
  req.limits.wall_seconds = simulation_seconds(o);
  req.limits.cpu_seconds = simulation_seconds(o) + 10;
  req.limits.output_bytes = 256u << 20;
}

// Icarus Verilog: compile the design with the testbench (iverilog), run it (vvp), both
// sandboxed for untrusted text. Returns the run's output, or nullopt with metrics.error set.
std::optional<std::string> run_icarus(Evaluation& e, const hdl::Stimulus& stim, double& run_seconds) {
  const EvalOptions& o = e.options;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  TempDir dir("chipgym-icarus-");
  auto files = write_rtl(e.rtl, dir.path());
  write_file(dir.path() / "chipgym_tb.v", e.family.harness_verilog());
  write_file(dir.path() / "stimulus.txt", stim.harness_input);
  const auto build_t0 = std::chrono::steady_clock::now();
  RunRequest build;
  build.argv = {tools.iverilog, "-g2012", "-o", "sim.vvp", "-s", "chipgym_tb", "chipgym_tb.v"};
  build.argv.insert(build.argv.end(), files.begin(), files.end());
  build.cwd = dir.path();
  build.limits = limits_for(o);
  guard(o, build);
  RunResult b = run_process(build);
  m.stages["build"] = {{"seconds", seconds_since(build_t0)}, {"cache_hit", false}, {"simulator", "icarus"}};
  if (no_sandbox(b, m)) return std::nullopt;
  if (!b.ok()) {
    const bool design_error = b.status == RunStatus::Exited;
    m.error = tool_error("iverilog", b, design_error ? "sim_build" : "environment", "tool_timeout", build.limits);
    if (b.status == RunStatus::NotFound)
      m.error = ErrorInfo{"tool_missing", "Icarus Verilog (" + tools.iverilog + ") is not installed: apt-get install iverilog"};
    else if (auto undefined = undefined_module(b.err + b.out, e.rtl))
      m.error = ErrorInfo{"undefined_module", *undefined};
    else if (design_error)
      m.error->message = "Icarus Verilog could not compile the design: " + excerpt(b.err + b.out, 800);
    m.error->stage = "build";
    return std::nullopt;
  }
  RunRequest run;
  run.argv = {tools.vvp, "-n", "sim.vvp"};
  if (o.vcd) run.argv.push_back("+vcd=wave.vcd");
  run.cwd = dir.path();
  limit_simulation(o, run);
  guard(o, run);
  const auto run_t0 = std::chrono::steady_clock::now();
  RunResult r = run_process(run);
  run_seconds = seconds_since(run_t0);
  if (no_sandbox(r, m)) return std::nullopt;
  if (o.vcd) {
    std::error_code ec;
    fs::copy_file(dir.path() / "wave.vcd", fs::absolute(*o.vcd), fs::copy_options::overwrite_existing, ec);
  }
  if (!r.ok()) {
    run_failure(o, run, r, m);
    return std::nullopt;
  }
  return r.out;
}

bool simulate(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  const EvalOptions& o = e.options;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  hdl::Stimulus stim = e.family.stimulus(e.params, e.workload);
  const std::string testbench = e.family.harness_verilog();
  Sha256 h;
  if (testbench.empty()) {
    h.update(kSimVersion).update(rtl.source()).update(rtl.top).update(e.family.harness_cpp());
    h.update(tools.version(tools.verilator)).update(stim.harness_input);
  } else {
    h.update(kIcarusVersion).update(rtl.source()).update(rtl.top).update(testbench);
    h.update(tools.version(tools.iverilog)).update(stim.harness_input);
  }
  if (!stim.check_key.empty()) h.update("\ncheck ").update(stim.check_key);  // families: as before
  const std::string key = h.hex();
  json result;
  bool hit = false;
  double run_seconds = 0;
  std::string output;
  if (auto c = o.vcd ? std::nullopt : e.cached("simulate", key)) {
    result = *c;
    hit = true;
  } else if (!testbench.empty()) {
    auto out = run_icarus(e, stim, run_seconds);
    if (!out) {
      m.stages["simulate"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
      return false;
    }
    output = std::move(*out);
  } else {
    TempDir dir("chipgym-sim-");
    auto binary = build_model(e, dir.path());
    if (!binary) return false;
    RunRequest req;
    req.argv = {binary->string()};
    guard(o, req);
    if (req.sandbox && binary->parent_path() != dir.path() / "obj") {
      // A cached model lives in the cache directory, which the sandbox user may not enter
      // (root's home): the sandbox runs a copy in its own directory.
      fs::copy_file(*binary, dir.path() / "sim", fs::copy_options::overwrite_existing);
      req.argv = {(dir.path() / "sim").string()};
    }
    // A sandboxed model writes its waveform into its own directory; it is copied out after.
    const fs::path vcd_written = req.sandbox ? dir.path() / "wave.vcd" : (o.vcd ? fs::absolute(*o.vcd) : fs::path());
    if (o.vcd) {
      req.argv.push_back("--vcd");
      req.argv.push_back(vcd_written.string());
    }
    req.cwd = dir.path();
    req.stdin_text = stim.harness_input;
    limit_simulation(o, req);
    const auto run_t0 = std::chrono::steady_clock::now();
    RunResult r = run_process(req);
    run_seconds = seconds_since(run_t0);
    if (no_sandbox(r, m)) return false;
    if (o.vcd && req.sandbox) {
      std::error_code ec;
      fs::copy_file(vcd_written, fs::absolute(*o.vcd), fs::copy_options::overwrite_existing, ec);
    }
    if (!r.ok()) {
      run_failure(o, req, r, m);
      m.stages["simulate"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
      return false;
    }
    output = r.out;
  }
  if (!hit) {
    hdl::SimCheck check = e.family.check(e.params, stim, output);
    result = {{"correct", check.correct},       {"checked", check.checked},
              {"mismatches", check.mismatches}, {"cycles", check.cycles},
              {"first_mismatch", check.first_mismatch}, {"error", check.error},
              {"cycles_per_problem", check.cycles_per_problem}};
    if (!check.category.empty()) result["category"] = check.category;
    if (!check.details.empty()) result["details"] = check.details;
    if (!o.vcd && (check.error.empty() || check.error.find("timeout") == std::string::npos))
      e.store("simulate", key, result);
  }
  m.correct = result["correct"].get<bool>();
  m.checked = result["checked"];
  m.mismatches = result["mismatches"];
  m.cycles = result["cycles"];
  m.first_mismatch = result["first_mismatch"];
  m.stages["simulate"] = {{"seconds", seconds_since(t0)}, {"run_seconds", run_seconds}, {"cache_hit", hit},
                          {"cycles_per_problem", result["cycles_per_problem"]}};
  if (result.contains("details")) m.stages["simulate"]["details"] = result["details"];
  const std::string error = result["error"];
  if (!error.empty()) {
    const std::string category = result.value("category", std::string());
    m.error = ErrorInfo{!category.empty()                          ? category
                        : error.find("timeout") != std::string::npos ? "sim_timeout"
                                                                     : "sim_crash",
                        error};
    return false;
  }
  return true;
}

const StageRegistration stage{
    {"simulate", "Verilator model with the family's harness on the workload: bit-exact against golden, RTL cycles",
     simulate}};

}  // namespace
}  // namespace chipgym::evaluators

#include "evaluators/pipeline.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "evaluators/runner.h"
#include "evaluators/sandbox.h"
#include "evaluators/screen.h"
#include "evaluators/sha256.h"

namespace chipgym::evaluators {

namespace fs = std::filesystem;

namespace {

// Bump when a stage's script or its parsing changes, so old cache entries are not reused.
constexpr const char* kLintVersion = "lint-v1";
constexpr const char* kSimVersion = "sim-v1";
constexpr const char* kSynthVersion = "synth-v4";  // v4: -nodpi, async2sync, helper modules counted
constexpr const char* kModuleSynthVersion = "synth-module-v2";
constexpr const char* kEvalVersion = "eval-v1";
constexpr const char* kModelCxxFlags = "-O1";

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> write_rtl(const hdl::Rtl& rtl, const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& [name, text] : rtl.files) {
    write_file(dir / name, text);
    names.push_back(name);
  }
  return names;
}

// A failed tool run as an error value: category from how it failed, message with an excerpt.
// `tool` is what the user knows it by (yosys, verilator, simulation).
ErrorInfo tool_error(const std::string& tool, const RunResult& r, const std::string& failed_category,
                     const std::string& timeout_category, const RunLimits& limits = {}) {
  // However it ended (an abort after bad_alloc, or an exit code), running out of memory says so.
  if (r.out_of_memory()) return {"tool_memory", r.explain(tool, limits) + ": " + excerpt(r.err + r.out, 400)};
  switch (r.status) {
    case RunStatus::NotFound:
      if (tool == "yosys" || tool == "verilator")
        return {"tool_missing", r.describe(tool) + "; install it (see README.md) or point CHIPGYM_" +
                                    std::string(tool == "yosys" ? "YOSYS" : "VERILATOR") + " at it"};
      return {"environment", r.describe(tool)};
    case RunStatus::TimedOut:
      return {timeout_category, r.describe(tool) + "; raise --timeout if the design is large"};
    case RunStatus::Signaled:
      return {"tool_crash", r.explain(tool, limits) + ": " + excerpt(r.err + r.out)};
    case RunStatus::NoSandbox:
      return {"environment", r.exec_error};
    case RunStatus::Exited:
      break;
  }
  return {failed_category, r.describe(tool) + ": " + excerpt(r.err + "\n" + r.out)};
}

// Only failures that follow from the design itself are cached; timeouts, crashes, missing
// tools and a broken environment say nothing about it and are tried again next time.
bool cacheable(const Metrics& m) { return !m.error || design_failure(m.error->category); }

// Limits of one tool run from the options: the CPU limit follows the wall-clock limit
// (times the parallel jobs a tool may run), so --timeout governs both.
RunLimits limits_for(const EvalOptions& o, int parallel_jobs = 1) {
  RunLimits l;
  l.wall_seconds = o.tool_timeout;
  l.cpu_seconds = o.tool_timeout * parallel_jobs + 10;
  l.memory_bytes = o.tool_memory;
  return l;
}

// Injected Verilog is untrusted text (a user's, a language model's): every tool run of such a
// design, and the model built from it, is sandboxed. Generated designs run as they are.
void guard(const EvalOptions& o, RunRequest& req) {
  if (o.inject && !req.sandbox) req.sandbox = untrusted_sandbox();
}

// A run that could not start its sandbox: the environment's fault, with the fix in the message.
bool no_sandbox(const RunResult& r, Metrics& m) {
  if (r.status != RunStatus::NoSandbox) return false;
  m.error = ErrorInfo{"environment", r.exec_error};
  return true;
}

bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// Whether `word` occurs in `text` as a whole identifier (comments included: a superset).
bool mentions(const std::string& text, const std::string& word) {
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const bool starts = at == 0 || !identifier_char(text[at - 1]);
    const std::size_t end = at + word.size();
    if (starts && (end == text.size() || !identifier_char(text[end]))) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> synthesis_libraries(const hdl::Rtl& rtl, const std::string& unit_file) {
  static const std::regex module_re(R"(\b(?:macro)?module\s+([A-Za-z_][A-Za-z0-9_$]*))");
  static const std::regex directive_re(R"(`(?!default_nettype\b|timescale\b))");
  std::vector<std::string> all, always;
  std::map<std::string, std::vector<std::string>> declared;  // file -> module names
  bool directives = false;
  for (const auto& [name, text] : rtl.files) {
    if (std::regex_search(text, directive_re)) directives = true;
    if (name == unit_file) continue;
    all.push_back(name);
    for (std::sregex_iterator it(text.begin(), text.end(), module_re), end; it != end; ++it)
      declared[name].push_back((*it)[1].str());
    if (!declared.count(name)) always.push_back(name);
  }
  if (directives || !rtl.files.count(unit_file)) return all;
  std::set<std::string> needed(always.begin(), always.end());
  std::vector<std::string> frontier = {unit_file};
  frontier.insert(frontier.end(), always.begin(), always.end());
  while (!frontier.empty()) {
    const std::string& text = rtl.files.at(frontier.back());
    frontier.pop_back();
    std::vector<std::string> found;
    for (const auto& [file, modules] : declared)
      if (!needed.count(file))
        for (const auto& module : modules)
          if (mentions(text, module)) {
            found.push_back(file);
            break;
          }
    for (const auto& file : found)
      if (needed.insert(file).second) frontier.push_back(file);
  }
  return {needed.begin(), needed.end()};
}

std::string excerpt(const std::string& text, std::size_t max_chars) {
  std::istringstream in(text);
  std::string line, errors, warnings;
  std::vector<std::string> last;
  while (std::getline(in, line)) {
    if (line.find("%Error") != std::string::npos || line.find("ERROR") != std::string::npos ||
        line.find("error:") != std::string::npos)
      errors += line + "\n";
    else if (line.find("%Warning") != std::string::npos)
      warnings += line + "\n";
    last.push_back(line);
    if (last.size() > 12) last.erase(last.begin());
  }
  std::string out = errors + warnings;  // errors first: warnings must not push them out
  if (out.empty())
    for (const auto& l : last) out += l + "\n";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (out.size() > max_chars) out = out.substr(0, max_chars) + " ...";
  return out;
}

std::map<std::string, json> parse_stat_modules(const std::string& text) {
  // Yosys 0.23 prints the `stat -top` hierarchy (e.g. "gemm_pe  4") inside the JSON; drop
  // every line that cannot be JSON.
  std::istringstream in(text);
  std::string line, clean;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    char c = line[first];
    if (c == '"' || c == '{' || c == '}' || c == '[' || c == ']') clean += line + "\n";
  }
  json j = json::parse(clean);
  std::map<std::string, json> modules;
  for (auto it = j.at("modules").begin(); it != j.at("modules").end(); ++it) {
    std::string name = it.key();
    if (!name.empty() && name[0] == '\\') name.erase(0, 1);
    modules[name] = it.value();
  }
  return modules;
}

std::map<std::string, long long> aggregate_modules(const std::map<std::string, json>& modules, const std::string& top) {
  std::map<std::string, std::map<std::string, long long>> memo;
  std::function<const std::map<std::string, long long>&(const std::string&, int)> total =
      [&](const std::string& name, int depth) -> const std::map<std::string, long long>& {
    if (auto it = memo.find(name); it != memo.end()) return it->second;
    if (depth > 64) throw std::runtime_error("module hierarchy too deep (recursive instantiation?)");
    std::map<std::string, long long> sum;
    const json& mod = modules.at(name);
    if (mod.contains("estimated_num_transistors")) {
      std::string t = mod["estimated_num_transistors"].get<std::string>();
      sum["__transistors"] += std::stoll(t);  // a trailing '+' marks submodule instances, added below
    }
    for (auto it = mod.at("num_cells_by_type").begin(); it != mod.at("num_cells_by_type").end(); ++it) {
      std::string type = it.key();
      if (!type.empty() && type[0] == '\\') type.erase(0, 1);
      long long count = it.value().get<long long>();
      if (modules.count(type)) {
        for (const auto& [sub_type, n] : total(type, depth + 1)) sum[sub_type] += count * n;
      } else {
        sum[type] += count;
      }
    }
    return memo[name] = sum;
  };
  if (!modules.count(top)) throw std::runtime_error("yosys statistics have no module " + top);
  return total(top, 0);
}

std::map<std::string, long long> aggregate_stat(const std::string& text, const std::string& top) {
  return aggregate_modules(parse_stat_modules(text), top);
}

std::optional<std::string> latch_problem(const std::string& log, const std::string& generic_stat_json) {
  static const std::regex inferred(R"(Latch inferred for signal `\\?([^']+)' from always_comb)");
  std::smatch m;
  if (std::regex_search(log, m, inferred))
    return "the design infers a latch for " + m[1].str() +
           " (an always_comb block that does not assign it on every path); latches are refused: assign a value on "
           "every path, or use a flip-flop";
  if (generic_stat_json.empty()) return std::nullopt;
  long long latches = 0;
  std::string where;
  try {
    for (const auto& [module, stat] : parse_stat_modules(generic_stat_json)) {
      if (!stat.contains("num_cells_by_type")) continue;
      for (auto it = stat["num_cells_by_type"].begin(); it != stat["num_cells_by_type"].end(); ++it) {
        const std::string type = it.key();
        if (type.find("DLATCH") != std::string::npos || type.rfind("$_SR_", 0) == 0 || type == "$dlatch" ||
            type == "$adlatch" || type == "$sr") {
          latches += it.value().get<long long>();
          if (where.find(module) == std::string::npos) where += (where.empty() ? "" : ", ") + module;
        }
      }
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!latches) return std::nullopt;
  return "the design infers " + std::to_string(latches) + " latch bit" + (latches == 1 ? "" : "s") + " (in " + where +
         "): a combinational block that does not assign a signal on every path; latches are refused: assign a value "
         "on every path, or use a flip-flop";
}

long long parse_ltp_depth(const std::string& text) {
  static const std::regex re(R"(Longest topological path in \S+ \(length=(\d+)\))");
  long long depth = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    depth = std::max(depth, std::stoll((*it)[1].str()));
  return depth;
}

json EvalOptions::stage_options() const {
  json j = {{"fidelity", fidelity}, {"flatten", flatten}, {"fpga", fpga}, {"synthesis", synthesis}, {"vcd", vcd.has_value()}};
  if (inject) j["inject"] = {inject->first, sha256_hex(inject->second)};
  return j;
}

Pipeline::Pipeline(std::shared_ptr<Cache> cache, Toolchain tools) : cache_(std::move(cache)), tools_(std::move(tools)) {
  if (cache_) models_dir_ = cache_->file().parent_path() / "models";
}

std::optional<json> Pipeline::cached(const EvalOptions& o, const std::string& stage, const std::string& key) {
  if (!cache_ || !o.use_cache) return std::nullopt;
  auto v = cache_->get(stage, key);
  if (!v) return std::nullopt;
  try {
    return json::parse(*v);
  } catch (const json::exception&) {
    return std::nullopt;  // an unreadable entry is a miss; it is overwritten below
  }
}

void Pipeline::store(const EvalOptions& o, const std::string& stage, const std::string& key, const json& value) {
  if (!cache_ || !o.use_cache) return;
  try {
    cache_->put(stage, key, value.dump());
  } catch (const CacheError& e) {
    // The result is still good: report that it was not kept, and go on.
    std::lock_guard<std::mutex> lock(warnings_mu_);
    cache_warnings_.push_back(e.what());
  }
}

std::string Pipeline::design_key(const hdl::Family& f, const hdl::Params& p, const json& workload,
                                 const EvalOptions& o) const {
  Sha256 h;
  h.update(kEvalVersion).update("\n").update(f.name()).update("\n").update(std::to_string(f.version()));
  h.update("\n").update(p.canonical()).update("\n").update(workload.dump()).update("\n");
  h.update(o.stage_options().dump()).update("\n");
  if (o.fidelity != "model") h.update(tools_.versions());
  return h.hex();
}

Metrics Pipeline::evaluate(const hdl::Family& f, const hdl::Params& p, const json& workload, const EvalOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Metrics m;
  m.fidelity = o.fidelity;
  auto finish = [&](Metrics& out) -> Metrics {
    out.seconds = since(t0);
    return out;
  };
  if (o.fidelity != "model" && o.fidelity != "synth" && o.fidelity != "rtl") {
    m.error = ErrorInfo{"input", "unknown fidelity '" + o.fidelity + "'; choose model, synth or rtl"};
    return finish(m);
  }
  try {
    f.space().validate(p);
    m.cycles_model = f.model_cycles(p, workload);
    m.derived = f.derived(p, workload);
  } catch (const std::exception& e) {
    m.error = ErrorInfo{"input", e.what()};
    return finish(m);
  }

  const std::string key = design_key(f, p, workload, o);
  if (auto hit = o.vcd ? std::nullopt : cached(o, "eval", key)) {
    Metrics cached_metrics = Metrics::from_json(*hit);
    cached_metrics.cache_hit = true;
    return finish(cached_metrics);
  }

  hdl::Rtl rtl = f.emit(p);
  if (o.inject) {
    if (!rtl.files.count(o.inject->first)) {
      std::string names;
      for (const auto& [name, text] : rtl.files) names += (names.empty() ? "" : ", ") + name;
      m.error = ErrorInfo{"input", "cannot inject '" + o.inject->first + "': the design's files are " + names};
      return finish(m);
    }
    // Preprocessed once (sandboxed) and screened as the tools will read it; that text is what
    // they read. It defines its file's module and may add helpers, but no module of the design.
    PrepareOptions prepare;
    prepare.verilator = tools_.verilator;
    const UntrustedVerilog u = prepare_untrusted(o.inject->second, prepare);
    if (!u.ok) {
      m.error = ErrorInfo{u.category == "sandbox" || u.category == "environment" ? "environment" : "screen",
                          "injected " + o.inject->first + ": " + u.message};
      return finish(m);
    }
    const std::string own = fs::path(o.inject->first).stem().string();
    const bool is_module_file = std::find(rtl.modules.begin(), rtl.modules.end(), own) != rtl.modules.end();
    if (is_module_file && std::find(u.modules.begin(), u.modules.end(), own) == u.modules.end()) {
      m.error = ErrorInfo{"screen", "injected " + o.inject->first + " does not define module " + own};
      return finish(m);
    }
    for (const auto& [name, text] : rtl.files) {
      if (name == o.inject->first) continue;
      for (const auto& theirs : defined_modules(strip_comments_and_strings(text)))
        if (std::find(u.modules.begin(), u.modules.end(), theirs) != u.modules.end()) {
          m.error = ErrorInfo{"screen", "injected " + o.inject->first + " defines module " + theirs +
                                            ", which the design already defines in " + name};
          return finish(m);
        }
    }
    rtl.files[o.inject->first] = u.text;
  }

  try {
    bool ok = true;
    if (o.fidelity == "rtl") {
      ok = lint(rtl, o, m) && simulate(f, p, rtl, workload, o, m);
    } else {
      m.cycles = m.cycles_model;
    }
    if (ok && o.fidelity != "model" && o.synthesis) synthesize(rtl, o, m);
  } catch (const std::exception& e) {
    // Not the design's fault (no room for temporary files, fork failed, ...): say so.
    m.error = ErrorInfo{"environment", std::string("evaluation could not run: ") + e.what()};
  }
  {
    std::lock_guard<std::mutex> lock(warnings_mu_);
    if (!cache_warnings_.empty()) {
      m.stages["cache_warnings"] = cache_warnings_;
      cache_warnings_.clear();
    }
  }

  m.seconds = since(t0);
  const std::string versions = tools_.versions();
  const bool versions_known = versions.find("unknown") == std::string::npos && versions.find("missing") == std::string::npos;
  if (cacheable(m) && !o.vcd && (o.fidelity == "model" || versions_known)) store(o, "eval", key, m.to_json());
  return finish(m);
}

bool Pipeline::lint(const hdl::Rtl& rtl, const EvalOptions& o, Metrics& m) {
  const auto t0 = std::chrono::steady_clock::now();
  Sha256 h;
  h.update(kLintVersion).update(rtl.source()).update(rtl.top).update(tools_.version(tools_.verilator));
  const std::string key = h.hex();
  json result;
  bool hit = false;
  if (auto c = cached(o, "lint", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-lint-");
    auto files = write_rtl(rtl, dir.path());
    RunRequest req;
    req.argv = {tools_.verilator, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", rtl.top};
    req.argv.insert(req.argv.end(), files.begin(), files.end());
    req.cwd = dir.path();
    req.limits = limits_for(o);
    guard(o, req);
    RunResult r = run_process(req);
    if (no_sandbox(r, m)) return false;
    if (r.status != RunStatus::Exited || r.out_of_memory()) {
      m.error = tool_error("verilator", r, "lint", "tool_timeout", req.limits);
      m.stages["lint"] = {{"seconds", since(t0)}, {"cache_hit", false}};
      return false;
    }
    long long warnings = 0;
    std::istringstream in(r.err);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("%Warning", 0) == 0) ++warnings;
    result = {{"ok", r.exit_code == 0}, {"warnings", warnings}, {"message", r.ok() && warnings == 0 ? "" : excerpt(r.err)}};
    store(o, "lint", key, result);
  }
  m.stages["lint"] = {{"seconds", since(t0)}, {"cache_hit", hit}, {"warnings", result["warnings"]}};
  if (!result["ok"].get<bool>()) {
    m.error = ErrorInfo{"lint", "verilator --lint-only rejected the design: " + result["message"].get<std::string>()};
    return false;
  }
  if (result["warnings"].get<long long>() > 0) m.stages["lint"]["message"] = result["message"];
  return true;
}

std::optional<fs::path> Pipeline::build_model(const hdl::Family& f, const hdl::Rtl& rtl, const EvalOptions& o,
                                              Metrics& m, fs::path scratch) {
  Sha256 h;
  h.update(kSimVersion).update(rtl.source()).update(rtl.top).update(f.harness_cpp());
  h.update(tools_.version(tools_.verilator)).update(kModelCxxFlags).update(o.vcd ? "trace" : "");
  const std::string key = h.hex();
  const fs::path cached_binary = models_dir_.empty() ? fs::path() : models_dir_ / key / "sim";
  std::error_code ec;
  if (o.use_cache && !cached_binary.empty() && fs::exists(cached_binary, ec)) {
    m.stages["build"] = {{"seconds", 0.0}, {"cache_hit", true}};
    return cached_binary;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto files = write_rtl(rtl, scratch);
  write_file(scratch / "harness.cpp", f.harness_cpp());
  RunRequest req;
  req.argv = {tools_.verilator, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
              "--top-module", rtl.top, "-Mdir", "obj", "-o", "sim", "-CFLAGS", kModelCxxFlags};
  if (o.vcd) req.argv.push_back("--trace");
  req.argv.insert(req.argv.end(), files.begin(), files.end());
  req.argv.push_back("harness.cpp");
  req.cwd = scratch;
  req.limits = limits_for(o, 2);
  guard(o, req);
  if (req.sandbox) sandbox_ccache(tools_, req);
  else if (!tools_.ccache.empty()) req.env_extra["OBJCACHE"] = tools_.ccache;
  RunResult r = run_process(req);
  m.stages["build"] = {{"seconds", since(t0)}, {"cache_hit", false}};
  if (no_sandbox(r, m)) return std::nullopt;
  if (!r.ok()) {
    // Verilator's own %Error lines are about the design (cacheable); anything else (no
    // compiler, out of memory, no disk) is the environment's.
    const bool design_error = r.status == RunStatus::Exited && (r.err + r.out).find("%Error") != std::string::npos;
    m.error = tool_error("verilator", r, design_error ? "sim_build" : "environment", "tool_timeout", req.limits);
    m.error->message = "the Verilator model did not build: " + m.error->message;
    return std::nullopt;
  }
  fs::path built = scratch / "obj" / "sim";
  if (!o.use_cache || cached_binary.empty()) return built;
  // Publish atomically: copy into a private directory, then rename it into place, so another
  // process or thread sees either no model or a complete one.
  static std::atomic<unsigned> serial{0};
  fs::path staging = models_dir_ / (key + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
  fs::create_directories(staging, ec);
  if (!ec) fs::copy_file(built, staging / "sim", fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(staging, models_dir_ / key, ec);
  if (ec) fs::remove_all(staging, ec);  // another process won the race, or no room: use ours
  return fs::exists(cached_binary, ec) ? cached_binary : built;
}

bool Pipeline::simulate(const hdl::Family& f, const hdl::Params& p, const hdl::Rtl& rtl, const json& workload,
                        const EvalOptions& o, Metrics& m) {
  const auto t0 = std::chrono::steady_clock::now();
  hdl::Stimulus stim = f.stimulus(p, workload);
  Sha256 h;
  h.update(kSimVersion).update(rtl.source()).update(rtl.top).update(f.harness_cpp());
  h.update(tools_.version(tools_.verilator)).update(stim.harness_input);
  const std::string key = h.hex();
  json result;
  bool hit = false;
  double run_seconds = 0;
  if (auto c = o.vcd ? std::nullopt : cached(o, "simulate", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-sim-");
    auto binary = build_model(f, rtl, o, m, dir.path());
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
    req.limits = limits_for(o);
    req.limits.output_bytes = 256u << 20;
    const auto run_t0 = std::chrono::steady_clock::now();
    RunResult r = run_process(req);
    run_seconds = since(run_t0);
    if (no_sandbox(r, m)) return false;
    if (o.vcd && req.sandbox) {
      std::error_code ec;
      fs::copy_file(vcd_written, fs::absolute(*o.vcd), fs::copy_options::overwrite_existing, ec);
    }
    if (!r.ok()) {
      m.error = tool_error("simulation", r, "sim_crash", "sim_timeout", req.limits);
      m.stages["simulate"] = {{"seconds", since(t0)}, {"cache_hit", false}};
      return false;
    }
    hdl::SimCheck check = f.check(p, stim, r.out);
    result = {{"correct", check.correct},       {"checked", check.checked},
              {"mismatches", check.mismatches}, {"cycles", check.cycles},
              {"first_mismatch", check.first_mismatch}, {"error", check.error},
              {"cycles_per_problem", check.cycles_per_problem}};
    if (!o.vcd && (check.error.empty() || check.error.find("timeout") == std::string::npos))
      store(o, "simulate", key, result);
  }
  m.correct = result["correct"];
  m.checked = result["checked"];
  m.mismatches = result["mismatches"];
  m.cycles = result["cycles"];
  m.first_mismatch = result["first_mismatch"];
  m.stages["simulate"] = {{"seconds", since(t0)}, {"run_seconds", run_seconds}, {"cache_hit", hit},
                          {"cycles_per_problem", result["cycles_per_problem"]}};
  const std::string error = result["error"];
  if (!error.empty()) {
    m.error = ErrorInfo{error.find("timeout") != std::string::npos ? "sim_timeout" : "sim_crash", error};
    return false;
  }
  return true;
}

bool Pipeline::synthesize(const hdl::Rtl& rtl, const EvalOptions& o, Metrics& m) {
  const auto t0 = std::chrono::steady_clock::now();
  Sha256 h;
  h.update(kSynthVersion).update(rtl.source()).update(rtl.top).update(o.flatten ? "flat" : "hier");
  h.update(o.fpga ? "ice40" : "generic").update(tools_.version(tools_.yosys));
  const std::string key = h.hex();
  const std::string yosys_version = tools_.version(tools_.yosys);
  const bool version_known = yosys_version.find("unknown") == std::string::npos &&
                             yosys_version.find("missing") == std::string::npos;
  json result;
  bool hit = false;
  json module_stages = json::object();
  if (auto c = cached(o, "synthesize", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-synth-");
    auto files = write_rtl(rtl, dir.path());
    // Generic gates: cell count and logic depth, then flip-flops legalized to plain D
    // flip-flops so that Yosys' CMOS transistor estimate covers every cell. Depth is taken
    // inside modules without submodule instances: ltp would count an instance as one gate.
    const std::string measure =
        "tee -q -o ${P}generic.json stat -json\n"
        "tee -q -o ${P}ltp.txt ltp -noff */t:* */t:$* %d %m %n\n"
        + std::string(kCmosMeasure) + "tee -q -o ${P}cmos.json stat -json -tech cmos\n";
    auto with_prefix = [](std::string text, const std::string& prefix) {
      for (std::size_t at; (at = text.find("${P}")) != std::string::npos;) text.replace(at, 4, prefix);
      return text;
    };
    struct Job {
      std::string script;
      std::string unit;  // empty: the iCE40 run
      RunResult result;
      double seconds = 0;
    };
    std::vector<Job> jobs;
    if (o.fpga) {
      std::string read = "read_verilog -sv -nodpi";
      for (const auto& name : files) read += " " + name;
      write_file(dir.path() / "ice40.ys", read + "\nsynth_ice40 -dsp -top " + rtl.top + (o.flatten ? "" : " -noflatten") +
                                              "\ntee -q -o ice40.json stat -json\n");
      jobs.push_back({"ice40.ys", "", {}});
    }
    // Hierarchical: each unique module in its own Yosys run, the modules it instantiates read
    // as black boxes, so the modules are synthesized once each and side by side. A module's
    // result is a function of its script and the files that script reads: cached under their
    // hash, so a module seen in another design is not synthesized again.
    const bool per_module = !o.flatten && !rtl.modules.empty();
    std::vector<std::string> units = per_module ? rtl.modules : std::vector<std::string>{rtl.top};
    std::map<std::string, json> module_results;  // unit -> {generic, cmos, depth}
    std::map<std::string, std::string> module_keys;
    for (const auto& unit : units) {
      std::string read;
      std::vector<std::string> reads;
      if (per_module) {
        read = "read_verilog -sv -nodpi " + unit + ".v\n";
        reads.push_back(unit + ".v");
        std::string libs;
        for (const auto& name : synthesis_libraries(rtl, unit + ".v")) {
          libs += " " + name;
          reads.push_back(name);
        }
        if (!libs.empty()) read += "read_verilog -sv -nodpi -lib" + libs + "\n";
      } else {
        read = "read_verilog -sv -nodpi";
        for (const auto& name : files) read += " " + name;
        read += "\n";
      }
      const std::string script = read + "hierarchy -check -top " + unit + "\nsynth -top " + unit +
                                 (o.flatten ? " -flatten" : "") + "\n" + with_prefix(measure, unit + ".");
      if (per_module) {
        Sha256 mh;
        mh.update(kModuleSynthVersion).update("\n").update(yosys_version).update("\n").update(unit).update("\n");
        mh.update(script).update("\n");
        for (const auto& name : reads) {
          const std::string& text = rtl.files.at(name);
          mh.update(name).update("\n").update(std::to_string(text.size())).update("\n").update(text);
        }
        module_keys[unit] = mh.hex();
        if (auto c = cached(o, "synth_module", module_keys[unit])) {
          if (c->contains("generic") && c->contains("cmos") && c->contains("depth")) {
            module_results[unit] = *c;
            module_stages[unit] = {{"cache_hit", true}, {"seconds", 0.0}};
            continue;
          }
        }
      }
      write_file(dir.path() / (unit + ".ys"), script);
      jobs.push_back({unit + ".ys", unit, {}});
    }
    // Longest first (iCE40), then the modules, on as many workers as the machine has cores.
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      for (std::size_t i; (i = next++) < jobs.size();) {
        RunRequest req;
        req.argv = {tools_.yosys, "-q", "-l", jobs[i].script + ".log", "-s", jobs[i].script};
        req.cwd = dir.path();
        req.limits = limits_for(o);
        guard(o, req);
        const auto job_t0 = std::chrono::steady_clock::now();
        jobs[i].result = run_process(req);
        jobs[i].seconds = since(job_t0);
      }
    };
    const unsigned workers =
        std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(jobs.size())));
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < workers && w < jobs.size(); ++w) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    // Modules that synthesized are kept even when another run of this design failed: each is
    // a good result of its own script and files.
    std::optional<ErrorInfo> failure;
    try {
      for (const auto& job : jobs) {
        const std::string generic_text =
            job.unit.empty() ? std::string() : read_file(dir.path() / (job.unit + ".generic.json"));
        if (auto latch = latch_problem(read_file(dir.path() / (job.script + ".log")) + job.result.err, generic_text)) {
          if (!failure) failure = ErrorInfo{"latch", *latch};
          continue;
        }
        if (!job.result.ok()) {
          if (!failure) failure = tool_error("yosys", job.result, "synth", "synth_timeout", limits_for(o));
          if (per_module && !job.unit.empty()) module_stages[job.unit] = {{"cache_hit", false}, {"seconds", job.seconds}};
          continue;
        }
        if (job.unit.empty()) continue;
        auto g = parse_stat_modules(generic_text);
        auto c = parse_stat_modules(read_file(dir.path() / (job.unit + ".cmos.json")));
        const long long depth = parse_ltp_depth(read_file(dir.path() / (job.unit + ".ltp.txt")));
        if (per_module) {  // keep the modules this run synthesized: the unit and its file's helpers
          json r = {{"generic", g.at(job.unit)}, {"cmos", c.at(job.unit)}, {"depth", depth}};
          // Every other module its file defines and the unit instantiates (injected Verilog may
          // add helpers) is counted too; hierarchy -top removed the ones it does not use.
          json helpers = json::object();
          for (const auto& name : defined_modules(strip_comments_and_strings(rtl.files.at(job.unit + ".v"))))
            if (name != job.unit && g.count(name) && c.count(name))
              helpers[name] = {{"generic", g.at(name)}, {"cmos", c.at(name)}};
          if (!helpers.empty()) r["helpers"] = helpers;
          if (version_known) store(o, "synth_module", module_keys.at(job.unit), r);
          module_results[job.unit] = r;
          module_stages[job.unit] = {{"cache_hit", false}, {"seconds", job.seconds}};
        } else {
          json gj = json::object(), cj = json::object();
          for (const auto& [name, v] : g) gj[name] = v;
          for (const auto& [name, v] : c) cj[name] = v;
          module_results[job.unit] = {{"generic", gj}, {"cmos", cj}, {"depth", depth}, {"all_modules", true}};
        }
      }
    } catch (const std::exception& e) {
      // Yosys exited cleanly but left no readable statistics: not the design's fault.
      if (!failure) failure = ErrorInfo{"environment", std::string("could not read Yosys statistics: ") + e.what()};
    }
    if (failure) {
      m.error = failure;
      m.stages["synthesize"] = {{"seconds", since(t0)}, {"cache_hit", false}};
      if (per_module) m.stages["synthesize"]["modules"] = module_stages;
      return false;
    }
    try {
      std::map<std::string, json> generic, cmos;
      long long depth = 0;
      for (const auto& unit : units) {
        const json& r = module_results.at(unit);
        if (r.value("all_modules", false)) {
          for (auto it = r["generic"].begin(); it != r["generic"].end(); ++it) generic[it.key()] = it.value();
          for (auto it = r["cmos"].begin(); it != r["cmos"].end(); ++it) cmos[it.key()] = it.value();
        } else {
          generic[unit] = r["generic"];
          cmos[unit] = r["cmos"];
          if (r.contains("helpers"))
            for (auto it = r["helpers"].begin(); it != r["helpers"].end(); ++it) {
              generic[it.key()] = it.value()["generic"];
              cmos[it.key()] = it.value()["cmos"];
            }
        }
        depth = std::max(depth, r["depth"].get<long long>());
      }
      auto cells = aggregate_modules(generic, rtl.top);
      auto transistors = aggregate_modules(cmos, rtl.top);
      long long total = 0;
      json by_type = json::object();
      for (const auto& [type, n] : cells) {
        if (type.rfind("__", 0) == 0) continue;
        total += n;
        by_type[type] = n;
      }
      result = {{"cells", total}, {"cells_by_type", by_type}, {"transistors", transistors["__transistors"]},
                {"depth", depth}};
      if (o.fpga) {
        auto fpga_cells = aggregate_stat(read_file(dir.path() / "ice40.json"), rtl.top);
        long long luts = 0, ffs = 0, dsps = 0, brams = 0, carries = 0;
        for (const auto& [type, n] : fpga_cells) {
          if (type == "SB_LUT4") luts += n;
          else if (type.rfind("SB_DFF", 0) == 0) ffs += n;
          else if (type == "SB_MAC16") dsps += n;
          else if (type.rfind("SB_RAM40", 0) == 0) brams += n;
          else if (type == "SB_CARRY") carries += n;
        }
        result["ice40"] = {{"luts", luts}, {"ffs", ffs}, {"dsps", dsps}, {"brams", brams}, {"carries", carries}};
      }
    } catch (const std::exception& e) {
      m.error = ErrorInfo{"environment", std::string("could not read Yosys statistics: ") + e.what()};
      m.stages["synthesize"] = {{"seconds", since(t0)}, {"cache_hit", false}};
      return false;
    }
    store(o, "synthesize", key, result);
  }
  m.cells = result["cells"];
  m.transistors = result["transistors"];
  m.depth = result["depth"];
  if (result.contains("ice40")) {
    const json& f = result["ice40"];
    m.luts = f["luts"];
    m.ffs = f["ffs"];
    m.dsps = f["dsps"];
    m.brams = f["brams"];
    m.carries = f["carries"];
  }
  m.stages["synthesize"] = {{"seconds", since(t0)}, {"cache_hit", hit}, {"flatten", o.flatten},
                            {"cells_by_type", result["cells_by_type"]}};
  if (!hit && !module_stages.empty()) m.stages["synthesize"]["modules"] = module_stages;
  return true;
}

}  // namespace chipgym::evaluators

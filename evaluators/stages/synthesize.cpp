// synthesize: Yosys, hierarchically. Each unique module of the design is synthesized once, in
// its own Yosys run with the modules it instantiates read as black boxes, side by side on the
// machine's cores; cells and Yosys' static-CMOS transistor estimate are aggregated over the
// hierarchy (a submodule counts once per instance), depth is the longest path inside a module.
// Writes cells, transistors and depth. When the fpga stage follows, its iCE40 run goes into the
// same batch and the same cache entry (they ran together before stages had names, and the
// iCE40 run is the longest: side by side it costs no extra wall time).
// Cached under "synthesize" (the whole design) and "synth_module" (each module's result by its
// script and the files it reads, so a module seen in another design is not synthesized again).
#include <atomic>
#include <cctype>
#include <regex>
#include <set>
#include <thread>

#include "evaluators/screen.h"
#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSynthVersion = "synth-v4";  // v4: -nodpi, async2sync, helper modules counted
constexpr const char* kModuleSynthVersion = "synth-module-v2";

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

namespace {

bool synthesize(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  const EvalOptions& o = e.options;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  const bool fpga = e.runs("fpga");  // the iCE40 run joins this batch and its cache entry
  Sha256 h;
  h.update(kSynthVersion).update(rtl.source()).update(rtl.top).update(o.flatten ? "flat" : "hier");
  h.update(fpga ? "ice40" : "generic").update(tools.version(tools.yosys));
  const std::string key = h.hex();
  const std::string yosys_version = tools.version(tools.yosys);
  const bool version_known = yosys_version.find("unknown") == std::string::npos &&
                             yosys_version.find("missing") == std::string::npos;
  json result;
  bool hit = false;
  json module_stages = json::object();
  if (auto c = e.cached("synthesize", key)) {
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
    if (fpga) {
      write_file(dir.path() / "ice40.ys", ice40_script(rtl, files, o.flatten));
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
        if (auto c = e.cached("synth_module", module_keys[unit])) {
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
        req.argv = {tools.yosys, "-q", "-l", jobs[i].script + ".log", "-s", jobs[i].script};
        req.cwd = dir.path();
        req.limits = limits_for(o);
        guard(o, req);
        const auto job_t0 = std::chrono::steady_clock::now();
        jobs[i].result = run_process(req);
        jobs[i].seconds = seconds_since(job_t0);
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
          if (!failure) {
            const std::string log = read_file(dir.path() / (job.script + ".log")) + job.result.err;
            if (auto undefined = undefined_module(log, rtl)) failure = ErrorInfo{"undefined_module", *undefined};
            else failure = tool_error("yosys", job.result, "synth", "synth_timeout", limits_for(o));
          }
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
          if (version_known) e.store("synth_module", module_keys.at(job.unit), r);
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
      m.stages["synthesize"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
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
      if (fpga) result["ice40"] = ice40_figures(read_file(dir.path() / "ice40.json"), rtl.top);
    } catch (const std::exception& e) {
      m.error = ErrorInfo{"environment", std::string("could not read Yosys statistics: ") + e.what()};
      m.stages["synthesize"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
      return false;
    }
    e.store("synthesize", key, result);
  }
  m.cells = result["cells"];
  m.transistors = result["transistors"];
  m.depth = result["depth"];
  if (result.contains("ice40")) e.shared["ice40"] = result["ice40"];  // the fpga stage reports them
  m.stages["synthesize"] = {{"seconds", seconds_since(t0)}, {"cache_hit", hit}, {"flatten", o.flatten},
                            {"cells_by_type", result["cells_by_type"]}};
  if (!hit && !module_stages.empty()) m.stages["synthesize"]["modules"] = module_stages;
  return true;
}

const StageRegistration stage{
    {"synthesize", "Yosys per unique module: cells, CMOS transistors and depth, aggregated over the hierarchy",
     synthesize, true}};

}  // namespace
}  // namespace chipgym::evaluators

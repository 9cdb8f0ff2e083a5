// hierarchy: one Yosys run over the whole design, for a user's own multi-module RTL (`chipgym
// eval --rtl`). The synthesize stage measures each module alone, so its depth is the longest
// path inside one module; here the design is synthesized as a hierarchy (`synth -top`, every
// parameterization its own module), its statistics give every module's own cells and its
// number of instances under the top, and the netlist is then flattened for `ltp -noff`: the
// longest path through the whole design, across module boundaries. Writes Metrics::depth
// (that whole-design depth) and Metrics::stages.hierarchy {modules: {name: {cells,
// instances}}, depth, module_depth (the synthesize stage's)}. Cached under "hierarchy".
#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {
namespace {

constexpr const char* kHierarchyVersion = "hierarchy-v1";

bool hierarchy(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  Sha256 h;
  h.update(kHierarchyVersion).update(rtl.source()).update(rtl.top).update(tools.version(tools.yosys));
  const std::string key = h.hex();
  json result;
  bool hit = false;
  if (auto c = e.cached("hierarchy", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-hierarchy-");
    std::string read = "read_verilog -sv -nodpi";
    for (const auto& name : write_rtl(rtl, dir.path())) read += " " + name;
    write_file(dir.path() / "hierarchy.ys", read + "\nhierarchy -check -top " + rtl.top + "\nsynth -top " + rtl.top +
                                                "\ntee -q -o hierarchy.json stat -json\nflatten\n"
                                                "tee -q -o ltp.txt ltp -noff\n");
    RunRequest req;
    req.argv = {tools.yosys, "-q", "-l", "hierarchy.log", "-s", "hierarchy.ys"};
    req.cwd = dir.path();
    req.limits = limits_for(e.options);
    guard(e.options, req);
    RunResult r = run_process(req);
    if (no_sandbox(r, m)) return false;
    if (!r.ok()) {
      m.error = tool_error("yosys", r, "synth", "synth_timeout", req.limits);
      m.stages["hierarchy"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
      return false;
    }
    try {
      const auto modules = parse_stat_modules(read_file(dir.path() / "hierarchy.json"));
      json per_module = json::object();
      std::map<std::string, long long> instances;
      std::function<void(const std::string&, long long, int)> count = [&](const std::string& name, long long n, int level) {
        if (level > 64) throw std::runtime_error("module hierarchy too deep (recursive instantiation?)");
        instances[name] += n;
        const json& cells = modules.at(name).at("num_cells_by_type");
        for (auto it = cells.begin(); it != cells.end(); ++it) {
          std::string type = it.key();
          if (!type.empty() && type[0] == '\\') type.erase(0, 1);
          if (modules.count(type)) count(type, n * it.value().get<long long>(), level + 1);
        }
      };
      if (!modules.count(rtl.top)) throw std::runtime_error("yosys statistics have no module " + rtl.top);
      count(rtl.top, 1, 0);
      for (const auto& [name, stat] : modules) {
        long long own = 0;
        for (auto it = stat.at("num_cells_by_type").begin(); it != stat.at("num_cells_by_type").end(); ++it) {
          std::string type = it.key();
          if (!type.empty() && type[0] == '\\') type.erase(0, 1);
          if (!modules.count(type)) own += it.value().get<long long>();
        }
        per_module[name] = {{"cells", own}, {"instances", instances.count(name) ? instances[name] : 0}};
      }
      result = {{"modules", per_module}, {"depth", parse_ltp_depth(read_file(dir.path() / "ltp.txt"))}};
    } catch (const std::exception& ex) {
      m.error = ErrorInfo{"environment", std::string("could not read Yosys statistics: ") + ex.what()};
      return false;
    }
    e.store("hierarchy", key, result);
  }
  m.stages["hierarchy"] = {{"seconds", seconds_since(t0)}, {"cache_hit", hit}, {"modules", result["modules"]},
                           {"depth", result["depth"]}, {"module_depth", m.depth}};
  m.depth = result["depth"];
  return true;
}

const StageRegistration stage{
    {"hierarchy",
     "Yosys over the whole hierarchy: each module's own cells and instances, logic depth across modules (flattened ltp)",
     hierarchy, true}};

}  // namespace
}  // namespace chipgym::evaluators
